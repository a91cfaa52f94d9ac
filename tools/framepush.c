/* framepush — the host program: capture a display through framepush-source, convert,
 * and write the result. The command line is options.c's, the reports report.c's; this file
 * runs the session they describe. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/display.h"
#include "framepush/output.h"
#include "framepush/session.h"
#include "list.h"
#include "options.h"
#include "report.h"
#include "serve_glue.h"
#include "source_exe.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* --display virtual:WxH@HZ: a display of its own for the session, and APP started in it. */
static int open_virtual_display(struct cli *c, struct fp_display **out)
{
	/* The mode cli_parse read and checked. */
	struct fp_display_opts dopts = { .kind = c->display_kind, .width = c->mode_width,
					 .height = c->mode_height, .refresh_hz = c->mode_hz,
					 .portal = !strcmp(c->backend, "portal") };
	struct fp_display *vd;
	const char *name;

	if (fp_display_create(&vd, &dopts) < 0) {
		fprintf(stderr, "framepush: cannot create the %s virtual display %ux%u@%u (see above)\n",
			c->display_kind, dopts.width, dopts.height, dopts.refresh_hz);
		return 1;
	}
	*out = vd;
	/* The portal source captures through the display's session bus, where there is one. */
	name = dopts.portal ? fp_display_bus(vd) : fp_display_name(vd);
	if (!name || (!dopts.portal && strcmp(fp_display_backend(vd), c->backend))) {
		fprintf(stderr, "framepush %s: a %s display is captured by the %s source, not %s\n",
			c->verb, c->display_kind, fp_display_backend(vd), c->backend);
		return 2;
	}
	c->so.capture.display = name;
	c->so.capture.source_drop = fp_display_identity(vd, &c->so.capture.source_uid,
							&c->so.capture.source_gid);
	/* The source inherits it: the display's cookie (Xvfb) is private to the session. */
	if (fp_display_export_env(vd) < 0) {
		fprintf(stderr, "framepush: cannot pass the display's environment on\n");
		return 1;
	}
	if (c->app) {
		pid_t pid;

		if (fp_display_spawn(vd, c->app, &pid) < 0) {
			fprintf(stderr, "framepush: cannot start %s in the display\n", c->app[0]);
			return 1;
		}
	}
	return CLI_GO;
}

/* serve: the server up before the session (a viewer may open the page at once), its URL on
 * stderr even when quiet (it is what the user came for), and a bitrate cap: WebRTC here has no
 * congestion control of its own, so the stream must fit the link by construction. */
static int start_serve(struct cli *c)
{
	struct fp_session_opts *so = &c->so;

	so->constrained_baseline = 1;
	if (!so->bitrate_kbps && !so->crf) {
		uint64_t kbps = (uint64_t)c->mode_width * c->mode_height * so->capture.fps / 15000;

		so->bitrate_kbps = (unsigned)(kbps < 1000 ? 1000 : kbps > 20000 ? 20000 : kbps);
	}
	c->serve.bitrate_kbps = so->bitrate_kbps;
	/* The portal source has no input path (that is the RemoteDesktop portal's job). */
	if ((!strcmp(c->backend, "test") || !strcmp(c->backend, "portal")) && !c->serve.view_only) {
		fp_info("serve: the %s source has no input; viewers watch only", c->backend);
		c->serve.view_only = true;
	}
	if (serve_glue_start(&c->glue, &c->serve, so) < 0) {
		fprintf(stderr, "framepush: cannot serve on %s (see above)\n",
			c->serve.listen ? c->serve.listen : "127.0.0.1:8080");
		return -1;
	}
	fprintf(stderr, "framepush: open %s  (Ctrl-C ends the session)\n", fp_serve_url(c->glue.srv));
	return 0;
}

