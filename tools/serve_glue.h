/* framepush serve: the glue between a session and the WebRTC server. The server's thread asks
 * for keyframes and forwards input while the session runs; the session's encode thread hands
 * each access unit to the server. Neither outlives the other's use of it: the session is
 * reached only between its started(s) and started(NULL) calls, under a lock. */
#ifndef FP_TOOLS_SERVE_GLUE_H
#define FP_TOOLS_SERVE_GLUE_H

#include <pthread.h>
#include <stdio.h>

#include "framepush/serve.h"
#include "framepush/session.h"

struct serve_glue {
	struct fp_serve *srv;
	pthread_mutex_t lock;
	struct fp_session *session;     /* under lock; NULL outside the session's run */
	struct fp_packet_consumer consumer;
	char name[96];                  /* "webrtc (http://127.0.0.1:8080/)" */
};

/* Starts the server for opts and points so at it (packets, started, user). 0, or a negative
 * errno with the reason logged. */
int serve_glue_start(struct serve_glue *g, struct fp_serve_opts *opts, struct fp_session_opts *so);

/* Stops the server (after fp_session_run returned). Accepts a glue never started. */
void serve_glue_stop(struct serve_glue *g);

/* "viewers 1 rtt 2 ms loss 0.0%" for the status line (empty before the server runs). */
void serve_glue_status(struct serve_glue *g, char *buf, size_t cap);

/* The server's counters as the "serve" member of the stats JSON (no trailing comma). */
void serve_glue_json(struct serve_glue *g, FILE *f);

#endif
