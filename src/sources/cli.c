#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/source.h"
#include "listing.h"
#include "sandbox.h"

/* A timer-driven backend's rate: a frame per millisecond is already beyond any display. */
#define SOURCE_FPS_MAX 1000u

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void usage(FILE *f)
{
	/* Display backends are optional at build time: say which this binary has. */
	fprintf(f,
		"usage: framepush-source --connect SOCKET [--backend NAME] [--spec OPTS]\n"
		"                        [--size WxH] [--fps N] [--target-id N] [--display NAME]\n"
		"       framepush-source --backend NAME --check-spec [--spec OPTS]\n"
		"       framepush-source --backend x11|wlr --list [--display NAME]\n"
		"\n"
		"The producer half of framepush. The framepush host normally starts it; run it by\n"
		"hand only to attach to a host that listens on SOCKET.\n"
		"\n"
		"  --connect SOCKET  the host's UNIX socket\n"
		"  --backend NAME    test (default): a synthetic display (patterns, HDR)\n"
		"                    x11: an X server, MIT-SHM into the ring, DAMAGE-driven\n"
		"                    wlr: a wlroots compositor, wlr-screencopy with damage\n"
		"                    portal: any desktop's ScreenCast portal, via PipeWire\n"
		"                    (built into this binary: %s)\n"
		"  --spec OPTS       backend options, e.g. pattern=moving,hdr=1 for test,\n"
		"                    output=NAME,cursor=1 for wlr, restore=FILE for portal\n"
		"  --size WxH        display size where the backend chooses it (%ux%u)\n"
		"  --fps N           frame rate of timer-driven backends (%u)\n"
		"  --target-id N     the display id the host's ring must name (1)\n"
		"  --display NAME    X display or Wayland socket for display backends; the\n"
		"                    D-Bus address of the desktop's session bus for portal\n"
		"  --check-spec      only validate --spec for --backend (no display, no host)\n"
		"  --list            print the display's screens, outputs and modes (no host);\n"
		"                    the format is in doc/x11.md and doc/wlr.md\n"
		"\n"
		"Exit status: 0 when the host hung up, 1 on error, 2 on bad usage, 3 when refused.\n"
		"With --check-spec: 0 when the spec is good, 2 when not, 3 when NAME is not built.\n"
		"With --list: 0 when listed, 1 when the display did not answer (within %d s).\n",
		fp_backends_built, FP_MODE_DEFAULT_WIDTH, FP_MODE_DEFAULT_HEIGHT, FP_MODE_DEFAULT_HZ,
		FP_LIST_TIMEOUT_S);
}

