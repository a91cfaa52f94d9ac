/* framepush-bench — benchmarks. Usage: framepush-bench convert|transport|pipeline|source [options] */
#include "bench.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

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
		   "  The test source's own cost per frame: pattern draw, signature write and check.\n");
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
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
