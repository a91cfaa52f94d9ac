/* framepush encode/output tests: real encoders, real muxers, checked with real ffprobe/ffmpeg.
 *
 * Usage: test_encode FFMPEG FFPROBE [GROUP]   (GROUP: a cmocka name filter such as "h264*")
 * Every child process and socket wait has a deadline; nothing asserts on elapsed time.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>

#include "common/log.h"
#include "common/util.h"
#include "encode_test_util.h"
#include "harness.h"
#include "framepush/encode.h"
#include "framepush/output.h"

#define NFRAMES 60
#define FPS 30
#define W 320
#define H 240


/* LeakSanitizer: x265 3.5 leaks FrameFilter buffers at encoder close (inside libx265, not
 * reachable from our code). Read only when the binary is built with -fsanitize=address. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libx265.so\n";
}

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", fpt_tmp, name);
}

static struct fp_encoder_config config(enum fp_codec codec, bool hdr)
{
	struct fp_encoder_config c;

	fp_encoder_config_defaults(&c, codec, W, H, FPS);
	c.hdr = hdr;
	c.format = hdr ? FP_YUV_P010 : FP_YUV_NV12;
	/* Quality settings that keep the synthetic pattern well above the 35 dB bar. */
	c.crf = codec == FP_CODEC_AV1 ? 30 : 20;
	c.threads = 2;
	return c;
}

/* Moves every ready packet from e to o (o may be NULL: packets dropped). Returns the count. */
static unsigned pump(struct fp_encoder *e, struct fp_output *o, bool to_end)
{
	AVPacket *pkt = av_packet_alloc();
	unsigned n = 0;
	int ret;

	assert_non_null(pkt);
	for (;;) {
		ret = fp_encoder_receive(e, pkt);
		if (ret == -EAGAIN && !to_end)
			break;
		if (ret == -ENODATA)
			break;
		assert_int_equal(ret, 0);
		if (o)
			assert_int_equal(fp_output_write(o, pkt), 0);
		av_packet_unref(pkt);
		n++;
	}
	av_packet_free(&pkt);
	return n;
}

struct enc_run {
	unsigned first;       /* pattern index of the first frame */
	unsigned frames;
	const unsigned *keyframes;  /* frame indexes (relative) that get a keyframe request */
	size_t n_keyframes;
};

/* Encodes run->frames pattern frames with e into o, then flushes e. Returns packets written. */
static unsigned encode_into(struct fp_encoder *e, struct fp_output *o, const struct enc_run *run,
			    int64_t t0)
{
	const struct fp_encoder_config *c = fp_encoder_config(e);
	struct fp_yuv_frame f;
	unsigned packets = 0;

	assert_int_equal(fp_yuv_frame_alloc(&f, c->format, c->width, c->height), 0);
	for (unsigned i = 0; i < run->frames; i++) {
		unsigned n = run->first + i;

		etu_fill_pattern(&f, n);
		f.pts_ns = t0 + (int64_t)n * FP_NSEC_PER_SEC * c->fps_den / c->fps_num;
		f.seq = n;
		for (size_t k = 0; k < run->n_keyframes; k++)
			if (run->keyframes[k] == i)
				fp_encoder_request_keyframe(e);
		assert_int_equal(fp_encoder_submit(e, &f), 0);
		/* The encoder holds no reference: scribbling over the planes must not matter. */
		memset(f.data[0], 0x5a, f.stride[0] * f.height);
		packets += pump(e, o, false);
	}
	assert_int_equal(fp_encoder_flush(e), 0);
	packets += pump(e, o, true);
	fp_yuv_frame_free(&f);
	return packets;
}

static void encode_file(const char *path, const struct fp_encoder_config *cfg, const struct enc_run *run)
{
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	struct fp_latency_stats lat;
	unsigned packets;

	assert_int_equal(fp_encoder_create(&e, cfg), 0);
	assert_int_equal(fp_output_open(&o, path, e, NULL), 0);
	packets = encode_into(e, o, run, fp_now_ns());
	assert_int_equal(fp_output_close(o), 0);
	fp_encoder_latency(e, &lat);
	/* Every packet left the encoder with a latency sample; one packet per frame. */
	assert_int_equal(lat.count, packets);
	assert_int_equal(packets, run->frames);
	assert_true(lat.p50_ns <= lat.p99_ns && lat.p99_ns <= lat.max_ns);
	fp_encoder_destroy(e);
}

static char *probe(const char *path, const char *const extra[])
{
	char *argv[16], *out = malloc(1 << 20);
	int n = 0, st;

	assert_non_null(out);
	argv[n++] = (char *)etu_ffprobe();
	argv[n++] = (char *)"-v";
	argv[n++] = (char *)"error";
	argv[n++] = (char *)"-of";
	argv[n++] = (char *)"json";
	for (size_t i = 0; extra[i]; i++)
		argv[n++] = (char *)extra[i];
	argv[n++] = (char *)path;
	argv[n] = NULL;
	st = fpt_run(argv, out, 1 << 20, 30000);
	if (st != 0)
		fprintf(stderr, "ffprobe %s: status %d\n", path, st);
	assert_int_equal(st, 0);
	return out;
}

static void expect(const char *json, const char *key, const char *want)
{
	char got[128] = "";

	if (!etu_json_get(json, key, got, sizeof(got)) || strcmp(got, want)) {
		fprintf(stderr, "ffprobe %s: want \"%s\", got \"%s\"\n", key, want, got);
		fail();
	}
}

