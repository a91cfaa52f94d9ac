#include "encode/av_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "common/log.h"
#include "framepush/encode.h"

int fp_av_errno(int averr)
{
	if (averr >= 0)
		return averr;
	/* Real errnos are small; FFmpeg's tags are FFERRTAG() four-character codes, far below. */
	if (averr > -4096)
		return averr;
	switch (averr) {
	case AVERROR_EOF:
		return -ENODATA;
	case AVERROR_ENCODER_NOT_FOUND:
	case AVERROR_DECODER_NOT_FOUND:
	case AVERROR_MUXER_NOT_FOUND:
	case AVERROR_DEMUXER_NOT_FOUND:
	case AVERROR_PROTOCOL_NOT_FOUND:
	case AVERROR_OPTION_NOT_FOUND:
	case AVERROR_PATCHWELCOME:
		return -ENOTSUP;
	case AVERROR_INVALIDDATA:
		return -EBADMSG;
	case AVERROR_EXIT:
		return -ECANCELED;
	case AVERROR_BUFFER_TOO_SMALL:
		return -ENOBUFS;
	case AVERROR_HTTP_NOT_FOUND:
		return -ENOENT;
	case AVERROR_HTTP_UNAUTHORIZED:
	case AVERROR_HTTP_FORBIDDEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

const char *fp_av_err_str(int averr, char *buf, size_t len)
{
	if (av_strerror(averr, buf, len) < 0)
		snprintf(buf, len, "error %d", averr);
	return buf;
}

/* libav* log -> fp_log. av_log may deliver a line in pieces; pieces are joined per thread and
 * emitted at the newline so that one FFmpeg message stays one framepush line. */
static void av_log_route(void *avcl, int level, const char *fmt, va_list vl)
{
	static _Thread_local char line[1024];
	static _Thread_local int print_prefix = 1;
	static _Thread_local size_t used;
	enum fp_log_level lvl;
	size_t n;

	if (level > av_log_get_level())
		return;
	if (level <= AV_LOG_ERROR)
		lvl = FP_LOG_ERROR;
	else if (level <= AV_LOG_WARNING)
		lvl = FP_LOG_WARN;
	else if (level <= AV_LOG_INFO)
		lvl = FP_LOG_INFO;
	else
		lvl = FP_LOG_DEBUG;
	av_log_format_line2(avcl, level, fmt, vl, line + used, (int)(sizeof(line) - used), &print_prefix);
	n = strlen(line);
	if (n == 0 || (line[n - 1] != '\n' && n < sizeof(line) - 1)) {
		used = n;
		return;
	}
	used = 0;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n > 0)
		fp_log(lvl, "libav: %s", line);
}

void fp_encode_route_av_log(void)
{
	av_log_set_level(fp_log_enabled(FP_LOG_DEBUG) ? AV_LOG_VERBOSE : AV_LOG_WARNING);
	av_log_set_callback(av_log_route);
}

void fp_hdr10_to_av(const struct fp_hdr10 *in, AVMasteringDisplayMetadata *md,
		    AVContentLightMetadata *cll)
{
	const struct fp_hdr10 *m = fp_hdr10_or_generic(in);

	if (md) {
		/* libavutil orders the primaries R, G, B; HEVC's SEI G, B, R. */
		md->display_primaries[0][0] = av_make_q(m->red_x, FP_HDR10_CHROMA_DEN);
		md->display_primaries[0][1] = av_make_q(m->red_y, FP_HDR10_CHROMA_DEN);
		md->display_primaries[1][0] = av_make_q(m->green_x, FP_HDR10_CHROMA_DEN);
		md->display_primaries[1][1] = av_make_q(m->green_y, FP_HDR10_CHROMA_DEN);
		md->display_primaries[2][0] = av_make_q(m->blue_x, FP_HDR10_CHROMA_DEN);
		md->display_primaries[2][1] = av_make_q(m->blue_y, FP_HDR10_CHROMA_DEN);
		md->white_point[0] = av_make_q(m->white_x, FP_HDR10_CHROMA_DEN);
		md->white_point[1] = av_make_q(m->white_y, FP_HDR10_CHROMA_DEN);
		md->max_luminance = av_make_q((int)m->max_luminance, FP_HDR10_LUMA_DEN);
		md->min_luminance = av_make_q((int)m->min_luminance, FP_HDR10_LUMA_DEN);
		md->has_primaries = 1;
		md->has_luminance = 1;
	}
	if (cll) {
		cll->MaxCLL = m->max_cll;
		cll->MaxFALL = m->max_fall;
	}
}
