/* framepush serve — a viewer's signalling message (its WebSocket), parsed. Pure, like
 * input_msg.c; fuzz/fuzz_serve_input.c runs both.
 *
 *   {"type":"answer","sdp":"..."}
 *   {"type":"ice","candidate":"...","sdpMLineIndex":0..63}   candidate "" ends the candidates */
#include <json-glib/json-glib.h>
#include <string.h>

#include "json_util.h"

/* Far more m-lines than the server ever offers (two), far fewer than would matter. */
#define MLINE_MAX 63

static enum fp_serve_msg_error parse_object(JsonObject *o, struct fp_serve_signal_msg *out)
{
	const char *type = fp_serve_json_string(o, "type");
	enum fp_serve_msg_error e;
	const char *s;
	int64_t m;

	if (!type)
		return FP_SERVE_MSG_TYPE;
	if (strcmp(type, "answer") == 0) {
		if (json_object_get_size(o) != 2 || !(s = fp_serve_json_string(o, "sdp")))
			return FP_SERVE_MSG_TYPE;
		out->kind = FP_SERVE_SIGNAL_ANSWER;
		out->sdp = g_strdup(s);
		return FP_SERVE_MSG_OK;
	}
	if (strcmp(type, "ice") == 0) {
		if (json_object_get_size(o) != 3 || !(s = fp_serve_json_string(o, "candidate")))
			return FP_SERVE_MSG_TYPE;
		if ((e = fp_serve_json_int(o, "sdpMLineIndex", 0, MLINE_MAX, &m)))
			return e;
		out->kind = FP_SERVE_SIGNAL_ICE;
		out->candidate = g_strdup(s);
		out->mline = (unsigned)m;
		return FP_SERVE_MSG_OK;
	}
	return FP_SERVE_MSG_TYPE;
}

enum fp_serve_msg_error fp_serve_signal_parse(const char *msg, size_t len,
					      struct fp_serve_signal_msg *out)
{
	JsonParser *parser = json_parser_new_immutable();
	enum fp_serve_msg_error e;
	JsonObject *o;

	memset(out, 0, sizeof(*out));
	o = fp_serve_json_object(parser, msg, len, FP_SERVE_SIGNAL_MSG_MAX, &e);
	if (o)
		e = parse_object(o, out);
	g_object_unref(parser);
	if (e != FP_SERVE_MSG_OK)
		fp_serve_signal_clear(out);
	return e;
}

void fp_serve_signal_clear(struct fp_serve_signal_msg *m)
{
	g_free(m->sdp);
	g_free(m->candidate);
	memset(m, 0, sizeof(*m));
}
