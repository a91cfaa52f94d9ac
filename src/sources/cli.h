/* framepush — framepush-source's command line and main loop, as parts.
 *
 * tools/framepush-source.c runs them with the product's backends; the test peer
 * (tests/peers) runs the same command line with its own "test" backend. Not installed. */
#ifndef FP_SOURCES_CLI_H
#define FP_SOURCES_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* Exit statuses of framepush-source. */
enum {
	FP_SOURCE_EXIT_OK = 0,      /* the host hung up; --check-spec: the spec is good */
	FP_SOURCE_EXIT_ERROR = 1,   /* --list: the display could not be reached */
	FP_SOURCE_EXIT_USAGE = 2,   /* bad usage or spec */
	FP_SOURCE_EXIT_REFUSED = 3, /* the host refused us; --check-spec: no such backend here */
};

struct fp_source_cli {
	const char *sock_path;
	const char *backend;
	struct fp_backend_args args;
	uint32_t target_id;
	bool check_spec;
	bool list; /* --list: what the display offers, then exit */
};

/* Parses argv into *cli. Returns -1 to go on, or the exit status to end with (after --help,
 * or a usage error, which it reports). */
int fp_source_cli_parse(struct fp_source_cli *cli, int argc, char **argv);

/* Runs what cli asks with impl (NULL: the backend is not in this build): --check-spec,
 * --list, or the source until the host hangs up. Returns the exit status. */
int fp_source_cli_exec(const struct fp_source_cli *cli, const struct fp_backend_impl *impl);

#endif
