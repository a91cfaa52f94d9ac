/* FP_MSG_INPUT at the source's end, as a hostile host could send it: the source library
 * over one end of a SOCK_SEQPACKET pair, the test as the host on the other. Only a packet of
 * exactly the right size, version, reserved field and a valid event becomes an INPUT event;
 * everything else is dropped and counted, and the source keeps going. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/msg.h"
#include "common/util.h"
#include "framepush/input.h"
#include "framepush/proto.h"
#include "framepush/source.h"

struct pair {
	struct fp_source *src;
	int host;
};

static int pair_setup(void **state)
{
	static struct pair p;
	struct fp_msg_hello hello;
	int sv[2], fds[FP_CHANNEL_MAX_FDS];
	size_t nfds = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	p.host = sv[0];
	if (fp_source_open_fd(&p.src, sv[1], 1, "test", 640, 360, FP_PIXFMT_XRGB8888) < 0)
		return -1;
	/* The hello the source says first. */
	if (fp_msg_recv(p.host, &hello, sizeof(hello), fds, FP_CHANNEL_MAX_FDS, &nfds, 1000) !=
	    (int)sizeof(hello))
		return -1;
	*state = &p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	fp_source_destroy(p->src);
	fp_close(&p->host);
	return 0;
}

static struct fp_msg_input key_msg(uint32_t code, int32_t value)
{
	return (struct fp_msg_input){ .hdr = { FP_MSG_INPUT, FP_PROTO_VERSION },
				      .type = FP_INPUT_KEY, .code = code, .value = value };
}

/* Sends len bytes of msg (with fd attached when fd >= 0) and dispatches the packet. */
static struct fp_source_event deliver(struct pair *p, const void *msg, size_t len, int fd)
{
	struct fp_source_event ev;

	assert_int_equal(fp_msg_send(p->host, msg, len, fd >= 0 ? &fd : NULL, fd >= 0), 0);
	assert_int_equal(fp_source_dispatch(p->src, 1000, &ev), 0);
	return ev;
}

static void good_event_decoded(void **state)
{
	struct pair *p = *state;
	struct fp_msg_input m = { .hdr = { FP_MSG_INPUT, FP_PROTO_VERSION },
				  .type = FP_INPUT_MOTION, .x = 12345, .y = FP_INPUT_POS_ONE - 1 };
	struct fp_source_event ev = deliver(p, &m, sizeof(m), -1);

	assert_int_equal(ev.type, FP_SOURCE_EV_INPUT);
	assert_int_equal(ev.input.type, FP_INPUT_MOTION);
	assert_int_equal(ev.input.x, 12345);
	assert_int_equal(ev.input.y, FP_INPUT_POS_ONE - 1);
	assert_int_equal(fp_source_input_dropped(p->src), 0);
}

/* Each malformed packet is dropped (no event, counted); a good one after them still works. */
static void malformed_dropped_and_counted(void **state)
{
	struct pair *p = *state;
	struct fp_msg_input m = key_msg(30, 1);
	uint8_t longer[sizeof(m) + 1] = { 0 };
	struct fp_source_event ev;
	uint64_t n = 0;
	int fds_before = fp_count_open_fds(), fd;

	ev = deliver(p, &m, sizeof(m) - 1, -1); /* short */
	assert_int_equal(ev.type, FP_SOURCE_EV_NONE);
	assert_int_equal(fp_source_input_dropped(p->src), ++n);
	memcpy(longer, &m, sizeof(m)); /* long: another layout, not a prefix to read */
	ev = deliver(p, longer, sizeof(longer), -1);
	assert_int_equal(ev.type, FP_SOURCE_EV_NONE);
	assert_int_equal(fp_source_input_dropped(p->src), ++n);
	m.hdr.version = FP_PROTO_VERSION - 1;
	ev = deliver(p, &m, sizeof(m), -1);
	assert_int_equal(ev.type, FP_SOURCE_EV_NONE);
	assert_int_equal(fp_source_input_dropped(p->src), ++n);
	m = key_msg(30, 1);
	m.reserved0 = 1;
	ev = deliver(p, &m, sizeof(m), -1);
	assert_int_equal(ev.type, FP_SOURCE_EV_NONE);
	assert_int_equal(fp_source_input_dropped(p->src), ++n);
	m = key_msg(FP_INPUT_KEY_MAX + 1, 1); /* a well-formed packet of an invalid event */
	ev = deliver(p, &m, sizeof(m), -1);
	assert_int_equal(ev.type, FP_SOURCE_EV_NONE);
	assert_int_equal(fp_source_input_dropped(p->src), ++n);
	m = key_msg(30, 1);
	fd = dup(p->host); /* an fd along with it: dropped, and the fd closed */
	ev = deliver(p, &m, sizeof(m), fd);
	close(fd);
	assert_int_equal(ev.type, FP_SOURCE_EV_NONE);
	assert_int_equal(fp_source_input_dropped(p->src), ++n);
	assert_int_equal(fp_count_open_fds(), fds_before);
	ev = deliver(p, &m, sizeof(m), -1);
	assert_int_equal(ev.type, FP_SOURCE_EV_INPUT);
	assert_int_equal(ev.input.code, 30);
	assert_int_equal(ev.input.value, 1);
	assert_int_equal(fp_source_input_dropped(p->src), n);
}

/* The decoder alone, on every field's edges. */
static void decode_edges(void **state)
{
	static const struct {
		struct fp_input_event ev;
		int want;
	} cases[] = {
		{ { FP_INPUT_MOTION, 0, 0, 0, 0 }, 0 },
		{ { FP_INPUT_MOTION, 0, 0, FP_INPUT_POS_ONE, 0 }, -EINVAL },
		{ { FP_INPUT_BUTTON, FP_BTN_LEFT, 1, 0, 0 }, 0 },
		{ { FP_INPUT_BUTTON, FP_BTN_MIDDLE + 1, 1, 0, 0 }, -EINVAL },
		{ { FP_INPUT_WHEEL, FP_WHEEL_HORIZONTAL, -FP_INPUT_WHEEL_MAX, 0, 0 }, 0 },
		{ { FP_INPUT_WHEEL, FP_WHEEL_VERTICAL, 0, 0, 0 }, -EINVAL },
		{ { FP_INPUT_WHEEL, FP_WHEEL_VERTICAL, INT32_MIN, 0, 0 }, -EINVAL },
		{ { FP_INPUT_KEY, FP_INPUT_KEY_MAX, 0, 0, 0 }, 0 },
		{ { FP_INPUT_KEY, 1, 2, 0, 0 }, -EINVAL },
		{ { 0, 0, 0, 0, 0 }, -EINVAL },
	};
	struct fp_input_event out;

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(cases); i++) {
		const struct fp_input_event *e = &cases[i].ev;
		struct fp_msg_input m = { .hdr = { FP_MSG_INPUT, FP_PROTO_VERSION }, .type = e->type,
					  .code = e->code, .value = e->value, .x = e->x, .y = e->y };

		assert_int_equal(fp_source_decode_input(&m, sizeof(m), &out), cases[i].want);
		if (cases[i].want == 0)
			assert_memory_equal(&out, e, sizeof(out));
		m.hdr.type = FP_MSG_KICK; /* the type is the decoder's to check too */
		assert_int_equal(fp_source_decode_input(&m, sizeof(m), &out), -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(good_event_decoded, pair_setup, pair_teardown),
		cmocka_unit_test_setup_teardown(malformed_dropped_and_counted, pair_setup,
						pair_teardown),
		cmocka_unit_test(decode_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
