/* framepush serve — one viewer: its WebSocket (signalling), its data channel's input, what
 * it holds pressed, its life from the authenticated upgrade to its removal. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "common/log.h"
#include "common/util.h"
#include "serve_private.h"

/* Input messages queued for the serve thread per viewer: a flood beyond it is refused. */
#define PENDING_INPUT_MAX 256

struct fp_viewer *fp_viewer_ref(struct fp_viewer *v)
{
	atomic_fetch_add(&v->ref, 1);
	return v;
}

void fp_viewer_unref(struct fp_viewer *v)
{
	if (!v || atomic_fetch_sub(&v->ref, 1) != 1)
		return;
	/* The last reference may go on any thread; everything left is inert by now (the
	 * branch is out of the pipeline, in NULL state; the WebSocket was released). */
	g_clear_object(&v->dc);
	gst_clear_object(&v->tee_pad);
	gst_clear_object(&v->webrtc);
	gst_clear_object(&v->queue);
	g_free(v);
}

void fp_viewer_unref_notify(gpointer v)
{
	fp_viewer_unref(v);
}

void fp_viewer_closure_notify(gpointer v, GClosure *closure)
{
	(void)closure;
	fp_viewer_unref(v);
}

void fp_viewer_send(struct fp_viewer *v, const char *json)
{
	if (v->ws && soup_websocket_connection_get_state(v->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_send_text(v->ws, json);
}

void fp_viewer_send_signal(struct fp_viewer *v, const char *type, const char *key,
			   const char *value, int mline)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g = json_generator_new();
	JsonNode *root;
	char *text;

	if (v->closing)
		goto out;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "type");
	json_builder_add_string_value(b, type);
	json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, value);
	if (mline >= 0) {
		json_builder_set_member_name(b, "sdpMLineIndex");
		json_builder_add_int_value(b, mline);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(g, root);
	text = json_generator_to_data(g, NULL);
	fp_viewer_send(v, text);
	g_free(text);
	json_node_unref(root);
out:
	g_object_unref(g);
	g_object_unref(b);
}

/* ---- input ------------------------------------------------------------------------------ */

static void refuse(struct fp_viewer *v, const char *why)
{
	fp_serve_count(v->s, &v->s->st.input_refused, 1);
	/* Once per viewer at warn level: a misbehaving page must not flood the log. */
	if (!v->refusal_logged)
		fp_warn("serve: viewer %u (%s): input refused (%s); further refusals are counted",
			v->id, v->peer, why);
	v->refusal_logged = true;
}

static void held_set(struct fp_viewer *v, const struct fp_input_event *ev, bool down)
{
	if (ev->type == FP_INPUT_KEY) {
		uint64_t bit = UINT64_C(1) << (ev->code % 64);

		if (down)
			v->held_keys[ev->code / 64] |= bit;
		else
			v->held_keys[ev->code / 64] &= ~bit;
	} else if (ev->type == FP_INPUT_BUTTON) {
		unsigned bit = 1u << (ev->code - FP_BTN_LEFT);

		v->held_buttons = down ? v->held_buttons | bit : v->held_buttons & ~bit;
	}
}

static void forward(struct fp_viewer *v, const struct fp_input_event *ev)
{
	struct fp_serve *s = v->s;
	int r = s->opts.input ? s->opts.input(ev, s->opts.user) : -ENOSYS;
	bool press = (ev->type == FP_INPUT_KEY || ev->type == FP_INPUT_BUTTON) && ev->value == 1;

	if (r < 0) {
		refuse(v, "the session did not take it");
		return;
	}
	fp_serve_count(s, &s->st.input_forwarded, 1);
	/* Only what reached the display is held there; a release always clears. */
	if (ev->type == FP_INPUT_KEY || ev->type == FP_INPUT_BUTTON)
		held_set(v, ev, press);
}

/* Releases every key and button the viewer left pressed: a viewer that vanishes mid-chord
 * must not leave Shift down for everyone else. */
static void release_held(struct fp_viewer *v)
{
	for (uint32_t code = 0; code <= FP_INPUT_KEY_MAX; code++)
		if (v->held_keys[code / 64] & (UINT64_C(1) << (code % 64)))
			forward(v, &(struct fp_input_event){ .type = FP_INPUT_KEY, .code = code });
	for (uint32_t b = 0; b < 3; b++)
		if (v->held_buttons & (1u << b))
			forward(v, &(struct fp_input_event){ .type = FP_INPUT_BUTTON,
							    .code = FP_BTN_LEFT + b });
}