static long expect_num(const char *json, const char *key)
{
	char got[64] = "";

	if (!etu_json_get(json, key, got, sizeof(got))) {
		fprintf(stderr, "ffprobe: no %s\n", key);
		fail();
	}
	return strtol(got, NULL, 10);
}

/* "num/den" value of key within tol of want. */
static void expect_ratio(const char *json, const char *key, double want, double tol)
{
	char got[64] = "";
	double num, den = 1;

	if (!etu_json_get(json, key, got, sizeof(got)) || sscanf(got, "%lf/%lf", &num, &den) < 1 ||
	    den == 0 || fabs(num / den - want) > tol) {
		fprintf(stderr, "ffprobe %s: want %g, got \"%s\"\n", key, want, got);
		fail();
	}
}

struct want {
	const char *codec, *profile, *pix_fmt;
	bool hdr;
	unsigned frames;
};

static void check_streams(const char *path, const struct want *w)
{
	static const char *const args[] = { "-show_streams", "-count_frames", NULL };
	char *j = probe(path, args);
	long frames;

	expect(j, "codec_name", w->codec);
	if (w->profile)
		expect(j, "profile", w->profile);
	expect(j, "pix_fmt", w->pix_fmt);
	assert_int_equal(expect_num(j, "width"), W);
	assert_int_equal(expect_num(j, "height"), H);
	expect(j, "r_frame_rate", "30/1");
	frames = expect_num(j, "nb_read_frames");
	if (labs(frames - (long)w->frames) > 2) {
		fprintf(stderr, "%s: %ld frames, want %u +-2\n", path, frames, w->frames);
		fail();
	}
	expect(j, "color_range", "tv");
	expect(j, "color_space", w->hdr ? "bt2020nc" : "bt709");
	expect(j, "color_primaries", w->hdr ? "bt2020" : "bt709");
	expect(j, "color_transfer", w->hdr ? "smpte2084" : "bt709");
	free(j);
}

/* HDR10 records in the bitstream (decoded first frame) and, for mkv/mp4, in the container. */
static void check_hdr_side_data(const char *path, bool container)
{
	static const char *const frame_args[] = { "-show_frames", "-read_intervals", "%+#1", NULL };
	static const char *const stream_args[] = { "-show_streams", NULL };
	char *j = probe(path, frame_args);

	assert_true(fpt_count(j, "\"Mastering display metadata\"") >= 1);
	assert_true(fpt_count(j, "\"Content light level metadata\"") >= 1);
	/* fp_hdr10_generic: 1000 nits / 0.0001 nits, MaxCLL 1000, MaxFALL 400, BT.2020 red.
	 * HEVC SEI is exact (units of 1/10000 and 1/50000); AV1's metadata OBU has 24.8 / 18.14
	 * fixed point luminance and 0.16 chromaticity, hence the tolerances. */
	expect_ratio(j, "max_luminance", 1000.0, 1.0 / 256);
	expect_ratio(j, "min_luminance", 0.0001, 1.0 / 16384);
	expect_ratio(j, "red_x", 0.708, 1.0 / 65536);
	expect_ratio(j, "white_point_y", 0.329, 1.0 / 65536);
	assert_int_equal(expect_num(j, "max_content"), 1000);
	assert_int_equal(expect_num(j, "max_average"), 400);
	free(j);
	if (!container)
		return;
	j = probe(path, stream_args);
	assert_true(fpt_count(j, "\"Mastering display metadata\"") >= 1);
	assert_true(fpt_count(j, "\"Content light level metadata\"") >= 1);
	free(j);
}

/* Decodes path with ffmpeg and compares against the submitted pattern frames. */
static void check_psnr(const char *path, const struct fp_encoder_config *cfg, unsigned first,
		       unsigned frames, double min_db)
{
	char raw[512], *argv[20];
	struct fp_yuv_frame f;
	size_t fsize;
	uint8_t *ref, *dec;
	FILE *in;
	double sum = 0, worst = 1e9;
	unsigned n = 0;
	int a = 0;
	bool p010 = cfg->format == FP_YUV_P010;

	snprintf(raw, sizeof(raw), "%s.yuv", path);
	argv[a++] = (char *)etu_ffmpeg();
	argv[a++] = (char *)"-nostdin";
	argv[a++] = (char *)"-v";
	argv[a++] = (char *)"error";
	argv[a++] = (char *)"-y";
	argv[a++] = (char *)"-i";
	argv[a++] = (char *)path;
	argv[a++] = (char *)"-fps_mode";
	argv[a++] = (char *)"passthrough";
	argv[a++] = (char *)"-f";
	argv[a++] = (char *)"rawvideo";
	argv[a++] = (char *)"-pix_fmt";
	argv[a++] = (char *)(p010 ? "yuv420p10le" : "yuv420p");
	argv[a++] = raw;
	argv[a] = NULL;
	assert_int_equal(fpt_run(argv, NULL, 0, 30000), 0);

	assert_int_equal(fp_yuv_frame_alloc(&f, cfg->format, cfg->width, cfg->height), 0);
	fsize = etu_planar_size(&f);
	ref = malloc(fsize);
	dec = malloc(fsize);
	assert_non_null(ref);
	assert_non_null(dec);
	in = fopen(raw, "rb");
	assert_non_null(in);
	while (n < frames && fread(dec, 1, fsize, in) == fsize) {
		double db;

		etu_fill_pattern(&f, first + n);
		etu_to_planar(&f, ref);
		db = etu_psnr(ref, dec, fsize, p010 ? 10 : 8);
		sum += db;
		if (db < worst)
			worst = db;
		n++;
	}
	fclose(in);
	unlink(raw);
	fprintf(stderr, "%s: %u frames decoded, PSNR avg %.2f dB, min %.2f dB\n", path, n,
		n ? sum / n : 0.0, worst);
	assert_true(n + 2 >= frames);
	assert_true(worst >= min_db);
	free(ref);
	free(dec);
	fp_yuv_frame_free(&f);
}

