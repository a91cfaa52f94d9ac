/* Fuzz target: FP_MSG_INPUT at the source's end (what a hostile host or a viewer's garbage
 * that got past the host controls). Each input is one packet, either raw bytes or a packet of
 * the right shape whose fields (type, code, value, position, near their limits or anything),
 * length, version and reserved word the input chooses. It goes through the decoder and
 * through fp_source_dispatch over a socket pair. An event that comes out must be one
 * fp_input_event_valid() accepts and equal to what was sent; nothing may crash or leak. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/msg.h"
#include "common/util.h"
#include "framepush/input.h"
#include "framepush/proto.h"
#include "framepush/source.h"
#include "fuzz_bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int fp_fuzz_smoke_verdict(unsigned long inputs);

/* Outcomes: accepted per event type (1..4), refused as malformed, refused as invalid. */
static unsigned long accepted[5], malformed, invalid;

int fp_fuzz_smoke_verdict(unsigned long inputs)
{
	printf("fuzz smoke: %lu inputs, no crash; accepted motion %lu button %lu wheel %lu key "
	       "%lu, malformed %lu, invalid %lu\n", inputs, accepted[1], accepted[2], accepted[3],
	       accepted[4], malformed, invalid);
	/* A run that never got a packet past the size and version checks would prove nothing. */
	for (int t = 1; t <= 4; t++)
		if (!accepted[t])
			return 1;
	return malformed && invalid ? 0 : 1;
}

/* A field value: mostly near the edges the validator draws (base + small offset), else
 * anything. */
static uint32_t pick(struct fuzz_bytes *in, uint32_t base)
{
	uint8_t how = fuzz_take(in);

	return how < 192 ? base + (uint32_t)(int8_t)fuzz_take(in) % 24u : fuzz_take32(in);
}

static const uint32_t type_base[] = { 0, 0, FP_BTN_LEFT, 0, 1 };

/* A packet of the right shape; the input may still spoil its length, version or reserved. */
static size_t shaped(struct fuzz_bytes *in, uint8_t *pkt, size_t cap)
{
	struct fp_msg_input m = { .hdr = { FP_MSG_INPUT, FP_PROTO_VERSION } };
	uint8_t spoil = fuzz_take(in);
	size_t len = sizeof(m);

	m.type = fuzz_take(in) % 6u;
	m.code = pick(in, m.type < 5 ? type_base[m.type] : 0);
	m.value = (int32_t)pick(in, 0) - (m.type == FP_INPUT_WHEEL ? 8 : 0);
	m.x = pick(in, fuzz_take(in) & 1 ? FP_INPUT_POS_ONE - 8 : 0);
	m.y = pick(in, fuzz_take(in) & 1 ? FP_INPUT_POS_ONE - 8 : 0);
	if (spoil == 1)
		m.hdr.version = fuzz_take32(in);
	if (spoil == 2)
		m.reserved0 = fuzz_take32(in) | 1u;
	if (spoil == 3)
		len = fuzz_take(in) % cap;
	memcpy(pkt, &m, sizeof(m) < cap ? sizeof(m) : cap);
	return len;
}

/* The source over one end of a SEQPACKET pair, made once; the other end is the host's. */
static struct fp_source *src;
static int host = -1;

static void setup_once(void)
{
	int sv[2], fds[FP_CHANNEL_MAX_FDS];
	size_t nfds;
	char hello[64];

	if (src)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    fp_source_open_fd(&src, sv[1], 1, "fuzz", 64, 64, FP_PIXFMT_XRGB8888) < 0)
		abort();
	host = sv[0];
	(void)fp_msg_recv(host, hello, sizeof(hello), fds, FP_CHANNEL_MAX_FDS, &nfds, 1000);
}

/* The decoder's verdict must agree with the validator on the bytes sent. */
static void check_decode(const uint8_t *pkt, size_t len)
{
	struct fp_input_event ev;
	struct fp_msg_input m;
	int r = fp_source_decode_input(pkt, len, &ev);

	if (r == 0) {
		memcpy(&m, pkt, sizeof(m));
		if (!fp_input_event_valid(&ev) || ev.type != m.type || ev.code != m.code ||
		    ev.value != m.value || ev.x != m.x || ev.y != m.y || m.reserved0 ||
		    m.hdr.version != FP_PROTO_VERSION)
			abort();
		accepted[ev.type]++;
	} else if (r == -EBADMSG) {
		malformed++;
	} else if (r == -EINVAL) {
		invalid++;
	} else {
		abort();
	}
}

/* The same packet through dispatch: an INPUT event only for what the decoder took. */
static void check_dispatch(const uint8_t *pkt, size_t len)
{
	struct fp_source_event ev;
	struct fp_input_event want;
	int fds[FP_CHANNEL_MAX_FDS];
	size_t nfds;
	char junk[64];
	int ok = len >= sizeof(struct fp_msg_header) && fp_source_decode_input(pkt, len, &want) == 0;

	if (fp_msg_send(host, pkt, len, NULL, 0) < 0 || fp_source_dispatch(src, 1000, &ev) < 0)
		abort();
	if ((ev.type == FP_SOURCE_EV_INPUT) != ok ||
	    (ok && memcmp(&ev.input, &want, sizeof(want))))
		abort();
	/* What the source answered (a BAD_MESSAGE status for a runt), so the pair never fills. */
	while (fp_msg_recv(host, junk, sizeof(junk), fds, FP_CHANNEL_MAX_FDS, &nfds, 0) >= 0)
		fp_msg_close_fds(fds, nfds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_bytes in = { data, size };
	uint8_t pkt[64] = { 0 };
	uint32_t type;
	size_t len;

	setup_once();
	if (fuzz_take(&in) % 4 == 0) {
		len = in.n < sizeof(pkt) ? in.n : sizeof(pkt);
		memcpy(pkt, in.p, len);
	} else {
		len = shaped(&in, pkt, sizeof(pkt));
	}
	check_decode(pkt, len);
	memcpy(&type, pkt, sizeof(type));
	/* A packet of a type other than INPUT would be a delivery, a kick or junk to the
	 * dispatcher: the attach fuzzer covers deliveries, so only input types go on. */
	if (len >= sizeof(struct fp_msg_header) && type == FP_MSG_INPUT)
		check_dispatch(pkt, len);
	return 0;
}