/* The page sends its token until it hears back (a message sent the moment the channel
 * opens can be lost in webrtcbin 1.22): the answer says whether input will be taken. */
static void handle_auth(struct fp_viewer *v, const struct fp_serve_input_msg *m)
{
	const char *answer = v->s->opts.view_only ? "{\"t\":\"view-only\"}" : "{\"t\":\"auth-ok\"}";

	if (!fp_serve_token_equal(m->token, strlen(m->token), v->s->token)) {
		refuse(v, "wrong token");
		return;
	}
	if (!v->authed) {
		v->authed = true;
		fp_info("serve: viewer %u (%s): input channel authenticated%s", v->id, v->peer,
			v->s->opts.view_only ? " (view only: input refused)" : "");
	}
	/* A repeat (the page's retry crossing our answer) is answered again, not counted. */
	if (v->dc)
		g_signal_emit_by_name(v->dc, "send-string", answer);
}

static void handle_input(struct fp_viewer *v, void *data)
{
	const char *text = data;
	struct fp_serve_input_msg m;
	enum fp_serve_msg_error e;

	atomic_fetch_sub(&v->pending_msgs, 1);
	if (v->closing || v->s->stopping)
		return;
	e = fp_serve_input_parse(text, strlen(text), &m);
	if (e != FP_SERVE_MSG_OK) {
		refuse(v, fp_serve_msg_error_name(e));
		return;
	}
	if (m.kind == FP_SERVE_INPUT_AUTH) {
		handle_auth(v, &m);
		explicit_bzero(&m, sizeof(m));
		return;
	}
	if (!v->authed || v->s->opts.view_only) {
		refuse(v, v->authed ? "view-only session" : "not authenticated");
		return;
	}
	for (unsigned i = 0; i < m.n_ev; i++)
		forward(v, &m.ev[i]);
}

void fp_viewer_input(struct fp_viewer *v, const char *msg, size_t len)
{
	/* Bounded here, on the data channel's thread, before anything is copied or queued. */
	if (len == 0 || len > FP_SERVE_INPUT_MSG_MAX ||
	    atomic_fetch_add(&v->pending_msgs, 1) >= PENDING_INPUT_MAX) {
		if (len && len <= FP_SERVE_INPUT_MSG_MAX)
			atomic_fetch_sub(&v->pending_msgs, 1);
		fp_serve_count(v->s, &v->s->st.input_refused, 1);
		return;
	}
	fp_serve_invoke(v, handle_input, g_strndup(msg, len), g_free);
}

void fp_viewer_input_refused(struct fp_viewer *v)
{
	fp_serve_count(v->s, &v->s->st.input_refused, 1);
}

/* ---- life ------------------------------------------------------------------------------- */

void fp_viewer_set_connected(struct fp_viewer *v, bool connected)
{
	struct fp_serve *s = v->s;

	if (v->closing || connected == v->connected)
		return;
	v->connected = connected;
	if (!connected)
		v->unconnected_since_ns = fp_now_ns();
	g_mutex_lock(&s->lock);
	s->vst[v->slot].connected = connected;
	/* The stall clock starts now: a receiver that never reports is stalled too. */
	v->rb_seq_ns = fp_now_ns();
	v->rb_seq_bytes = v->last_bytes;
	g_mutex_unlock(&s->lock);
	fp_info("serve: viewer %u (%s) %s", v->id, v->peer,
		connected ? "connected" : "lost its connection");
	/* Its decoder starts at a keyframe: the one asked for at its join went out before
	 * DTLS was up (and the branch lets packets through only from now on). */
	if (connected) {
		atomic_store(&v->flowing, true);
		fp_serve_request_keyframe(s);
	}
}

static void ws_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user)
{
	struct fp_viewer *v = user;
	struct fp_serve_signal_msg m;
	enum fp_serve_msg_error e;
	gsize len;
	const char *data = g_bytes_get_data(message, &len);

	(void)ws;
	if (v->closing)
		return;
	if (type != SOUP_WEBSOCKET_DATA_TEXT) {
		fp_viewer_close(v, "a binary signalling message");
		return;
	}
	e = fp_serve_signal_parse(data, len, &m);
	if (e != FP_SERVE_MSG_OK) {
		fp_warn("serve: viewer %u (%s): bad signalling message (%s)", v->id, v->peer,
			fp_serve_msg_error_name(e));
		fp_viewer_close(v, "a bad signalling message");
		return;
	}
	if (m.kind == FP_SERVE_SIGNAL_ANSWER)
		fp_media_viewer_answer(v, m.sdp);
	else
		fp_media_viewer_ice(v, m.mline, m.candidate);
	fp_serve_signal_clear(&m);
}

