/* framepush serve — the media: one shared chain, one branch per viewer.
 *
 *   appsrc -> h264parse -> rtph264pay -> tee -+-> queue (leaky) -> webrtcbin   viewer 1
 *                                             +-> queue (leaky) -> webrtcbin   viewer 2 ...
 *
 * The access units are packetized once; each viewer's queue drops its oldest packets when
 * its webrtcbin falls behind, so a slow viewer never holds the tee (nor fp_serve_push). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gst/app/gstappsrc.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/sdp/sdp.h>
#define GST_USE_UNSTABLE_API /* webrtc's headers ask for it; 1.22's API is what we use */
#include <gst/webrtc/webrtc.h>

#include "common/log.h"
#include "common/util.h"
#include "serve_private.h"

/* The playout-delay RTP header extension (min = max = 0: "render at once"), offered in the
 * SDP under this id and written on every packet by the probe on the tee. */
#define PLAYOUT_DELAY_URI "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
#define PLAYOUT_DELAY_ID 6
/* What a viewer's queue holds before it drops: a keyframe's packets, well under a frame
 * interval of delay on a LAN. */
#define VIEWER_QUEUE_NS (200 * GST_MSECOND)
/* A viewer that has not connected (or lost its connection) this long is removed. */
#define VIEWER_CONNECT_NS (20 * FP_NSEC_PER_SEC)
/* A connected viewer whose receiver reports stopped advancing while packets were sent to it
 * this long is removed: its browser stalled (a stopped process keeps its sockets open, and
 * webrtcbin 1.22 kept a SIGSTOPped Chromium "connected" for as long as we watched). */
#define VIEWER_STALL_NS (10 * FP_NSEC_PER_SEC)

static const char *const needed[][2] = {
	{ "appsrc", "gstreamer1.0-plugins-base" },
	{ "h264parse", "gstreamer1.0-plugins-bad" },
	{ "rtph264pay", "gstreamer1.0-plugins-good" },
	{ "webrtcbin", "gstreamer1.0-plugins-bad" },
	{ "nicesrc", "gstreamer1.0-nice" },
	{ "dtlssrtpenc", "gstreamer1.0-plugins-bad" },
	{ "srtpenc", "gstreamer1.0-plugins-bad" },
	{ "sctpenc", "gstreamer1.0-plugins-bad" },
};

static int gst_ready(void)
{
	GError *e = NULL;

	if (!gst_init_check(NULL, NULL, &e)) {
		fp_error("serve: GStreamer: %s", e ? e->message : "init failed");
		g_clear_error(&e);
		return -EIO;
	}
	for (size_t i = 0; i < FP_ARRAY_LEN(needed); i++) {
		GstElementFactory *f = gst_element_factory_find(needed[i][0]);

		if (!f) {
			fp_error("serve: GStreamer element %s missing (Debian: %s)", needed[i][0],
				 needed[i][1]);
			return -ENOENT;
		}
		gst_object_unref(f);
	}
	return 0;
}

static gboolean add_playout_delay(GstBuffer **buf, guint idx, gpointer user)
{
	static const guint8 zero_delay[3] = { 0, 0, 0 }; /* 12 bits min, 12 bits max: 0, 0 */
	GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;

	(void)idx, (void)user;
	*buf = gst_buffer_make_writable(*buf);
	if (gst_rtp_buffer_map(*buf, GST_MAP_READWRITE, &rtp)) {
		gst_rtp_buffer_add_extension_onebyte_header(&rtp, PLAYOUT_DELAY_ID, zero_delay,
							    sizeof(zero_delay));
		gst_rtp_buffer_unmap(&rtp);
	}
	return TRUE;
}

static GstPadProbeReturn tee_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
	struct fp_serve *s = user;

	(void)pad;
	if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
		add_playout_delay((GstBuffer **)&info->data, 0, NULL);
	} else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
		GstBufferList *l = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));

		gst_buffer_list_foreach(l, add_playout_delay, NULL);
		info->data = l;
	} else if (info->type & GST_PAD_PROBE_TYPE_EVENT_UPSTREAM) {
		/* A receiver's PLI or FIR, as webrtcbin's RTP session turns it into an event. */
		if (gst_event_has_name(GST_PAD_PROBE_INFO_EVENT(info), "GstForceKeyUnit"))
			fp_serve_request_keyframe_async(s);
	}
	return GST_PAD_PROBE_OK;
}

