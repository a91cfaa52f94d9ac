#include "encode_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tool_ffmpeg = "/usr/bin/ffmpeg";
static const char *tool_ffprobe = "/usr/bin/ffprobe";

void etu_set_tools(const char *ffmpeg, const char *ffprobe)
{
	if (ffmpeg && *ffmpeg)
		tool_ffmpeg = ffmpeg;
	if (ffprobe && *ffprobe)
		tool_ffprobe = ffprobe;
}

const char *etu_ffmpeg(void)
{
	const char *env = getenv("FRAMEPUSH_FFMPEG");

	return env && *env ? env : tool_ffmpeg;
}

const char *etu_ffprobe(void)
{
	const char *env = getenv("FRAMEPUSH_FFPROBE");

	return env && *env ? env : tool_ffprobe;
}

/* Bars: eight limited-range colours (Y, Cb, Cr at 8 bits). */
static const uint8_t bars[8][3] = {
	{ 235, 128, 128 }, { 210, 16, 146 }, { 170, 166, 16 }, { 145, 54, 34 },
	{ 106, 202, 222 }, { 81, 90, 240 },  { 41, 240, 110 }, { 16, 128, 128 },
};

static unsigned pat_y(uint32_t x, uint32_t y, uint32_t w, uint32_t h, unsigned n, unsigned *bar)
{
	*bar = 8;
	if (y >= h * 2 / 3) {
		*bar = x * 8 / w;
		return bars[*bar][0];
	}
	/* Gradient moving 3 px per frame, period 384 px over 200 levels. */
	return 16 + ((x + y / 2 + 3 * n) % 384) * 200 / 384;
}

static void pat_c(uint32_t cx, uint32_t cy, uint32_t w, uint32_t h, unsigned n, unsigned *cb,
		  unsigned *cr)
{
	uint32_t x = cx * 2, y = cy * 2;

	if (y >= h * 2 / 3) {
		unsigned b = x * 8 / w;

		*cb = bars[b][1];
		*cr = bars[b][2];
		return;
	}
	*cb = 64 + ((x + 2 * n) % 256) / 2;
	*cr = 64 + ((y + n) % 256) / 2;
}

void etu_fill_pattern(struct fp_yuv_frame *f, unsigned n)
{
	uint32_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
	unsigned bar, cb, cr, v;

	for (uint32_t y = 0; y < f->height; y++) {
		for (uint32_t x = 0; x < f->width; x++) {
			v = pat_y(x, y, f->width, f->height, n, &bar);
			if (f->format == FP_YUV_NV12) {
				f->data[0][y * f->stride[0] + x] = (uint8_t)v;
			} else {
				uint16_t s = (uint16_t)((v * 4) << 6);

				memcpy(f->data[0] + y * f->stride[0] + 2 * x, &s, 2);
			}
		}
	}
	for (uint32_t y = 0; y < ch; y++) {
		for (uint32_t x = 0; x < cw; x++) {
			pat_c(x, y, f->width, f->height, n, &cb, &cr);
			if (f->format == FP_YUV_NV12) {
				f->data[1][y * f->stride[1] + 2 * x] = (uint8_t)cb;
				f->data[1][y * f->stride[1] + 2 * x + 1] = (uint8_t)cr;
			} else {
				uint16_t s[2] = { (uint16_t)((cb * 4) << 6), (uint16_t)((cr * 4) << 6) };

				memcpy(f->data[1] + y * f->stride[1] + 4 * x, s, 4);
			}
		}
	}
}

size_t etu_planar_size(const struct fp_yuv_frame *f)
{
	size_t bps = f->format == FP_YUV_P010 ? 2 : 1;
	size_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;

	return bps * ((size_t)f->width * f->height + 2 * cw * ch);
}

void etu_to_planar(const struct fp_yuv_frame *f, uint8_t *out)
{
	size_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
	bool p010 = f->format == FP_YUV_P010;
	uint8_t *u, *v;

	for (uint32_t y = 0; y < f->height; y++) {
		if (!p010) {
			memcpy(out + (size_t)y * f->width, f->data[0] + y * f->stride[0], f->width);
			continue;
		}
		for (uint32_t x = 0; x < f->width; x++) {
			uint16_t s;

			memcpy(&s, f->data[0] + y * f->stride[0] + 2 * x, 2);
			s >>= 6;
			memcpy(out + 2 * ((size_t)y * f->width + x), &s, 2);
		}
	}
	u = out + (p010 ? 2 : 1) * (size_t)f->width * f->height;
	v = u + (p010 ? 2 : 1) * cw * ch;
	for (size_t y = 0; y < ch; y++) {
		for (size_t x = 0; x < cw; x++) {
			if (!p010) {
				u[y * cw + x] = f->data[1][y * f->stride[1] + 2 * x];
				v[y * cw + x] = f->data[1][y * f->stride[1] + 2 * x + 1];
			} else {
				uint16_t s[2];

				memcpy(s, f->data[1] + y * f->stride[1] + 4 * x, 4);
				s[0] >>= 6;
				s[1] >>= 6;
				memcpy(u + 2 * (y * cw + x), &s[0], 2);
				memcpy(v + 2 * (y * cw + x), &s[1], 2);
			}
		}
	}
}

double etu_psnr(const uint8_t *a, const uint8_t *b, size_t bytes, int bits)
{
	double sse = 0, peak = (double)((1 << bits) - 1);
	size_t n;

	if (bits <= 8) {
		for (size_t i = 0; i < bytes; i++) {
			double d = (double)a[i] - (double)b[i];

			sse += d * d;
		}
		n = bytes;
	} else {
		n = bytes / 2;
		for (size_t i = 0; i < n; i++) {
			uint16_t x, y;
			double d;

			memcpy(&x, a + 2 * i, 2);
			memcpy(&y, b + 2 * i, 2);
			d = (double)x - (double)y;
			sse += d * d;
		}
	}
	if (sse == 0)
		return 99.0;
	return 10.0 * log10(peak * peak / (sse / (double)n));
}

bool etu_json_get(const char *json, const char *key, char *out, size_t cap)
{
	char pat[128];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	if (!p || cap == 0)
		return false;
	p += strlen(pat);
	if (*p == '"') {
		p++;
		while (*p && *p != '"' && n + 1 < cap)
			out[n++] = *p++;
	} else {
		while (*p && *p != ',' && *p != '\n' && *p != '}' && n + 1 < cap)
			out[n++] = *p++;
	}
	out[n] = '\0';
	return true;
}
