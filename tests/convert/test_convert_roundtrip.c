/* framepush — round trip of converted test cards through real encoders (ffmpeg libx264 for
 * NV12, libx265 for P010). Two checks, both >= 40 dB PSNR: the decoded planes against ours
 * (a real consumer reads our buffers as NV12 / P010: plane layout, chroma interleave, P010's
 * high-bit packing), and the decoded frame converted back to R'G'B' by float64 inverses
 * written here from the standards against the card itself (matrix, range, transfer,
 * primaries and Cb/Cr order, which comparing with our own planes or our reference cannot). */
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

#include "harness.h"

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

/* Test card: 75% bars on top, a grey horizontal ramp, then primaries and a circle. Everything
 * but the ramp is decided on each 2x2 block's top-left pixel, so chroma is constant over every
 * block; 4:2:0 loses nothing but where the left-sited filter reaches across a colour edge
 * (edge_block): the RGB comparison then measures the colour conversion and the codec, not
 * the subsampling (the ramp is grey, its chroma is neutral). */
static void card_px(uint32_t w, uint32_t h, int hdr, uint32_t x, uint32_t y, float rgb[3])
{
	static const float bars[8][3] = {
		{ 0.75f, 0.75f, 0.75f }, { 0.75f, 0.75f, 0 }, { 0, 0.75f, 0.75f }, { 0, 0.75f, 0 },
		{ 0.75f, 0, 0.75f }, { 0.75f, 0, 0 }, { 0, 0, 0.75f }, { 0, 0, 0 },
	};
	const uint32_t bx = x & ~1u, by = y & ~1u;
	float t = (float)x / (float)(w - 1);
	float dx = (float)bx - w * 0.75f, dy = (float)by - h * 0.75f;

	if (by < h / 2) {
		memcpy(rgb, bars[bx * 8 / w], 3 * sizeof(float));
	} else if (by < h * 5 / 8) {
		rgb[0] = rgb[1] = rgb[2] = t;
	} else if (dx * dx + dy * dy < (h / 8.0f) * (h / 8.0f)) {
		rgb[0] = 1.0f, rgb[1] = 0.5f, rgb[2] = 0.1f;
	} else {
		rgb[0] = (bx / 40) % 3 == 0, rgb[1] = (bx / 40) % 3 == 1, rgb[2] = (bx / 40) % 3 == 2;
	}
	if (hdr) /* up to 12.5 scRGB = 1000 nits */
		for (int c = 0; c < 3; c++)
			rgb[c] *= 12.5f * (by < h / 2 ? 0.2f : 1.0f);
}

static void make_card(struct img *im)
{
	for (uint32_t y = 0; y < im->h; y++) {
		for (uint32_t x = 0; x < im->w; x++) {
			float rgb[3];

			card_px(im->w, im->h, im->bpp == 8, x, y, rgb);
			img_set_px(im, x, y, rgb);
		}
	}
}

static int is_grey(const float c[3])
{
	return c[0] == c[1] && c[1] == c[2];
}

/* Whether pixel (x, y)'s chroma sample mixes two colours: left-sited chroma of block i filters
 * columns 2i-1, 2i, 2i+1, so where column 2i-1 (a card block edge) has another colour than
 * block i, no 4:2:0 decoder can return either colour exactly. Greys share neutral chroma. */
static int edge_block(uint32_t w, uint32_t h, int hdr, uint32_t x, uint32_t y)
{
	const uint32_t bx = x & ~1u;
	float a[3], b[3];

	if (bx == 0)
		return 0;
	card_px(w, h, hdr, bx - 1, y, a);
	card_px(w, h, hdr, bx, y, b);
	return !(is_grey(a) && is_grey(b)) && memcmp(a, b, sizeof(a)) != 0;
}

/* ---- Decoded Y'CbCr back to R'G'B', float64, written from the standards (BT.709-6, BT.2020-2,
 * ST 2084 and the primaries' chromaticities), not from the converter's code: a wrong matrix,
 * range, transfer, primaries conversion or swapped Cb/Cr shows up as a low PSNR. ---- */