static void codec_file_test(enum fp_codec codec, bool hdr, const char *name, const struct want *w)
{
	struct fp_encoder_config cfg = config(codec, hdr);
	struct enc_run run = { .frames = NFRAMES };
	char path[512];

	path_in_tmp(path, sizeof(path), name);
	encode_file(path, &cfg, &run);
	check_streams(path, w);
	if (hdr)
		check_hdr_side_data(path, strstr(name, ".ts") == NULL);
	check_psnr(path, &cfg, 0, NFRAMES, 35.0);
}

/* One encode-to-file case per codec, dynamic range and container. */
struct codec_case {
	enum fp_codec codec;
	bool hdr;
	const char *file;
	struct want want;
};

static const struct codec_case codec_cases[] = {
	{ FP_CODEC_H264, false, "h264.mkv", { "h264", "High", "yuv420p", false, NFRAMES } },
	{ FP_CODEC_H264, false, "h264.ts", { "h264", "High", "yuv420p", false, NFRAMES } },
	{ FP_CODEC_HEVC, false, "hevc.mkv", { "hevc", "Main", "yuv420p", false, NFRAMES } },
	{ FP_CODEC_HEVC, true, "hevc_hdr.mkv", { "hevc", "Main 10", "yuv420p10le", true, NFRAMES } },
	{ FP_CODEC_HEVC, true, "hevc_hdr.mp4", { "hevc", "Main 10", "yuv420p10le", true, NFRAMES } },
	{ FP_CODEC_AV1, false, "av1.mkv", { "av1", "Main", "yuv420p", false, NFRAMES } },
	{ FP_CODEC_AV1, true, "av1_hdr.mkv", { "av1", "Main", "yuv420p10le", true, NFRAMES } },
};

static void codec_case_test(void **state)
{
	const struct codec_case *c = *state;

	codec_file_test(c->codec, c->hdr, c->file, &c->want);
}

#define CODEC_CASE(test_name, i) \
	{ test_name, codec_case_test, NULL, NULL, (void *)&codec_cases[i] }

/* A fragmented MP4 cut in half (a killed process) still has decodable frames. */
static void mp4_truncated(void **state)
{
	static const char *const args[] = { "-show_streams", "-count_frames", NULL };
	struct fp_encoder_config cfg = config(FP_CODEC_H264, false);
	struct enc_run run = { .frames = NFRAMES };
	char path[512], *j;
	struct stat sb;
	long full, cut;

	(void)state;
	cfg.keyint = 10;
	path_in_tmp(path, sizeof(path), "frag.mp4");
	encode_file(path, &cfg, &run);
	j = probe(path, args);
	full = expect_num(j, "nb_read_frames");
	free(j);
	assert_int_equal(full, NFRAMES);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
	j = probe(path, args);
	cut = expect_num(j, "nb_read_frames");
	free(j);
	fprintf(stderr, "fragmented mp4: %ld of %ld frames readable after cutting it in half\n", cut, full);
	assert_true(cut > 0 && cut < full);
}

/* Keyframes on request: frames 0, 20 and 45 are the only keys with keyint 1000. */
static void keyframe_test(enum fp_codec codec, const char *name)
{
	static const unsigned kf[] = { 20, 45 };
	static const char *const args[] = { "-show_entries", "packet=pts,flags", NULL };
	struct fp_encoder_config cfg = config(codec, false);
	struct enc_run run = { .frames = NFRAMES, .keyframes = kf, .n_keyframes = 2 };
	char path[512], *j;

	cfg.keyint = 1000;
	path_in_tmp(path, sizeof(path), name);
	encode_file(path, &cfg, &run);
	j = probe(path, args);
	fprintf(stderr, "%s: %u key packets\n", name, fpt_count(j, "\"K_\""));
	assert_int_equal(fpt_count(j, "\"K_\""), 3);
	/* mkv: millisecond timestamps; frame 20 at 666.7 ms, 45 at 1500 ms. */
	assert_non_null(strstr(j, "\"pts\": 667,\n            \"flags\": \"K_\""));
	assert_non_null(strstr(j, "\"pts\": 1500,\n            \"flags\": \"K_\""));
	free(j);
	/* Frames across the requested keyframes (and libsvtav1's restart) decode correctly. */
	check_psnr(path, &cfg, 0, NFRAMES, 35.0);
}

static void keyframe_h264(void **state)
{
	(void)state;
	keyframe_test(FP_CODEC_H264, "kf264.mkv");
}

static void keyframe_hevc(void **state)
{
	(void)state;
	keyframe_test(FP_CODEC_HEVC, "kf265.mkv");
}

static void keyframe_av1(void **state)
{
	(void)state;
	keyframe_test(FP_CODEC_AV1, "kfav1.mkv");
}

