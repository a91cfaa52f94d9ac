/* framepush serve — the pure parts of the server: what a viewer sends, parsed and checked
 * without GStreamer or a socket, so the unit tests and the fuzzers run them alone. */
#ifndef FP_SERVE_MSG_H
#define FP_SERVE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepush/input.h"

/* The session token: FP_SERVE_TOKEN_BYTES random bytes, written as lowercase hex. */
#define FP_SERVE_TOKEN_BYTES 16u
#define FP_SERVE_TOKEN_HEX (2u * FP_SERVE_TOKEN_BYTES)

/* The WebSocket subprotocols: the page offers both, the server selects FP_SERVE_PROTOCOL. */
#define FP_SERVE_PROTOCOL "fp.v1"
#define FP_SERVE_TOKEN_PROTOCOL "fp-token."

/* Largest messages accepted: a data channel input message, a signalling message. */
#define FP_SERVE_INPUT_MSG_MAX 256u
#define FP_SERVE_SIGNAL_MSG_MAX 65536u

/* Fills hex (FP_SERVE_TOKEN_HEX + 1 bytes) from getrandom(2). 0 or -errno. */
int fp_serve_token_new(char hex[FP_SERVE_TOKEN_HEX + 1]);

/* Whether the len bytes at s are the token, in time that does not depend on where they
 * differ (a length mismatch is not secret: every token has the same length). */
bool fp_serve_token_equal(const char *s, size_t len, const char *token);

/* What a Sec-WebSocket-Protocol header presents. */
enum fp_serve_token_check {
	FP_SERVE_TOKEN_OK,
	FP_SERVE_TOKEN_MISSING, /* no header, or no fp-token.* element in it */
	FP_SERVE_TOKEN_WRONG,
};

/* Checks the comma-separated subprotocol list (header may be NULL) for an element
 * "fp-token.<token>". Every element is compared, in constant time each. */
enum fp_serve_token_check fp_serve_token_check_protocols(const char *header, const char *token);

/* Whether the JSON text is one object, white space around it and nothing else, nesting
 * objects and arrays at most max_depth deep (strings skipped, escapes honoured). Checked
 * before json-glib sees the text: its parser recurses once per level (a 64 KiB "[[[[..."
 * would cost a deep stack), and it ignores whatever follows the first value. */
bool fp_serve_json_shape_ok(const char *s, size_t len, unsigned max_depth);

/* KeyboardEvent.code -> evdev key code, or 0 for a code the table does not have. */
uint32_t fp_serve_keymap_lookup(const char *code);

/* The table, for its unit test (sorted by strcmp, no duplicates). */
struct fp_serve_keymap_entry {
	const char *code;
	uint16_t key;
};
const struct fp_serve_keymap_entry *fp_serve_keymap_table(size_t *n);

/* A data channel message, parsed. */
enum fp_serve_input_kind {
	FP_SERVE_INPUT_AUTH = 1, /* token: the presented token (not yet compared) */
	FP_SERVE_INPUT_EVENTS,   /* ev[0 .. n_ev - 1], each fp_input_event_valid */
};

struct fp_serve_input_msg {
	enum fp_serve_input_kind kind;
	char token[FP_SERVE_TOKEN_HEX + 1];
	unsigned n_ev;
	struct fp_input_event ev[2]; /* a wheel message may scroll on both axes */
};

/* Why a message was refused (the unit tests check the class, the log names it). */
enum fp_serve_msg_error {
	FP_SERVE_MSG_OK = 0,
	FP_SERVE_MSG_SIZE,      /* empty or over the size limit */
	FP_SERVE_MSG_SYNTAX,    /* not JSON, not an object, nested too deep */
	FP_SERVE_MSG_TYPE,      /* unknown "t"/"type", missing or extra member, wrong JSON type */
	FP_SERVE_MSG_RANGE,     /* a number out of its range */
	FP_SERVE_MSG_UNKNOWN,   /* a key code or button the tables do not have */
};

const char *fp_serve_msg_error_name(enum fp_serve_msg_error e);

/* Parses one data channel message (len bytes, not NUL-terminated). Pure: no I/O, no state. */
enum fp_serve_msg_error fp_serve_input_parse(const char *msg, size_t len,
					     struct fp_serve_input_msg *out);

/* A signalling message from the browser. sdp and candidate are g_malloc'd (g_free them with
 * fp_serve_signal_clear). */
enum fp_serve_signal_kind {
	FP_SERVE_SIGNAL_ANSWER = 1,
	FP_SERVE_SIGNAL_ICE,
};

struct fp_serve_signal_msg {
	enum fp_serve_signal_kind kind;
	char *sdp;          /* ANSWER */
	char *candidate;    /* ICE: "" is the end-of-candidates marker */
	unsigned mline;     /* ICE: sdpMLineIndex */
};

enum fp_serve_msg_error fp_serve_signal_parse(const char *msg, size_t len,
					      struct fp_serve_signal_msg *out);
void fp_serve_signal_clear(struct fp_serve_signal_msg *m);

#endif
