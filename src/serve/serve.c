/* framepush serve — the server's thread, its HTTP port (the page, the signalling WebSocket
 * behind the token) and the public API. Media: media.c; a viewer: viewer.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gst/app/gstappsrc.h>

#include "common/log.h"
#include "common/util.h"
#include "serve_private.h"

extern const unsigned char fp_serve_page_index_html[], fp_serve_page_viewer_js[];
extern const size_t fp_serve_page_index_html_len, fp_serve_page_viewer_js_len;

#define DEFAULT_VIEWERS 4u
/* Queued in the pipeline before fp_serve_push drops: a few keyframes of a 1080p stream. */
#define PUSH_QUEUE_BYTES (2u << 20)

/* The TLS files readable: 0 or -errno (fp_serve_create's -ENOENT, fp_serve_check's reason). */
static int check_tls_files(const struct fp_serve_opts *opts, char *err, size_t errlen)
{
	for (int i = 0; opts->tls_cert && opts->tls_key && i < 2; i++) {
		const char *f = i ? opts->tls_key : opts->tls_cert;

		if (access(f, R_OK) < 0) {
			int r = -errno;

			snprintf(err, errlen, "%s '%s': %s", i ? "--tls-key" : "--tls-cert", f,
				 strerror(errno));
			return r;
		}
	}
	return 0;
}

int fp_serve_check(const struct fp_serve_opts *opts, char *err, size_t errlen)
{
	struct fp_serve_listen l;

	if (fp_serve_parse_listen(opts->listen, &l) < 0) {
		snprintf(err, errlen, "--listen '%s': expected ADDR:PORT (numeric IPv4) or "
			 "[ADDR]:PORT (numeric IPv6), port 0..65535", opts->listen);
		return -EINVAL;
	}
	if (opts->max_viewers > FP_SERVE_VIEWERS_MAX) {
		snprintf(err, errlen, "--max-viewers %u: at most %u", opts->max_viewers,
			 FP_SERVE_VIEWERS_MAX);
		return -EINVAL;
	}
	if (!opts->tls_cert != !opts->tls_key) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return -EINVAL;
	}
	return check_tls_files(opts, err, errlen) < 0 ? -EINVAL : 0;
}

/* ---- running things on the serve thread ----------------------------------------------- */

struct invocation {
	struct fp_viewer *v;
	void (*fn)(struct fp_viewer *v, void *data);
	void *data;
	GDestroyNotify free;
};

static gboolean invoke_cb(gpointer p)
{
	struct invocation *inv = p;

	inv->fn(inv->v, inv->data);
	return G_SOURCE_REMOVE;
}

static void invocation_free(gpointer p)
{
	struct invocation *inv = p;

	if (inv->free)
		inv->free(inv->data);
	fp_viewer_unref(inv->v);
	g_free(inv);
}

void fp_serve_invoke(struct fp_viewer *v, void (*fn)(struct fp_viewer *v, void *data),
		     void *data, GDestroyNotify free)
{
	struct invocation *inv = g_new(struct invocation, 1);
	GSource *src = g_idle_source_new();

	/* Always a source, never a direct call (g_main_context_invoke would call fn at once
	 * on the serve thread, inside whatever GStreamer call brought us here). */
	*inv = (struct invocation){ fp_viewer_ref(v), fn, data, free };
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, invoke_cb, inv, invocation_free);
	g_source_attach(src, v->s->ctx);
	g_source_unref(src);
}

void fp_serve_count(struct fp_serve *s, uint64_t *counter, uint64_t n)
{
	g_mutex_lock(&s->lock);
	*counter += n;
	g_mutex_unlock(&s->lock);
}

void fp_serve_request_keyframe(struct fp_serve *s)
{
	fp_serve_count(s, &s->st.keyframes_requested, 1);
	if (s->opts.keyframe)
		s->opts.keyframe(s->opts.user);
}

static gboolean keyframe_cb(gpointer p)
{
	struct fp_serve *s = p;

	atomic_store(&s->keyframe_pending, false);
	if (!s->stopping)
		fp_serve_request_keyframe(s);
	return G_SOURCE_REMOVE;
}