/* 30 pattern frames with an encoder for first into path, the output switched to a new one
 * for second, 30 more. The switch's mode out, and in seg the target written after it. */
static enum fp_output_switch_mode encode_across_switch(const char *path,
						      const struct fp_encoder_config *first,
						      const struct fp_encoder_config *second,
						      char *seg, size_t seg_len)
{
	struct enc_run a = { .first = 0, .frames = 30 }, b = { .first = 30, .frames = 30 };
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	enum fp_output_switch_mode mode = 0;
	int64_t t0 = fp_now_ns();

	assert_int_equal(fp_encoder_create(&e, first), 0);
	assert_int_equal(fp_output_open(&o, path, e, NULL), 0);
	assert_int_equal(encode_into(e, o, &a, t0), 30);
	fp_encoder_destroy(e);
	assert_int_equal(fp_encoder_create(&e, second), 0);
	assert_int_equal(fp_output_switch(o, e, &mode), 0);
	snprintf(seg, seg_len, "%s", fp_output_target(o));
	assert_int_equal(encode_into(e, o, &b, t0), 30);
	assert_int_equal(fp_output_close(o), 0);
	fp_encoder_destroy(e);
	return mode;
}

/* SDR -> HDR mid-stream. mkv: a new segment file; ts: the same file, in-band. */
static void switch_test(const char *name, enum fp_output_switch_mode want_mode, const char *second)
{
	struct fp_encoder_config sdr = config(FP_CODEC_HEVC, false), hdr = config(FP_CODEC_HEVC, true);
	static const char *const args[] = { "-show_streams", "-count_frames", NULL };
	char path[512], seg[512], *j;

	path_in_tmp(path, sizeof(path), name);
	assert_int_equal(encode_across_switch(path, &sdr, &hdr, seg, sizeof(seg)), want_mode);
	if (want_mode == FP_SWITCH_SEGMENT) {
		static const struct want w1 = { "hevc", "Main", "yuv420p", false, 30 };
		static const struct want w2 = { "hevc", "Main 10", "yuv420p10le", true, 30 };
		char want_seg[512];

		path_in_tmp(want_seg, sizeof(want_seg), second);
		assert_string_equal(seg, want_seg);
		check_streams(path, &w1);
		check_streams(seg, &w2);
		check_hdr_side_data(seg, true);
		check_psnr(seg, &hdr, 30, 30, 35.0);
	} else {
		/* One TS, 60 frames, all decodable across the parameter change. */
		assert_string_equal(seg, path);
		j = probe(path, args);
		expect(j, "codec_name", "hevc");
		assert_true(labs(expect_num(j, "nb_read_frames") - 60) <= 2);
		free(j);
	}
}

static void switch_mkv_segment(void **state)
{
	(void)state;
	switch_test("switch.mkv", FP_SWITCH_SEGMENT, "switch.1.mkv");
}

static void switch_ts_inband(void **state)
{
	(void)state;
	switch_test("switch.ts", FP_SWITCH_INBAND, NULL);
}

/* A governor step: the same mode at another preset. Every container goes on in-band (one
 * file), and the whole of it decodes to the submitted pictures. */
static void speed_switch_inband(void **state)
{
	struct fp_encoder_config slow = config(FP_CODEC_H264, false), fast = slow;
	static const struct want w = { "h264", NULL, "yuv420p", false, 60 };
	char path[512], seg[512];

	(void)state;
	slow.preset = "medium";
	fast.preset = "ultrafast"; /* CAVLC, no deblocking: other parameter sets */
	path_in_tmp(path, sizeof(path), "speed.mkv");
	assert_int_equal(encode_across_switch(path, &slow, &fast, seg, sizeof(seg)), FP_SWITCH_INBAND);
	assert_string_equal(seg, path);
	check_streams(path, &w);
	check_psnr(path, &slow, 0, 60, 35.0);
}

/* The governor's last resort: frames submitted at the display's size, encoded at a smaller
 * one (SDR NV12 through x264, HDR P010 through x265). */
static void scaled_case(enum fp_codec codec, bool hdr, const char *name, const char *pix_fmt)
{
	struct fp_encoder_config cfg = config(codec, hdr);
	struct enc_run run = { .frames = 30 };
	static const char *const args[] = { "-show_streams", "-count_frames", NULL };
	char path[512], *j;

	cfg.scale_width = W / 2;
	cfg.scale_height = H * 3 / 4;
	path_in_tmp(path, sizeof(path), name);
	encode_file(path, &cfg, &run);
	j = probe(path, args);
	assert_int_equal(expect_num(j, "width"), W / 2);
	assert_int_equal(expect_num(j, "height"), H * 3 / 4);
	expect(j, "pix_fmt", pix_fmt);
	assert_int_equal(expect_num(j, "nb_read_frames"), 30);
	free(j);
	/* Odd, larger than the input, or below 16: refused at create. */
	cfg.scale_width = W + 2;
	assert_int_equal(fp_encoder_create(&(struct fp_encoder *){ NULL }, &cfg), -EINVAL);
	cfg.scale_width = 15;
	assert_int_equal(fp_encoder_create(&(struct fp_encoder *){ NULL }, &cfg), -EINVAL);
}

static void scaled(void **state)
{
	(void)state;
	scaled_case(FP_CODEC_H264, false, "scaled.mkv", "yuv420p");
	scaled_case(FP_CODEC_HEVC, true, "scaled-hdr.mkv", "yuv420p10le");
}