static struct fp_viewer *viewer_of(struct fp_serve *s, GstObject *src)
{
	for (unsigned i = 0; i < FP_SERVE_VIEWERS_MAX; i++) {
		struct fp_viewer *v = s->viewer[i];

		if (v && v->webrtc && gst_object_has_as_ancestor(src, GST_OBJECT(v->webrtc)))
			return v;
	}
	return NULL;
}

static gboolean bus_cb(GstBus *bus, GstMessage *msg, gpointer user)
{
	struct fp_serve *s = user;
	struct fp_viewer *v;
	GError *e = NULL;
	char *dbg = NULL;

	(void)bus;
	if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_ERROR)
		return G_SOURCE_CONTINUE;
	gst_message_parse_error(msg, &e, &dbg);
	v = viewer_of(s, GST_MESSAGE_SRC(msg));
	if (v) {
		/* One viewer's transport failed (ICE, DTLS, SCTP): the others go on. */
		fp_warn("serve: viewer %u (%s): %s", v->id, v->peer, e->message);
		fp_viewer_close(v, "connection error");
	} else {
		fp_error("serve: pipeline: %s: %s (%s)", GST_MESSAGE_SRC_NAME(msg), e->message,
			 dbg ? dbg : "");
	}
	g_error_free(e);
	g_free(dbg);
	return G_SOURCE_CONTINUE;
}

static GstElement *make(const char *factory, const char *name)
{
	GstElement *e = gst_element_factory_make(factory, name);

	if (!e)
		fp_error("serve: cannot make GStreamer element %s", factory);
	return e;
}

static int build_chain(struct fp_serve *s)
{
	GstElement *src = make("appsrc", "src"), *parse = make("h264parse", "parse"),
		   *pay = make("rtph264pay", "pay"), *tee = make("tee", "tee");
	GstCaps *caps;

	if (!src || !parse || !pay || !tee) {
		gst_clear_object(&src);
		gst_clear_object(&parse);
		gst_clear_object(&pay);
		gst_clear_object(&tee);
		return -ENOENT;
	}
	caps = gst_caps_from_string("video/x-h264,stream-format=byte-stream,alignment=au");
	g_object_set(src, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE,
		     "block", FALSE, "max-bytes", (guint64)(4u << 20), "caps", caps, NULL);
	gst_caps_unref(caps);
	g_object_set(parse, "config-interval", -1, NULL);
	g_object_set(pay, "config-interval", -1, "aggregate-mode", 1 /* zero-latency */,
		     "pt", 96, NULL);
	g_object_set(tee, "allow-not-linked", TRUE, NULL);
	gst_bin_add_many(GST_BIN(s->pipeline), src, parse, pay, tee, NULL);
	if (!gst_element_link_many(src, parse, pay, tee, NULL)) {
		fp_error("serve: cannot link appsrc ! h264parse ! rtph264pay ! tee");
		return -EIO;
	}
	s->appsrc = src;
	s->tee = tee;
	return 0;
}