void fp_serve_request_keyframe_async(struct fp_serve *s)
{
	GSource *src;

	/* Requests arriving while one is queued are the same request: one keyframe serves
	 * every viewer (a burst of PLIs from a lossy receiver is one). */
	if (atomic_exchange(&s->keyframe_pending, true))
		return;
	src = g_idle_source_new();
	g_source_set_callback(src, keyframe_cb, s, NULL);
	g_source_attach(src, s->ctx);
	g_source_unref(src);
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static void respond(SoupServerMessage *msg, unsigned status, const char *type,
		    const void *body, size_t len)
{
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);

	soup_server_message_set_status(msg, status, NULL);
	/* The page runs only its own script and talks only to its own origin. */
	soup_message_headers_replace(h, "Content-Security-Policy",
				     "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
				     "connect-src 'self'; media-src 'self' blob:; "
				     "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
	soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
	soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
	soup_message_headers_replace(h, "Cache-Control", "no-store");
	soup_server_message_set_response(msg, type, SOUP_MEMORY_STATIC, body, len);
}

static void http_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
		    GHashTable *query, gpointer user)
{
	const char *method = soup_server_message_get_method(msg);
	static const char not_found[] = "not found\n";

	(void)server, (void)query, (void)user;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "", 0);
		return;
	}
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		respond(msg, SOUP_STATUS_OK, "text/html; charset=utf-8",
			fp_serve_page_index_html, fp_serve_page_index_html_len);
	else if (strcmp(path, "/viewer.js") == 0)
		respond(msg, SOUP_STATUS_OK, "text/javascript; charset=utf-8",
			fp_serve_page_viewer_js, fp_serve_page_viewer_js_len);
	else
		respond(msg, SOUP_STATUS_NOT_FOUND, "text/plain", not_found, sizeof(not_found) - 1);
}

/* Early handlers run when the headers are in, before libsoup reads a body. Nothing here
 * takes one, and libsoup would hold all of it in memory (a 300 MB POST to / took 600 MB
 * before its 405): it is not kept, only drained, and a request announcing one is refused
 * (at once when it asked "Expect: 100-continue", after the drain otherwise). */
static bool refuse_body(SoupServerMessage *msg)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	const char *method = soup_server_message_get_method(msg);
	SoupEncoding enc = soup_message_headers_get_encoding(h);

	soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "", 0);
		return true;
	}
	if (enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF ||
	    (enc == SOUP_ENCODING_CONTENT_LENGTH && soup_message_headers_get_content_length(h))) {
		respond(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "text/plain", "", 0);
		return true;
	}
	return false;
}

static void early_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
		     GHashTable *query, gpointer user)
{
	(void)server, (void)path, (void)query, (void)user;
	refuse_body(msg);
}

/* Runs when /ws's request headers are in, before libsoup answers the upgrade: a request
 * without the token gets a 403 and never becomes a WebSocket. */
static void ws_early_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
			GHashTable *query, gpointer user)
{
	static const char refused[] = "wrong or missing token\n";
	struct fp_serve *s = user;
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	enum fp_serve_token_check c = fp_serve_token_check_protocols(
		soup_message_headers_get_list(h, "Sec-WebSocket-Protocol"), s->token);
	const char *peer = soup_server_message_get_remote_host(msg);

	(void)server, (void)query;
	if (refuse_body(msg))
		return;
	if (strcmp(path, "/ws") != 0) {
		respond(msg, SOUP_STATUS_NOT_FOUND, "text/plain", "", 0);
		return;
	}
	if (c == FP_SERVE_TOKEN_OK)
		return;
	fp_serve_count(s, &s->st.refused, 1);
	fp_warn("serve: %s: WebSocket refused: %s token", peer ? peer : "?",
		c == FP_SERVE_TOKEN_MISSING ? "missing" : "wrong");
	respond(msg, SOUP_STATUS_FORBIDDEN, "text/plain", refused, sizeof(refused) - 1);
}

