/* framepush — private helpers shared by the encode and output modules: libav* errors and
 * HDR10 metadata in libavutil's structures. */
#ifndef FP_ENCODE_AV_UTIL_H
#define FP_ENCODE_AV_UTIL_H

#include <stddef.h>

#include <libavutil/mastering_display_metadata.h>

#include "framepush/encode.h"

/* Maps an AVERROR to a negative errno: AVERROR(e) is already -e; FFmpeg's tag errors
 * (AVERROR_EOF, AVERROR_EXTERNAL, ...) become the closest errno so that callers only ever see
 * errno-style values. 0 and positive values pass through. */
int fp_av_errno(int averr);

/* av_strerror() into a caller buffer, never failing: "Connection refused", "End of file". */
const char *fp_av_err_str(int averr, char *buf, size_t len);

/* Readable text for an AVERROR, for use inside a single log call (a compound literal buffer
 * that lives until the end of the enclosing full expression). */
#define fp_av_err(averr) fp_av_err_str((averr), (char[128]){ 0 }, 128)

/* Fills libavutil's mastering display and content light records from m (the generic
 * baseline when m is all zero). Either output may be NULL. */
void fp_hdr10_to_av(const struct fp_hdr10 *m, AVMasteringDisplayMetadata *md,
		    AVContentLightMetadata *cll);

#endif