int fp_media_create(struct fp_serve *s)
{
	GstPad *tee_sink;
	GstBus *bus;
	int r;

	if ((r = gst_ready()) < 0)
		return r;
	s->pipeline = gst_object_ref_sink(gst_pipeline_new("fp-serve"));
	if ((r = build_chain(s)) < 0)
		return r;
	tee_sink = gst_element_get_static_pad(s->tee, "sink");
	gst_pad_add_probe(tee_sink,
			  GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
				  GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
			  tee_probe, s, NULL);
	gst_object_unref(tee_sink);
	bus = gst_element_get_bus(s->pipeline);
	s->bus_watch = gst_bus_create_watch(bus);
	g_source_set_callback(s->bus_watch, G_SOURCE_FUNC(bus_cb), s, NULL);
	g_source_attach(s->bus_watch, s->ctx);
	gst_object_unref(bus);
	if (gst_element_set_state(s->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		fp_error("serve: the pipeline does not start");
		return -EIO;
	}
	return 0;
}

void fp_media_destroy(struct fp_serve *s)
{
	if (s->bus_watch) {
		g_source_destroy(s->bus_watch);
		g_source_unref(s->bus_watch);
		s->bus_watch = NULL;
	}
	if (s->pipeline) {
		gst_element_set_state(s->pipeline, GST_STATE_NULL);
		gst_object_unref(s->pipeline);
		s->pipeline = NULL;
	}
}

/* ---- one viewer's branch --------------------------------------------------------------- */

struct ice {
	unsigned mline;
	char *candidate;
};

static void ice_free(gpointer p)
{
	struct ice *c = p;

	g_free(c->candidate);
	g_free(c);
}

static void send_ice(struct fp_viewer *v, void *data)
{
	struct ice *c = data;

	fp_viewer_send_signal(v, "ice", "candidate", c->candidate, (int)c->mline);
}

/* webrtcbin's thread. */
static void on_ice_candidate(GstElement *webrtc, guint mline, gchar *candidate, gpointer user)
{
	struct ice *c = g_new(struct ice, 1);

	(void)webrtc;
	c->mline = mline;
	c->candidate = g_strdup(candidate);
	fp_serve_invoke(user, send_ice, c, ice_free);
}

static void connection_changed(struct fp_viewer *v, void *data)
{
	GstWebRTCPeerConnectionState st = GPOINTER_TO_INT(data);

	if (st == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED)
		fp_viewer_close(v, "ICE or DTLS failed");
	else
		fp_viewer_set_connected(v, st == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED);
}

/* webrtcbin's thread. */
static void on_connection_state(GObject *webrtc, GParamSpec *pspec, gpointer user)
{
	GstWebRTCPeerConnectionState st;

	(void)pspec;
	g_object_get(webrtc, "connection-state", &st, NULL);
	fp_serve_invoke(user, connection_changed, GINT_TO_POINTER(st), NULL);
}

/* The SDP webrtcbin made, plus what it does not write: the bitrate cap (b=AS) and the
 * playout-delay extension. */
static bool extmap_has_id(const char *value, const char *id)
{
	size_t n = strlen(id);

	/* "ID URI" or "ID/DIRECTION URI" */
	return value && strncmp(value, id, n) == 0 && (value[n] == ' ' || value[n] == '/');
}

/* Adds to the offer; false when it has no video to amend (then it is no use). */
static bool amend_offer(struct fp_viewer *v, GstSDPMessage *sdp)
{
	bool video = false;

	char ext[128], id[8];

	snprintf(id, sizeof(id), "%d", PLAYOUT_DELAY_ID);
	snprintf(ext, sizeof(ext), "%s %s", id, PLAYOUT_DELAY_URI);
	for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
		GstSDPMedia *m = (GstSDPMedia *)gst_sdp_message_get_media(sdp, i);
		bool taken = false;

		if (g_strcmp0(gst_sdp_media_get_media(m), "video") != 0)
			continue;
		video = true;
		for (guint a = 0; a < gst_sdp_media_attributes_len(m); a++) {
			const GstSDPAttribute *at = gst_sdp_media_get_attribute(m, a);

			if (g_strcmp0(at->key, "extmap") == 0 && extmap_has_id(at->value, id))
				taken = true;
		}
		if (taken)
			fp_warn("serve: viewer %u: extmap id %d taken, no playout-delay", v->id,
				PLAYOUT_DELAY_ID);
		else
			gst_sdp_media_add_attribute(m, "extmap", ext);
		if (v->s->opts.bitrate_kbps)
			gst_sdp_media_add_bandwidth(m, "AS", v->s->opts.bitrate_kbps);
	}
	return video;
}

static void close_cb(struct fp_viewer *v, void *why)
{
	fp_viewer_close(v, why);
}

static void send_offer(struct fp_viewer *v, void *data)
{
	fp_viewer_send_signal(v, "offer", "sdp", data, -1);
}

/* webrtcbin's thread. */
static void on_offer(GstPromise *promise, gpointer user)
{
	struct fp_viewer *v = user;
	GstWebRTCSessionDescription *offer = NULL;
	const GstStructure *reply;

	if (gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED &&
	    (reply = gst_promise_get_reply(promise)))
		gst_structure_get(reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, NULL);
	gst_promise_unref(promise);
	if (!offer) {
		fp_serve_invoke(v, close_cb, "webrtcbin made no offer", NULL);
		return;
	}
	if (!amend_offer(v, offer->sdp)) {
		gst_webrtc_session_description_free(offer);
		fp_serve_invoke(v, close_cb, "webrtcbin made an offer without video", NULL);
		return;
	}
	/* Queued before the local description is set, so before any candidate it yields. */
	fp_serve_invoke(v, send_offer, gst_sdp_message_as_text(offer->sdp), g_free);
	g_signal_emit_by_name(v->webrtc, "set-local-description", offer, NULL);
	gst_webrtc_session_description_free(offer);
}

static void make_offer(struct fp_viewer *v, void *data)
{
	(void)data;
	if (v->closing || v->offered)
		return;
	v->offered = true;
	g_signal_emit_by_name(v->webrtc, "create-offer", NULL,
			      gst_promise_new_with_change_func(on_offer, fp_viewer_ref(v),
							       fp_viewer_unref_notify));
}

