/* framepush — serve: an interactive session in a browser, over WebRTC.
 *
 * One HTTP port carries the page (built into the binary) and the signalling WebSocket;
 * GStreamer's webrtcbin carries the media (ICE, DTLS-SRTP, RTP/RTCP) and one data channel per
 * viewer carries its input back. The stream is framepush's own H.264 (Annex B access units,
 * parameter sets before every keyframe), pushed once and shared by every viewer.
 *
 * Nothing a viewer sends is trusted: the WebSocket is refused (403, logged) without the
 * session's token, a data channel is ignored until it has presented the token, and every
 * input message is parsed, size- and range-checked and mapped through a fixed key table
 * before opts.input sees it (doc/serve.md has the threat model).
 *
 * fp_serve runs its own thread (a GLib main loop); the callbacks run on it. */
#ifndef FRAMEPUSH_SERVE_H
#define FRAMEPUSH_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepush/input.h"

#define FP_SERVE_VIEWERS_MAX 16u
#define FP_SERVE_DEFAULT_PORT 8080u

struct fp_serve;

struct fp_serve_opts {
	const char *listen;          /* "ADDR:PORT" (IPv4, or [IPv6]:PORT); NULL: 127.0.0.1:8080 */
	const char *tls_cert;        /* PEM files: HTTPS and WSS; both or neither */
	const char *tls_key;
	unsigned max_viewers;        /* 1..FP_SERVE_VIEWERS_MAX; 0: 4 */
	bool view_only;              /* every input message is dropped (and counted refused) */
	unsigned bitrate_kbps;       /* the stream's cap, announced to the browser (b=AS) */
	/* A viewer joined, or a receiver asked for a keyframe (PLI/FIR). */
	void (*keyframe)(void *user);
	/* A validated event from a viewer (or a release of what a leaving viewer held). Returns
	 * 0 when forwarded, negative when it could not be (counted as refused). */
	int (*input)(const struct fp_input_event *ev, void *user);
	void *user;
};

struct fp_serve_viewer_stats {
	unsigned id;                 /* 1, 2, ... in order of joining */
	char peer[64];               /* the WebSocket's remote address */
	double bitrate_kbps;         /* sent, over the last stats interval */
	double rtt_ms;               /* from RTCP receiver reports; < 0 while unknown */
	double loss;                 /* fraction lost, 0..1, from the last receiver report */
	uint64_t packets_lost;       /* cumulative, as the receiver reports it */
	bool connected;              /* ICE and DTLS done, media flowing */
};

struct fp_serve_stats {
	unsigned viewers;            /* connected now */
	uint64_t viewers_total;      /* joined since the start */
	uint64_t refused;            /* requests without the right token, viewers over the limit */
	uint64_t keyframes_requested;/* joins + PLI/FIR */
	uint64_t input_forwarded;    /* events handed to opts.input that it accepted */
	uint64_t input_refused;      /* malformed, out of range, unknown key, view-only, unauthenticated */
	uint64_t frames_dropped;     /* access units fp_serve_push dropped (its queue was full, or
				      * waiting for a keyframe after such a drop) */
	struct fp_serve_viewer_stats viewer[FP_SERVE_VIEWERS_MAX];
};

/* Checks opts (listen address, TLS files, viewer count) without binding anything: the CLI
 * runs it before a display starts, so a mistake is a usage error. 0 or -EINVAL, with the
 * reason in err. */
int fp_serve_check(const struct fp_serve_opts *opts, char *err, size_t errlen);

/* Binds the port, makes the token, starts the thread. 0 or a negative errno (-EADDRINUSE,
 * -EACCES, -ENOENT for a missing TLS file, ...) with the reason logged. */
int fp_serve_create(struct fp_serve **out, const struct fp_serve_opts *opts);

/* The URL a viewer opens, token in the fragment ("http://127.0.0.1:8080/#token=..."). */
const char *fp_serve_url(const struct fp_serve *s);

/* Hands one H.264 access unit (Annex B) to every viewer. Never blocks: a viewer that cannot
 * keep up loses frames (and asks for a keyframe), the others are not held back. Safe from
 * one producer thread. 0 or a negative errno. */
int fp_serve_push(struct fp_serve *s, const uint8_t *au, size_t size, int64_t pts_us,
		  bool keyframe);

/* A snapshot of the counters and of each viewer's last RTCP numbers. Any thread. */
void fp_serve_stats(struct fp_serve *s, struct fp_serve_stats *st);

/* Closes every viewer and the port, stops the thread. Accepts NULL. */
void fp_serve_destroy(struct fp_serve *s);

#endif
