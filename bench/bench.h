/* framepush-bench — shared helpers of the benchmark subcommands. */
#ifndef FP_BENCH_H
#define FP_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef void (*bench_fn)(void *ctx);

int bench_convert_main(int argc, char **argv);
int bench_transport_main(int argc, char **argv);
int bench_source_main(int argc, char **argv);

/* Frames each transport run receives before it measures: the first frames fault in the
 * shared pages and warm the caches on both sides, which says nothing about steady state. */
#define BENCH_XPORT_WARMUP 10u

/* One transport run: publish -> consumer wakeup for each measured frame, and the CPU that
 * producer and consumer processes spent between the first and the last measured frame. */
struct bench_xport {
	int64_t *lat_ns;      /* count values, n allocated by the caller */
	unsigned count;
	int64_t cpu_ns;       /* producer + consumer process CPU over cpu_frames frames */
	int64_t consumer_cpu_ns; /* the consumer's part of it */
	unsigned cpu_frames;
	int64_t payload_ns;   /* producer's render + signature CPU per frame, -1 unknown */
	unsigned copied;      /* frames the producer's transport copied (GStreamer fallback) */
	unsigned missed;      /* frames the consumer never saw: a newer one replaced each */
};

/* The test source's pattern=solid frame, as src/sources/test.c renders it (row 0 pixel by
 * pixel, copied down) and signed (fp_signature_write): the GStreamer producer does the
 * same work per frame as framepush-source, so the CPU figures differ by transport only. */
void bench_render_solid(uint8_t *px, size_t stride, uint32_t w, uint32_t h, uint32_t frame);

/* GStreamer shmsink -> shmsrc between two processes started from self_exe (the hidden
 * "transport --gst-producer|--gst-consumer" subcommands), n measured frames of w x h BGRx
 * at fps; render 1: each frame rendered as bench_render_solid, 0: only its stamp written.
 * 0 and *out, -ENOTSUP when framepush-bench was built without GStreamer, or -errno
 * (logged). */
int bench_gst_transport(const char *self_exe, uint32_t w, uint32_t h, unsigned n, unsigned fps,
			int render, struct bench_xport *out);
/* The hidden subcommands; argv[0] is "--gst-producer" or "--gst-consumer". */
int bench_gst_child_main(int argc, char **argv);
int bench_pipeline_main(int argc, char **argv);

#endif
