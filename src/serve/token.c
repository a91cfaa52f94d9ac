/* framepush serve — the session token: made from getrandom(2), compared in constant time,
 * found in the WebSocket's subprotocol list. And the nesting check every JSON text passes
 * before json-glib parses it. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "common/log.h"
#include "msg.h"

int fp_serve_token_new(char hex[FP_SERVE_TOKEN_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t raw[FP_SERVE_TOKEN_BYTES];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			fp_error("serve: getrandom for the session token: %s", strerror(-r));
			return r;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[FP_SERVE_TOKEN_HEX] = '\0';
	/* The raw bytes are a copy of the secret: do not leave them on the stack. */
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

bool fp_serve_token_equal(const char *s, size_t len, const char *token)
{
	size_t tlen = strlen(token);
	volatile unsigned char diff = 0;

	if (len != tlen)
		return false;
	/* Every byte is compared whatever the first difference: the time says nothing about
	 * how much of a guess was right. */
	for (size_t i = 0; i < tlen; i++)
		diff |= (unsigned char)(s[i] ^ token[i]);
	return diff == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

enum fp_serve_token_check fp_serve_token_check_protocols(const char *header, const char *token)
{
	const size_t plen = strlen(FP_SERVE_TOKEN_PROTOCOL);
	bool seen = false, ok = false;
	const char *p = header;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *e = p;

		while (n && is_space(*e)) {
			e++;
			n--;
		}
		while (n && is_space(e[n - 1]))
			n--;
		if (n >= plen && memcmp(e, FP_SERVE_TOKEN_PROTOCOL, plen) == 0) {
			seen = true;
			/* No early exit: every candidate costs one full comparison. */
			if (fp_serve_token_equal(e + plen, n - plen, token))
				ok = true;
		}
		p = end ? end + 1 : NULL;
	}
	if (ok)
		return FP_SERVE_TOKEN_OK;
	return seen ? FP_SERVE_TOKEN_WRONG : FP_SERVE_TOKEN_MISSING;
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool fp_serve_json_shape_ok(const char *s, size_t len, unsigned max_depth)
{
	unsigned depth = 0;
	bool in_string = false, closed = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			if (c == '\\')
				i++; /* the escaped character cannot end the string */
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (is_json_space(c))
			continue;
		/* Outside the object only white space: json-glib would ignore what follows it. */
		if (closed || (depth == 0 && c != '{'))
			return false;
		if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth)
				return false;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				closed = true;
		}
	}
	return closed;
}