static void ws_cb(SoupServer *server, SoupServerMessage *msg, const char *path,
		  SoupWebsocketConnection *conn, gpointer user)
{
	(void)server, (void)path;
	fp_viewer_join(user, msg, conn);
}

static int gerror_errno(const GError *e, int fallback)
{
	if (e->domain == G_IO_ERROR) {
		switch (e->code) {
		case G_IO_ERROR_ADDRESS_IN_USE:
			return -EADDRINUSE;
		case G_IO_ERROR_PERMISSION_DENIED:
			return -EACCES;
		case G_IO_ERROR_NOT_FOUND:
			return -ENOENT;
		default:
			break;
		}
	}
	if (e->domain == G_FILE_ERROR) {
		if (e->code == G_FILE_ERROR_NOENT)
			return -ENOENT;
		if (e->code == G_FILE_ERROR_ACCES)
			return -EACCES;
	}
	return fallback;
}

static int make_soup(struct fp_serve *s)
{
	char *protocols[] = { FP_SERVE_PROTOCOL, NULL };
	GTlsCertificate *cert = NULL;
	GError *e = NULL;

	if (s->tls_cert) {
		cert = g_tls_certificate_new_from_files(s->tls_cert, s->tls_key, &e);
		if (!cert) {
			int r = gerror_errno(e, -EINVAL);

			fp_error("serve: TLS certificate %s / key %s: %s", s->tls_cert, s->tls_key,
				 e->message);
			g_error_free(e);
			return r;
		}
	}
	s->soup = soup_server_new("server-header", "framepush", "tls-certificate", cert, NULL);
	g_clear_object(&cert);
	soup_server_add_early_handler(s->soup, NULL, early_cb, s, NULL);
	soup_server_add_early_handler(s->soup, "/ws", ws_early_cb, s, NULL);
	soup_server_add_websocket_handler(s->soup, "/ws", NULL, protocols, ws_cb, s, NULL);
	soup_server_add_handler(s->soup, NULL, http_cb, s, NULL);
	return 0;
}

static int listen_soup(struct fp_serve *s)
{
	GInetAddress *ia = g_inet_address_new_from_string(s->listen.addr);
	GSocketAddress *sa = g_inet_socket_address_new(ia, (guint16)s->listen.port);
	SoupServerListenOptions flags = s->tls_cert ? SOUP_SERVER_LISTEN_HTTPS : 0;
	GError *e = NULL;
	unsigned port = s->listen.port;
	GSList *uris;
	int r = 0;

	if (!soup_server_listen(s->soup, sa, flags, &e)) {
		r = gerror_errno(e, -EIO);
		fp_error("serve: listen on %s port %u: %s", s->listen.addr, s->listen.port,
			 e->message);
		g_error_free(e);
		goto out;
	}
	uris = soup_server_get_uris(s->soup);
	if (uris)
		port = (unsigned)g_uri_get_port(uris->data);
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	if (!s->listen.loopback)
		fp_warn("serve: listening on %s port %u, not loopback: whoever can reach it and has "
			"the URL can watch%s%s", s->listen.addr, port,
			s->opts.view_only ? "" : " and type",
			s->tls_cert ? "" : "; without --tls-cert the token travels in the clear");
	/* The unspecified address is no place to connect to: name the loopback one. */
	snprintf(s->url, sizeof(s->url), "%s://%s%s%s:%u/#token=%s", s->tls_cert ? "https" : "http",
		 s->listen.ipv6 ? "[" : "",
		 s->listen.any ? (s->listen.ipv6 ? "::1" : "127.0.0.1") : s->listen.addr,
		 s->listen.ipv6 ? "]" : "", port, s->token);
out:
	g_object_unref(sa);
	g_object_unref(ia);
	return r;
}

static gboolean tick_cb(gpointer p)
{
	struct fp_serve *s = p;

	for (unsigned i = 0; i < FP_SERVE_VIEWERS_MAX; i++)
		if (s->viewer[i])
			fp_media_viewer_tick(s->viewer[i]);
	return G_SOURCE_CONTINUE;
}