/* Inverse of the Y'CbCr matrix with luma weights kr, kb; inputs already normalised
 * (y in 0..1, cb and cr in -0.5..0.5). */
static void ycbcr_to_rgb(double kr, double kb, double y, double cb, double cr, double rgb[3])
{
	rgb[0] = y + 2.0 * (1.0 - kr) * cr;
	rgb[2] = y + 2.0 * (1.0 - kb) * cb;
	rgb[1] = (y - kr * rgb[0] - kb * rgb[2]) / (1.0 - kr - kb);
}

static void inv3(double m[3][3], double r[3][3]) /* m not const: C17 -Wpedantic */
{
	double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
		     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
		     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			/* cofactor of m[j][i] / det (the transpose of the cofactor matrix) */
			int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;

			r[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
		}
}

/* RGB -> XYZ of primaries xy[0..2] and white point xy[3] (SMPTE RP 177). */
static void rgb_to_xyz(const double xy[4][2], double out[3][3])
{
	double p[3][3], pi[3][3], wv[3], s[3];

	for (int c = 0; c < 3; c++) {
		p[0][c] = xy[c][0] / xy[c][1];
		p[1][c] = 1.0;
		p[2][c] = (1.0 - xy[c][0] - xy[c][1]) / xy[c][1];
	}
	wv[0] = xy[3][0] / xy[3][1];
	wv[1] = 1.0;
	wv[2] = (1.0 - xy[3][0] - xy[3][1]) / xy[3][1];
	inv3(p, pi);
	for (int i = 0; i < 3; i++)
		s[i] = pi[i][0] * wv[0] + pi[i][1] * wv[1] + pi[i][2] * wv[2];
	for (int i = 0; i < 3; i++)
		for (int c = 0; c < 3; c++)
			out[i][c] = p[i][c] * s[c];
}

/* Linear BT.709 RGB -> linear BT.2020 RGB, from the two sets of primaries and D65. */
static void bt709_to_bt2020(double m[3][3])
{
	static const double p709[4][2] = { { 0.640, 0.330 }, { 0.300, 0.600 }, { 0.150, 0.060 }, { 0.3127, 0.3290 } };
	static const double p2020[4][2] = { { 0.708, 0.292 }, { 0.170, 0.797 }, { 0.131, 0.046 }, { 0.3127, 0.3290 } };
	double a[3][3], b[3][3], bi[3][3];

	rgb_to_xyz(p709, a);
	rgb_to_xyz(p2020, b);
	inv3(b, bi);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			m[i][j] = bi[i][0] * a[0][j] + bi[i][1] * a[1][j] + bi[i][2] * a[2][j];
}

#define PQ_M1 (2610.0 / 16384.0)
#define PQ_M2 (2523.0 / 4096.0 * 128.0)
#define PQ_C1 (3424.0 / 4096.0)
#define PQ_C2 (2413.0 / 4096.0 * 32.0)
#define PQ_C3 (2392.0 / 4096.0 * 32.0)

/* ST 2084 inverse EOTF: luminance / 10000 nits -> signal 0..1. */
static double pq_inv(double l)
{
	double p = pow(l < 0 ? 0 : l > 1 ? 1 : l, PQ_M1);

	return pow((PQ_C1 + PQ_C2 * p) / (1.0 + PQ_C3 * p), PQ_M2);
}

/* PSNR (peak 1.0) of the decoded frame converted back to R'G'B' against the card in the same
 * signal domain: SDR the card's codes / 255; HDR the card taken to BT.2020 (matrix from the
 * primaries) and PQ-encoded, all in float64. (Not back to linear BT.709: near-zero channels
 * of saturated colours would turn tiny code errors into large PQ differences.) dec: the
 * decoder's output, NV12 or planar yuv420p10le. Pixels of edge blocks are left out. */
