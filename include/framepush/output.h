/* framepush — output: encoded streams muxed by libavformat into files and live network
 * streams, and raw frames into YUV4MPEG2 files.
 *
 * Targets, chosen by scheme or extension:
 *   out.mkv  Matroska                      out.ts   MPEG-TS
 *   out.y4m  YUV4MPEG2, raw frames (no encoder): NV12 -> 8-bit C420mpeg2, P010 -> C420p10
 *   out.mp4  fragmented MP4 (frag_keyframe+empty_moov+default_base_moof, packets flushed):
 *            a killed process leaves a playable prefix up to the last complete fragment
 *   srt://host:port[?opts]   MPEG-TS over SRT (caller by default; ?mode=listener waits)
 *   udp://host:port[?opts]   MPEG-TS over UDP, 1316-byte datagrams (7 TS packets)
 *   rtp://host:port          RTP (one stream); the SDP is written to sdp_path or logged
 *   rtsp://host:port/path    RTSP ANNOUNCE/RECORD push, interleaved over TCP
 *   -        stdout, through a pipe (nothing seeks back): MPEG-TS, or with stdout_format
 *            "mkv" live Matroska (no cues; elements of unknown size). One stream, no
 *            segments: a change the stream cannot carry in-band (Matroska: any picture or
 *            codec change; MPEG-TS: a codec change, as h264 -> hevc on an HDR display) ends
 *            the output with -ENOTSUP, and a reader that closes the pipe with -EPIPE;
 *            fp_output_failure says which in one line. MP4 is not offered there.
 *
 * Network I/O never waits forever: connect/handshake are bounded by connect_timeout_ms and
 * each write by io_timeout_ms, through both the protocol's own timeout options and an
 * AVIOInterruptCB deadline; a dead peer ends the session with -ETIMEDOUT (or the
 * socket's error) and one log line naming the target.
 */
#ifndef FRAMEPUSH_OUTPUT_H
#define FRAMEPUSH_OUTPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepush/frame.h"

struct AVPacket;
struct fp_encoder;

struct fp_output_options {
	int connect_timeout_ms;  /* open + header (SRT handshake, RTSP ANNOUNCE); 0 = 10000 */
	int io_timeout_ms;       /* each packet write / trailer; 0 = 5000 */
	const char *sdp_path;    /* rtp://: write the SDP here; NULL = log it at info level */
	const char *stdout_format; /* target "-": "ts" (MPEG-TS) or "mkv" (live Matroska); NULL = "ts" */
	/* May be NULL. Non-zero while a network target is opened or reopened (connect,
	 * handshake, header) ends that with -ECANCELED at once: Ctrl-C must not wait out
	 * connect_timeout_ms. Writes and file opens ignore it, so files still get finished. */
	volatile sig_atomic_t *cancel;
};

enum fp_output_kind {
	FP_OUTPUT_FILE_MKV = 1,
	FP_OUTPUT_FILE_MP4,
	FP_OUTPUT_FILE_TS,
	FP_OUTPUT_SRT,
	FP_OUTPUT_UDP,
	FP_OUTPUT_RTP,
	FP_OUTPUT_RTSP,
	FP_OUTPUT_FILE_Y4M,  /* takes frames (fp_output_open_frames), not packets */
	FP_OUTPUT_STDOUT_TS, /* "-": MPEG-TS to stdout (fp_output_options.stdout_format) */
	FP_OUTPUT_STDOUT_MKV,/* "-" with stdout_format "mkv": live Matroska to stdout */
};

struct fp_output;

/* Checks a target without opening it or logging: a .mkv/.mp4/.ts/.y4m file (extension in
 * any case), "-" (stdout), or srt://, udp://, rtp:// with HOST:PORT (port 1..65535; the host
 * may be empty for srt://:PORT?mode=listener) or rtsp://HOST[:PORT]/PATH; the scheme in lower
 * case, as libavformat takes it. Returns the kind (> 0; FP_OUTPUT_STDOUT_TS for "-") or
 * -EINVAL with why (cap bytes, may be NULL) set to one line naming the target, what is wrong
 * and every kind supported:
 *   unsupported target 'x.avi': .avi files are not written; write a .mkv, .mp4, .ts or .y4m
 *   file, - (stdout, MPEG-TS or Matroska), or srt://HOST:PORT, udp://HOST:PORT, ... */
int fp_output_check_target(const char *target, char *why, size_t cap);

/* fp_output_check_target, logging why at error level. Returns the kind or -EINVAL. */
int fp_output_kind_of(const char *target);

/* The kind target is opened as with opt (may be NULL): fp_output_kind_of, and for "-"
 * FP_OUTPUT_STDOUT_TS or _MKV as opt->stdout_format says. Logs and returns -EINVAL for a bad
 * target or a stdout_format other than NULL, "ts" and "mkv". */
