/* framepush encode bench: ms per frame and capture->packet latency per codec and size.
 *
 * Usage: bench_encode [FRAMES] [WxH ...]   (default 90 frames at 640x360 and 1920x1080)
 * Frames are submitted back to back (not paced), each stamped with fp_now_ns() when it is
 * handed over, so latency includes the time a frame waits inside the encoder's pipeline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "common/log.h"
#include "common/util.h"
#include "encode_test_util.h"
#include "framepush/encode.h"

static int bench(enum fp_codec codec, bool hdr, uint32_t w, uint32_t h, unsigned frames)
{
	struct fp_encoder_config cfg;
	struct fp_encoder *e = NULL;
	struct fp_yuv_frame *f;
	struct fp_latency_stats lat;
	AVPacket *pkt = av_packet_alloc();
	int64_t t0, t1, create_ns;
	unsigned packets = 0;
	size_t bytes = 0;
	int ret;

	fp_encoder_config_defaults(&cfg, codec, w, h, 30);
	cfg.hdr = hdr;
	cfg.format = hdr ? FP_YUV_P010 : FP_YUV_NV12;
	cfg.bitrate_kbps = w >= 1280 ? 6000 : 1500;
	f = calloc(8, sizeof(*f));
	if (!pkt || !f)
		return -ENOMEM;
	/* Eight distinct frames, cycled: pattern generation stays out of the measurement. */
	for (unsigned i = 0; i < 8; i++) {
		if (fp_yuv_frame_alloc(&f[i], cfg.format, w, h) < 0)
			return -ENOMEM;
		etu_fill_pattern(&f[i], i * 4);
	}
	t0 = fp_now_ns();
	ret = fp_encoder_create(&e, &cfg);
	create_ns = fp_now_ns() - t0;
	if (ret < 0)
		return ret;
	t0 = fp_now_ns();
	for (unsigned i = 0; i <= frames && ret >= 0; i++) {
		if (i < frames) {
			f[i % 8].pts_ns = fp_now_ns();
			ret = fp_encoder_submit(e, &f[i % 8]);
		} else {
			ret = fp_encoder_flush(e);
		}
		while (ret >= 0 && (ret = fp_encoder_receive(e, pkt)) == 0) {
			packets++;
			bytes += (size_t)pkt->size;
			av_packet_unref(pkt);
		}
		if (ret == -EAGAIN || ret == -ENODATA)
			ret = 0;
	}
	t1 = fp_now_ns();
	fp_encoder_latency(e, &lat);
	printf("%-9s %-3s %4ux%-4u create %6.1f ms  %7.2f ms/frame  %6.1f fps  latency p50 %6.1f ms p99 %6.1f ms  %u packets %.0f kbit/s\n",
	       fp_encoder_name(e), hdr ? "HDR" : "SDR", w, h, create_ns / 1e6,
	       (t1 - t0) / 1e6 / frames, frames * 1e9 / (double)(t1 - t0), lat.p50_ns / 1e6,
	       lat.p99_ns / 1e6, packets, bytes * 8.0 / (frames / 30.0) / 1000.0);
	fflush(stdout);
	fp_encoder_destroy(e);
	for (unsigned i = 0; i < 8; i++)
		fp_yuv_frame_free(&f[i]);
	free(f);
	av_packet_free(&pkt);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct { enum fp_codec codec; bool hdr; } cases[] = {
		{ FP_CODEC_H264, false }, { FP_CODEC_HEVC, false }, { FP_CODEC_HEVC, true },
		{ FP_CODEC_AV1, false }, { FP_CODEC_AV1, true },
	};
	unsigned frames = argc > 1 ? (unsigned)atoi(argv[1]) : 90;
	uint32_t sizes[8][2] = { { 640, 360 }, { 1920, 1080 } };
	int nsizes = 2;

	fp_log_init("bench_encode");
	setenv("SVT_LOG", "1", 0);
	fp_encode_route_av_log();
	if (argc > 2) {
		nsizes = 0;
		for (int i = 2; i < argc && nsizes < 8; i++)
			if (sscanf(argv[i], "%ux%u", &sizes[nsizes][0], &sizes[nsizes][1]) == 2)
				nsizes++;
	}
	if (frames == 0)
		frames = 90;
	for (int s = 0; s < nsizes; s++)
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
			if (bench(cases[c].codec, cases[c].hdr, sizes[s][0], sizes[s][1], frames) < 0)
				fprintf(stderr, "bench %s %ux%u failed\n", fp_codec_name(cases[c].codec),
					sizes[s][0], sizes[s][1]);
	return 0;
}
