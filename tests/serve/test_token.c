/* The session token (src/serve/token.c): fresh and well formed, compared exactly, found in
 * the WebSocket's subprotocol list (missing and wrong told apart); and the --listen parser
 * (listen.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "listen.h"
#include "msg.h"

static void fresh(void **state)
{
	char a[FP_SERVE_TOKEN_HEX + 1], b[FP_SERVE_TOKEN_HEX + 1];

	(void)state;
	assert_int_equal(fp_serve_token_new(a), 0);
	assert_int_equal(fp_serve_token_new(b), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
}

static void equal(void **state)
{
	static const char tok[] = "00112233445566778899aabbccddeeff";
	char t[sizeof(tok)];

	(void)state;
	assert_true(fp_serve_token_equal(tok, 32, tok));
	assert_false(fp_serve_token_equal(tok, 31, tok));
	assert_false(fp_serve_token_equal("", 0, tok));
	/* A difference at either end, or in one bit, is a difference. */
	for (size_t i = 0; i < 32; i++) {
		memcpy(t, tok, sizeof(t));
		t[i] ^= 1;
		assert_false(fp_serve_token_equal(t, 32, tok));
	}
}

static void protocols(void **state)
{
	static const char tok[] = "00112233445566778899aabbccddeeff";

	(void)state;
	assert_int_equal(fp_serve_token_check_protocols(
				 "fp.v1, fp-token.00112233445566778899aabbccddeeff", tok),
			 FP_SERVE_TOKEN_OK);
	assert_int_equal(fp_serve_token_check_protocols(
				 "fp-token.00112233445566778899aabbccddeeff,fp.v1", tok),
			 FP_SERVE_TOKEN_OK);
	/* A wrong guess next to the right one does not hide it, nor the other way round. */
	assert_int_equal(fp_serve_token_check_protocols(
				 "fp-token.x, fp-token.00112233445566778899aabbccddeeff", tok),
			 FP_SERVE_TOKEN_OK);
	assert_int_equal(fp_serve_token_check_protocols(NULL, tok), FP_SERVE_TOKEN_MISSING);
	assert_int_equal(fp_serve_token_check_protocols("", tok), FP_SERVE_TOKEN_MISSING);
	assert_int_equal(fp_serve_token_check_protocols("fp.v1", tok), FP_SERVE_TOKEN_MISSING);
	assert_int_equal(fp_serve_token_check_protocols("fp-token", tok), FP_SERVE_TOKEN_MISSING);
	assert_int_equal(fp_serve_token_check_protocols("fp.v1, fp-token.", tok),
			 FP_SERVE_TOKEN_WRONG);
	assert_int_equal(fp_serve_token_check_protocols(
				 "fp.v1, fp-token.00112233445566778899aabbccddeefe", tok),
			 FP_SERVE_TOKEN_WRONG);
	/* A prefix or an extension of the token is wrong. */
	assert_int_equal(fp_serve_token_check_protocols(
				 "fp-token.00112233445566778899aabbccddeeff0", tok),
			 FP_SERVE_TOKEN_WRONG);
	assert_int_equal(fp_serve_token_check_protocols(
				 "fp-token.00112233445566778899aabbccddeef", tok),
			 FP_SERVE_TOKEN_WRONG);
}

static void listen_addr(void **state)
{
	struct fp_serve_listen l;

	(void)state;
	assert_int_equal(fp_serve_parse_listen(NULL, &l), 0);
	assert_string_equal(l.addr, "127.0.0.1");
	assert_int_equal(l.port, 8080);
	assert_true(l.loopback);
	assert_int_equal(fp_serve_parse_listen("0.0.0.0:9000", &l), 0);
	assert_true(l.any);
	assert_false(l.loopback);
	assert_int_equal(fp_serve_parse_listen("[::1]:0", &l), 0);
	assert_true(l.ipv6);
	assert_true(l.loopback);
	assert_int_equal(l.port, 0);
	assert_int_equal(fp_serve_parse_listen("192.168.1.20:443", &l), 0);
	assert_false(l.loopback || l.any || l.ipv6);

	static const char *const bad[] = { "", "8080", "localhost:8080", "127.0.0.1", "127.0.0.1:",
					   "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
					   "::1:8080", "[::1]8080", "[]:80", "[127.0.0.1]:80",
					   "1.2.3:80", " 127.0.0.1:80" };
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++)
		if (fp_serve_parse_listen(bad[i], &l) != -EINVAL)
			fail_msg("--listen '%s' taken", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh),
		cmocka_unit_test(equal),
		cmocka_unit_test(protocols),
		cmocka_unit_test(listen_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