/* A streaming thread (the queue's): the stream's events reach this viewer's webrtcbin, and
 * the segment comes after the caps, so webrtcbin has them (it writes the offer's video line,
 * profile-level-id included, from them). A probe sees an event before its pad handles it:
 * the caps themselves would be too early. */
static GstPadProbeReturn segment_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
	(void)pad;
	if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) != GST_EVENT_SEGMENT)
		return GST_PAD_PROBE_OK;
	fp_serve_invoke(user, make_offer, NULL, NULL);
	return GST_PAD_PROBE_REMOVE;
}

/* The tee's thread: packets enter the branch only once the viewer is connected. Before
 * that webrtcbin holds one at its blocked pad while the queue drops the ones behind it, and
 * the receiver would start on a stale packet and a gap: a loss to report, a keyframe to ask
 * for. The events (caps) pass: the offer needs them. */
static GstPadProbeReturn gate_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
	struct fp_viewer *v = user;

	(void)pad, (void)info;
	return atomic_load(&v->flowing) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

/* Data channel callbacks: its SCTP thread. */
static void on_dc_string(GObject *dc, gchar *str, gpointer user)
{
	(void)dc;
	fp_viewer_input(user, str, str ? strlen(str) : 0);
}

static void on_dc_data(GObject *dc, GBytes *data, gpointer user)
{
	(void)dc, (void)data;
	fp_viewer_input_refused(user); /* binary: never valid input */
}

static int make_data_channel(struct fp_viewer *v)
{
	GstWebRTCDataChannel *dc = NULL;

	/* Made by the server before the offer, so the offer carries the SCTP m-line and the
	 * browser only has to accept it. */
	g_signal_emit_by_name(v->webrtc, "create-data-channel", "input", NULL, &dc);
	if (!dc) {
		fp_error("serve: viewer %u: webrtcbin made no data channel", v->id);
		return -EIO;
	}
	v->dc = G_OBJECT(dc);
	g_signal_connect_data(dc, "on-message-string", G_CALLBACK(on_dc_string), fp_viewer_ref(v),
			      fp_viewer_closure_notify, 0);
	g_signal_connect_data(dc, "on-message-data", G_CALLBACK(on_dc_data), fp_viewer_ref(v),
			      fp_viewer_closure_notify, 0);
	return 0;
}

static int make_branch(struct fp_viewer *v)
{
	struct fp_serve *s = v->s;
	GstPad *qsrc, *qsink, *wsink;
	GObject *trans = NULL;
	GstPadLinkReturn lr;

	v->queue = gst_object_ref_sink(make("queue", NULL));
	v->webrtc = gst_object_ref_sink(make("webrtcbin", NULL));
	g_object_set(v->queue, "leaky", 2 /* downstream: drop the oldest */, "max-size-buffers", 0,
		     "max-size-bytes", 0, "max-size-time", (guint64)VIEWER_QUEUE_NS, NULL);
	/* No STUN or TURN: host candidates (and peer-reflexive ones, which is how a browser's
	 * mDNS-hidden address still connects) are what a LAN needs. */
	g_object_set(v->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, "latency", 0,
		     NULL);
	g_signal_connect_data(v->webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate),
			      fp_viewer_ref(v), fp_viewer_closure_notify, 0);
	g_signal_connect_data(v->webrtc, "notify::connection-state",
			      G_CALLBACK(on_connection_state), fp_viewer_ref(v),
			      fp_viewer_closure_notify, 0);
	gst_bin_add_many(GST_BIN(s->pipeline), v->queue, v->webrtc, NULL); /* the bin adds a ref */

	wsink = gst_element_request_pad_simple(v->webrtc, "sink_%u");
	qsrc = gst_element_get_static_pad(v->queue, "src");
	lr = gst_pad_link(qsrc, wsink);
	g_object_get(wsink, "transceiver", &trans, NULL);
	if (trans)
		g_object_set(trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
	g_clear_object(&trans);
	gst_pad_add_probe(qsrc, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, segment_probe,
			  fp_viewer_ref(v), fp_viewer_unref_notify);
	gst_object_unref(qsrc);
	gst_object_unref(wsink);
	if (lr != GST_PAD_LINK_OK) {
		fp_error("serve: viewer %u: cannot link its queue to webrtcbin", v->id);
		return -EIO;
	}
	gst_element_sync_state_with_parent(v->webrtc);
	gst_element_sync_state_with_parent(v->queue);
	if (make_data_channel(v) < 0)
		return -EIO;

	/* Last: from here on the stream flows into the branch. */
	v->tee_pad = gst_element_request_pad_simple(s->tee, "src_%u");
	qsink = gst_element_get_static_pad(v->queue, "sink");
	gst_pad_add_probe(qsink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
			  gate_probe, fp_viewer_ref(v), fp_viewer_unref_notify);
	lr = gst_pad_link(v->tee_pad, qsink);
	gst_object_unref(qsink);
	if (lr != GST_PAD_LINK_OK) {
		fp_error("serve: viewer %u: cannot link the tee to its queue", v->id);
		return -EIO;
	}
	return 0;
}

