/* The contract: token packing at the field limits, and the pinned layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "framepush/proto.h"

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

static void layout_pinned(void **state)
{
	(void)state;
	/* The same numbers the _Static_asserts in proto.h pin; a drift fails the build first. */
	assert_int_equal(sizeof(struct fp_control), 64);
	assert_int_equal(sizeof(struct fp_status), 192);
	assert_int_equal(offsetof(struct fp_status, desc_hdr), 160);
	assert_int_equal(sizeof(struct fp_hdr_meta), 32);
	assert_int_equal(offsetof(struct fp_hdr_meta, red_x), 4);
	assert_int_equal(offsetof(struct fp_hdr_meta, max_luminance), 20);
	assert_int_equal(offsetof(struct fp_hdr_meta, max_fall), 30);
	assert_int_equal(offsetof(struct fp_control, slot_size), 40);
	assert_int_equal(offsetof(struct fp_status, latest), 16);
	assert_int_equal(offsetof(struct fp_status, slot_owner), 64);
	assert_int_equal(offsetof(struct fp_status, slot_capture_ns), 96);
	assert_true(offsetof(struct fp_status, latest) % 8 == 0); /* atomic u64 */
	assert_int_equal(offsetof(struct fp_control, reserved0), 36);
	assert_int_equal(offsetof(struct fp_control, reserved), 48);
	assert_int_equal(offsetof(struct fp_status, reserved0), 12);
	assert_int_equal(offsetof(struct fp_status, reserved1), 56);
	assert_int_equal(sizeof(struct fp_msg_header), 8);
	assert_int_equal(sizeof(struct fp_msg_channel), 64);
	assert_int_equal(sizeof(struct fp_msg_hello), 40);
	assert_int_equal(sizeof(struct fp_msg_status), 24);
	assert_int_equal(sizeof(struct fp_msg_config), 32);
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
		cmocka_unit_test(layout_pinned),
		cmocka_unit_test(attach_check_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
