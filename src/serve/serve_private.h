/* framepush serve — the server's private state, shared by its files: serve.c (the thread,
 * HTTP, the public API), media.c (the pipeline and each viewer's branch), viewer.c (a
 * viewer's signalling, data channel and input).
 *
 * Threads: everything here belongs to the serve thread (its GMainContext) except what the
 * comments mark otherwise. GStreamer calls back on its own threads (webrtcbin's, streaming
 * threads); those callbacks only copy what they got and hand it to the serve thread with
 * fp_serve_invoke, holding a reference on the viewer. */
#ifndef FP_SERVE_PRIVATE_H
#define FP_SERVE_PRIVATE_H

#include <gst/gst.h>
#include <libsoup/soup.h>
#include <stdatomic.h>

#include "framepush/serve.h"
#include "listen.h"
#include "msg.h"

struct fp_viewer;

struct fp_serve {
	struct fp_serve_opts opts;
	char *tls_cert, *tls_key;        /* copies: opts points to them */
	struct fp_serve_listen listen;
	char token[FP_SERVE_TOKEN_HEX + 1];
	char url[160];

	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
	SoupServer *soup;
	GSource *tick;
	GSource *bus_watch;

	GstElement *pipeline, *appsrc, *tee;
	GstPad *pay_src;                 /* its caps (with profile-level-id) gate the offers */

	struct fp_viewer *viewer[FP_SERVE_VIEWERS_MAX]; /* by slot; NULL: free */
	unsigned next_id;
	bool stopping;

	/* The producer's side (fp_serve_push's thread). */
	int64_t pts_base_us;
	GstClockTime rt_base;
	bool have_base;
	enum {
		FP_SERVE_WAIT_NONE,
		FP_SERVE_WAIT_QUIET,     /* no viewer had a branch: start at a keyframe */
		FP_SERVE_WAIT_DROPPED,   /* a unit was dropped: the next ones refer to it */
	} wait_keyframe;
	atomic_uint streaming_viewers;   /* viewers with a branch: push only when some */
	atomic_bool keyframe_pending;    /* a keyframe request queued for the serve thread */

	/* Counters and each viewer's numbers: any thread, under lock. */
	GMutex lock;
	struct fp_serve_stats st;
	struct fp_serve_viewer_stats vst[FP_SERVE_VIEWERS_MAX];
	bool vst_used[FP_SERVE_VIEWERS_MAX];
};

/* Bits of FP_INPUT_KEY_MAX + 1 key codes. */
#define FP_VIEWER_KEY_WORDS ((FP_INPUT_KEY_MAX + 64) / 64)

struct fp_viewer {
	atomic_int ref;
	struct fp_serve *s;
	unsigned id, slot;
	char peer[64];
	SoupWebsocketConnection *ws;

	/* The branch: tee pad -> queue -> webrtcbin. */
	GstPad *tee_pad;
	GstElement *queue, *webrtc;
	GObject *dc;                     /* GstWebRTCDataChannel */
	bool offered;
	bool streaming;                  /* counted in streaming_viewers */
	bool closing;

	bool authed;                     /* the data channel presented the token */
	bool refusal_logged;
	bool connected;
	atomic_bool flowing;             /* packets pass into the branch (connected once) */
	atomic_int pending_msgs;         /* data channel messages queued for the serve thread */
	uint64_t held_keys[FP_VIEWER_KEY_WORDS];
	unsigned held_buttons;           /* bit (code - FP_BTN_LEFT) */

	int64_t created_ns, unconnected_since_ns;
	/* Under the server's lock (written by the stats callback, read by the tick). */
	uint64_t last_bytes;
	int64_t last_bytes_ns;
	double rb_seq;                   /* the receiver's last reported highest sequence */
	int64_t rb_seq_ns;               /* when it last advanced (or the viewer connected) */
	uint64_t rb_seq_bytes;           /* bytes sent by then */
};

/* serve.c */
/* Runs fn(v, data) on the serve thread (later, in order), holding a reference on v; free
 * releases data afterwards (also when the server stopped first and fn never runs). */
void fp_serve_invoke(struct fp_viewer *v, void (*fn)(struct fp_viewer *v, void *data),
		     void *data, GDestroyNotify free);
void fp_serve_count(struct fp_serve *s, uint64_t *counter, uint64_t n);
void fp_serve_request_keyframe(struct fp_serve *s);
/* Called from any thread: marks a keyframe request and wakes the serve thread once. */
void fp_serve_request_keyframe_async(struct fp_serve *s);

/* media.c */
int fp_media_create(struct fp_serve *s);
void fp_media_destroy(struct fp_serve *s);
int fp_media_viewer_start(struct fp_viewer *v);
void fp_media_viewer_stop(struct fp_viewer *v);
void fp_media_viewer_answer(struct fp_viewer *v, const char *sdp);
void fp_media_viewer_ice(struct fp_viewer *v, unsigned mline, const char *candidate);
void fp_media_viewer_tick(struct fp_viewer *v);

/* viewer.c */
struct fp_viewer *fp_viewer_ref(struct fp_viewer *v);
void fp_viewer_unref(struct fp_viewer *v);
/* fp_viewer_unref as a GDestroyNotify and as a GClosureNotify. */
void fp_viewer_unref_notify(gpointer v);
void fp_viewer_closure_notify(gpointer v, GClosure *closure);
void fp_viewer_join(struct fp_serve *s, SoupServerMessage *msg, SoupWebsocketConnection *ws);
void fp_viewer_close(struct fp_viewer *v, const char *why);
void fp_viewer_send(struct fp_viewer *v, const char *json);
void fp_viewer_send_signal(struct fp_viewer *v, const char *type, const char *key,
			   const char *value, int mline);
void fp_viewer_input(struct fp_viewer *v, const char *msg, size_t len);
void fp_viewer_input_refused(struct fp_viewer *v);
void fp_viewer_set_connected(struct fp_viewer *v, bool connected);

#endif