static double rgb_psnr(const struct img *im, int hdr, const uint8_t *dec)
{
	const uint32_t w = im->w, h = im->h, cw = w / 2, ch = h / 2;
	double m[3][3], sse = 0, n = 0;

	bt709_to_bt2020(m);
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			double rgb[3], want[3];

			if (edge_block(w, h, hdr, x, y))
				continue;
			n += 3;

			if (hdr) {
				size_t oy = (size_t)y * w + x, ou = (size_t)w * h + (size_t)(y / 2) * cw + x / 2;
				size_t ov = ou + (size_t)cw * ch;
				double yv = dec[2 * oy] | dec[2 * oy + 1] << 8, u = dec[2 * ou] | dec[2 * ou + 1] << 8;
				double v = dec[2 * ov] | dec[2 * ov + 1] << 8;
				float card[3];

				/* BT.2020 NCL limited 10-bit: Y = 64 + 876 Y', C = 512 + 896 C'. */
				ycbcr_to_rgb(0.2627, 0.0593, (yv - 64) / 876, (u - 512) / 896, (v - 512) / 896, rgb);
				card_px(w, h, 1, x, y, card);
				for (int c = 0; c < 3; c++) /* scRGB 1.0 = 80 of PQ's 10000 nits */
					want[c] = pq_inv((m[c][0] * card[0] + m[c][1] * card[1] + m[c][2] * card[2]) / 125.0);
			} else {
				size_t ou = (size_t)w * h + (size_t)(y / 2) * w + 2 * (size_t)(x / 2);
				const uint8_t *p = im->data + (size_t)y * im->stride + 4 * (size_t)x;

				/* BT.709 limited 8-bit: Y = 16 + 219 Y', C = 128 + 224 C'. */
				ycbcr_to_rgb(0.2126, 0.0722, (dec[(size_t)y * w + x] - 16) / 219.0, (dec[ou] - 128) / 224.0,
					     (dec[ou + 1] - 128) / 224.0, rgb);
				for (int c = 0; c < 3; c++)
					want[c] = p[2 - c] / 255.0;
			}
			for (int c = 0; c < 3; c++) {
				double v = rgb[c] < 0 ? 0 : rgb[c] > 1 ? 1 : rgb[c];

				sse += (v - want[c]) * (v - want[c]);
			}
		}
	}
	assert_true(n > 0.9 * 3 * w * h); /* edges are a few columns of the card */
	return sse == 0 ? 99.0 : 10.0 * log10(n / sse);
}

static double psnr(double sse, double n, double peak)
{
	return sse == 0 ? 99.0 : 10.0 * log10(peak * peak * n / sse);
}

/* The test card, and our conversion of it. */
static void convert_card(int hdr, struct img *im, struct fp_yuv_frame *f)
{
	struct fp_converter *conv;

	assert_int_equal(img_alloc(im, CARD_W, CARD_H, hdr ? 8 : 4, 0), 0);
	make_card(im);
	assert_int_equal(fp_yuv_frame_alloc(f, hdr ? FP_YUV_P010 : FP_YUV_NV12, CARD_W, CARD_H), 0);
	assert_int_equal(fp_converter_create(&conv, 0, FP_CPU_AUTO), 0);
	assert_int_equal(fp_converter_run(conv, hdr ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888, im->data,
					  im->stride, CARD_W, CARD_H, f), 0);
	fp_converter_destroy(conv);
}

/* f tightly packed (NV12 / P010, as ffmpeg's rawvideo demuxer wants it) into `path`. */
static void write_packed(const struct fp_yuv_frame *f, size_t bps, size_t rawlen, const char *path)
{
	const uint32_t w = f->width, h = f->height;
	uint8_t *raw = malloc(rawlen);

	assert_non_null(raw);
	for (uint32_t y = 0; y < h; y++)
		memcpy(raw + (size_t)y * w * bps, f->data[0] + y * f->stride[0], w * bps);
	for (uint32_t y = 0; y < h / 2; y++)
		memcpy(raw + (size_t)w * h * bps + (size_t)y * w * bps, f->data[1] + y * f->stride[1], w * bps);
	assert_int_equal(write_file(path, raw, rawlen), 0);
	free(raw);
}