int fp_output_kind_for(const char *target, const struct fp_output_options *opt);

/* Whether kind goes on in the same stream when the picture size changes (MPEG-TS: the new
 * size comes with the parameter sets in-band; see fp_output_switch). */
bool fp_output_kind_resizes_inband(enum fp_output_kind kind);

/* Whether kind takes raw frames (fp_output_open_frames) rather than an encoder's packets. */
bool fp_output_kind_takes_frames(enum fp_output_kind kind);

/* Opens target for the stream produced by enc (codec parameters, extradata, time base, HDR10
 * metadata: attached as stream side data so mkv/mp4 carry mastering display and content light
 * level boxes/elements). opt may be NULL. Returns 0 or a negative errno (-ETIMEDOUT when the
 * peer did not answer in time, -ECONNREFUSED, -EINVAL, -ENOTSUP, ...). */
int fp_output_open(struct fp_output **out, const char *target, const struct fp_encoder *enc,
		   const struct fp_output_options *opt);

/* Opens a raw-frame target (.y4m) for frames of format and size at fps frames per second.
 * Returns 0, -EINVAL (not a raw-frame target, or a bad format), or a negative errno. */
int fp_output_open_frames(struct fp_output **out, const char *target, enum fp_yuv_format format,
			  uint32_t width, uint32_t height, uint32_t fps);

/* Writes one frame to a raw-frame target; it must match the current segment's format and
 * size (-EINVAL otherwise). Returns 0 or a negative errno; after an error the output is
 * dead, as with fp_output_write. */
int fp_output_write_frame(struct fp_output *o, const struct fp_yuv_frame *f);

/* A raw-frame target's display mode changed: Y4M holds one mode per file, so the current
 * file is finished and the next segment (named as fp_output_reopen_segment names them)
 * opened for frames of the new format and size. Returns 0 or a negative errno. */
int fp_output_switch_frames(struct fp_output *o, enum fp_yuv_format format, uint32_t width,
			    uint32_t height);

/* Writes one packet from the encoder given to open (or to the latest switch). The packet is
 * not consumed (a new reference is muxed), so one packet can feed several outputs.
 * Returns 0 or a negative errno; after an error the output is dead (every later write fails
 * with the same error) and should be closed. */
int fp_output_write(struct fp_output *o, const struct AVPacket *pkt);

/* Writes the trailer (file index, fragment index) and closes. Returns 0 or the first error
 * of the session. Accepts NULL. */
int fp_output_close(struct fp_output *o);

/* Closes the current file and opens the next segment for enc: "dir/out.mkv" -> "dir/out.1.mkv",
 * "dir/out.2.mkv", ... (a name without extension gets ".N"). Network targets are reopened
 * with the same URL instead (a new SRT/RTSP session, a new RTP SDP). */
int fp_output_reopen_segment(struct fp_output *o, const struct fp_encoder *enc);

enum fp_output_switch_mode {
	FP_SWITCH_INBAND = 1,   /* same stream continues; the new encoder's keyframe carries the
				 * new parameter sets in-band (MPEG-TS file/UDP/SRT, same codec;
				 * every kind when codec, size and pixel format are unchanged) */
	FP_SWITCH_SEGMENT = 2,  /* a new file (mkv/mp4: codec private data cannot change) */
	FP_SWITCH_REOPEN = 3,   /* network session re-established (RTP/RTSP: new SDP; TS: codec
				 * changed so the PMT would lie) */
};

/* Moves the output to a re-created encoder (e.g. an SDR <-> HDR switch), choosing the mode
 * above; *mode (may be NULL) says which was used. The old encoder must have been flushed and
 * its packets written. Timestamps stay continuous in FP_SWITCH_INBAND (the new encoder's
 * packets are shifted to follow the last one written); new segments/sessions start at 0.
 * Returns 0 or a negative errno. */
int fp_output_switch(struct fp_output *o, const struct fp_encoder *enc,
		     enum fp_output_switch_mode *mode);

/* Why the output ended, in one line for the user, where its errno says too little: "the
 * reader of stdout closed it", or what changed that stdout cannot carry and what would.
 * "" otherwise (and for NULL). */
const char *fp_output_failure(const struct fp_output *o);

/* Moves the process's stdout to a private descriptor (close-on-exec) for the "-" target and
 * points fd 1 at stderr, so that nothing else (a printf, a child process) writes into the
 * stream. Call it before starting child processes when the target is "-"; opening "-" calls
 * it otherwise. Idempotent until that output closes (closing it ends the stream for the
 * reader). Not thread-safe. Returns 0 or a negative errno (-EBADF: no stdout). */
int fp_output_claim_stdout(void);

/* Path or URL currently written (the segment name after a split). */
const char *fp_output_target(const struct fp_output *o);
enum fp_output_kind fp_output_kind(const struct fp_output *o);

#endif
