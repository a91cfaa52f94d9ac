#include "y4m.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct fp_y4m {
	FILE *f;
	char *path;
	enum fp_yuv_format format;
	uint32_t width, height;
	uint8_t *row; /* one deinterleaved chroma or 10-bit row, allocated once */
	int error;
};

int fp_y4m_open(struct fp_y4m **out, const char *path, enum fp_yuv_format format, uint32_t width,
		uint32_t height, uint32_t fps)
{
	struct fp_y4m *y;
	int r;

	*out = NULL;
	if ((format != FP_YUV_NV12 && format != FP_YUV_P010) || !width || !height || !fps)
		return -EINVAL;
	y = calloc(1, sizeof(*y));
	if (!y)
		return -ENOMEM;
	y->format = format;
	y->width = width;
	y->height = height;
	y->path = strdup(path);
	y->row = malloc((size_t)width * 2 + 16);
	y->f = fopen(path, "wbe");
	if (!y->f || !y->row || !y->path) {
		r = y->f ? -ENOMEM : -errno;
		fp_error("y4m: cannot open %s for writing: %s", path, strerror(-r));
		if (y->f)
			fclose(y->f);
		free(y->row);
		free(y->path);
		free(y);
		return r;
	}
	setvbuf(y->f, NULL, _IOFBF, 1 << 20);
	/* The converters site chroma left (doc/convert.md): C420mpeg2 says so (horizontally on the
	 * even luma column, vertically between the rows; ffmpeg reads it as chroma_location=left).
	 * YUV4MPEG2 has no sited variant of the 10-bit tag, so C420p10 (XYSCSS=420P10, the
	 * mjpegtools/ffmpeg spelling) leaves the siting unspecified, which players take as left
	 * for 4:2:0. */
	fprintf(y->f, "YUV4MPEG2 W%u H%u F%u:1 Ip A1:1 %s XCOLORRANGE=LIMITED\n", width, height, fps,
		format == FP_YUV_P010 ? "C420p10 XYSCSS=420P10" : "C420mpeg2 XYSCSS=420MPEG2");
	*out = y;
	return 0;
}

static void put(struct fp_y4m *y, const void *p, size_t n)
{
	if (!y->error && fwrite(p, 1, n, y->f) != n)
		y->error = -errno ? -errno : -EIO;
}

int fp_y4m_write(struct fp_y4m *y, const struct fp_yuv_frame *f)
{
	uint32_t cw = (y->width + 1) / 2, ch = (y->height + 1) / 2;

	if (f->format != y->format || f->width != y->width || f->height != y->height)
		return -EINVAL;
	put(y, "FRAME\n", 6);
	if (y->format == FP_YUV_NV12) {
		for (uint32_t r = 0; r < y->height; r++)
			put(y, f->data[0] + (size_t)r * f->stride[0], y->width);
		for (int c = 0; c < 2; c++)
			for (uint32_t r = 0; r < ch; r++) {
				const uint8_t *s = f->data[1] + (size_t)r * f->stride[1];

				for (uint32_t x = 0; x < cw; x++)
					y->row[x] = s[2 * x + (uint32_t)c];
				put(y, y->row, cw);
			}
	} else {
		/* P010 keeps 10 bits in the high bits; Y4M wants them in the low bits. */
		uint16_t *o = (uint16_t *)(void *)y->row;

		for (uint32_t r = 0; r < y->height; r++) {
			const uint16_t *s = (const uint16_t *)(const void *)(f->data[0] + (size_t)r * f->stride[0]);

			for (uint32_t x = 0; x < y->width; x++)
				o[x] = (uint16_t)(s[x] >> 6);
			put(y, o, (size_t)y->width * 2);
		}
		for (int c = 0; c < 2; c++)
			for (uint32_t r = 0; r < ch; r++) {
				const uint16_t *s = (const uint16_t *)(const void *)(f->data[1] + (size_t)r * f->stride[1]);

				for (uint32_t x = 0; x < cw; x++)
					o[x] = (uint16_t)(s[2 * x + (uint32_t)c] >> 6);
				put(y, o, (size_t)cw * 2);
			}
	}
	if (y->error)
		fp_error("y4m: writing %s failed: %s", y->path, strerror(-y->error));
	return y->error;
}

int fp_y4m_close(struct fp_y4m *y)
{
	int r;

	if (!y)
		return 0;
	r = y->error;
	if (fclose(y->f) != 0 && !r)
		r = -errno;
	if (r)
		fp_error("y4m: finishing %s failed: %s", y->path, strerror(-r));
	free(y->row);
	free(y->path);
	free(y);
	return r;
}