int fp_media_viewer_start(struct fp_viewer *v)
{
	int r = make_branch(v);

	if (r < 0)
		return r;
	atomic_fetch_add(&v->s->streaming_viewers, 1);
	v->streaming = true;
	/* The stream starts at a keyframe for the newcomer (its caps, hence the offer, come
	 * with the parameter sets in front of it). */
	fp_serve_request_keyframe(v->s);
	return 0;
}

/* The serve thread: the branch is unlinked; take it out of the pipeline. */
static void finish_stop(struct fp_viewer *v, void *data)
{
	struct fp_serve *s = v->s;

	(void)data;
	if (v->tee_pad) {
		gst_element_release_request_pad(s->tee, v->tee_pad);
		gst_clear_object(&v->tee_pad);
	}
	gst_element_set_state(v->webrtc, GST_STATE_NULL);
	gst_element_set_state(v->queue, GST_STATE_NULL);
	gst_bin_remove_many(GST_BIN(s->pipeline), v->queue, v->webrtc, NULL);
}

/* The thread streaming into the tee pad, between two buffers (or the caller's, at once,
 * when nothing flows). */
static GstPadProbeReturn unlink_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
	struct fp_viewer *v = user;
	GstPad *peer = gst_pad_get_peer(pad);

	(void)info;
	if (peer) {
		gst_pad_unlink(pad, peer);
		gst_object_unref(peer);
	}
	fp_serve_invoke(v, finish_stop, NULL, NULL);
	return GST_PAD_PROBE_REMOVE;
}

void fp_media_viewer_stop(struct fp_viewer *v)
{
	if (!v->webrtc)
		return;
	if (v->streaming)
		atomic_fetch_sub(&v->s->streaming_viewers, 1);
	v->streaming = false;
	/* Its callbacks stop here (each held a reference on v). */
	g_signal_handlers_disconnect_by_data(v->webrtc, v);
	if (v->dc)
		g_signal_handlers_disconnect_by_data(v->dc, v);
	if (v->s->stopping || !v->tee_pad)
		finish_stop(v, NULL);
	else
		gst_pad_add_probe(v->tee_pad, GST_PAD_PROBE_TYPE_IDLE, unlink_probe, fp_viewer_ref(v),
				  fp_viewer_unref_notify);
}

void fp_media_viewer_answer(struct fp_viewer *v, const char *sdp)
{
	GstWebRTCSessionDescription *answer;
	GstSDPMessage *msg = NULL;

	if (gst_sdp_message_new_from_text(sdp, &msg) != GST_SDP_OK || !msg) {
		if (msg)
			gst_sdp_message_free(msg);
		fp_viewer_close(v, "an answer that is not SDP");
		return;
	}
	answer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, msg);
	g_signal_emit_by_name(v->webrtc, "set-remote-description", answer, NULL);
	gst_webrtc_session_description_free(answer);
}

void fp_media_viewer_ice(struct fp_viewer *v, unsigned mline, const char *candidate)
{
	/* "" marks the end of the browser's candidates; webrtcbin needs no such mark. */
	if (candidate[0])
		g_signal_emit_by_name(v->webrtc, "add-ice-candidate", mline, candidate);
}

/* ---- statistics ------------------------------------------------------------------------ */

static bool number(const GstStructure *st, const char *field, double *out)
{
	const GValue *val = gst_structure_get_value(st, field);
	GValue d = G_VALUE_INIT;

	if (!val || !g_value_type_transformable(G_VALUE_TYPE(val), G_TYPE_DOUBLE))
		return false;
	g_value_init(&d, G_TYPE_DOUBLE);
	g_value_transform(val, &d);
	*out = g_value_get_double(&d);
	g_value_unset(&d);
	return true;
}