/* Opens an SRT caller to a listener whose socket is bound (fpt_wait_port): its accept loop
 * may still be a moment behind, and a handshake it misses fails after the connect timeout.
 * A few attempts, counted, rather than a guessed sleep or a wall-clock bound. */
static int open_srt(struct fp_output **o, const char *url, const struct fp_encoder *e,
		    const struct fp_output_options *opt)
{
	int ret = -1;

	for (int attempt = 0; attempt < 3 && ret != 0; attempt++)
		ret = fp_output_open(o, url, e, opt);
	return ret;
}

/* An ffmpeg receiver: `listen` (its options that make it a server; NULL: none) before -i
 * `url`, the stream copied into `path`. Returns once it has bound `port`. */
static pid_t spawn_receiver(const char *url, const char *path, int port, bool udp,
			    const char *loglevel, const char *const listen[])
{
	char *argv[16];
	int a = 0;
	pid_t pid;

	argv[a++] = (char *)etu_ffmpeg();
	argv[a++] = (char *)"-nostdin";
	argv[a++] = (char *)"-v";
	argv[a++] = (char *)loglevel;
	argv[a++] = (char *)"-y";
	for (int i = 0; listen && listen[i]; i++)
		argv[a++] = (char *)listen[i];
	argv[a++] = (char *)"-i";
	argv[a++] = (char *)url;
	argv[a++] = (char *)"-c";
	argv[a++] = (char *)"copy";
	argv[a++] = (char *)path;
	argv[a] = NULL;
	pid = fpt_spawn_io(argv, -1);
	assert_true(pid > 0);
	assert_true(fpt_wait_port(port, udp, 10000));
	return pid;
}

/* `frames` pattern frames from e, live, into a new output at `url` of `kind`, closed after;
 * SRT is opened with open_srt (the listener's accept loop may lag its bound port). */
static void stream_into(struct fp_encoder *e, const char *url, const struct fp_output_options *opt,
			enum fp_output_kind kind, unsigned frames)
{
	struct enc_run run = { .frames = frames };
	struct fp_output *o = NULL;

	assert_int_equal(kind == FP_OUTPUT_SRT ? open_srt(&o, url, e, opt)
					       : fp_output_open(&o, url, e, opt), 0);
	assert_int_equal(fp_output_kind(o), kind);
	encode_into(e, o, &run, fp_now_ns());
	assert_int_equal(fp_output_close(o), 0);
}

/* One live case: an ffmpeg receiver listening at `in`, framepush streaming to `out` (both
 * printf formats of a free port), then the file the receiver wrote probed. */
struct live_case {
	const char *file, *in, *out;
	const char *const *listen; /* the receiver's options that make it a server */
	bool udp;                  /* the port is a UDP one */
	bool exit_checked;         /* the receiver must exit 0 */
	enum fp_codec codec;
	enum fp_output_kind kind;
	struct fp_output_options opt;
	struct want want;
};

static const char *const rtsp_listen[] = { "-rtsp_flags", "listen", "-timeout", "20", NULL };

static const struct live_case live_cases[] = {
	/* SRT caller -> an ffmpeg SRT listener writing a TS; the listener ends at the caller's
	 * disconnect. */
	{ "srt.ts", "srt://127.0.0.1:%d?mode=listener&listen_timeout=20000000", "srt://127.0.0.1:%d",
	  NULL, true, true, FP_CODEC_H264, FP_OUTPUT_SRT,
	  { .connect_timeout_ms = 3000, .io_timeout_ms = 3000 },
	  { "h264", "High", "yuv420p", false, NFRAMES } },
	/* UDP/MPEG-TS to an ffmpeg reading udp:// with a read timeout that ends its input: it
	 * finishes the file 2 s after the last datagram; its status is not checked, the
	 * timeout is reported as an input error. */
	{ "udp.ts", "udp://127.0.0.1:%d?timeout=2000000&fifo_size=100000", "udp://127.0.0.1:%d",
	  NULL, true, false, FP_CODEC_H264, FP_OUTPUT_UDP, { 0 },
	  { "h264", "High", "yuv420p", false, NFRAMES } },
	/* RTSP ANNOUNCE/RECORD over TCP to an ffmpeg acting as the RTSP server; the output's
	 * close (TEARDOWN) ends the server's input. */
	{ "rtsp.mkv", "rtsp://127.0.0.1:%d/live", "rtsp://127.0.0.1:%d/live", rtsp_listen, false,
	  true, FP_CODEC_HEVC, FP_OUTPUT_RTSP, { 0 },
	  { "hevc", "Main", "yuv420p", false, NFRAMES } },
};

#define LIVE_CASE(test_name, i) \
	{ test_name, live_case_test, NULL, NULL, (void *)&live_cases[i] }

static void live_case_test(void **state)
{
	const struct live_case *c = *state;
	struct fp_encoder_config cfg = config(c->codec, false);
	struct fp_encoder *e = NULL;
	char url_in[128], url_out[128], path[512];
	int port = fpt_free_port(c->udp), status;
	pid_t pid;

	assert_true(port > 0);
	path_in_tmp(path, sizeof(path), c->file);
	snprintf(url_in, sizeof(url_in), c->in, port);
	snprintf(url_out, sizeof(url_out), c->out, port);
	pid = spawn_receiver(url_in, path, port, c->udp, "error", c->listen);
	assert_int_equal(fp_encoder_create(&e, &cfg), 0);
	stream_into(e, url_out, &c->opt, c->kind, NFRAMES);
	fp_encoder_destroy(e);
	status = fpt_wait(pid, 20000);
	if (c->exit_checked)
		assert_int_equal(fpt_exit_code(status), 0);
	check_streams(path, &c->want);
}