static gpointer thread_main(gpointer p)
{
	struct fp_serve *s = p;

	g_main_context_push_thread_default(s->ctx);
	g_main_loop_run(s->loop);
	g_main_context_pop_thread_default(s->ctx);
	return NULL;
}

/* Everything bound to the context is made with it as the thread default: libsoup and
 * GStreamer's bus watch attach their sources to it. */
static int setup(struct fp_serve *s)
{
	int r;

	if ((r = fp_serve_token_new(s->token)) < 0 || (r = fp_media_create(s)) < 0 ||
	    (r = make_soup(s)) < 0 || (r = listen_soup(s)) < 0)
		return r;
	s->tick = g_timeout_source_new_seconds(1);
	g_source_set_callback(s->tick, tick_cb, s, NULL);
	g_source_attach(s->tick, s->ctx);
	return 0;
}

static void drain(struct fp_serve *s)
{
	while (g_main_context_pending(s->ctx))
		g_main_context_iteration(s->ctx, FALSE);
}

static void teardown(struct fp_serve *s)
{
	if (s->tick) {
		g_source_destroy(s->tick);
		g_source_unref(s->tick);
	}
	if (s->soup) {
		soup_server_disconnect(s->soup);
		g_object_unref(s->soup);
	}
	/* Invocations still queued run (s->stopping makes most of them no-ops) and release
	 * their references: first while the pipeline exists (a branch unlinked just before
	 * the end is still to be removed from it), then for what its teardown queued. */
	drain(s);
	fp_media_destroy(s);
	drain(s);
}

/* Tears the server down on the calling thread (its own has ended, or never started) and
 * frees it: one path for a failed create and for destroy. */
static void free_server(struct fp_serve *s)
{
	g_main_context_push_thread_default(s->ctx);
	teardown(s);
	g_main_context_pop_thread_default(s->ctx);
	g_main_loop_unref(s->loop);
	g_main_context_unref(s->ctx);
	g_mutex_clear(&s->lock);
	g_free(s->tls_key);
	g_free(s->tls_cert);
	explicit_bzero(s->token, sizeof(s->token));
	g_free(s);
}

int fp_serve_create(struct fp_serve **out, const struct fp_serve_opts *opts)
{
	struct fp_serve *s;
	char err[256];
	int r;

	*out = NULL;
	if ((r = fp_serve_check(opts, err, sizeof(err))) < 0) {
		int files = check_tls_files(opts, err, sizeof(err));

		fp_error("serve: %s", err);
		return files < 0 ? files : r;
	}
	s = g_new0(struct fp_serve, 1);
	s->opts = *opts;
	s->tls_cert = g_strdup(opts->tls_cert);
	s->tls_key = g_strdup(opts->tls_key);
	s->opts.tls_cert = s->tls_cert;
	s->opts.tls_key = s->tls_key;
	s->opts.listen = NULL; /* parsed below; the caller's string is not kept */
	if (!s->opts.max_viewers)
		s->opts.max_viewers = DEFAULT_VIEWERS;
	fp_serve_parse_listen(opts->listen, &s->listen);
	g_mutex_init(&s->lock);
	s->next_id = 1;
	s->ctx = g_main_context_new();
	s->loop = g_main_loop_new(s->ctx, FALSE);

	g_main_context_push_thread_default(s->ctx);
	r = setup(s);
	g_main_context_pop_thread_default(s->ctx);
	if (r < 0) {
		s->stopping = true;
		free_server(s);
		return r;
	}
	s->thread = g_thread_new("fp-serve", thread_main, s);
	*out = s;
	return 0;
}

const char *fp_serve_url(const struct fp_serve *s)
{
	return s->url;
}

