/* framepush-source — the producer process: one backend, one display, one host.
 *
 * It is the only process that talks to the display; the host talks only to it. It connects
 * to the host's socket, attaches to the rings the host delivers and publishes frames until
 * the host hangs up. The command line and the loop are in src/sources/cli.c, which the test
 * peer (tests/peers) shares; this program adds only the product's backends. */
#include "common/log.h"
#include "backend.h"
#include "cli.h"

int main(int argc, char **argv)
{
	struct fp_source_cli cli;
	int rc;

	fp_log_init("framepush-source");
	rc = fp_source_cli_parse(&cli, argc, argv);
	if (rc >= 0)
		return rc;
	return fp_source_cli_exec(&cli, fp_backend_find(cli.backend));
}
