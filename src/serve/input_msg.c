/* framepush serve — a viewer's data channel message to input events. Pure: the text in,
 * the events (or the class of the refusal) out; tests/serve/test_input_msg.c and
 * fuzz/fuzz_serve_input.c run it alone.
 *
 *   {"t":"auth","token":"<32 hex>"}
 *   {"t":"move","x":0..65535,"y":0..65535}
 *   {"t":"btn","b":0|1|2,"d":1|0}           browser button numbers: 0 left, 1 middle, 2 right
 *   {"t":"wheel","dx":-16..16,"dy":-16..16} detents, not both 0
 *   {"t":"key","code":"KeyA","d":1|0}       KeyboardEvent.code
 *
 * Exactly these members, integers only (no fraction, no exponent, no boolean). */
#include <json-glib/json-glib.h>
#include <string.h>

#include "json_util.h"

const char *fp_serve_msg_error_name(enum fp_serve_msg_error e)
{
	switch (e) {
	case FP_SERVE_MSG_OK:
		return "ok";
	case FP_SERVE_MSG_SIZE:
		return "size";
	case FP_SERVE_MSG_SYNTAX:
		return "syntax";
	case FP_SERVE_MSG_TYPE:
		return "type";
	case FP_SERVE_MSG_RANGE:
		return "range";
	case FP_SERVE_MSG_UNKNOWN:
		return "unknown";
	}
	return "?";
}

JsonObject *fp_serve_json_object(JsonParser *parser, const char *msg, size_t len,
				 size_t max, enum fp_serve_msg_error *err)
{
	JsonNode *root;

	*err = FP_SERVE_MSG_SIZE;
	if (len == 0 || len > max)
		return NULL;
	*err = FP_SERVE_MSG_SYNTAX;
	/* One object, no member an object or array: depth 1. */
	if (!fp_serve_json_shape_ok(msg, len, 1))
		return NULL;
	/* json-glib reads a NUL as the end of the text; a message holding one is malformed. */
	if (memchr(msg, '\0', len))
		return NULL;
	if (!json_parser_load_from_data(parser, msg, (gssize)len, NULL))
		return NULL;
	root = json_parser_get_root(parser);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root))
		return NULL;
	return json_node_get_object(root);
}

enum fp_serve_msg_error fp_serve_json_int(JsonObject *o, const char *name, int64_t min,
					  int64_t max, int64_t *out)
{
	JsonNode *n = json_object_get_member(o, name);

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
		return FP_SERVE_MSG_TYPE;
	*out = json_node_get_int(n);
	return *out < min || *out > max ? FP_SERVE_MSG_RANGE : FP_SERVE_MSG_OK;
}