static void ws_closed(SoupWebsocketConnection *ws, gpointer user)
{
	(void)ws;
	fp_viewer_close(user, "its WebSocket closed");
}

static void refuse_ws(struct fp_serve *s, SoupWebsocketConnection *ws, const char *peer,
		      const char *why)
{
	char *text = g_strdup_printf("{\"type\":\"refused\",\"message\":\"%s\"}", why);

	fp_serve_count(s, &s->st.refused, 1);
	fp_warn("serve: %s: viewer refused: %s", peer, why);
	soup_websocket_connection_send_text(ws, text);
	soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, why);
	g_free(text);
}

static int free_slot(struct fp_serve *s)
{
	unsigned n = 0;
	int slot = -1;

	for (unsigned i = 0; i < FP_SERVE_VIEWERS_MAX; i++) {
		if (s->viewer[i])
			n++;
		else if (slot < 0)
			slot = (int)i;
	}
	return n < s->opts.max_viewers ? slot : -1;
}

static struct fp_viewer *viewer_new(struct fp_serve *s, unsigned slot, const char *peer,
				    SoupWebsocketConnection *ws)
{
	struct fp_viewer *v = g_new0(struct fp_viewer, 1);

	atomic_init(&v->ref, 1); /* the slot's */
	v->s = s;
	v->id = s->next_id++;
	v->slot = slot;
	g_strlcpy(v->peer, peer ? peer : "?", sizeof(v->peer));
	v->ws = g_object_ref(ws);
	v->created_ns = v->unconnected_since_ns = fp_now_ns();
	s->viewer[slot] = v;

	g_mutex_lock(&s->lock);
	s->vst_used[slot] = true;
	s->vst[slot] = (struct fp_serve_viewer_stats){ .id = v->id, .rtt_ms = -1.0 };
	g_strlcpy(s->vst[slot].peer, v->peer, sizeof(s->vst[slot].peer));
	s->st.viewers_total++;
	g_mutex_unlock(&s->lock);
	return v;
}

void fp_viewer_join(struct fp_serve *s, SoupServerMessage *msg, SoupWebsocketConnection *ws)
{
	const char *peer = soup_server_message_get_remote_host(msg);
	struct fp_viewer *v;
	char why[64];
	int slot;

	if (s->stopping) {
		soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
		return;
	}
	slot = free_slot(s);
	if (slot < 0) {
		snprintf(why, sizeof(why), "too many viewers (at most %u)", s->opts.max_viewers);
		refuse_ws(s, ws, peer ? peer : "?", why);
		return;
	}
	v = viewer_new(s, (unsigned)slot, peer, ws);
	/* Signalling messages are small; libsoup closes a connection that sends a larger one. */
	g_object_set(ws, "max-incoming-payload-size", (guint64)FP_SERVE_SIGNAL_MSG_MAX, NULL);
	g_signal_connect(ws, "message", G_CALLBACK(ws_message), v);
	g_signal_connect(ws, "closed", G_CALLBACK(ws_closed), v);
	fp_info("serve: viewer %u joined from %s", v->id, v->peer);
	if (fp_media_viewer_start(v) < 0) {
		fp_viewer_send(v, "{\"type\":\"error\",\"message\":\"the server could not start the stream\"}");
		fp_viewer_close(v, "its stream did not start");
	}
}

static gboolean unref_later(gpointer obj)
{
	g_object_unref(obj);
	return G_SOURCE_REMOVE;
}

void fp_viewer_close(struct fp_viewer *v, const char *why)
{
	struct fp_serve *s = v->s;
	GSource *src;

	if (v->closing)
		return;
	v->closing = true;
	fp_info("serve: viewer %u (%s) leaves: %s", v->id, v->peer, why);
	release_held(v);
	s->viewer[v->slot] = NULL;
	g_mutex_lock(&s->lock);
	s->vst_used[v->slot] = false;
	g_mutex_unlock(&s->lock);

	g_signal_handlers_disconnect_by_data(v->ws, v);
	if (soup_websocket_connection_get_state(v->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(v->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	/* Released from the loop, not here: this may run inside the connection's own "closed"
	 * emission, and ours may be its last reference. */
	src = g_idle_source_new();
	g_source_set_callback(src, unref_later, g_steal_pointer(&v->ws), NULL);
	g_source_attach(src, s->ctx);
	g_source_unref(src);
	fp_media_viewer_stop(v);
	fp_viewer_unref(v); /* the slot's */
}
