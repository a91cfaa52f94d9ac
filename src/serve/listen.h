/* framepush serve — the --listen address, parsed (listen.c). */
#ifndef FP_SERVE_LISTEN_H
#define FP_SERVE_LISTEN_H

#include <stdbool.h>

struct fp_serve_listen {
	char addr[64];   /* numeric, without brackets */
	unsigned port;   /* 0: any free port */
	bool ipv6;
	bool loopback;   /* 127.0.0.0/8 or ::1 */
	bool any;        /* 0.0.0.0 or :: */
};

/* s NULL: the default 127.0.0.1:8080. 0 or -EINVAL. */
int fp_serve_parse_listen(const char *s, struct fp_serve_listen *out);

#endif