/* fp_output_options.cancel: a network open ends with -ECANCELED (not the 10 s connect
 * timeout) against an RTSP "server" that accepts and never answers; a file opens and is
 * written in full regardless (Ctrl-C must still finish a recording). */
static void open_cancel(void **state)
{
	volatile sig_atomic_t cancel = 1;
	struct fp_encoder_config cfg = config(FP_CODEC_H264, false);
	struct fp_output_options opt = { .connect_timeout_ms = 10000, .cancel = &cancel };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	char url[128], path[512];
	int mute = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	(void)state;
	assert_true(mute >= 0);
	assert_int_equal(bind(mute, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(mute, 4), 0);
	assert_int_equal(getsockname(mute, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "rtsp://127.0.0.1:%d/mute", ntohs(a.sin_port));
	assert_int_equal(fp_encoder_create(&e, &cfg), 0);
	ret = fp_output_open(&o, url, e, &opt);
	fprintf(stderr, "cancelled rtsp open: %d (%s)\n", ret, strerror(-ret));
	assert_int_equal(ret, -ECANCELED);
	assert_null(o);
	close(mute);

	path_in_tmp(path, sizeof(path), "cancel.mkv");
	stream_into(e, path, &opt, FP_OUTPUT_FILE_MKV, 10);
	fp_encoder_destroy(e);
	{
		static const struct want w = { "h264", "High", "yuv420p", false, 10 };

		check_streams(path, &w);
	}
}

/* RTP: the SDP written at open describes the stream; a receiver started from it gets frames. */
static void rtp_sdp(void **state)
{
	struct fp_encoder_config cfg = config(FP_CODEC_H264, false);
	struct fp_output_options opt = { 0 };
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	char url[128], sdp[512], buf[4096];
	int port = fpt_free_port(true);
	FILE *f;
	size_t n;

	(void)state;
	path_in_tmp(sdp, sizeof(sdp), "stream.sdp");
	opt.sdp_path = sdp;
	snprintf(url, sizeof(url), "rtp://127.0.0.1:%d", port);
	assert_int_equal(fp_encoder_create(&e, &cfg), 0);
	assert_int_equal(fp_output_open(&o, url, e, &opt), 0);
	f = fopen(sdp, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "m=video"));
	assert_non_null(strstr(buf, "H264/90000"));
	assert_non_null(strstr(buf, "sprop-parameter-sets="));
	assert_int_equal(fp_output_close(o), 0);
	fp_encoder_destroy(e);
}

/* The receiver dies mid-stream: a later write fails (SRT notices the silent peer after its
 * idle timeout) instead of the sender hanging or writing into the void for ever. */
static void srt_peer_dies(void **state)
{
	struct fp_encoder_config cfg = config(FP_CODEC_H264, false);
	struct fp_output_options opt = { .connect_timeout_ms = 3000, .io_timeout_ms = 3000 };
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	struct fp_yuv_frame f;
	AVPacket *pkt = av_packet_alloc();
	char url_in[128], url_out[128], path[512];
	int port = fpt_free_port(true), ret = -1, werr = 0;
	int64_t t0;
	unsigned n;
	pid_t pid;

	(void)state;
	assert_non_null(pkt);
	path_in_tmp(path, sizeof(path), "dies.ts");
	snprintf(url_in, sizeof(url_in), "srt://127.0.0.1:%d?mode=listener&listen_timeout=20000000", port);
	snprintf(url_out, sizeof(url_out), "srt://127.0.0.1:%d", port);
	pid = spawn_receiver(url_in, path, port, true, "quiet", NULL);
	assert_int_equal(fp_encoder_create(&e, &cfg), 0);
	ret = open_srt(&o, url_out, e, &opt);
	assert_int_equal(ret, 0);
	assert_int_equal(fp_yuv_frame_alloc(&f, cfg.format, cfg.width, cfg.height), 0);
	t0 = fp_now_ns();
	/* Live pacing (one frame per 33 ms) for at most 30 s; the receiver is killed at frame 15. */
	for (n = 0; n < 900 && werr == 0; n++) {
		if (n == 15) {
			kill(pid, SIGKILL);
			fpt_wait(pid, 5000);
			pid = -1;
		}
		etu_fill_pattern(&f, n);
		f.pts_ns = t0 + (int64_t)n * FP_NSEC_PER_SEC / FPS;
		assert_int_equal(fp_encoder_submit(e, &f), 0);
		while (werr == 0 && fp_encoder_receive(e, pkt) == 0) {
			werr = fp_output_write(o, pkt);
			av_packet_unref(pkt);
		}
		/* Live pacing, not a wait: SRT's peer-idle detection needs real time to pass. */
		nanosleep(&(struct timespec){ .tv_nsec = 33 * 1000 * 1000 }, NULL);
	}
	fprintf(stderr, "srt peer killed at frame 15: write failed at frame %u: %d (%s)\n", n, werr,
		strerror(-werr));
	assert_true(werr < 0);
	assert_int_equal(fp_output_write(o, pkt), werr);  /* the output stays dead */
	assert_int_equal(fp_output_close(o), werr);
	fp_yuv_frame_free(&f);
	av_packet_free(&pkt);
	fp_encoder_destroy(e);
}

/* A peer that never answers ends open with an error within the deadline, not a hang. */
static void srt_dead_peer(void **state)
{
	struct fp_encoder_config cfg = config(FP_CODEC_H264, false);
	struct fp_output_options opt = { .connect_timeout_ms = 1000, .io_timeout_ms = 1000 };
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	char url[128];
	int ret;

	(void)state;
	snprintf(url, sizeof(url), "srt://127.0.0.1:%d", fpt_free_port(true));
	assert_int_equal(fp_encoder_create(&e, &cfg), 0);
	ret = fp_output_open(&o, url, e, &opt);
	fprintf(stderr, "srt to nobody: %d (%s)\n", ret, strerror(-ret));
	assert_true(ret < 0);
	assert_null(o);
	fp_encoder_destroy(e);
}

static void hw_unavailable(void **state)
{
	static const struct {
		enum fp_codec codec;
		enum fp_hw hw;
		const char *fallback;
	} cases[] = {
		{ FP_CODEC_H264, FP_HW_NVENC, "; the software encoder libx264 works" },
		{ FP_CODEC_HEVC, FP_HW_NVENC, "; the software encoder libx265 works" },
		{ FP_CODEC_H264, FP_HW_VAAPI, "; the software encoder libx264 works" },
		{ FP_CODEC_HEVC, FP_HW_VAAPI, "; the software encoder libx265 works" },
		{ FP_CODEC_AV1, FP_HW_NVENC, "; the software encoder libsvtav1 works" },
	};

	bool nvidia = fp_hw_device_present(FP_HW_NVENC), render = fp_hw_device_present(FP_HW_VAAPI);
	unsigned tested = 0;

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(cases); i++) {
		struct fp_encoder_config cfg = config(cases[i].codec, false);
		struct fp_encoder *e = (struct fp_encoder *)&cfg;
		char msg[256];
		int ret;

		/* Only where that kind of device is absent: the other kind is still checked. */
		if (cases[i].hw == FP_HW_NVENC ? nvidia : render) {
			fprintf(stderr, "%s/%s: device present, not an absent-device case\n",
				fp_codec_name(cases[i].codec), fp_hw_name(cases[i].hw));
			continue;
		}
		tested++;
		ret = fp_encoder_probe(cases[i].codec, cases[i].hw, msg, sizeof(msg));

		fprintf(stderr, "probe %s/%s: %d: %s\n", fp_codec_name(cases[i].codec),
			fp_hw_name(cases[i].hw), ret, msg);
		assert_true(ret == -ENODEV || ret == -ENOTSUP);
		assert_non_null(strstr(msg, cases[i].fallback));
		cfg.hw = cases[i].hw;
		assert_int_equal(fp_encoder_create(&e, &cfg), ret);
		assert_null(e);
	}
	if (!tested)
		skip(); /* both an NVIDIA device and a render node: nothing is absent here */
}

