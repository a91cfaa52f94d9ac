/* framepush serve — the --listen address: "ADDR:PORT" with a numeric IPv4 address, or
 * "[ADDR]:PORT" with a numeric IPv6 one. No names: a name would be resolved at bind time,
 * maybe to another interface than the user meant. Pure (the unit test runs it alone). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "common/util.h"
#include "listen.h"

int fp_serve_parse_listen(const char *s, struct fp_serve_listen *out)
{
	struct in6_addr a6;
	struct in_addr a4;
	unsigned long long port;
	const char *colon;
	size_t alen;

	memset(out, 0, sizeof(*out));
	if (!s)
		s = "127.0.0.1:8080";
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		alen = (size_t)(close - s - 1);
		colon = close + 1;
		if (alen == 0 || alen >= sizeof(out->addr))
			return -EINVAL;
		memcpy(out->addr, s + 1, alen);
		if (inet_pton(AF_INET6, out->addr, &a6) != 1)
			return -EINVAL;
		out->ipv6 = true;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		alen = (size_t)(colon - s);
		if (alen == 0 || alen >= sizeof(out->addr))
			return -EINVAL;
		memcpy(out->addr, s, alen);
		if (inet_pton(AF_INET, out->addr, &a4) != 1)
			return -EINVAL;
	}
	/* Port 0 asks the kernel for a free one (tests); fp_serve_url then has the real one. */
	if (fp_parse_uint(colon + 1, 0, 65535, &port) < 0)
		return -EINVAL;
	out->port = (unsigned)port;
	out->loopback = out->ipv6 ? IN6_IS_ADDR_LOOPBACK(&a6)
				  : (ntohl(a4.s_addr) >> 24) == 127;
	out->any = out->ipv6 ? IN6_IS_ADDR_UNSPECIFIED(&a6) : a4.s_addr == htonl(INADDR_ANY);
	return 0;
}
