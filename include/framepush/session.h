/* framepush — a capture session: capture -> convert -> encode -> output, pipelined.
 *
 * The calling thread captures (and converts) at the output frame rate; a second thread
 * encodes and muxes. Capture of frame N+1 overlaps the encode of frame N; at most
 * pipeline_depth frames are in flight, which is exactly what the capturer's output ring
 * (depth + 1 buffers) keeps valid, so no frame is copied between the threads and no queue
 * grows without bound.
 *
 * Frames are taken on the output clock's ticks (start + k / fps): at each tick the newest
 * frame the source published, else (after half a period's grace) a repeat of the last one.
 * A loop up to two ticks late catches up (frames back to back); further behind, the ticks
 * already past are skipped and counted, so the output keeps wall-clock time and a duration
 * means seconds. */
#ifndef FRAMEPUSH_SESSION_H
#define FRAMEPUSH_SESSION_H

#include <signal.h>
#include <stdint.h>

#include "framepush/capture.h"
#include "framepush/encode.h"
#include "framepush/output.h"

struct fp_session_progress {
	double seconds;
	uint64_t frames_out, frames_repeated, frames_dropped, recreates;
	uint64_t ticks_skipped;     /* output ticks given no frame: the pipeline was behind */
	double fps, bitrate_kbps;
	struct fp_latency_stats latency;  /* capture -> encoded (or written, for Y4M) */
};

struct fp_session; /* a running session: see fp_session_opts.started */

struct fp_session_opts {
	struct fp_capture_opts capture;
	uint32_t output_fps;        /* 0: capture.fps; else the source runs at capture.fps and the
				     * output at this rate (as a compositor's refresh may differ) */
	const char *target;         /* file (.mkv .mp4 .ts .y4m) or URL (srt:// udp:// rtp:// rtsp://) */
	enum fp_codec codec;        /* for SDR; an HDR display is always 10-bit (h264 -> hevc) */
	enum fp_hw hw;
	unsigned bitrate_kbps;      /* 0: crf */
	int crf;                    /* 0: codec default */
	unsigned keyint;            /* 0: 2 s */
	struct fp_output_options output;
	double duration;            /* seconds; 0: until *stop */
	volatile sig_atomic_t *stop;/* set asynchronously (SIGINT): finish cleanly */
	void (*progress)(const struct fp_session_progress *p, void *user); /* ~2 per second */
	/* Called once on the calling thread when the capture is open, before the first frame.
	 * s stays valid until fp_session_run returns (for fp_session_request_keyframe). */
	void (*started)(struct fp_session *s, void *user);
	void *user;
};

struct fp_session_result {
	struct fp_capture_stats capture;
	struct fp_latency_stats latency;
	uint64_t frames_encoded, packets, bytes;
	uint64_t frames_dropped;    /* published by the source, superseded before the host took them */
	uint64_t ticks_skipped;     /* output ticks given no frame because the pipeline was behind */
	double seconds;
	unsigned segments;          /* files or network sessions written (1 + switches) */
	char first_target[4096];
	char last_target[4096];
	/* What was written: "h264", "hevc", "av1" ("rawvideo" for .y4m), first and last segment
	 * (an HDR display turns h264 into hevc), and the first libavcodec encoder's name. */
	char codec[16], last_codec[16], encoder[32];
	char error[1024];           /* empty on success */
};

/* Runs a whole session. Returns 0, or a negative errno with result->error set. */
int fp_session_run(const struct fp_session_opts *opts, struct fp_session_result *result);

/* Makes the next frame encoded a keyframe (a new viewer joined, a receiver lost data). Safe
 * from any thread, and from a signal handler, while fp_session_run runs. */
void fp_session_request_keyframe(struct fp_session *s);

/* One line for humans: "59.9 fps  4.2 Mbit/s  latency p50 12.1 ms p99 20.3 ms  drops 0 ..." */
void fp_session_format_progress(const struct fp_session_progress *p, char *buf, size_t cap);

#endif
