/* framepush serve — the checks every viewer JSON message shares (input_msg.c, signal_msg.c). */
#ifndef FP_SERVE_JSON_UTIL_H
#define FP_SERVE_JSON_UTIL_H

#include <json-glib/json-glib.h>

#include "msg.h"

/* Parses len bytes (1..max) as one flat JSON object: no member an object or array. NULL
 * with *err set when it is not one; the object belongs to parser. */
JsonObject *fp_serve_json_object(JsonParser *parser, const char *msg, size_t len,
				 size_t max, enum fp_serve_msg_error *err);

/* The integer member name (a JSON integer: no fraction, exponent or boolean) in [min, max]. */
enum fp_serve_msg_error fp_serve_json_int(JsonObject *o, const char *name, int64_t min,
					  int64_t max, int64_t *out);

/* The string member name, or NULL. */
const char *fp_serve_json_string(JsonObject *o, const char *name);

#endif