/* One option with its value; -EINVAL (logged) for a bad value. */
static int set_arg(struct fp_source_cli *cli, int c, const char *val)
{
	unsigned long long v;

	switch (c) {
	case 'c': cli->sock_path = val; return 0;
	case 'b': cli->backend = val; return 0;
	case 's': cli->args.spec = val; return 0;
	case 'd': cli->args.display = val; return 0;
	case 'C': cli->check_spec = true; return 0;
	case 'L': cli->list = true; return 0;
	case 'S':
		if (fp_parse_size(val, FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX,
				  &cli->args.width, &cli->args.height) == 0)
			return 0;
		fp_error("bad --size '%s' (want WxH, %ux%u..%ux%u)", val, FP_WIDTH_MIN,
			 FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX);
		return -EINVAL;
	case 'f':
		if (fp_parse_uint(val, 1, SOURCE_FPS_MAX, &v) == 0) {
			cli->args.fps = (uint32_t)v;
			return 0;
		}
		fp_error("bad --fps '%s' (want 1..%u)", val, SOURCE_FPS_MAX);
		return -EINVAL;
	case 't':
		if (fp_parse_uint(val, 1, UINT32_MAX, &v) == 0) {
			cli->target_id = (uint32_t)v;
			return 0;
		}
		fp_error("bad --target-id '%s' (want 1..%u)", val, UINT32_MAX);
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

int fp_source_cli_parse(struct fp_source_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' }, { "backend", required_argument, NULL, 'b' },
		{ "spec", required_argument, NULL, 's' },    { "size", required_argument, NULL, 'S' },
		{ "fps", required_argument, NULL, 'f' },     { "target-id", required_argument, NULL, 't' },
		{ "display", required_argument, NULL, 'd' }, { "check-spec", no_argument, NULL, 'C' },
		{ "list", no_argument, NULL, 'L' },          { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*cli = (struct fp_source_cli){
		.backend = "test",
		.target_id = 1,
		.args = { .width = FP_MODE_DEFAULT_WIDTH, .height = FP_MODE_DEFAULT_HEIGHT,
			  .fps = FP_MODE_DEFAULT_HZ },
	};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return FP_SOURCE_EXIT_OK;
		}
		if (c == '?' || set_arg(cli, c, optarg) < 0) {
			usage(stderr);
			return FP_SOURCE_EXIT_USAGE;
		}
	}
	/* --list and --check-spec are runs of their own: with a host socket, one would be
	 * silently ignored. */
	if (optind < argc || (!cli->sock_path && !cli->check_spec && !cli->list) ||
	    (cli->list && (cli->sock_path || cli->check_spec))) {
		usage(stderr);
		return FP_SOURCE_EXIT_USAGE;
	}
	return -1;
}

/* The backend's answer to a spec, without a display: the host runs this before it spawns a
 * source, so a bad spec is a usage error there, not a source that died. */
static int check_spec(const struct fp_source_cli *cli, const struct fp_backend_impl *impl)
{
	if (!impl) {
		fp_error("backend '%s' is not in this build", cli->backend);
		return FP_SOURCE_EXIT_REFUSED;
	}
	if (impl->check_spec && impl->check_spec(cli->args.spec) < 0)
		return FP_SOURCE_EXIT_USAGE; /* the backend said why */
	return FP_SOURCE_EXIT_OK;
}

/* --list's deadline: formatted before the alarm is set, written by the handler. */
static char list_timeout_msg[256];
static size_t list_timeout_len;

static void on_list_timeout(int sig)
{
	/* Async-signal-safe only: a display that stopped answering may hold us anywhere in
	 * xcb or libwayland, so nothing of theirs (or stdio) can be touched from here. */
	ssize_t n = write(STDERR_FILENO, list_timeout_msg, list_timeout_len);

	(void)sig;
	(void)n; /* nothing left to try when stderr is gone */
	_exit(FP_SOURCE_EXIT_ERROR);
}

static void arm_list_deadline(const struct fp_source_cli *cli)
{
	struct sigaction sa = { .sa_handler = on_list_timeout };

	/* A display name too long for the buffer is cut; the line still ends. */
	snprintf(list_timeout_msg, sizeof(list_timeout_msg) - 1,
		 "framepush-source[%d] error: %s: display %s did not answer within %d s",
		 (int)getpid(), cli->backend, cli->args.display ? cli->args.display : "(default)",
		 FP_LIST_TIMEOUT_S);
	list_timeout_len = strlen(list_timeout_msg);
	list_timeout_msg[list_timeout_len++] = '\n';
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(FP_LIST_TIMEOUT_S);
}

/* The listing goes to memory first and to stdout only when complete, so a display that
 * breaks off (or times out) half way never leaves a listing that looks whole. */
static int list_display(const struct fp_source_cli *cli, const struct fp_backend_impl *impl)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int r;

	if (!impl || !impl->list) {
		fp_error("--list: backend '%s' %s (this build has %s)", cli->backend,
			 impl ? "has no display to list" : "is unknown", fp_backends_built);
		return FP_SOURCE_EXIT_USAGE;
	}
	mem = open_memstream(&buf, &len);
	if (!mem) {
		fp_error("--list: no memory for the listing: %s", strerror(errno));
		return FP_SOURCE_EXIT_ERROR;
	}
	arm_list_deadline(cli);
	r = impl->list(cli->args.display, mem);
	if (fclose(mem) != 0 && r == 0) {
		fp_error("--list: no memory for the listing");
		r = -ENOMEM;
	}
	alarm(0);
	if (r == 0 && (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)) {
		fp_error("--list: cannot write the listing: %s", strerror(errno));
		r = -EIO;
	}
	free(buf);
	return r < 0 ? FP_SOURCE_EXIT_ERROR : FP_SOURCE_EXIT_OK;
}

/* Input events the backend could not take: counted; a view-only backend (no input op) is
 * logged once, a refusing one at counts 1, 2, 4, 8... Never a reason to stop publishing. */
