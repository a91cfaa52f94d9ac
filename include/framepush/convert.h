/* framepush — colour converters from a source slot to the encoder's native YUV.
 *
 * SDR: XRGB8888 (bytes B,G,R,X) -> NV12, BT.709 matrix, limited range (Y 16..235, C 16..240),
 *      chroma = average of each 2x2 block (edge pixels replicated for odd sizes).
 * HDR: RGBA16F scRGB (linear, BT.709 primaries, 1.0 = 80 nits) -> BT.2020 primaries -> PQ
 *      (SMPTE ST 2084, 10000 nits) -> Y'CbCr BT.2020 NCL, limited 10-bit (Y 64..940,
 *      C 64..960) -> P010. NaN/Inf/negative inputs never produce out-of-range codes.
 *
 * Any source stride (bytes, >= width * bytes per pixel), any size 2x2 .. 7680x4320.
 */
#ifndef FRAMEPUSH_CONVERT_H
#define FRAMEPUSH_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "framepush/frame.h"
#include "framepush/pixel.h"

/* Plain, obviously-correct float64 reference converters: the oracle for every fast path. */
void fp_convert_ref_xrgb_to_nv12(const uint8_t *src, size_t src_stride, uint32_t w, uint32_t h,
				 const struct fp_yuv_frame *dst);
void fp_convert_ref_rgba16f_to_p010(const uint8_t *src, size_t src_stride, uint32_t w, uint32_t h,
				    const struct fp_yuv_frame *dst);

/* CPU paths for the fast converters. */
enum fp_cpu_path {
	FP_CPU_AUTO = 0,  /* best the CPU offers (cpuid), or FRAMEPUSH_CPU_PATH=scalar|sse2|ssse3|avx2 */
	FP_CPU_SCALAR,
	FP_CPU_SSE2,
	FP_CPU_SSSE3,
	FP_CPU_AVX2,      /* AVX2 (+F16C for HDR) */
};

struct fp_converter;

/* threads: 0 = one per online CPU, 1 = convert on the caller's thread only.
 * path: FP_CPU_AUTO or a forced path; a path the CPU lacks fails with -ENOTSUP. */
int fp_converter_create(struct fp_converter **out, unsigned threads, enum fp_cpu_path path);
void fp_converter_destroy(struct fp_converter *conv);
enum fp_cpu_path fp_converter_path(const struct fp_converter *conv);
const char *fp_cpu_path_name(enum fp_cpu_path path);

/* Converts one frame: XRGB8888 -> NV12 or RGBA16F -> P010 (dst->format must match).
 * No allocation, no thread creation per call. Returns 0 or -EINVAL. */
int fp_converter_run(struct fp_converter *conv, enum fp_pixfmt fmt, const uint8_t *src,
		     size_t src_stride, uint32_t w, uint32_t h, const struct fp_yuv_frame *dst);

#endif
