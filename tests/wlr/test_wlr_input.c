/* Input through the whole chain on wlroots: fp_capture_send_input -> FP_MSG_INPUT -> the real
 * framepush-source --backend wlr (as sway's account) -> zwlr_virtual_pointer_v1 and
 * zwp_virtual_keyboard_v1 -> a real headless sway -> wlr-input-client, whose report
 * (tests/lib/input_checks.h) is what is checked. Typed text proves the keymap the source
 * sends and the modifiers it keeps: "Hello, World!" needs Shift in effect exactly around
 * the capitals and '!'.
 *
 * Each test starts its own sway; without sway the tests skip. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/display.h"
#include "harness.h"
#include "input_checks.h"

#define OUT_W 1280u
#define OUT_H 720u

static char source_exe[4096], client_exe[4096];

struct fx {
	struct fp_display *d;
	struct fp_capture *cap;
	struct fpt_report rep;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->rep.fd = -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	fp_capture_close(f->cap);
	fp_display_destroy(f->d); /* also ends the client */
	fpt_report_close(&f->rep);
	free(f);
	return 0;
}

/* sway at OUT_W x OUT_H, the client fullscreen on it with focus, and the capture. */
static struct fx *start(void **state)
{
	struct fx *f = *state;
	struct fp_display_opts o = { .kind = "sway", .width = OUT_W, .height = OUT_H,
				     .refresh_hz = 60 };
	struct fp_capture_opts co = { .source_exe = source_exe, .backend = "wlr", .fps = 60,
				      .convert_threads = 1 };
	char *argv[] = { client_exe, f->rep.path, NULL };
	pid_t pid;
	int r;

	if (access("/usr/bin/sway", X_OK) < 0)
		fpt_skip("sway is not installed (Debian package sway)");
	r = fp_display_create(&f->d, &o);
	if (r < 0)
		fpt_skip("sway did not start (%s)", strerror(-r));
	fpt_report_open(&f->rep, client_exe, "wlr-input.fifo");
	assert_int_equal(fp_display_spawn(f->d, argv, &pid), 0);
	co.display = fp_display_name(f->d);
	co.source_drop = fp_display_identity(f->d, &co.source_uid, &co.source_gid);
	r = fp_capture_open(&f->cap, &co, NULL, 0);
	if (r < 0)
		fail_msg("capture open on %s failed: %s", co.display, strerror(-r));
	/* After the source: headless sway has no keyboard until the source's virtual one, and
	 * the client is focused only once a keyboard exists. */
	fpt_input_wait_ready(&f->rep, OUT_W, OUT_H);
	return f;
}

static void click_lands_on_pixel(void **state)
{
	struct fx *f = start(state);

	fpt_input_click(f->cap, &f->rep, OUT_W, OUT_H);
}

static void typed_text_intact(void **state)
{
	struct fx *f = start(state);

	fpt_input_type_text(f->cap, &f->rep);
}

static void held_keys_in_order(void **state)
{
	struct fx *f = start(state);

	fpt_input_held_keys(f->cap, &f->rep);
}

static void wheel_detents(void **state)
{
	struct fx *f = start(state);

	fpt_input_wheel(f->cap, &f->rep);
}

/* Refused by the host, and the session goes on: a later good event still arrives. */
static void invalid_refused_by_host(void **state)
{
	struct fx *f = start(state);

	fpt_input_invalid_refused(f->cap);
	fpt_input_held_keys(f->cap, &f->rep);
}

#define FX_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(click_lands_on_pixel),
		FX_TEST(typed_text_intact),
		FX_TEST(held_keys_in_order),
		FX_TEST(wheel_detents),
		FX_TEST(invalid_refused_by_host),
	};
	char built[4096];
	int rc;

	fp_log_init("test-wlr-input");
	if (getenv("FPT_FILTER"))
		cmocka_set_test_filter(getenv("FPT_FILTER"));
	signal(SIGPIPE, SIG_IGN);
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	/* The client runs as sway's account, which cannot enter a 0700 build tree; its FIFO
	 * goes next to the copy. */
	fpt_build_path("tests/wlr/wlr-input-client", built, sizeof(built));
	if (fpt_world_copy(built, client_exe, sizeof(client_exe)) < 0) {
		fprintf(stderr, "test-wlr-input: cannot copy %s for the sway user\n", built);
		return 1;
	}
	rc = fpt_exit(cmocka_run_group_tests(tests, NULL, NULL));
	fpt_world_remove(client_exe);
	return rc;
}
