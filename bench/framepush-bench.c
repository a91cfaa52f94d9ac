/* framepush-bench — benchmarks. Usage: framepush-bench convert|transport|pipeline|source|serve [options] */
#include "bench.h"
#include "common/log.h"
#include "common/util.h"
#include "framepush/proto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: framepush-bench convert [--iterations N] [--sizes WxH[,WxH...]] [--threads N]\n"
		   "                                [--path scalar|sse2|ssse3|avx2]\n"
		   "  Times the SDR (XRGB8888 -> NV12) and HDR (RGBA16F scRGB -> P010 PQ) converters,\n"
		   "  single-threaded and on all cores, against libyuv, libswscale, zimg and memcpy.\n"
		   "usage: framepush-bench transport [-n FRAMES]\n"
		   "  Publish -> consumer wakeup (p50, p99, max) and CPU per frame through the real\n"
		   "  channel and through GStreamer shmsink -> shmsrc, at 1920x1080 and 3840x2160.\n"
		   "usage: framepush-bench pipeline [--size WxH] [--fps N] [--seconds N] [--reps N]\n"
		   "                                [--threads N] [--only x11|wlr] [--keep]\n"
		   "  The whole pipeline against ffmpeg -f x11grab (Xvfb) and wf-recorder (headless\n"
		   "  sway): same display, client, encoder settings; fps, fresh fps, CPU ms/frame.\n"
		   "usage: framepush-bench source [--size WxH] [--hdr] [--pattern moving|bars|solid]\n"
		   "  The test source's own cost per frame: pattern draw, signature write and check.\n"
		   "usage: framepush-bench serve [--size WxH] [--fps N] [--seconds N] [--bitrate KBPS]\n"
		   "                             [--keep]\n"
		   "  Glass-to-glass latency of framepush serve in headless Chromium (p50, p99, max,\n"
		   "  frames lost), at 1280x720 and 1920x1080 unless --size is given; needs chromium\n"
		   "  and python3-websocket.\n");
}

/* serve's options, checked here the bench's way; --size's bounds are fp_parse_size's. */
static const struct {
	const char *name;
	unsigned long long min, max;
	const char *want;
} serve_opts[] = {
	{ "--size", 0, 0, "WxH, 320x180 at least" }, { "--fps", 1, 240, "1..240" },
	{ "--seconds", 2, 600, "2..600" },            { "--bitrate", 100, 1000000, "100..1000000" },
};

/* The framepush of this build (or $FRAMEPUSH_BUILD_ROOT's), as pipeline finds it. */
static void serve_framepush(char *out, size_t len)
{
	const char *root = getenv("FRAMEPUSH_BUILD_ROOT");
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	for (int k = 0; k < 2 && strrchr(self, '/'); k++)
		*strrchr(self, '/') = '\0'; /* <build>/bench/framepush-bench -> <build> */
	snprintf(out, len, "%s/tools/framepush", root && *root ? root : self);
}

/* serve: the measuring is Chromium's (DevTools protocol, python3-websocket, which only
 * Debian's python3 has), so the work is bench/serve.py; this checks the options and names
 * the framepush to run. */
static int serve_main(int argc, char **argv)
{
	char framepush[PATH_MAX + 32];
	const char *av[32] = { "/usr/bin/python3", FP_BENCH_SERVE_PY, "--framepush", framepush };
	int ac = 4;

	serve_framepush(framepush, sizeof(framepush));
	for (int i = 1; i < argc; i++) {
		unsigned long long v;
		uint32_t w, h;
		size_t o = 0;
		int r;

		if (!strcmp(argv[i], "--keep")) {
			av[ac++] = argv[i];
			continue;
		}
		while (o < FP_ARRAY_LEN(serve_opts) && strcmp(argv[i], serve_opts[o].name))
			o++;
		if (o == FP_ARRAY_LEN(serve_opts) || i + 1 >= argc || ac + 3 > (int)FP_ARRAY_LEN(av)) {
			fprintf(stderr, "framepush-bench serve: unexpected '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
		r = o == 0 ? fp_parse_size(argv[i + 1], 320, 180, FP_WIDTH_MAX, FP_HEIGHT_MAX, &w, &h)
			   : fp_parse_uint(argv[i + 1], serve_opts[o].min, serve_opts[o].max, &v);
		if (r < 0) {
			fprintf(stderr, "framepush-bench serve: bad %s '%s': want %s\n", argv[i],
				argv[i + 1], serve_opts[o].want);
			return 2;
		}
		av[ac++] = argv[i];
		av[ac++] = argv[++i];
	}
	av[ac] = NULL;
	execv(av[0], (char *const *)av);
	fprintf(stderr, "framepush-bench serve: cannot run %s %s: %s\n", av[0], av[1], strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	fp_log_init("framepush-bench");
	if (argc >= 2 && !strcmp(argv[1], "convert"))
		return bench_convert_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "transport"))
		return bench_transport_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "source"))
		return bench_source_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "pipeline"))
		return bench_pipeline_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return serve_main(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
