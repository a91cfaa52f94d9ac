/* The strict parsers every command line and config path uses (common/util.h): what they
 * take, and the near misses they must refuse rather than read as something else. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/util.h"
#include "framepush/pixel.h"
#include "framepush/proto.h"

static void uint_strict(void **state)
{
	unsigned long long v = 0;

	(void)state;
	assert_int_equal(fp_parse_uint("30", 1, 240, &v), 0);
	assert_int_equal(v, 30);
	static const char *const bad[] = { "", "30x", " 5", "+5", "-5", "0", "241",
					   "99999999999999999999999", "3 0", "0x10" };
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++) {
		v = 7;
		if (fp_parse_uint(bad[i], 1, 240, &v) != -EINVAL || v != 7)
			fail_msg("fp_parse_uint took '%s'", bad[i]);
	}
}

static void size_strict(void **state)
{
	uint32_t w = 0, h = 0;

	(void)state;
	assert_int_equal(fp_parse_size("1920x1080", FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX,
				       FP_HEIGHT_MAX, &w, &h), 0);
	assert_int_equal(w, 1920);
	assert_int_equal(h, 1080);
	assert_int_equal(fp_parse_size("2x2", 2, 2, 10, 10, &w, &h), 0);
	assert_int_equal(w, 2);
	static const char *const bad[] = { "", "x", "1920", "1920x", "x1080", "1920x1080x",
					   "1920 x1080", "1920x1080 ", "-1920x1080", "1920x-1080",
					   "7681x4320", "7680x4321", "1x2", "1920x1080@60", "640X480",
					   "19200000000000000000x1" };
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++) {
		w = h = 7;
		if (fp_parse_size(bad[i], FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX,
				  &w, &h) != -EINVAL || w != 7 || h != 7)
			fail_msg("fp_parse_size took '%s'", bad[i]);
	}
}

static void mode_strict(void **state)
{
	uint32_t w = 0, h = 0, hz = FP_MODE_DEFAULT_HZ;

	(void)state;
	assert_int_equal(fp_parse_mode("1280x720@144", 16, 16, FP_WIDTH_MAX, FP_HEIGHT_MAX, 1, 240,
				       &w, &h, &hz), 0);
	assert_int_equal(hz, 144);
	hz = FP_MODE_DEFAULT_HZ;
	assert_int_equal(fp_parse_mode("1280x720", 16, 16, FP_WIDTH_MAX, FP_HEIGHT_MAX, 1, 240,
				       &w, &h, &hz), 0);
	assert_int_equal(hz, FP_MODE_DEFAULT_HZ); /* no rate given: the caller's default stays */
	static const char *const bad[] = { "1280x720@", "1280x720@0", "1280x720@241", "@60",
					   "1280x720@60@60", "1280x720@6 0", "15x720@60",
					   "1280x720@60hz" };
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++) {
		hz = 7;
		if (fp_parse_mode(bad[i], 16, 16, FP_WIDTH_MAX, FP_HEIGHT_MAX, 1, 240, &w, &h,
				  &hz) != -EINVAL || hz != 7)
			fail_msg("fp_parse_mode took '%s'", bad[i]);
	}
}

/* The HDR10 record's one rule set: the baseline passes, each limit is enforced. */
static void hdr10_rules(void **state)
{
	struct fp_hdr10 zero = { 0 }, m = fp_hdr10_generic;

	(void)state;
	assert_null(fp_hdr10_problem(&fp_hdr10_generic));
	assert_ptr_equal(fp_hdr10_or_generic(&zero), &fp_hdr10_generic);
	assert_ptr_equal(fp_hdr10_or_generic(&m), &m);
	m.red_x = 50001;
	assert_non_null(fp_hdr10_problem(&m));
	m = fp_hdr10_generic;
	m.max_luminance = 9999;
	assert_non_null(fp_hdr10_problem(&m));
	m = fp_hdr10_generic;
	m.min_luminance = m.max_luminance;
	assert_non_null(fp_hdr10_problem(&m));
	m = fp_hdr10_generic;
	m.max_cll = 10001;
	assert_non_null(fp_hdr10_problem(&m));
	m = fp_hdr10_generic;
	m.max_fall = (uint16_t)(m.max_cll + 1);
	assert_non_null(fp_hdr10_problem(&m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uint_strict),
		cmocka_unit_test(size_strict),
		cmocka_unit_test(mode_strict),
		cmocka_unit_test(hdr10_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
