/* The contract: token packing at the field limits, the eventfd that neither end can wedge,
 * and the descriptor seqlock. (The layout itself is pinned by _Static_assert in proto.h.) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "channel/desc.h"
#include "channel/event.h"
#include "channel/ring.h"
#include "common/util.h"
#include "framepush/proto.h"

/* A call that blocks fails the test (SIGALRM's default action) instead of hanging it. */
static void with_alarm(unsigned s)
{
	signal(SIGALRM, SIG_DFL);
	alarm(s);
}

/* An eventfd as a hostile peer leaves it: O_NONBLOCK cleared (the flag is shared). */
static int blocking_eventfd(uint64_t count)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
	if (count)
		assert_int_equal(write(fd, &count, sizeof(count)), sizeof(count));
	return fd;
}

/* The host's read: a count is taken, and no count returns at once whatever the flag says
 * (a plain read() here blocks forever: the peer took the count after our poll). */
static void event_consume_never_blocks(void **state)
{
	int fd = blocking_eventfd(3);

	(void)state;
	with_alarm(5);
	assert_int_equal(fp_event_consume(fd), 1);
	assert_int_equal(fp_event_consume(fd), 0);
	assert_int_equal(fp_event_consume(fd), 0);
	alarm(0);
	close(fd);
}

/* The source's write: a full counter skips the signal; a write the host managed to block
 * (counter filled between the source's poll and its write) is cut short by the guard. */
static void event_signal_never_blocks(void **state)
{
	int fd = blocking_eventfd(0xfffffffffffffffeull);
	int64_t t0;
	double ms;

	(void)state;
	with_alarm(5);
	assert_int_equal(fp_event_signal(fd), -EAGAIN);
	t0 = fp_now_ns();
	assert_int_equal(fp_event_write_guarded(fd, 1, FP_EVENT_GUARD_MS), -ETIMEDOUT);
	ms = (double)(fp_now_ns() - t0) / 1e6;
	if (ms < FP_EVENT_GUARD_MS * 0.9 || ms > 1000.0)
		fail_msg("the guarded write returned after %.1f ms (guard %d ms)", ms, FP_EVENT_GUARD_MS);
	/* The guard is disarmed afterwards: an ordinary wait is not interrupted later. */
	assert_int_equal(fp_event_consume(fd), 1);
	assert_int_equal(fp_event_signal(fd), 0);
	assert_int_equal(fp_event_write_guarded(fd, 1, FP_EVENT_GUARD_MS), 0);
	usleep(2 * FP_EVENT_GUARD_MS * 1000);
	assert_int_equal(fp_event_consume(fd), 1);
	alarm(0);
	close(fd);
}

static struct fp_status seq_status;
static atomic_int seq_done;

static struct fp_desc flip_desc(unsigned i)
{
	struct fp_desc d = { .width = 640 + 640 * i, .height = 360 + 360 * i,
			     .format = i ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888 };

	memset(&d.hdr, i ? 0xa5 : 0x5a, sizeof(d.hdr));
	return d;
}

static void *seq_writer(void *arg)
{
	uint32_t serial = 0;

	(void)arg;
	for (unsigned i = 0; i < 2000000; i++) {
		struct fp_desc d = flip_desc(i & 1);

		serial = fp_desc_next_serial(serial);
		fp_desc_write(&seq_status, &d, serial);
	}
	atomic_store(&seq_done, 1);
	return NULL;
}

/* A source rewriting its descriptor in a tight loop while the host reads: every read the
 * host accepts is one whole descriptor, never a mixture of two. */
static void desc_seqlock_never_torn(void **state)
{
	const struct fp_desc want[2] = { flip_desc(0), flip_desc(1) };
	unsigned long whole = 0, busy = 0;
	pthread_t t;

	(void)state;
	memset(&seq_status, 0, sizeof(seq_status));
	assert_int_equal(fp_desc_read(&seq_status, &(struct fp_desc){ 0 }), 0); /* never written */
	assert_int_equal(pthread_create(&t, NULL, seq_writer, NULL), 0);
	while (!atomic_load(&seq_done)) {
		struct fp_desc d;
		uint32_t s = fp_desc_read(&seq_status, &d);

		if (!s) {
			busy++;
			continue;
		}
		if (s & 1 || (memcmp(&d, &want[0], sizeof(d)) && memcmp(&d, &want[1], sizeof(d))))
			fail_msg("serial %u: a mixture was accepted: %ux%u format %u hdr byte 0x%02x",
				 s, d.width, d.height, d.format, ((unsigned char *)&d.hdr)[4]);
		whole++;
	}
	pthread_join(t, NULL);
	print_message("seqlock: %lu whole reads, %lu while a write was under way\n", whole, busy);
	assert_true(whole > 0);
	assert_int_equal(fp_desc_next_serial(0xfffffffe), 2); /* 0 is never a serial */
	assert_int_equal(fp_desc_next_serial(3), 4);
}

