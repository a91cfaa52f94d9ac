/* Fuzz target: what a viewer sends the server. Its data channel messages (input events, the
 * token) and its signalling messages (answer, ICE) are parsed by pure functions
 * (src/serve/msg.h); each input runs through both as it is, and spliced into a template of
 * every message kind (its first byte picks the template, the rest fills the value), so random
 * bytes reach the range and table checks, not only the JSON syntax check. Whatever comes out
 * must be something the display may receive. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fp_fuzz_smoke_verdict(unsigned long inputs);

#define ERRORS (FP_SERVE_MSG_UNKNOWN + 1)
static unsigned long input_count[ERRORS], signal_count[ERRORS];

int fp_fuzz_smoke_verdict(unsigned long inputs)
{
	int ok = 1;

	printf("fuzz smoke: %lu inputs, no crash; input/signal results:", inputs);
	for (int e = 0; e < ERRORS; e++)
		printf(" %s:%lu/%lu", fp_serve_msg_error_name(e), input_count[e], signal_count[e]);
	printf("\n");
	/* A run that never got past one check would prove nothing: every class of input
	 * refusal, and acceptance, must have been reached. */
	for (int e = 0; e < ERRORS; e++)
		if (!input_count[e])
			ok = 0;
	return ok && signal_count[FP_SERVE_MSG_OK] && signal_count[FP_SERVE_MSG_RANGE] ? 0 : 1;
}

static void check_input(const char *s, size_t len)
{
	struct fp_serve_input_msg m;
	enum fp_serve_msg_error e = fp_serve_input_parse(s, len, &m);

	input_count[e]++;
	if (e != FP_SERVE_MSG_OK)
		return;
	if (m.kind == FP_SERVE_INPUT_AUTH) {
		if (strlen(m.token) != FP_SERVE_TOKEN_HEX || m.n_ev)
			abort();
		return;
	}
	if (m.kind != FP_SERVE_INPUT_EVENTS || m.n_ev < 1 || m.n_ev > 2)
		abort();
	for (unsigned i = 0; i < m.n_ev; i++)
		if (!fp_input_event_valid(&m.ev[i]))
			abort();
}

static void check_signal(const char *s, size_t len)
{
	struct fp_serve_signal_msg m;
	enum fp_serve_msg_error e = fp_serve_signal_parse(s, len, &m);

	signal_count[e]++;
	if (e == FP_SERVE_MSG_OK &&
	    !(m.kind == FP_SERVE_SIGNAL_ANSWER ? m.sdp && !m.candidate
					       : m.candidate && !m.sdp && m.mline <= 63))
		abort();
	fp_serve_signal_clear(&m);
}

/* %s: the value, made from the input's bytes by value(). */
static const char *const templates[] = {
	"{\"t\":\"move\",\"x\":%s,\"y\":1}",
	"{\"t\":\"move\",\"x\":7,\"y\":%s}",
	"{\"t\":\"btn\",\"b\":%s,\"d\":1}",
	"{\"t\":\"btn\",\"b\":1,\"d\":%s}",
	"{\"t\":\"wheel\",\"dx\":%s,\"dy\":0}",
	"{\"t\":\"wheel\",\"dx\":0,\"dy\":%s}",
	"{\"t\":\"key\",\"code\":%s,\"d\":1}",
	"{\"t\":\"key\",\"code\":\"KeyA\",\"d\":%s}",
	"{\"t\":\"auth\",\"token\":%s}",
	"{\"t\":%s}",
	"{\"type\":\"ice\",\"candidate\":\"c\",\"sdpMLineIndex\":%s}",
	"{\"type\":\"answer\",\"sdp\":%s}",
	"{\"t\":\"move\",\"x\":1,\"y\":1,%s:1}",
};

/* Names the key table has, near misses of them, and other words the parsers know. */
static const char *const words[] = { "KeyA", "keyA", "ShiftLeft", "Digit9", "F12", "F13",
				      "NumpadEnter", "move", "btn", "wheel", "key", "auth", "x",
				      "00112233445566778899aabbccddeeff", "" };

/* A JSON value from the input: a small or a large integer, a word, a fraction, or the raw
 * bytes (then mostly a syntax error, which is a class too). */
static void value(const uint8_t *p, size_t n, char *out, size_t cap)
{
	int64_t x = 0;

	for (size_t i = 1; i < n && i < 9; i++)
		x = (int64_t)((uint64_t)x << 8 | p[i]);
	switch (n ? p[0] % 6 : 0) {
	case 0:
		snprintf(out, cap, "%lld", (long long)(x % 41 - 20));
		break;
	case 1:
		snprintf(out, cap, "%lld", (long long)(x % 70000 - 2));
		break;
	case 2:
		snprintf(out, cap, "%lld", (long long)x);
		break;
	case 3:
		snprintf(out, cap, "\"%s\"", words[(uint64_t)x % FP_ARRAY_LEN(words)]);
		break;
	case 4:
		snprintf(out, cap, "%lld.5", (long long)(x % 10));
		break;
	default:
		snprintf(out, cap, "%.*s", (int)(n - 1 < 40 ? n - 1 : 40), (const char *)p + 1);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[FP_SERVE_INPUT_MSG_MAX * 2], val[64];
	int n;

	check_input((const char *)data, size);
	check_signal((const char *)data, size);
	if (size < 2)
		return 0;
	value(data + 1, size - 1, val, sizeof(val));
	n = snprintf(buf, sizeof(buf), templates[data[0] % FP_ARRAY_LEN(templates)], val);
	if (n > 0 && (size_t)n < sizeof(buf)) {
		check_input(buf, (size_t)n);
		check_signal(buf, (size_t)n);
	}
	return 0;
}
