#include "serve_glue.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

static void on_started(struct fp_session *s, void *user)
{
	struct serve_glue *g = user;

	pthread_mutex_lock(&g->lock);
	g->session = s;
	pthread_mutex_unlock(&g->lock);
}

static void on_keyframe(void *user)
{
	struct serve_glue *g = user;

	pthread_mutex_lock(&g->lock);
	if (g->session)
		fp_session_request_keyframe(g->session);
	pthread_mutex_unlock(&g->lock);
}

static int on_input(const struct fp_input_event *ev, void *user)
{
	struct serve_glue *g = user;
	int r = -ENOTCONN;

	pthread_mutex_lock(&g->lock);
	if (g->session)
		r = fp_session_send_input(g->session, ev);
	pthread_mutex_unlock(&g->lock);
	return r;
}

static int on_packet(void *user, const uint8_t *data, size_t size, int64_t capture_ns, bool key)
{
	struct serve_glue *g = user;

	return fp_serve_push(g->srv, data, size, capture_ns / 1000, key);
}

int serve_glue_start(struct serve_glue *g, struct fp_serve_opts *opts, struct fp_session_opts *so)
{
	int r;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	opts->keyframe = on_keyframe;
	opts->input = on_input;
	opts->user = g;
	r = fp_serve_create(&g->srv, opts);
	if (r < 0)
		return r;
	snprintf(g->name, sizeof(g->name), "webrtc viewers");
	g->consumer = (struct fp_packet_consumer){ .name = g->name, .write = on_packet, .user = g };
	so->packets = &g->consumer;
	so->started = on_started;
	so->user = g;
	return 0;
}

void serve_glue_stop(struct serve_glue *g)
{
	fp_serve_destroy(g->srv);
	g->srv = NULL;
	pthread_mutex_destroy(&g->lock);
}

/* The worst viewer is what the person at the other end of a session notices. */
static const struct fp_serve_viewer_stats *worst_viewer(const struct fp_serve_stats *st)
{
	const struct fp_serve_viewer_stats *w = NULL;

	for (unsigned i = 0; i < st->viewers && i < FP_SERVE_VIEWERS_MAX; i++)
		if (!w || st->viewer[i].rtt_ms > w->rtt_ms || st->viewer[i].loss > w->loss)
			w = &st->viewer[i];
	return w;
}

void serve_glue_status(struct serve_glue *g, char *buf, size_t cap)
{
	struct fp_serve_stats st;
	const struct fp_serve_viewer_stats *w;

	buf[0] = '\0';
	if (!g->srv)
		return;
	fp_serve_stats(g->srv, &st);
	w = worst_viewer(&st);
	if (!w || w->rtt_ms < 0)
		snprintf(buf, cap, "viewers %u", st.viewers);
	else
		snprintf(buf, cap, "viewers %u rtt %.0f ms loss %.1f%%", st.viewers, w->rtt_ms,
			 w->loss * 100);
}

void serve_glue_json(struct serve_glue *g, FILE *f)
{
	struct fp_serve_stats st;

	const char *url = fp_serve_url(g->srv);

	fp_serve_stats(g->srv, &st);
	/* The address without the fragment: the token is not for files. */
	fprintf(f, "  \"serve\": {\n    \"url\": \"%.*s\",\n    \"viewers\": %u,\n"
		"    \"viewers_total\": %llu,\n    \"refused\": %llu,\n"
		"    \"keyframes_requested\": %llu,\n    \"input_forwarded\": %llu,\n"
		"    \"input_refused\": %llu,\n    \"viewer\": [",
		(int)strcspn(url, "#"), url, st.viewers, (unsigned long long)st.viewers_total,
		(unsigned long long)st.refused, (unsigned long long)st.keyframes_requested,
		(unsigned long long)st.input_forwarded, (unsigned long long)st.input_refused);
	for (unsigned i = 0; i < st.viewers && i < FP_SERVE_VIEWERS_MAX; i++) {
		const struct fp_serve_viewer_stats *v = &st.viewer[i];

		fprintf(f, "%s\n      { \"id\": %u, \"bitrate_kbps\": %.1f, \"rtt_ms\": %.2f, "
			"\"loss\": %.4f, \"packets_lost\": %llu, \"connected\": %s }", i ? "," : "",
			v->id, v->bitrate_kbps, v->rtt_ms, v->loss, (unsigned long long)v->packets_lost,
			v->connected ? "true" : "false");
	}
	fputs(st.viewers ? "\n    ]\n  },\n" : "]\n  },\n", f);
}
