/* framepush — the portal backend's pixel work: a PipeWire buffer into a ring slot, and the
 * pointer (cursor metadata) onto it. Pure functions on memory, no PipeWire types, so the
 * tests check every format against a reference without a desktop. */
#ifndef FP_SOURCES_PORTAL_COPY_H
#define FP_SOURCES_PORTAL_COPY_H

#include <stddef.h>
#include <stdint.h>

/* The layouts a portal stream may be negotiated in. */
enum fp_portal_pix {
	FP_PORTAL_PIX_NONE = 0,
	FP_PORTAL_PIX_BGRX,       /* bytes B,G,R,x (or A): the ring's XRGB8888 as it is */
	FP_PORTAL_PIX_RGBX,       /* bytes R,G,B,x (or A): R and B swapped in the copy */
	FP_PORTAL_PIX_XRGB210,    /* LE words x:2 R:10 G:10 B:10: narrowed to 8 bits (SDR) */
	FP_PORTAL_PIX_XBGR210,    /* LE words x:2 B:10 G:10 R:10: narrowed to 8 bits (SDR) */
	FP_PORTAL_PIX_RGBA16F,    /* 4 x half, linear: the ring's RGBA16F (HDR) as it is */
};

/* The ring format (enum fp_pixfmt) a layout is copied into. */
uint32_t fp_portal_pix_ring_format(enum fp_portal_pix pix);
/* Bytes per pixel of a layout (0 for NONE). */
uint32_t fp_portal_pix_bpp(enum fp_portal_pix pix);

/* Copies width x height pixels from src (src_stride bytes a row, layout pix) into dst
 * (dst_stride a row, the ring format of pix). The caller has checked that both buffers
 * hold that many rows of that many pixels. */
void fp_portal_copy(uint8_t *dst, size_t dst_stride, const uint8_t *src, size_t src_stride,
		    uint32_t width, uint32_t height, enum fp_portal_pix pix);

/* A pointer image: width x height straight-alpha pixels, bytes B,G,R,A (rgba = 0) or
 * R,G,B,A (rgba = 1), stride bytes a row. */
struct fp_portal_cursor {
	const uint8_t *px;
	uint32_t width, height, stride;
	int rgba;
	int32_t x, y;             /* its top-left corner on the frame (hotspot applied) */
};

/* Blends the pointer over an XRGB8888 frame of width x height, clipped to it; a pointer
 * partly or wholly outside touches only what is inside. */
void fp_portal_blend_cursor(uint8_t *dst, size_t dst_stride, uint32_t width, uint32_t height,
			    const struct fp_portal_cursor *c);

#endif
