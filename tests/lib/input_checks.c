#include "input_checks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/input-event-codes.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/input.h"

/* A display's slowest answer to an injected event here: a loaded 2-core machine running a
 * compositor, the source and the test. Only a failure waits this long. */
#define REPORT_TIMEOUT_MS 5000

void fpt_report_open(struct fpt_report *r, const char *near, const char *name)
{
	const char *slash = strrchr(near, '/');
	int dir_len = slash ? (int)(slash - near) : 1;

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%.*s/%s", dir_len, slash ? near : ".", name);
	unlink(r->path);
	assert_int_equal(mkfifo(r->path, 0600), 0);
	/* The client may run as the display's own account (sway started by root). */
	assert_int_equal(chmod(r->path, 0666), 0);
	r->fd = open(r->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(r->fd >= 0);
}

void fpt_report_close(struct fpt_report *r)
{
	fp_close(&r->fd);
	if (r->path[0])
		unlink(r->path);
	r->path[0] = '\0';
}

/* One whole line out of the buffer into line (without its '\n'); 1, or 0 when none yet. */
static int take_line(struct fpt_report *r, char *line, size_t cap)
{
	char *nl = memchr(r->buf, '\n', r->len);
	size_t n;

	if (!nl)
		return 0;
	n = (size_t)(nl - r->buf);
	snprintf(line, cap, "%.*s", (int)n, r->buf);
	memmove(r->buf, nl + 1, r->len - n - 1);
	r->len -= n + 1;
	return 1;
}

void fpt_report_expect(struct fpt_report *r, const char *prefix, char *line, size_t cap,
		       int timeout_ms, const char *what)
{
	int64_t end = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;
	char last[256] = "(nothing)";

	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		ssize_t n;

		while (take_line(r, line, cap)) {
			if (!strncmp(line, prefix, strlen(prefix)))
				return;
			snprintf(last, sizeof(last), "%s", line);
		}
		if (fp_now_ns() >= end || r->len == sizeof(r->buf))
			fail_msg("%s: no '%s...' line from the input client within %d ms (last "
				 "line: %s)", what, prefix, timeout_ms, last);
		if (poll(&p, 1, fp_ms_until(end)) <= 0)
			continue;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n > 0)
			r->len += (size_t)n;
	}
}

/* The space-separated field i of line (0-based) as an integer; fails the test if none. */
static long long field(const char *line, int i)
{
	unsigned long long v;
	char tok[32];
	const char *p = line;
	size_t n;
	int neg;

	for (int k = 0; k < i && p; k++)
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
	if (!p)
		fail_msg("report line '%s' has no field %d", line, i);
	n = strcspn(p, " ");
	snprintf(tok, sizeof(tok), "%.*s", (int)(n < sizeof(tok) ? n : sizeof(tok) - 1), p);
	neg = tok[0] == '-';
	if (fp_parse_uint(tok + neg, 0, INT32_MAX, &v) < 0)
		fail_msg("report line '%s': field %d is not a number", line, i);
	return neg ? -(long long)v : (long long)v;
}

void fpt_input_wait_ready(struct fpt_report *r, uint32_t w, uint32_t h)
{
	char line[256];

	fpt_report_expect(r, "ready ", line, sizeof(line), 10000, "client start");
	if (field(line, 1) != w || field(line, 2) != h)
		fail_msg("the input client's window is %s, not the display's %ux%u", line, w, h);
}

static void send_ok(struct fp_capture *cap, uint32_t type, uint32_t code, int32_t value,
		    uint32_t x, uint32_t y)
{
	struct fp_input_event ev = { .type = type, .code = code, .value = value, .x = x, .y = y };
	int r = fp_capture_send_input(cap, &ev);

	if (r < 0)
		fail_msg("fp_capture_send_input(type %u code %u value %d) failed: %s", type, code,
			 value, strerror(-r));
}

static void key(struct fp_capture *cap, uint32_t code, int down)
{
	send_ok(cap, FP_INPUT_KEY, code, down, 0, 0);
}