/* ffmpeg encodes `in` (x264 / x265 at a fixed low QP) to `enc` and decodes it to `dec`. */
static void ffmpeg_roundtrip(int hdr, const char *in, const char *enc, const char *dec)
{
	char size[32];
	char *encode[] = { (char *)ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
			   "-f", "rawvideo", "-pix_fmt", hdr ? "p010le" : "nv12", "-s", size, "-i", (char *)in,
			   "-c:v", hdr ? "libx265" : "libx264",
			   hdr ? "-x265-params" : "-qp", hdr ? "qp=10:log-level=error" : "10",
			   "-f", hdr ? "hevc" : "h264", (char *)enc, NULL };
	char *decode[] = { (char *)ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
			   "-i", (char *)enc, "-f", "rawvideo", "-pix_fmt", hdr ? "yuv420p10le" : "nv12",
			   (char *)dec, NULL };

	snprintf(size, sizeof(size), "%ux%u", (unsigned)CARD_W, (unsigned)CARD_H);
	assert_int_equal(run_argv(encode, 0), 0);
	assert_int_equal(run_argv(decode, 0), 0);
}

/* Squared error of the decoded planes against ours: sse[0] luma, sse[1] both chromas.
 * Decoded NV12 has our layout; yuv420p10le is planar with values in the low bits. */
static void plane_sse(const struct fp_yuv_frame *f, int hdr, const uint8_t *got, double sse[2])
{
	const uint32_t w = f->width, h = f->height, cw = w / 2, ch = h / 2;

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			double d = (double)frame_sample(f, 0, x, y) -
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
				v -= frame_sample(f, 1, 2 * x + (uint32_t)c, y);
				sse[1] += v * v;
			}
}

/* Converts the card, encodes and decodes it with ffmpeg; returns the PSNR of the decoded
 * planes against ours (Y, Cb+Cr: the codec and the buffer layout) and of the decoded frame
 * converted back to RGB against the card (the colour conversion itself). */
static void roundtrip(int hdr, double out_psnr[3])
{
	const uint32_t w = CARD_W, h = CARD_H, cw = w / 2, ch = h / 2;
	const size_t bps = hdr ? 2 : 1, rawlen = (size_t)w * h * bps * 3 / 2;
	char in[96], enc[96], dec[96];
	struct fp_yuv_frame f;
	struct img im;
	uint8_t *got;
	size_t len = 0;
	double sse[2] = { 0, 0 };

	convert_card(hdr, &im, &f);
	snprintf(in, sizeof(in), "%s/in.yuv", tmpdir);
	snprintf(enc, sizeof(enc), "%s/out.%s", tmpdir, hdr ? "hevc" : "h264");
	snprintf(dec, sizeof(dec), "%s/dec.yuv", tmpdir);
	write_packed(&f, bps, rawlen, in);
	ffmpeg_roundtrip(hdr, in, enc, dec);
	got = fpt_read_file(dec, &len);
	assert_non_null(got);
	assert_int_equal(len, rawlen);
	plane_sse(&f, hdr, got, sse);
	out_psnr[2] = rgb_psnr(&im, hdr, got);
	free(got);
	img_free(&im);
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
	double p[3];

	if (!encoder_available(enc)) {
		fpt_skip("%s with %s is not available", ffmpeg_path(), enc);
	}
	roundtrip(hdr, p);
	fprintf(stderr, "%s round trip: PSNR vs our planes Y %.2f dB, CbCr %.2f dB; decoded -> RGB vs card "
			"%.2f dB\n", enc, p[0], p[1], p[2]);
	assert_true(p[0] >= 40.0);
	assert_true(p[1] >= 40.0);
	if (p[2] < 40.0)
		fail_msg("%s: decoded frame back to RGB is %.2f dB from the card (< 40 dB): wrong matrix, "
			 "range, transfer or chroma order", enc, p[2]);
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

	return fpt_exit(cmocka_run_group_tests(tests, setup, teardown));
}