struct rtp_numbers {
	double bytes_sent, rtt_s, fraction_lost, packets_lost, rb_seq;
	bool have_bytes, have_rtt, have_loss, have_rb_seq;
};

static gboolean stats_field(GQuark field, const GValue *val, gpointer user)
{
	struct rtp_numbers *n = user;
	GstWebRTCStatsType type;
	const GstStructure *st;
	GstStructure *src;
	double x;

	(void)field;
	if (!GST_VALUE_HOLDS_STRUCTURE(val))
		return TRUE;
	st = gst_value_get_structure(val);
	if (!gst_structure_get_enum(st, "type", GST_TYPE_WEBRTC_STATS_TYPE, (gint *)&type))
		return TRUE;
	if (type == GST_WEBRTC_STATS_OUTBOUND_RTP && number(st, "bytes-sent", &x)) {
		n->bytes_sent += x;
		n->have_bytes = true;
	} else if (type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP) {
		n->have_rtt |= number(st, "round-trip-time", &n->rtt_s);
		n->have_loss |= number(st, "fraction-lost", &n->fraction_lost);
		number(st, "packets-lost", &n->packets_lost);
		/* The receiver's report block: the highest sequence number it has seen. */
		if (gst_structure_get(st, "gst-rtpsource-stats", GST_TYPE_STRUCTURE, &src, NULL)) {
			n->have_rb_seq |= number(src, "rb-exthighestseq", &n->rb_seq);
			gst_structure_free(src);
		}
	}
	return TRUE;
}

/* webrtcbin's thread. */
static void on_stats(GstPromise *promise, gpointer user)
{
	struct fp_viewer *v = user;
	struct fp_serve *s = v->s;
	struct rtp_numbers n = { 0 };
	const GstStructure *reply = NULL;
	int64_t now = fp_now_ns();

	if (gst_promise_wait(promise) == GST_PROMISE_RESULT_REPLIED)
		reply = gst_promise_get_reply(promise);
	if (reply)
		gst_structure_foreach(reply, stats_field, &n);
	gst_promise_unref(promise);

	g_mutex_lock(&s->lock);
	if (s->vst_used[v->slot] && s->vst[v->slot].id == v->id) {
		struct fp_serve_viewer_stats *vs = &s->vst[v->slot];

		if (n.have_bytes && v->last_bytes_ns && now > v->last_bytes_ns &&
		    n.bytes_sent >= (double)v->last_bytes)
			vs->bitrate_kbps = (n.bytes_sent - (double)v->last_bytes) * 8.0 * 1e6 /
					   (double)(now - v->last_bytes_ns);
		if (n.have_bytes) {
			v->last_bytes = (uint64_t)n.bytes_sent;
			v->last_bytes_ns = now;
		}
		if (n.have_rtt)
			vs->rtt_ms = n.rtt_s * 1000.0;
		if (n.have_rb_seq && n.rb_seq != v->rb_seq) {
			v->rb_seq = n.rb_seq;
			v->rb_seq_ns = now;
			v->rb_seq_bytes = v->last_bytes;
		}
		if (n.have_loss) {
			/* 0..1 as the stats report it; an RTCP-style 0..255 would be scaled. */
			vs->loss = n.fraction_lost > 1.0 ? n.fraction_lost / 256.0 : n.fraction_lost;
			vs->packets_lost = n.packets_lost > 0 ? (uint64_t)n.packets_lost : 0;
		}
	}
	g_mutex_unlock(&s->lock);
}

static bool stalled(struct fp_viewer *v, int64_t now)
{
	bool r;

	g_mutex_lock(&v->s->lock);
	r = v->rb_seq_ns && now - v->rb_seq_ns > VIEWER_STALL_NS &&
	    v->last_bytes > v->rb_seq_bytes;
	g_mutex_unlock(&v->s->lock);
	return r;
}

void fp_media_viewer_tick(struct fp_viewer *v)
{
	int64_t now = fp_now_ns();

	if (v->closing)
		return;
	if (v->connected && stalled(v, now)) {
		fp_viewer_close(v, "no receiver report for 10 s while sending");
		return;
	}
	if (!v->connected) {
		/* Never connected, or lost its connection and did not get it back. */
		if (now - v->unconnected_since_ns > VIEWER_CONNECT_NS)
			fp_viewer_close(v, "no connection for 20 s");
		return;
	}
	g_signal_emit_by_name(v->webrtc, "get-stats", NULL,
			      gst_promise_new_with_change_func(on_stats, fp_viewer_ref(v),
							       fp_viewer_unref_notify));
}