static void config_errors(void **state)
{
	struct fp_encoder_config cfg;
	struct fp_encoder *e = NULL;

	(void)state;
	cfg = config(FP_CODEC_HEVC, false);
	cfg.format = FP_YUV_P010;  /* P010 without hdr: the colour tags would lie */
	assert_int_equal(fp_encoder_create(&e, &cfg), -EINVAL);
	cfg = config(FP_CODEC_H264, true);
	assert_int_equal(fp_encoder_create(&e, &cfg), -ENOTSUP);
	cfg = config(FP_CODEC_H264, false);
	cfg.bitrate_kbps = 1000;   /* and crf from config(): one of them only */
	assert_int_equal(fp_encoder_create(&e, &cfg), -EINVAL);
	cfg = config(FP_CODEC_H264, false);
	cfg.width = 321;
	assert_int_equal(fp_encoder_create(&e, &cfg), -EINVAL);
	assert_null(e);
	assert_int_equal(fp_output_kind_of("out.avi"), -EINVAL);
	assert_int_equal(fp_output_kind_of("http://x/y"), -EINVAL);
	assert_int_equal(fp_output_kind_of("a.b/out.MKV"), FP_OUTPUT_FILE_MKV);
	assert_int_equal(fp_output_kind_of("srt://h:1"), FP_OUTPUT_SRT);
	fp_encoder_destroy(NULL);
	assert_int_equal(fp_output_close(NULL), 0);
	/* AV1 has no MPEG-TS / RTP mapping in FFmpeg 5.1: refused, not muxed as opaque data. */
	{
		struct fp_output *o = (struct fp_output *)&cfg;
		char path[512];

		cfg = config(FP_CODEC_AV1, false);
		assert_int_equal(fp_encoder_create(&e, &cfg), 0);
		path_in_tmp(path, sizeof(path), "av1.ts");
		assert_int_equal(fp_output_open(&o, path, e, NULL), -ENOTSUP);
		assert_null(o);
		assert_int_equal(fp_output_open(&o, "rtp://127.0.0.1:9", e, NULL), -ENOTSUP);
		fp_encoder_destroy(e);
	}
	/* Encoders that never got a frame close (SVT-AV1 would block in deinit without care),
	 * and flushed without frames they report the end at once. */
	for (enum fp_codec c = FP_CODEC_H264; c <= FP_CODEC_AV1; c++) {
		cfg = config(c, false);
		assert_int_equal(fp_encoder_create(&e, &cfg), 0);
		fp_encoder_destroy(e);
		assert_int_equal(fp_encoder_create(&e, &cfg), 0);
		assert_int_equal(fp_encoder_flush(e), 0);
		assert_int_equal(pump(e, NULL, true), 0);
		assert_int_equal(fp_encoder_submit(e, &(struct fp_yuv_frame){ 0 }), -EPIPE);
		fp_encoder_destroy(e);
		/* Abandoned mid-stream (an output failed): destroy without flush. */
		{
			struct fp_yuv_frame f;

			assert_int_equal(fp_encoder_create(&e, &cfg), 0);
			assert_int_equal(fp_yuv_frame_alloc(&f, cfg.format, cfg.width, cfg.height), 0);
			for (unsigned i = 0; i < 3; i++) {
				etu_fill_pattern(&f, i);
				f.pts_ns = (int64_t)i * FP_NSEC_PER_SEC / FPS;
				assert_int_equal(fp_encoder_submit(e, &f), 0);
			}
			fp_yuv_frame_free(&f);
			fp_encoder_destroy(e);
		}
	}
}