static uint64_t input_refused;

static void inject(const struct fp_backend_impl *impl, struct fp_backend *b,
		   const struct fp_input_event *ev)
{
	int r;

	if (!impl->input) {
		if (!input_refused++)
			fp_warn("backend %s takes no input (view only): input events are dropped",
				impl->name);
		return;
	}
	r = impl->input(b, ev);
	if (r >= 0)
		return;
	input_refused++;
	if (input_refused & (input_refused - 1))
		return;
	fp_warn("backend %s refused an input event (type %u code %u): %s; %llu refused so far",
		impl->name, ev->type, ev->code, strerror(-r), (unsigned long long)input_refused);
}

/* One host message. Returns -1 to go on, else the exit status to end with. */
static int on_host_event(const struct fp_backend_impl *impl, struct fp_backend *b,
			 struct fp_source *src, bool *sandboxed)
{
	struct fp_source_event ev;

	fp_source_dispatch(src, 0, &ev);
	switch (ev.type) {
	case FP_SOURCE_EV_ATTACHED:
		if (impl->ring_changed(b, fp_source_ring(src)) < 0)
			return FP_SOURCE_EXIT_ERROR;
		/* Attached: from here on only frames move (sources/sandbox.h). */
		if (!*sandboxed && fp_source_sandbox() < 0)
			return FP_SOURCE_EXIT_ERROR;
		*sandboxed = true;
		return -1;
	case FP_SOURCE_EV_KICK:
		impl->kick(b);
		return -1;
	case FP_SOURCE_EV_INPUT:
		inject(impl, b, &ev.input);
		return -1;
	case FP_SOURCE_EV_HANGUP:
		fp_info("host hung up; exiting");
		return FP_SOURCE_EXIT_OK;
	case FP_SOURCE_EV_REFUSED:
		fp_error("the host refused this source (peer verification failed)");
		return FP_SOURCE_EXIT_REFUSED;
	default:
		return -1;
	}
}

/* Host messages and the backend's fd and timer, until the host hangs up or a signal. */
static int run_loop(const struct fp_backend_impl *impl, struct fp_backend *b,
		    struct fp_source *src)
{
	bool sandboxed = false;

	while (!quit) {
		struct pollfd pfd[2] = { { .fd = fp_source_fd(src), .events = POLLIN },
					 { .fd = impl->fd(b), .events = POLLIN } };
		int64_t wake = impl->next_wakeup_ns(b);
		int timeout = wake == INT64_MAX ? 1000 : fp_ms_until(wake);
		int r = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, timeout);

		if (r < 0 && errno != EINTR) {
			fp_error("poll failed: %s", strerror(errno));
			return FP_SOURCE_EXIT_ERROR;
		}
		if (r > 0 && pfd[0].revents) {
			int rc = on_host_event(impl, b, src, &sandboxed);

			if (rc >= 0)
				return rc;
		}
		if (impl->dispatch(b, src) < 0)
			return FP_SOURCE_EXIT_ERROR;
	}
	return FP_SOURCE_EXIT_OK;
}

int fp_source_cli_exec(const struct fp_source_cli *cli, const struct fp_backend_impl *impl)
{
	struct fp_backend *b = NULL;
	struct fp_source *src = NULL;
	uint32_t w, h, fmt;
	int r, rc;

	if (cli->check_spec)
		return check_spec(cli, impl);
	if (cli->list)
		return list_display(cli, impl);
	if (!impl) {
		fp_error("unknown backend '%s' (this build has %s)", cli->backend, fp_backends_built);
		return FP_SOURCE_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	r = impl->create(&b, &cli->args);
	if (r < 0) {
		fp_error("backend %s: start failed: %s", cli->backend, strerror(-r));
		return FP_SOURCE_EXIT_USAGE;
	}
	impl->describe(b, &w, &h, &fmt);
	r = fp_source_connect(&src, cli->sock_path, cli->target_id, cli->backend, w, h, fmt);
	rc = r < 0 ? FP_SOURCE_EXIT_ERROR : run_loop(impl, b, src);
	/* Detach first so the backend never holds a pointer into an unmapped ring. */
	impl->ring_changed(b, NULL);
	fp_source_destroy(src);
	impl->destroy(b);
	return rc;
}
