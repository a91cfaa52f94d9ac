/* framepush — round trip of converted test cards through real encoders (ffmpeg libx264 for
 * NV12, libx265 for P010): the decoded planes must match ours at >= 40 dB PSNR. This checks
 * that a real consumer reads our buffers as NV12 / P010 (plane layout, chroma interleave,
 * P010's high-bit packing), which comparing against our own reference cannot. */
#include "convert_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CARD_W 640
#define CARD_H 360
#define FFMPEG_TIMEOUT_S 40

static char tmpdir[64];

static const char *ffmpeg_path(void)
{
	const char *p = getenv("FRAMEPUSH_FFMPEG");

	return p && *p ? p : "ffmpeg";
}

/* Runs argv (no shell) with stdin and stdout (and stderr when quiet) on /dev/null; kills it
 * after the timeout. Returns the exit status, 127 when it could not be executed, -1 on
 * timeout or error. */
static int run_argv(char *const argv[], int quiet)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	pid_t pid;
	int status, ticks = 0;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			if (quiet)
				dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (++ticks > FFMPEG_TIMEOUT_S * 50) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "%s: timed out after %d s\n", argv[0], FFMPEG_TIMEOUT_S);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
}

static int encoder_available(const char *enc)
{
	char *argv[] = { (char *)ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "quiet",
			 "-f", "lavfi", "-i", "color=c=black:s=64x64:d=0.04", "-c:v", (char *)enc,
			 "-f", "null", "-", NULL };

	return run_argv(argv, 1) == 0; /* x265 logs to stderr by itself */
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	size_t n;

	if (!f)
		return -1;
	n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Test card: 75% bars on top, a horizontal ramp per channel, then primaries and a circle. */
static void make_card(struct img *im)
{
	const int hdr = im->bpp == 8;
	static const float bars[8][3] = {
		{ 0.75f, 0.75f, 0.75f }, { 0.75f, 0.75f, 0 }, { 0, 0.75f, 0.75f }, { 0, 0.75f, 0 },
		{ 0.75f, 0, 0.75f }, { 0.75f, 0, 0 }, { 0, 0, 0.75f }, { 0, 0, 0 },
	};

	for (uint32_t y = 0; y < im->h; y++) {
		for (uint32_t x = 0; x < im->w; x++) {
			float rgb[3], t = (float)x / (float)(im->w - 1);
			float dx = (float)x - im->w * 0.75f, dy = (float)y - im->h * 0.75f;

			if (y < im->h / 2) {
				memcpy(rgb, bars[x * 8 / im->w], sizeof(rgb));
			} else if (y < im->h * 5 / 8) {
				rgb[0] = rgb[1] = rgb[2] = t;
			} else if (dx * dx + dy * dy < (im->h / 8.0f) * (im->h / 8.0f)) {
				rgb[0] = 1.0f, rgb[1] = 0.5f, rgb[2] = 0.1f;
			} else {
				rgb[0] = (x / 40) % 3 == 0, rgb[1] = (x / 40) % 3 == 1, rgb[2] = (x / 40) % 3 == 2;
			}
			if (hdr) /* up to 12.5 scRGB = 1000 nits */
				for (int c = 0; c < 3; c++)
					rgb[c] *= 12.5f * (y < im->h / 2 ? 0.2f : 1.0f);
			img_set_px(im, x, y, rgb);
		}
	}
}

static double psnr(double sse, double n, double peak)
{
	return sse == 0 ? 99.0 : 10.0 * log10(peak * peak * n / sse);
}

/* Converts the card, encodes and decodes it with ffmpeg, returns the PSNR (Y, Cb+Cr). */
static void roundtrip(int hdr, double out_psnr[2])
{
	const uint32_t w = CARD_W, h = CARD_H, cw = w / 2, ch = h / 2;
	const size_t bps = hdr ? 2 : 1;
	char in[96], enc[96], dec[96], size[32];
	struct fp_converter *conv;
	struct fp_yuv_frame f;
	struct img im;
	uint8_t *raw, *got;
	size_t len = 0, rawlen = (size_t)w * h * bps * 3 / 2;
	double sse[2] = { 0, 0 };

	assert_int_equal(img_alloc(&im, w, h, hdr ? 8 : 4, 0), 0);
	make_card(&im);
	assert_int_equal(fp_yuv_frame_alloc(&f, hdr ? FP_YUV_P010 : FP_YUV_NV12, w, h), 0);
	assert_int_equal(fp_converter_create(&conv, 0, FP_CPU_AUTO), 0);
	assert_int_equal(fp_converter_run(conv, hdr ? FP_SRC_RGBA16F : FP_SRC_XRGB8888, im.data, im.stride,
					  w, h, &f), 0);
	fp_converter_destroy(conv);
	img_free(&im);

	/* Tightly packed NV12 / P010 for ffmpeg's rawvideo demuxer. */
	raw = malloc(rawlen);
	assert_non_null(raw);
	for (uint32_t y = 0; y < h; y++)
		memcpy(raw + (size_t)y * w * bps, f.data[0] + y * f.stride[0], w * bps);
	for (uint32_t y = 0; y < ch; y++)
		memcpy(raw + (size_t)w * h * bps + (size_t)y * w * bps, f.data[1] + y * f.stride[1], w * bps);
	snprintf(in, sizeof(in), "%s/in.yuv", tmpdir);
	snprintf(enc, sizeof(enc), "%s/out.%s", tmpdir, hdr ? "hevc" : "h264");
	snprintf(dec, sizeof(dec), "%s/dec.yuv", tmpdir);
	snprintf(size, sizeof(size), "%ux%u", w, h);
	assert_int_equal(write_file(in, raw, rawlen), 0);
	free(raw);

	{
		char *encode[] = { (char *)ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
				   "-f", "rawvideo", "-pix_fmt", hdr ? "p010le" : "nv12", "-s", size, "-i", in,
				   "-c:v", hdr ? "libx265" : "libx264",
				   hdr ? "-x265-params" : "-qp", hdr ? "qp=10:log-level=error" : "10",
				   "-f", hdr ? "hevc" : "h264", enc, NULL };
		char *decode[] = { (char *)ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
				   "-i", enc, "-f", "rawvideo", "-pix_fmt", hdr ? "yuv420p10le" : "nv12", dec,
				   NULL };

		assert_int_equal(run_argv(encode, 0), 0);
		assert_int_equal(run_argv(decode, 0), 0);
	}
	got = read_file(dec, &len);
	assert_non_null(got);
	assert_int_equal(len, rawlen);

	/* Decoded NV12 has our layout; yuv420p10le is planar with values in the low bits. */
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			double d = (double)frame_sample(&f, 0, x, y) -
				   (hdr ? (double)(got[2 * ((size_t)y * w + x)] | got[2 * ((size_t)y * w + x) + 1] << 8)
					: (double)got[(size_t)y * w + x]);

			sse[0] += d * d;
		}
	for (uint32_t y = 0; y < ch; y++)
		for (uint32_t x = 0; x < cw; x++)
			for (int c = 0; c < 2; c++) {
				double v;

				if (hdr) {
					size_t o = (size_t)w * h + (size_t)c * cw * ch + (size_t)y * cw + x;

					v = got[2 * o] | got[2 * o + 1] << 8;
				} else {
					v = got[(size_t)w * h + (size_t)y * w + 2 * x + (size_t)c];
				}
				v -= frame_sample(&f, 1, 2 * x + (uint32_t)c, y);
				sse[1] += v * v;
			}
	free(got);
	fp_yuv_frame_free(&f);
	unlink(in);
	unlink(enc);
	unlink(dec);
	out_psnr[0] = psnr(sse[0], (double)w * h, hdr ? 1023 : 255);
	out_psnr[1] = psnr(sse[1], 2.0 * cw * ch, hdr ? 1023 : 255);
}

static void check(int hdr)
{
	const char *enc = hdr ? "libx265" : "libx264";
	double p[2];

	if (!encoder_available(enc)) {
		fprintf(stderr, "skipping: %s with %s not available\n", ffmpeg_path(), enc);
		skip();
	}
	roundtrip(hdr, p);
	fprintf(stderr, "%s round trip: PSNR Y %.2f dB, CbCr %.2f dB\n", enc, p[0], p[1]);
	assert_true(p[0] >= 40.0);
	assert_true(p[1] >= 40.0);
}

static void test_nv12_x264(void **state)
{
	(void)state;
	check(0);
}

static void test_p010_x265(void **state)
{
	(void)state;
	check(1);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fp-convert-rt-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = { "in.yuv", "out.h264", "out.hevc", "dec.yuv" };
	char path[96];
	(void)state;

	/* A failed assertion skips roundtrip()'s own cleanup. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nv12_x264),
		cmocka_unit_test(test_p010_x265),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