/* Bitrate mode for each codec produces a stream (rate control wiring; no rate assertion). */
static void bitrate_mode(void **state)
{
	static const enum fp_codec codecs[] = { FP_CODEC_H264, FP_CODEC_HEVC, FP_CODEC_AV1 };

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(codecs); i++) {
		struct fp_encoder_config cfg = config(codecs[i], false);
		struct enc_run run = { .frames = 15 };
		char path[512];

		cfg.crf = 0;
		cfg.bitrate_kbps = 800;
		snprintf(path, sizeof(path), "%s/rate_%s.mkv", fpt_tmp, fp_codec_name(codecs[i]));
		encode_file(path, &cfg, &run);
	}
}

static void latency_hist(void **state)
{
	struct fp_latency_hist h;
	struct fp_latency_stats s;

	(void)state;
	fp_latency_reset(&h);
	fp_latency_summary(&h, &s);
	assert_int_equal(s.count, 0);
	assert_int_equal(s.p99_ns, 0);
	for (int i = 1; i <= 1000; i++)
		fp_latency_record(&h, (int64_t)i * FP_NSEC_PER_MSEC);
	fp_latency_summary(&h, &s);
	assert_int_equal(s.count, 1000);
	assert_int_equal(s.min_ns, FP_NSEC_PER_MSEC);
	assert_int_equal(s.max_ns, 1000 * FP_NSEC_PER_MSEC);
	/* Buckets are 1/32 of an octave wide: within 3.2 % of the exact ranks. */
	assert_true(llabs(s.p50_ns - 500 * FP_NSEC_PER_MSEC) <= 500 * FP_NSEC_PER_MSEC / 31);
	assert_true(llabs(s.p99_ns - 990 * FP_NSEC_PER_MSEC) <= 990 * FP_NSEC_PER_MSEC / 31);
	fp_latency_record(&h, -5);
	fp_latency_record(&h, INT64_MAX);  /* clamps into the last bucket, no overflow */
	fp_latency_summary(&h, &s);
	assert_int_equal(s.min_ns, 0);
	assert_int_equal(s.max_ns, INT64_MAX);
	/* Small values are exact to the microsecond. */
	fp_latency_reset(&h);
	fp_latency_record(&h, 37000);
	assert_int_equal(fp_latency_percentile(&h, 50), 37000);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(latency_hist),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(hw_unavailable),
		CODEC_CASE("h264_sdr_mkv", 0),
		CODEC_CASE("h264_sdr_ts", 1),
		CODEC_CASE("hevc_sdr_mkv", 2),
		CODEC_CASE("hevc_hdr_mkv", 3),
		CODEC_CASE("hevc_hdr_mp4", 4),
		CODEC_CASE("av1_sdr_mkv", 5),
		CODEC_CASE("av1_hdr_mkv", 6),
		cmocka_unit_test(bitrate_mode),
		cmocka_unit_test(mp4_truncated),
		cmocka_unit_test(keyframe_h264),
		cmocka_unit_test(keyframe_hevc),
		cmocka_unit_test(keyframe_av1),
		cmocka_unit_test(switch_mkv_segment),
		cmocka_unit_test(switch_ts_inband),
		cmocka_unit_test(speed_switch_inband),
		cmocka_unit_test(scaled),
		LIVE_CASE("srt_stream", 0),
		LIVE_CASE("udp_stream", 1),
		LIVE_CASE("rtsp_stream", 2),
		cmocka_unit_test(rtp_sdp),
		cmocka_unit_test(srt_dead_peer),
		cmocka_unit_test(srt_peer_dies),
		cmocka_unit_test(open_cancel),
	};

	fp_log_init("test_encode");
	if (argc > 2)
		etu_set_tools(argv[1], argv[2]);
	if (argc > 3 && fpt_select_test("test_encode", tests, sizeof(tests) / sizeof(tests[0]), argv[3]) < 0)
		return 1;
	/* A closed socket while streaming must surface as an error, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	/* SVT-AV1 prints its configuration banner at info level otherwise. */
	setenv("SVT_LOG", "2", 0);
	fp_encode_route_av_log();
	return cmocka_run_group_tests(tests, fpt_group_setup, fpt_group_teardown);
}