static void token_roundtrip_limits(void **state)
{
	static const uint32_t gens[] = { 1, 2, 0x7fffff, FP_GEN_MAX };
	static const uint32_t seqs[] = { 0, 1, 0x7fffffff, 0xffffffff };
	static const uint32_t slots[] = { 0, 1, FP_RING_MAX - 1, 0xff };

	(void)state;
	for (size_t g = 0; g < 4; g++)
		for (size_t s = 0; s < 4; s++)
			for (size_t k = 0; k < 4; k++) {
				uint64_t t = fp_token_pack(gens[g], seqs[s], slots[k]);
				struct fp_token u = fp_token_unpack(t);

				assert_int_equal(u.generation, gens[g]);
				assert_int_equal(u.seq, seqs[s]);
				assert_int_equal(u.slot, slots[k]);
			}
	/* Field boundaries: each field lands in its own bits. */
	assert_true(fp_token_pack(FP_GEN_MAX, 0, 0) == 0xffffff0000000000ull);
	assert_true(fp_token_pack(0, 0xffffffffu, 0) == 0x000000ffffffff00ull);
	assert_true(fp_token_pack(0, 0, 0xff) == 0xffull);
	/* Generation 0 is the "nothing published" sentinel. */
	assert_int_equal(fp_token_unpack(0).generation, 0);
	/* A generation wider than 24 bits must not leak into other fields. */
	assert_int_equal(fp_token_unpack(fp_token_pack(0x1000001u, 7, 3)).generation, 1);
	assert_int_equal(fp_token_unpack(fp_token_pack(0x1000001u, 7, 3)).seq, 7);
}

/* The host's generation counter wraps past 2^24 - 1 to 1, never to 0 (the "nothing
 * published" sentinel a token of generation 0 means). */
static void generation_wraps_past_zero(void **state)
{
	uint32_t prev = fp_ring_next_generation(), wraps = 0;

	(void)state;
	for (uint32_t i = 0; i < FP_GEN_MAX + 2u; i++) {
		uint32_t g = fp_ring_next_generation();

		assert_true(g != 0 && g <= FP_GEN_MAX);
		if (g < prev) {
			assert_int_equal(prev, FP_GEN_MAX);
			assert_int_equal(g, 1);
			wraps++;
		}
		prev = g;
	}
	assert_int_equal(wraps, 1);
}

static void attach_check_rules(void **state)
{
	(void)state;
	assert_int_equal(fp_attach_check(FP_PROTO_MAGIC, 5, 1, 5, 1), FP_ATTACH_OK);
	assert_int_equal(fp_attach_check(0, 5, 1, 5, 1), FP_ATTACH_STALE);
	assert_int_equal(fp_attach_check(FP_PROTO_MAGIC, 4, 1, 5, 1), FP_ATTACH_STALE);
	assert_int_equal(fp_attach_check(FP_PROTO_MAGIC, 5, 2, 5, 1), FP_ATTACH_BIND_MISMATCH);
	for (uint32_t s = 0; s <= FP_SRC_STATUS_MAX; s++) {
		assert_non_null(fp_source_status_name(s));
		assert_true(fp_source_status_meaning(s)[0] != '\0');
	}
	assert_string_equal(fp_source_status_name(999), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_roundtrip_limits),
		cmocka_unit_test(event_consume_never_blocks),
		cmocka_unit_test(event_signal_never_blocks),
		cmocka_unit_test(desc_seqlock_never_torn),
		cmocka_unit_test(generation_wraps_past_zero),
		cmocka_unit_test(attach_check_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
