/* framepush-source — the producer process: one backend, one display, one host.
 *
 * It is the only process that talks to the display; the host talks only to it. It connects
 * to the host's socket, attaches to the rings the host delivers and publishes frames until
 * the host hangs up. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/source.h"
#include "sources/backend.h"
#include "sources/sandbox.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void usage(FILE *f)
{
	/* Display backends are optional at build time: say which this binary has. */
	static const char *const all[] = { "test", "x11", "wlr" };
	char built[64] = "";

	for (size_t i = 0; i < FP_ARRAY_LEN(all); i++)
		if (fp_backend_find(all[i])) {
			strcat(built, built[0] ? ", " : "");
			strcat(built, all[i]);
		}
	fprintf(f,
		"usage: framepush-source --connect SOCKET [--backend NAME] [--spec OPTS]\n"
		"                        [--size WxH] [--fps N] [--target-id N] [--display NAME]\n"
		"\n"
		"The producer half of framepush. The framepush host normally starts it; run it by\n"
		"hand only to attach to a host that listens on SOCKET.\n"
		"\n"
		"  --connect SOCKET  the host's UNIX socket\n"
		"  --backend NAME    test (default): a synthetic display (pattern, HDR, hooks)\n"
		"                    x11: an X server, MIT-SHM into the ring, DAMAGE-driven\n"
		"                    wlr: a wlroots compositor, wlr-screencopy with damage\n"
		"                    (built into this binary: %s)\n"
		"  --spec OPTS       backend options, e.g. pattern=moving,hdr=1 for test,\n"
		"                    output=NAME,cursor=1 for wlr\n"
		"  --size WxH        display size where the backend chooses it (1920x1080)\n"
		"  --fps N           frame rate of timer-driven backends (60)\n"
		"  --target-id N     the display id the host's ring must name (1)\n"
		"  --display NAME    X display or Wayland socket for display backends\n"
		"\n"
		"Exit status: 0 when the host hung up, 1 on error, 2 on bad usage, 3 when refused.\n",
		built);
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	unsigned a, b;
	char x;

	if (sscanf(s, "%u%c%u", &a, &x, &b) != 3 || (x != 'x' && x != 'X') || !a || !b)
		return -EINVAL;
	*w = a;
	*h = b;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' }, { "backend", required_argument, NULL, 'b' },
		{ "spec", required_argument, NULL, 's' },    { "size", required_argument, NULL, 'S' },
		{ "fps", required_argument, NULL, 'f' },     { "target-id", required_argument, NULL, 't' },
		{ "display", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fp_backend_args args = { .width = 1920, .height = 1080, .fps = 60 };
	const struct fp_backend_impl *impl;
	const char *sock_path = NULL, *backend = "test";
	struct fp_backend *b = NULL;
	struct fp_source *src = NULL;
	uint32_t target_id = 1, w, h, fmt;
	int c, r, rc = 1, sandboxed = 0;

	fp_log_init("framepush-source");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': sock_path = optarg; break;
		case 'b': backend = optarg; break;
		case 's': args.spec = optarg; break;
		case 'S':
			if (parse_size(optarg, &args.width, &args.height) < 0) {
				fp_error("bad --size '%s' (want WxH)", optarg);
				return 2;
			}
			break;
		case 'f': args.fps = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': target_id = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': args.display = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!sock_path || !args.fps || args.fps > 1000) {
		usage(stderr);
		return 2;
	}
	impl = fp_backend_find(backend);
	if (!impl) {
		fp_error("unknown backend '%s' (test, x11, wlr, as built)", backend);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	r = impl->create(&b, &args);
	if (r < 0) {
		fp_error("backend %s: start failed: %s", backend, strerror(-r));
		return 2;
	}
	impl->describe(b, &w, &h, &fmt);
	r = fp_source_connect(&src, sock_path, target_id, backend, w, h, fmt);
	if (r < 0)
		goto out;

	while (!quit) {
		struct pollfd pfd[2] = { { .fd = fp_source_fd(src), .events = POLLIN },
					 { .fd = impl->fd(b), .events = POLLIN } };
		int64_t wake = impl->next_wakeup_ns(b);
		int timeout = wake == INT64_MAX ? 1000 : fp_ms_until(wake);
		struct fp_source_event ev;

		r = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, timeout);
		if (r < 0 && errno != EINTR) {
			fp_error("poll failed: %s", strerror(errno));
			goto out;
		}
		if (r > 0 && pfd[0].revents) {
			fp_source_dispatch(src, 0, &ev);
			switch (ev.type) {
			case FP_SOURCE_EV_ATTACHED:
				if (impl->ring_changed(b, fp_source_ring(src)) < 0)
					goto out;
				/* Attached: from here on only frames move (sources/sandbox.h). */
				if (!sandboxed && fp_source_sandbox() < 0)
					goto out;
				sandboxed = 1;
				break;
			case FP_SOURCE_EV_KICK:
				impl->kick(b);
				break;
			case FP_SOURCE_EV_CONFIG:
				impl->config(b, src, &ev.config);
				break;
			case FP_SOURCE_EV_HANGUP:
				fp_info("host hung up; exiting");
				rc = 0;
				goto out;
			case FP_SOURCE_EV_REFUSED:
				fp_error("the host refused this source (peer verification failed)");
				rc = 3;
				goto out;
			default:
				break;
			}
		}
		if (impl->dispatch(b, src) < 0)
			goto out;
	}
	rc = 0;
out:
	/* Detach first so the backend never holds a pointer into an unmapped ring. */
	impl->ring_changed(b, NULL);
	fp_source_destroy(src);
	impl->destroy(b);
	return rc;
}