/* One click of button at (fx, fy) in 1/65536 of the display: the client must report the
 * press and the release at the pixel that fraction is, computed here in floating point. */
static void click_at(struct fp_capture *cap, struct fpt_report *r, uint32_t w, uint32_t h,
		     uint32_t button, uint32_t fx, uint32_t fy)
{
	double want_x = (double)fx / FP_INPUT_POS_ONE * w, want_y = (double)fy / FP_INPUT_POS_ONE * h;
	char line[256], prefix[32];

	send_ok(cap, FP_INPUT_MOTION, 0, 0, fx, fy);
	send_ok(cap, FP_INPUT_BUTTON, button, 1, 0, 0);
	send_ok(cap, FP_INPUT_BUTTON, button, 0, 0, 0);
	for (int down = 1; down >= 0; down--) {
		snprintf(prefix, sizeof(prefix), "button %u %d ", button, down);
		fpt_report_expect(r, prefix, line, sizeof(line), REPORT_TIMEOUT_MS, "click");
		if ((double)field(line, 3) < want_x - 1.0 || (double)field(line, 3) > want_x + 1.0 ||
		    (double)field(line, 4) < want_y - 1.0 || (double)field(line, 4) > want_y + 1.0)
			fail_msg("click at %.2f,%.2f of %ux%u reported as '%s'", want_x, want_y, w, h,
				 line);
	}
}

void fpt_input_click(struct fp_capture *cap, struct fpt_report *r, uint32_t w, uint32_t h)
{
	/* Fractions that are no whole pixel at either size the tests use. */
	click_at(cap, r, w, h, FP_BTN_LEFT, 20567, 47111);
	click_at(cap, r, w, h, FP_BTN_RIGHT, 61001, 3333);
	click_at(cap, r, w, h, FP_BTN_MIDDLE, 777, 65535);
}

/* The evdev code of a US-layout character and whether it needs shift; 0 when not covered. */
static uint32_t us_key(char c, int *shift)
{
	static const char *const rows[] = { "qwertyuiop", "asdfghjkl", "zxcvbnm" };
	static const uint32_t first[] = { KEY_Q, KEY_A, KEY_Z };
	char lower = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;

	*shift = c != lower || c == '!';
	for (int i = 0; i < 3; i++)
		if (strchr(rows[i], lower) && lower)
			return first[i] + (uint32_t)(strchr(rows[i], lower) - rows[i]);
	return c == ' ' ? KEY_SPACE : c == ',' ? KEY_COMMA : c == '!' ? KEY_1 : 0;
}

void fpt_input_type_text(struct fp_capture *cap, struct fpt_report *r)
{
	static const char text[] = "Hello, World!";
	char got[64] = "", line[256];
	unsigned lines = 0, shifts_down = 0, shifts_up = 0;

	for (const char *c = text; *c; c++) {
		int shift;
		uint32_t code = us_key(*c, &shift);

		assert_true(code != 0);
		if (shift)
			key(cap, KEY_LEFTSHIFT, 1);
		key(cap, code, 1);
		key(cap, code, 0);
		if (shift)
			key(cap, KEY_LEFTSHIFT, 0);
		lines += shift ? 4u : 2u;
	}
	for (unsigned i = 0; i < lines; i++) {
		fpt_report_expect(r, "key ", line, sizeof(line), REPORT_TIMEOUT_MS, "typing");
		if (field(line, 1) == KEY_LEFTSHIFT) {
			*(field(line, 2) ? &shifts_down : &shifts_up) += 1;
			continue;
		}
		/* TEXT is the rest of the line after "key CODE 1 ". */
		if (field(line, 2) == 1 && strlen(got) + 8 < sizeof(got))
			strcat(got, strchr(strchr(strchr(line, ' ') + 1, ' ') + 1, ' ') + 1);
	}
	assert_string_equal(got, text);
	assert_int_equal(shifts_down, 3);
	assert_int_equal(shifts_up, 3);
}