static bool push_drop(struct fp_serve *s, size_t size, bool keyframe)
{
	guint64 level;

	if (!atomic_load(&s->streaming_viewers)) {
		/* Nobody watches: a viewer that joins asks for a keyframe and starts there. */
		s->wait_keyframe = FP_SERVE_WAIT_QUIET;
		return true;
	}
	if (s->wait_keyframe && !keyframe)
		goto drop;
	level = gst_app_src_get_current_level_bytes(GST_APP_SRC(s->appsrc));
	if (level + size > PUSH_QUEUE_BYTES) {
		/* The frames after a lost one refer to it: drop up to the next keyframe. */
		if (s->wait_keyframe != FP_SERVE_WAIT_DROPPED)
			fp_serve_request_keyframe_async(s);
		s->wait_keyframe = FP_SERVE_WAIT_DROPPED;
		goto drop;
	}
	s->wait_keyframe = FP_SERVE_WAIT_NONE;
	return false;
drop:
	/* Frames nobody was owed (before a joining viewer's first keyframe) are no loss. */
	if (s->wait_keyframe == FP_SERVE_WAIT_DROPPED)
		fp_serve_count(s, &s->st.frames_dropped, 1);
	return true;
}

int fp_serve_push(struct fp_serve *s, const uint8_t *au, size_t size, int64_t pts_us,
		  bool keyframe)
{
	GstBuffer *buf;
	GstFlowReturn fr;

	if (!size)
		return -EINVAL;
	if (push_drop(s, size, keyframe))
		return 0;
	if (!s->have_base) {
		/* Timestamps in the pipeline's running time: pts_us's origin is the caller's. */
		GstClock *clock = gst_element_get_clock(s->pipeline);

		s->rt_base = clock ? gst_clock_get_time(clock) -
					     gst_element_get_base_time(s->pipeline)
				   : 0;
		if (clock)
			gst_object_unref(clock);
		s->pts_base_us = pts_us;
		s->have_base = true;
	}
	buf = gst_buffer_new_memdup(au, size);
	GST_BUFFER_PTS(buf) = s->rt_base + (GstClockTime)(pts_us - s->pts_base_us) * GST_USECOND;
	if (pts_us < s->pts_base_us)
		GST_BUFFER_PTS(buf) = s->rt_base;
	if (!keyframe)
		GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
	fr = gst_app_src_push_buffer(GST_APP_SRC(s->appsrc), buf);
	return fr == GST_FLOW_OK ? 0 : -EPIPE;
}

void fp_serve_stats(struct fp_serve *s, struct fp_serve_stats *st)
{
	unsigned n = 0;

	g_mutex_lock(&s->lock);
	*st = s->st;
	memset(st->viewer, 0, sizeof(st->viewer));
	for (unsigned i = 0; i < FP_SERVE_VIEWERS_MAX; i++)
		if (s->vst_used[i] && s->vst[i].connected)
			st->viewer[n++] = s->vst[i];
	g_mutex_unlock(&s->lock);
	st->viewers = n;
	/* In order of joining: slots are reused, ids are not. */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && st->viewer[j - 1].id > st->viewer[j].id; j--) {
			struct fp_serve_viewer_stats t = st->viewer[j];

			st->viewer[j] = st->viewer[j - 1];
			st->viewer[j - 1] = t;
		}
}

static gboolean shutdown_cb(gpointer p)
{
	struct fp_serve *s = p;

	s->stopping = true;
	/* Streaming stops first, so every branch can be taken apart without pad blocking. */
	gst_element_set_state(s->pipeline, GST_STATE_NULL);
	for (unsigned i = 0; i < FP_SERVE_VIEWERS_MAX; i++)
		if (s->viewer[i])
			fp_viewer_close(s->viewer[i], "the session ended");
	g_main_loop_quit(s->loop);
	return G_SOURCE_REMOVE;
}

void fp_serve_destroy(struct fp_serve *s)
{
	GSource *src;

	if (!s)
		return;
	src = g_idle_source_new();
	g_source_set_callback(src, shutdown_cb, s, NULL);
	g_source_attach(src, s->ctx);
	g_source_unref(src);
	g_thread_join(s->thread);
	free_server(s);
}
