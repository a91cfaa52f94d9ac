/* framepush — a capture session: capture -> convert -> encode -> output, pipelined.
 *
 * The calling thread captures (and converts) at the output frame rate; a second thread
 * encodes and muxes. Recording, capture of frame N+1 overlaps the encode of frame N, and
 * at most pipeline_depth + 1 frames are in flight, which is exactly what the capturer's
 * output ring (depth + 1 buffers) keeps valid, so no frame is copied between the threads and
 * no queue grows without bound. Live, at most pipeline_depth are: at depth 1 a frame is
 * taken only when the encoder is free. The encoder governor (fp_profile) keeps each frame's
 * encode inside the period by stepping the encoder's preset.
 *
 * Frames are taken on the output clock's ticks (start + k / fps): at each tick the newest
 * frame the source published, else (after half a period's grace) a repeat of the last one.
 * A loop up to two ticks late catches up (frames back to back); further behind, the ticks
 * already past are skipped and counted, so the output keeps wall-clock time and a duration
 * means seconds. */
#ifndef FRAMEPUSH_SESSION_H
#define FRAMEPUSH_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepush/capture.h"
#include "framepush/encode.h"
#include "framepush/output.h"

/* What a session optimises for. Both run the encoder governor (unless fixed_preset): it steps
 * the encoder's preset faster when frames take too long to encode and back when there is
 * sustained headroom, so the output keeps its rate on the machine it runs on. */
enum fp_profile {
	/* Quality first (record): pipeline depth 2, which lets capture overlap encoding; the
	 * codec's default preset unless the mode asks more pixels a second per CPU than it can
	 * encode in time; the governor steps faster only when frames pass 85% of the period. */
	FP_PROFILE_RECORD = 0,
	/* Latency first (stream, serve): pipeline depth 1, so a frame is taken only when the
	 * encoder is free and never waits behind another (a tick that finds the encoder busy is
	 * skipped and counted); a faster start and a governor that keeps frames under 70%. */
	FP_PROFILE_LIVE = 1,
};

struct fp_session_progress {
	double seconds;
	uint64_t frames_out, frames_repeated, frames_dropped, recreates;
	uint64_t ticks_skipped;     /* output ticks given no frame: the pipeline was behind */
	double fps, bitrate_kbps;
	struct fp_latency_stats latency;  /* capture -> encoded (or written, for Y4M) */
	char preset[16];            /* the encoder's preset now ("" when it has none) */
};

struct fp_session; /* a running session: see fp_session_opts.started */

/* Where encoded frames go instead of a target (serve hands them to WebRTC). */
struct fp_packet_consumer {
	const char *name;            /* what the log and fp_session_result call it */
	/* One access unit as the encoder made it (H.264: Annex B, parameter sets before every
	 * keyframe), with its frame's capture time (CLOCK_MONOTONIC, ns). Runs on the encode
	 * thread and must not block. A negative errno ends the session. */
	int (*write)(void *user, const uint8_t *data, size_t size, int64_t capture_ns,
		     bool keyframe);
	void *user;
};

struct fp_session_opts {
	struct fp_capture_opts capture;
	uint32_t output_fps;        /* 0: capture.fps; else the source runs at capture.fps and the
				     * output at this rate (as a compositor's refresh may differ) */
	const char *target;         /* file (.mkv .mp4 .ts .y4m) or URL (srt:// udp:// rtp:// rtsp://) */
	/* Instead of target (which is then NULL): encoded frames to this. The stream stays one
	 * stream: SDR only (an HDR display ends the session), size changes in-band. */
	const struct fp_packet_consumer *packets;
	/* H.264 constrained baseline, the profile every browser decodes (Firefox's OpenH264
	 * takes no other). */
	int constrained_baseline;
	enum fp_codec codec;        /* for SDR; an HDR display is always 10-bit (h264 -> hevc) */
	enum fp_hw hw;
	unsigned bitrate_kbps;      /* 0: crf */
	int crf;                    /* 0: codec default */
	unsigned keyint;            /* 0: 2 s */
	enum fp_profile profile;
	const char *preset;         /* the encoder's own name (fp_encoder_presets); NULL: chosen
				     * for the mode and this machine. The governor never goes slower. */
	const char *tune;           /* fp_encoder_check_tune; NULL: the low-latency tune alone */
	int fixed_preset;           /* no governor: the preset stays what it started as */
	struct fp_output_options output;
	double duration;            /* seconds; 0: until *stop */
	volatile sig_atomic_t *stop;/* set asynchronously (SIGINT): finish cleanly */
	void (*progress)(const struct fp_session_progress *p, void *user); /* ~2 per second */
	/* Called on the calling thread when the capture is open, before the first frame, and
	 * again with s NULL when capture has ended, before the session is torn down: in between
	 * other threads may call fp_session_request_keyframe / fp_session_send_input on s. */
	void (*started)(struct fp_session *s, void *user);
	void *user;
};

struct fp_session_result {
	struct fp_capture_stats capture;
	struct fp_latency_stats latency;
	uint64_t frames_encoded, packets, bytes;
	uint64_t frames_dropped;    /* published by the source, superseded before the host took them */
	uint64_t ticks_skipped;     /* output ticks given no frame because the pipeline was behind */
	/* The time frames were taken: from the clock's start (after the output opened) to the
	 * end, less the time spent reconnecting a network target. frames / seconds is the rate. */
	double seconds;
	/* The time spent opening the output (connecting to a network peer; before the clock
	 * started) plus reconnecting it (a new network session, as for a new codec). */
	double connect_seconds;
	unsigned segments;          /* files or network sessions written (1 + switches) */
	char first_target[4096];
	char last_target[4096];
	/* What was written: "h264", "hevc", "av1" ("rawvideo" for .y4m), first and last segment
	 * (an HDR display turns h264 into hevc), and the first libavcodec encoder's name. */
	char codec[16], last_codec[16], encoder[32];
	/* The governor: preset of the first and the last encoder, and its steps. */
	char preset_first[16], preset_last[16];
	uint64_t preset_steps_faster, preset_steps_slower;
	char error[1024];           /* empty on success */
};

/* Runs a whole session. Returns 0, or a negative errno with result->error set. */
int fp_session_run(const struct fp_session_opts *opts, struct fp_session_result *result);

/* Makes the next frame encoded a keyframe (a new viewer joined, a receiver lost data). Safe
 * from any thread, and from a signal handler, while fp_session_run runs. */
void fp_session_request_keyframe(struct fp_session *s);

/* Forwards a viewer's input event to the source, which injects it into the display
 * (fp_capture_send_input: validated first, never blocks). Safe from any thread, also while a
 * dead source is restarted, between the started(s) and started(NULL) callbacks (the capture
 * closes after the second). 0, -EINVAL (invalid event), -EAGAIN (the
 * source is behind: dropped, count it refused) or -ENOTCONN (no source attached now). */
int fp_session_send_input(struct fp_session *s, const struct fp_input_event *ev);

#endif