void fpt_input_held_keys(struct fp_capture *cap, struct fpt_report *r)
{
	static const char *const want[] = { "key 30 1 a", "key 48 1 b", "key 48 0 -", "key 30 0 -" };
	char line[256];

	key(cap, KEY_A, 1);
	key(cap, KEY_B, 1);
	key(cap, KEY_B, 0);
	key(cap, KEY_A, 0);
	for (size_t i = 0; i < FP_ARRAY_LEN(want); i++) {
		fpt_report_expect(r, "key ", line, sizeof(line), REPORT_TIMEOUT_MS, "held keys");
		assert_string_equal(line, want[i]);
	}
}

/* Wheel lines of axis until their detents add up to want (a display may split one event
 * into one line per detent). */
static void expect_wheel(struct fpt_report *r, int axis, int want)
{
	char line[256];
	int sum = 0;

	while (sum != want) {
		fpt_report_expect(r, "wheel ", line, sizeof(line), REPORT_TIMEOUT_MS, "wheel");
		if (field(line, 1) != axis || (field(line, 2) > 0) != (want > 0))
			fail_msg("wheel: want %d detents on axis %d, got '%s'", want, axis, line);
		sum += (int)field(line, 2);
		if (want > 0 ? sum > want : sum < want)
			fail_msg("wheel: want %d detents on axis %d, got %d", want, axis, sum);
	}
}

void fpt_input_wheel(struct fp_capture *cap, struct fpt_report *r)
{
	/* Over the window, where the wheel goes. */
	send_ok(cap, FP_INPUT_MOTION, 0, 0, FP_INPUT_POS_ONE / 2, FP_INPUT_POS_ONE / 2);
	send_ok(cap, FP_INPUT_WHEEL, FP_WHEEL_VERTICAL, 1, 0, 0);
	expect_wheel(r, 0, 1);
	send_ok(cap, FP_INPUT_WHEEL, FP_WHEEL_VERTICAL, -2, 0, 0);
	expect_wheel(r, 0, -2);
	send_ok(cap, FP_INPUT_WHEEL, FP_WHEEL_HORIZONTAL, 1, 0, 0);
	expect_wheel(r, 1, 1);
	send_ok(cap, FP_INPUT_WHEEL, FP_WHEEL_HORIZONTAL, -1, 0, 0);
	expect_wheel(r, 1, -1);
}

void fpt_input_invalid_refused(struct fp_capture *cap)
{
	static const struct fp_input_event bad[] = {
		{ .type = 0 },
		{ .type = 5 },
		{ .type = FP_INPUT_MOTION, .x = FP_INPUT_POS_ONE, .y = 0 },
		{ .type = FP_INPUT_MOTION, .x = 0, .y = UINT32_MAX },
		{ .type = FP_INPUT_BUTTON, .code = FP_BTN_MIDDLE + 1, .value = 1 },
		{ .type = FP_INPUT_BUTTON, .code = FP_BTN_LEFT, .value = 2 },
		{ .type = FP_INPUT_WHEEL, .code = FP_WHEEL_VERTICAL, .value = 0 },
		{ .type = FP_INPUT_WHEEL, .code = 2, .value = 1 },
		{ .type = FP_INPUT_WHEEL, .code = FP_WHEEL_VERTICAL, .value = FP_INPUT_WHEEL_MAX + 1 },
		{ .type = FP_INPUT_KEY, .code = 0, .value = 1 },
		{ .type = FP_INPUT_KEY, .code = FP_INPUT_KEY_MAX + 1, .value = 1 },
		{ .type = FP_INPUT_KEY, .code = KEY_A, .value = -1 },
	};

	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++)
		if (fp_capture_send_input(cap, &bad[i]) != -EINVAL)
			fail_msg("invalid event %zu (type %u code %u value %d) was not refused", i,
				 bad[i].type, bad[i].code, bad[i].value);
}