const char *fp_serve_json_string(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

static enum fp_serve_msg_error parse_auth(JsonObject *o, struct fp_serve_input_msg *out)
{
	const char *t = fp_serve_json_string(o, "token");

	if (!t)
		return FP_SERVE_MSG_TYPE;
	if (strlen(t) != FP_SERVE_TOKEN_HEX)
		return FP_SERVE_MSG_RANGE;
	memcpy(out->token, t, FP_SERVE_TOKEN_HEX + 1);
	out->kind = FP_SERVE_INPUT_AUTH;
	return FP_SERVE_MSG_OK;
}

static enum fp_serve_msg_error parse_move(JsonObject *o, struct fp_serve_input_msg *out)
{
	enum fp_serve_msg_error e;
	int64_t x, y;

	if ((e = fp_serve_json_int(o, "x", 0, FP_INPUT_POS_ONE - 1, &x)) ||
	    (e = fp_serve_json_int(o, "y", 0, FP_INPUT_POS_ONE - 1, &y)))
		return e;
	out->ev[0] = (struct fp_input_event){
		.type = FP_INPUT_MOTION, .x = (uint32_t)x, .y = (uint32_t)y };
	out->n_ev = 1;
	return FP_SERVE_MSG_OK;
}

static enum fp_serve_msg_error parse_btn(JsonObject *o, struct fp_serve_input_msg *out)
{
	/* Indexed by MouseEvent.button. */
	static const uint32_t buttons[] = { FP_BTN_LEFT, FP_BTN_MIDDLE, FP_BTN_RIGHT };
	enum fp_serve_msg_error e;
	int64_t b, d;

	if ((e = fp_serve_json_int(o, "b", 0, 2, &b)) || (e = fp_serve_json_int(o, "d", 0, 1, &d)))
		return e;
	out->ev[0] = (struct fp_input_event){
		.type = FP_INPUT_BUTTON, .code = buttons[b], .value = (int32_t)d };
	out->n_ev = 1;
	return FP_SERVE_MSG_OK;
}

static enum fp_serve_msg_error parse_wheel(JsonObject *o, struct fp_serve_input_msg *out)
{
	enum fp_serve_msg_error e;
	int64_t dx, dy;

	if ((e = fp_serve_json_int(o, "dx", -FP_INPUT_WHEEL_MAX, FP_INPUT_WHEEL_MAX, &dx)) ||
	    (e = fp_serve_json_int(o, "dy", -FP_INPUT_WHEEL_MAX, FP_INPUT_WHEEL_MAX, &dy)))
		return e;
	if (dx == 0 && dy == 0)
		return FP_SERVE_MSG_RANGE;
	out->n_ev = 0;
	if (dy)
		out->ev[out->n_ev++] = (struct fp_input_event){
			.type = FP_INPUT_WHEEL, .code = FP_WHEEL_VERTICAL, .value = (int32_t)dy };
	if (dx)
		out->ev[out->n_ev++] = (struct fp_input_event){
			.type = FP_INPUT_WHEEL, .code = FP_WHEEL_HORIZONTAL, .value = (int32_t)dx };
	return FP_SERVE_MSG_OK;
}

static enum fp_serve_msg_error parse_key(JsonObject *o, struct fp_serve_input_msg *out)
{
	const char *code = fp_serve_json_string(o, "code");
	enum fp_serve_msg_error e;
	uint32_t key;
	int64_t d;

	if (!code)
		return FP_SERVE_MSG_TYPE;
	if ((e = fp_serve_json_int(o, "d", 0, 1, &d)))
		return e;
	key = fp_serve_keymap_lookup(code);
	if (!key)
		return FP_SERVE_MSG_UNKNOWN;
	out->ev[0] = (struct fp_input_event){ .type = FP_INPUT_KEY, .code = key, .value = (int32_t)d };
	out->n_ev = 1;
	return FP_SERVE_MSG_OK;
}

static const struct {
	const char *t;
	unsigned members; /* "t" included: any other member is refused */
	enum fp_serve_msg_error (*parse)(JsonObject *o, struct fp_serve_input_msg *out);
} kinds[] = {
	{ "auth", 2, parse_auth },
	{ "move", 3, parse_move },
	{ "btn", 3, parse_btn },
	{ "wheel", 3, parse_wheel },
	{ "key", 3, parse_key },
};

static enum fp_serve_msg_error parse_object(JsonObject *o, struct fp_serve_input_msg *out)
{
	const char *t = fp_serve_json_string(o, "t");

	if (!t)
		return FP_SERVE_MSG_TYPE;
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
		if (strcmp(t, kinds[i].t) != 0)
			continue;
		if (json_object_get_size(o) != kinds[i].members)
			return FP_SERVE_MSG_TYPE;
		out->kind = FP_SERVE_INPUT_EVENTS;
		return kinds[i].parse(o, out);
	}
	return FP_SERVE_MSG_TYPE;
}

enum fp_serve_msg_error fp_serve_input_parse(const char *msg, size_t len,
					     struct fp_serve_input_msg *out)
{
	JsonParser *parser = json_parser_new_immutable();
	enum fp_serve_msg_error e;
	JsonObject *o;

	memset(out, 0, sizeof(*out));
	o = fp_serve_json_object(parser, msg, len, FP_SERVE_INPUT_MSG_MAX, &e);
	if (o)
		e = parse_object(o, out);
	g_object_unref(parser);
	/* Belt and braces: nothing leaves this function that the display may not receive. */
	for (unsigned i = 0; e == FP_SERVE_MSG_OK && i < out->n_ev; i++)
		if (!fp_input_event_valid(&out->ev[i]))
			e = FP_SERVE_MSG_RANGE;
	if (e != FP_SERVE_MSG_OK)
		memset(out, 0, sizeof(*out));
	return e;
}
