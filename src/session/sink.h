/* framepush — the session's encode side: each frame to the output, encoded and muxed (or raw,
 * for a raw-frame target such as .y4m); on a display mode change (size, SDR <-> HDR, new
 * HDR10 values) a new encoder and the output moved over to it (in-band, a new segment or a
 * new network session). One thread owns a sink. Private to the session module. */
#ifndef FP_SESSION_SINK_H
#define FP_SESSION_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "framepush/session.h"
#include "governor.h"

#define FP_SINK_PTS_FIFO 64u

struct AVPacket;

struct fp_sink {
	const struct fp_session_opts *opts;
	uint32_t fps;                   /* the output rate */
	bool raw;                       /* raw frames to the output, no encoder */
	enum fp_output_kind kind;
	struct fp_encoder *enc;
	struct fp_output *out;
	struct fp_output_options out_opts; /* opts->output, cancelled by opts->stop */
	atomic_bool *keyframe;          /* fp_session_request_keyframe(), forwarded to enc */
	struct AVPacket *pkt;
	enum fp_yuv_format format;      /* the current mode */
	uint32_t width, height;
	struct fp_hdr10 hdr10;          /* the current encoder's, all zero while SDR */
	/* The governor walks presets[] (fastest first); enc_level is the current encoder's. */
	bool governed;
	const char *const *presets;
	unsigned n_scales;              /* levels below presets[0]: reduced sizes */
	struct fp_governor gov;
	unsigned enc_level;
	int64_t encode_ns;              /* the current frame's time in the encoder */
	char preset_first[16], preset_last[16];
	uint64_t steps_faster, steps_slower; /* governor steps taken (encoders reopened) */
	int64_t pts_fifo[FP_SINK_PTS_FIFO]; /* capture times of submitted frames, in order */
	unsigned fifo_head, fifo_len;
	struct fp_latency_hist latency; /* capture -> packet out (or written) */
	uint64_t frames, packets, bytes;
	unsigned segments;
	/* Time in fp_output_open (before the session's clock starts), and in switches that
	 * reconnected a network target (a new session for a new codec): the stream waited, no
	 * frame was taken. reconnect_since is the start of a switch in progress (0: none); both
	 * are read by the capture thread for the status line. The last switch's interval, for
	 * the part of it past the clock's end (read once this thread has ended). */
	int64_t open_ns;
	_Atomic int64_t reconnect_ns, reconnect_since;
	int64_t last_reconnect_start, last_reconnect_end;
	char first_target[4096], last_target[4096];
	char codec[16], last_codec[16], encoder[32];
	char error[1024];
};

/* The output frame rate of a session. */
uint32_t fp_session_out_fps(const struct fp_session_opts *o);

/* A sink for opts->target, of the kind fp_output_kind_of() gave (0: opts->packets instead).
 * Opens nothing yet (the first frame does). keyframe is polled before each frame. Returns 0
 * or -ENOMEM. */
int fp_sink_init(struct fp_sink *s, const struct fp_session_opts *opts, enum fp_output_kind kind,
		 atomic_bool *keyframe);

/* Opens the encoder (or raw file) and the output for frames of mode's format and size (its
 * planes are not read), before the first frame: a session does it before its clock starts.
 * Returns 0 or a negative errno with s->error set. */
int fp_sink_prepare(struct fp_sink *s, const struct fp_yuv_frame *mode, const struct fp_hdr10 *hdr10);

/* Takes one frame (a view: nothing refers to its planes after this returns), with its
 * capture time and the display's HDR10 record when it was taken (all zero while SDR).
 * Returns 0 or a negative errno with s->error set. */
int fp_sink_frame(struct fp_sink *s, const struct fp_yuv_frame *f, int64_t capture_ns,
		  const struct fp_hdr10 *hdr10);

/* Drains the encoder, finishes the output and frees everything; also for a sink that never
 * got a frame. Returns 0 or a negative errno with s->error set. */
int fp_sink_finish(struct fp_sink *s);

/* Copies the sink's figures and names into res (error only when res has none yet). */
void fp_sink_result(const struct fp_sink *s, struct fp_session_result *res);

#endif