static int run_session(struct cli *c)
{
	struct fp_session_result res;
	struct serve_glue *serve = c->mode == VERB_SERVE ? &c->glue : NULL;
	int r, sr;

	c->so.stop = &interrupted;
	if (!c->quiet && isatty(STDERR_FILENO)) {
		c->so.progress = report_progress;
		c->so.user = serve;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	fp_encode_route_av_log();
	if (serve && start_serve(c) < 0)
		return 1;
	r = fp_session_run(&c->so, &res);
	/* The reader of -o - closing the pipe (a player quit, `| head`, ffprobe having seen
	 * enough) is how a pipe ends, as Ctrl-C is: done, once something was delivered. */
	if (r == -EPIPE && !strcmp(c->so.target ? c->so.target : "", "-") && res.packets > 0) {
		if (!c->quiet)
			fprintf(stderr, "framepush: the reader of standard output closed it; done\n");
		r = 0;
	}
	if (c->so.progress)
		fputs("\r\033[K", stderr); /* the status line gives way to the summary */
	/* Quiet: nothing on success; a failure still says what was (not) delivered. */
	if (!c->quiet || r < 0)
		report_summary(c, &res, r);
	if (serve && !c->quiet)
		report_serve_summary(serve);
	/* A run whose numbers were asked for and not delivered has failed: a script would
	 * otherwise read an old file or nothing and carry on. */
	sr = c->stats_path ? report_stats_json(c->stats_path, &res, serve) : 0;
	if (serve)
		serve_glue_stop(serve);
	if (r < 0) {
		fprintf(stderr, "framepush: %s\n", res.error[0] ? res.error : strerror(-r));
		/* The library says which software encoder works; how to ask for it is ours to say. */
		if (c->so.hw != FP_HW_NONE && !res.encoder[0])
			fprintf(stderr, "framepush: use --codec %s without --hw for %s\n",
				fp_codec_name(c->so.codec),
				fp_codec_software_encoder(c->so.codec));
		return 1;
	}
	return sr < 0 ? 1 : 0;
}

static int cmd_capture(int argc, char **argv, enum verb mode)
{
	struct cli c = { 0 };
	struct fp_display *vd = NULL;
	int r;

	if ((r = cli_parse(&c, mode, argc, argv)) != CLI_GO)
		return r;
	/* Before any child starts (the spec check, the display, the source): what they print
	 * must not land in the stream on stdout. */
	if (c.so.target && !strcmp(c.so.target, "-") && fp_output_claim_stdout() < 0) {
		fprintf(stderr, "framepush: -o -: there is no standard output to write to\n");
		return 1;
	}
	if (fp_find_source_exe(c.source_exe, sizeof(c.source_exe)) < 0) {
		fprintf(stderr, "framepush: cannot locate framepush-source; set FRAMEPUSH_SOURCE\n");
		return 1;
	}
	c.so.capture.source_exe = c.source_exe;
	/* Quiet means warnings and errors only, unless FRAMEPUSH_LOG asks for more; through the
	 * environment, so the source (which reads its level from it) is quiet too, and before
	 * the virtual display, which logs as it starts. */
	if (c.quiet && !getenv("FRAMEPUSH_LOG")) {
		setenv("FRAMEPUSH_LOG", "warn", 1);
		fp_log_set_level(FP_LOG_WARN);
	}
	if ((r = cli_check_late(&c)) != CLI_GO)
		return r;
	if (cli_is_virtual(c.display))
		r = open_virtual_display(&c, &vd);
	else if (c.display)
		c.so.capture.display = c.display;
	if (r == CLI_GO)
		r = run_session(&c);
	fp_display_destroy(vd); /* the display framepush created goes away with the session */
	return r;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (fp_log_init("framepush") < 0) {
		fprintf(stderr, "framepush: bad FRAMEPUSH_LOG '%s': want debug, info, warn, error or "
			"quiet\n", getenv("FRAMEPUSH_LOG"));
		return 2;
	}
	/* SVT-AV1 prints its configuration banner and work-in-progress notes straight to
	 * stderr; keep its errors only, unless asked for everything. */
	if (!getenv("FRAMEPUSH_LOG") || strcmp(getenv("FRAMEPUSH_LOG"), "debug"))
		setenv("SVT_LOG", "1", 0);
	if (argc < 2 || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		cli_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		cli_version(stdout);
		return 0;
	}
	if (!strcmp(cmd, "list"))
		return fp_cli_list(argc - 1, argv + 1);
	if (!strcmp(cmd, "record") || !strcmp(cmd, "stream") || !strcmp(cmd, "serve")) {
		enum verb mode = !strcmp(cmd, "record") ? VERB_RECORD
				 : !strcmp(cmd, "stream") ? VERB_STREAM : VERB_SERVE;
		int rc, left;

		/* Nothing a session starts outlives it: a program that setsid()s or double-forks
		 * (sway's exec always does) is re-parented to us, and swept at the end. */
		if (fp_become_subreaper() < 0)
			fp_warn("framepush: cannot become a subreaper; detached children may outlive the session");
		rc = cmd_capture(argc - 1, argv + 1, mode);
		left = fp_reap_descendants(1000);
		if (left)
			fp_info("framepush: ended %d process%s the session's programs left behind", left,
				left == 1 ? "" : "es");
		return rc;
	}
	fprintf(stderr, "framepush: unknown command '%s' (commands: record, stream, serve, list; "
		"see framepush --help)\n", cmd);
	return 2;
}
