/* A viewer's data channel and signalling messages (src/serve/input_msg.c, signal_msg.c):
 * every kind parsed to the events the display receives, and every class of refusal. */
#include <linux/input-event-codes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "msg.h"

static enum fp_serve_msg_error parse(const char *s, struct fp_serve_input_msg *m)
{
	return fp_serve_input_parse(s, strlen(s), m);
}

static void expect_refused(const char *s, enum fp_serve_msg_error want)
{
	struct fp_serve_input_msg m;
	enum fp_serve_msg_error e = parse(s, &m);

	if (e != want)
		fail_msg("'%s': %s, expected %s", s, fp_serve_msg_error_name(e),
			 fp_serve_msg_error_name(want));
	assert_int_equal(m.n_ev, 0);
}

static void move(void **state)
{
	struct fp_serve_input_msg m;

	(void)state;
	assert_int_equal(parse("{\"t\":\"move\",\"x\":0,\"y\":65535}", &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.kind, FP_SERVE_INPUT_EVENTS);
	assert_int_equal(m.n_ev, 1);
	assert_int_equal(m.ev[0].type, FP_INPUT_MOTION);
	assert_int_equal(m.ev[0].x, 0);
	assert_int_equal(m.ev[0].y, 65535);
	/* Member order and white space are JSON's business. */
	assert_int_equal(parse(" { \"y\" : 7 , \"x\" : 9 , \"t\" : \"move\" } ", &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.ev[0].x, 9);
	assert_int_equal(m.ev[0].y, 7);
}

static void buttons(void **state)
{
	static const struct { int b; uint32_t code; } map[] = {
		{ 0, FP_BTN_LEFT }, { 1, FP_BTN_MIDDLE }, { 2, FP_BTN_RIGHT } };
	struct fp_serve_input_msg m;
	char s[64];

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(map); i++)
		for (int d = 0; d <= 1; d++) {
			snprintf(s, sizeof(s), "{\"t\":\"btn\",\"b\":%d,\"d\":%d}", map[i].b, d);
			assert_int_equal(parse(s, &m), FP_SERVE_MSG_OK);
			assert_int_equal(m.ev[0].type, FP_INPUT_BUTTON);
			assert_int_equal(m.ev[0].code, map[i].code);
			assert_int_equal(m.ev[0].value, d);
		}
}

static void wheel(void **state)
{
	struct fp_serve_input_msg m;

	(void)state;
	assert_int_equal(parse("{\"t\":\"wheel\",\"dx\":0,\"dy\":-3}", &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.n_ev, 1);
	assert_int_equal(m.ev[0].type, FP_INPUT_WHEEL);
	assert_int_equal(m.ev[0].code, FP_WHEEL_VERTICAL);
	assert_int_equal(m.ev[0].value, -3);
	/* Both axes at once: two events, vertical first. */
	assert_int_equal(parse("{\"t\":\"wheel\",\"dx\":16,\"dy\":1}", &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.n_ev, 2);
	assert_int_equal(m.ev[1].code, FP_WHEEL_HORIZONTAL);
	assert_int_equal(m.ev[1].value, 16);
}

static void keys(void **state)
{
	struct fp_serve_input_msg m;

	(void)state;
	assert_int_equal(parse("{\"t\":\"key\",\"code\":\"KeyA\",\"d\":1}", &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.ev[0].type, FP_INPUT_KEY);
	assert_int_equal(m.ev[0].code, KEY_A);
	assert_int_equal(m.ev[0].value, 1);
	assert_int_equal(parse("{\"t\":\"key\",\"code\":\"ShiftLeft\",\"d\":0}", &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.ev[0].code, KEY_LEFTSHIFT);
	assert_int_equal(m.ev[0].value, 0);
}

static void auth(void **state)
{
	static const char tok[] = "0123456789abcdef0123456789abcdef";
	struct fp_serve_input_msg m;
	char s[128];

	(void)state;
	snprintf(s, sizeof(s), "{\"t\":\"auth\",\"token\":\"%s\"}", tok);
	assert_int_equal(parse(s, &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.kind, FP_SERVE_INPUT_AUTH);
	assert_string_equal(m.token, tok);
	assert_int_equal(m.n_ev, 0);
	expect_refused("{\"t\":\"auth\",\"token\":\"0123\"}", FP_SERVE_MSG_RANGE);
	expect_refused("{\"t\":\"auth\",\"token\":5}", FP_SERVE_MSG_TYPE);
	expect_refused("{\"t\":\"auth\"}", FP_SERVE_MSG_TYPE);
}

static void refused_size(void **state)
{
	struct fp_serve_input_msg m;
	char big[FP_SERVE_INPUT_MSG_MAX + 2];

	(void)state;
	assert_int_equal(fp_serve_input_parse("", 0, &m), FP_SERVE_MSG_SIZE);
	/* A valid message padded past the limit is refused for its size alone. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"t\":\"move\",\"x\":1,\"y\":1}", 24);
	assert_int_equal(fp_serve_input_parse(big, FP_SERVE_INPUT_MSG_MAX, &m), FP_SERVE_MSG_OK);
	assert_int_equal(fp_serve_input_parse(big, FP_SERVE_INPUT_MSG_MAX + 1, &m),
			 FP_SERVE_MSG_SIZE);
}

static void refused_syntax(void **state)
{
	static const char *const bad[] = {
		"{", "nope", "[]", "\"move\"", "42", "null",
		"{\"t\":\"move\",\"x\":1,\"y\":{\"z\":1}}",  /* nesting */
		"{\"t\":\"move\",\"x\":[1],\"y\":1}",
		"[{\"t\":\"move\",\"x\":1,\"y\":1}]",
		"{\"t\":\"move\",\"x\":1,\"y\":1}{\"t\":\"move\",\"x\":1,\"y\":1}",
		"{\"t\":\"move\",\"x\":1,\"y\":1} junk",
		"{\"t\":\"move\",\"x\":1,\"y\":1}}",
	};

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++)
		expect_refused(bad[i], FP_SERVE_MSG_SYNTAX);
	/* An embedded NUL: json-glib would stop there and see a valid message. */
	struct fp_serve_input_msg m;
	static const char nul[] = "{\"t\":\"move\",\"x\":1,\"y\":1}\0junk";
	assert_int_equal(fp_serve_input_parse(nul, sizeof(nul) - 1, &m), FP_SERVE_MSG_SYNTAX);
}

static void refused_type(void **state)
{
	static const char *const bad[] = {
		"{}", "{\"t\":1}", "{\"t\":\"jump\"}", "{\"x\":1,\"y\":1}",
		"{\"t\":\"move\",\"x\":1}",                       /* missing */
		"{\"t\":\"move\",\"x\":1,\"y\":1,\"z\":1}",         /* extra */
		"{\"t\":\"move\",\"x\":1.5,\"y\":1}",               /* fraction */
		"{\"t\":\"move\",\"x\":1e2,\"y\":1}",               /* exponent */
		"{\"t\":\"move\",\"x\":\"1\",\"y\":1}",             /* string */
		"{\"t\":\"move\",\"x\":true,\"y\":1}",              /* boolean */
		"{\"t\":\"move\",\"x\":null,\"y\":1}",
		"{\"t\":\"btn\",\"b\":0,\"d\":false}",
		"{\"t\":\"key\",\"code\":65,\"d\":1}",
		"{\"t\":\"wheel\",\"dy\":1}",
		"{\"t\":\"MOVE\",\"x\":1,\"y\":1}",
	};

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++)
		expect_refused(bad[i], FP_SERVE_MSG_TYPE);
}

static void refused_range(void **state)
{
	static const char *const bad[] = {
		"{\"t\":\"move\",\"x\":65536,\"y\":1}",
		"{\"t\":\"move\",\"x\":-1,\"y\":1}",
		"{\"t\":\"move\",\"x\":1,\"y\":99999999999999999999999}",
		"{\"t\":\"btn\",\"b\":3,\"d\":1}",
		"{\"t\":\"btn\",\"b\":-1,\"d\":1}",
		"{\"t\":\"btn\",\"b\":0,\"d\":2}",
		"{\"t\":\"key\",\"code\":\"KeyA\",\"d\":-1}",
		"{\"t\":\"wheel\",\"dx\":0,\"dy\":0}",
		"{\"t\":\"wheel\",\"dx\":0,\"dy\":17}",
		"{\"t\":\"wheel\",\"dx\":-17,\"dy\":0}",
	};

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++)
		expect_refused(bad[i], FP_SERVE_MSG_RANGE);
}

static void refused_unknown(void **state)
{
	static const char *const bad[] = {
		"{\"t\":\"key\",\"code\":\"KeyÄ\",\"d\":1}",
		"{\"t\":\"key\",\"code\":\"\",\"d\":1}",
		"{\"t\":\"key\",\"code\":\"keya\",\"d\":1}",
		"{\"t\":\"key\",\"code\":\"F13\",\"d\":1}",
		"{\"t\":\"key\",\"code\":\"KeyA \",\"d\":1}",
	};

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++)
		expect_refused(bad[i], FP_SERVE_MSG_UNKNOWN);
}

static void signalling(void **state)
{
	struct fp_serve_signal_msg m;
	static const char answer[] = "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}";
	static const char ice[] = "{\"type\":\"ice\",\"candidate\":\"candidate:1 1 udp 1 ::1 9 typ host\","
				  "\"sdpMLineIndex\":1}";

	(void)state;
	assert_int_equal(fp_serve_signal_parse(answer, strlen(answer), &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.kind, FP_SERVE_SIGNAL_ANSWER);
	assert_string_equal(m.sdp, "v=0\r\n");
	fp_serve_signal_clear(&m);
	assert_int_equal(fp_serve_signal_parse(ice, strlen(ice), &m), FP_SERVE_MSG_OK);
	assert_int_equal(m.kind, FP_SERVE_SIGNAL_ICE);
	assert_int_equal(m.mline, 1);
	fp_serve_signal_clear(&m);

	static const struct { const char *s; enum fp_serve_msg_error e; } bad[] = {
		{ "{\"type\":\"offer\",\"sdp\":\"v=0\"}", FP_SERVE_MSG_TYPE },
		{ "{\"type\":\"answer\",\"sdp\":5}", FP_SERVE_MSG_TYPE },
		{ "{\"type\":\"answer\",\"sdp\":\"v=0\",\"x\":1}", FP_SERVE_MSG_TYPE },
		{ "{\"type\":\"ice\",\"candidate\":\"c\",\"sdpMLineIndex\":64}", FP_SERVE_MSG_RANGE },
		{ "{\"type\":\"ice\",\"candidate\":\"c\",\"sdpMLineIndex\":-1}", FP_SERVE_MSG_RANGE },
		{ "{\"type\":\"ice\",\"candidate\":\"c\"}", FP_SERVE_MSG_TYPE },
		{ "{\"type\":\"ice\",\"candidate\":{},\"sdpMLineIndex\":0}", FP_SERVE_MSG_SYNTAX },
		{ "not json", FP_SERVE_MSG_SYNTAX },
	};
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++) {
		enum fp_serve_msg_error e = fp_serve_signal_parse(bad[i].s, strlen(bad[i].s), &m);

		if (e != bad[i].e)
			fail_msg("'%s': %s", bad[i].s, fp_serve_msg_error_name(e));
		assert_null(m.sdp);
		assert_null(m.candidate);
	}
	assert_int_equal(fp_serve_signal_parse("", 0, &m), FP_SERVE_MSG_SIZE);
}

/* A deep "[[[[..." is refused before json-glib recurses into it. */
static void deep_nesting(void **state)
{
	static char deep[FP_SERVE_SIGNAL_MSG_MAX];
	struct fp_serve_signal_msg m;

	(void)state;
	memset(deep, '[', sizeof(deep));
	assert_int_equal(fp_serve_signal_parse(deep, sizeof(deep), &m), FP_SERVE_MSG_SYNTAX);
	assert_false(fp_serve_json_shape_ok("{\"a\":[1]}", 9, 1));
	assert_true(fp_serve_json_shape_ok("{\"a\":\"[[\\\"[\"}", 13, 1));
	assert_true(fp_serve_json_shape_ok("{\"a\":[1]}", 9, 2));
	assert_true(fp_serve_json_shape_ok(" {} \r\n", 6, 1));
	assert_false(fp_serve_json_shape_ok("{}x", 3, 1));
	assert_false(fp_serve_json_shape_ok("{}{}", 4, 1));
	assert_false(fp_serve_json_shape_ok("{", 1, 1));
	assert_false(fp_serve_json_shape_ok("}{", 2, 1));
	assert_false(fp_serve_json_shape_ok("{\"a}", 4, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(move),
		cmocka_unit_test(buttons),
		cmocka_unit_test(wheel),
		cmocka_unit_test(keys),
		cmocka_unit_test(auth),
		cmocka_unit_test(refused_size),
		cmocka_unit_test(refused_syntax),
		cmocka_unit_test(refused_type),
		cmocka_unit_test(refused_range),
		cmocka_unit_test(refused_unknown),
		cmocka_unit_test(signalling),
		cmocka_unit_test(deep_nesting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
