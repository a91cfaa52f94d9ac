/* framepush encode tests — what only they need: synthetic frames and their PSNR, the ffmpeg
 * tools and ffprobe's JSON. Processes, ports and temporary directories: tests/lib/harness.h. */
#ifndef FP_ENCODE_TEST_UTIL_H
#define FP_ENCODE_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepush/frame.h"

/* Moving gradient + colour bars, frame n. NV12 (8-bit) or P010 (10-bit in the high bits). */
void etu_fill_pattern(struct fp_yuv_frame *f, unsigned n);

/* Planar copy (I420 or 16-bit little-endian I010 for P010) of a frame, as a decoder to
 * yuv420p / yuv420p10le would return it. out must hold etu_planar_size(f) bytes. */
size_t etu_planar_size(const struct fp_yuv_frame *f);
void etu_to_planar(const struct fp_yuv_frame *f, uint8_t *out);

/* PSNR of planar 4:2:0 data (8- or 16-bit samples with max value peak), all planes. */
double etu_psnr(const uint8_t *a, const uint8_t *b, size_t bytes, int bits);

/* Value of the first "key": in an ffprobe JSON text (string or number), copied into out.
 * Returns true when found. */
bool etu_json_get(const char *json, const char *key, char *out, size_t cap);

/* ffmpeg / ffprobe: $FRAMEPUSH_FFMPEG / $FRAMEPUSH_FFPROBE, else the paths meson found. */
const char *etu_ffmpeg(void);
const char *etu_ffprobe(void);
void etu_set_tools(const char *ffmpeg, const char *ffprobe);

#endif
