/* Input through the whole chain on X11: fp_capture_send_input -> FP_MSG_INPUT -> the real
 * framepush-source --backend x11 -> XTEST -> a real Xvfb -> x11-input-client, whose report
 * (tests/lib/input_checks.h) is what is checked. The typed text also checks the keycode
 * rule (X keycode = evdev + 8) against Xvfb's own keymap: KEY_A must type 'a'.
 *
 * Each test gets a fresh Xvfb, client and source. Without Xvfb the tests skip. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/display.h"
#include "broker.h"
#include "harness.h"
#include "input_checks.h"

static char source_exe[4096], client_exe[4096];

struct fx {
	struct fp_display *d;
	struct fp_capture *cap;
	struct fp_broker *b; /* source_drops_malformed_input: the test is the host */
	struct fpt_report rep;
	uint32_t w, h;
};

/* Xvfb at an odd size (no fraction lands on a round pixel by accident), the client over all
 * of it with focus, and the capture with its x11 source. */
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
	fp_broker_destroy(f->b); /* hangs up: the source exits */
	fp_display_destroy(f->d); /* also kills the client */
	fpt_report_close(&f->rep);
	free(f);
	return 0;
}

static void start_client(struct fx *f)
{
	struct fp_display_opts o = { .kind = "xvfb", .width = 1000, .height = 562, .refresh_hz = 60 };
	char *argv[] = { client_exe, f->rep.path, NULL };
	pid_t pid;

	if (access("/usr/bin/Xvfb", X_OK) < 0 && access("/usr/local/bin/Xvfb", X_OK) < 0)
		fpt_skip("Xvfb is not installed (Debian package xvfb)");
	f->w = o.width;
	f->h = o.height;
	assert_int_equal(fp_display_create(&f->d, &o), 0);
	fpt_report_open(&f->rep, client_exe, "x11-input.fifo");
	assert_int_equal(fp_display_spawn(f->d, argv, &pid), 0);
	fpt_input_wait_ready(&f->rep, f->w, f->h);
	assert_int_equal(fp_display_export_env(f->d), 0); /* the source's cookie */
}

static struct fx *start_restarts(void **state, unsigned restarts)
{
	struct fx *f = *state;
	struct fp_capture_opts co = { .source_exe = source_exe, .backend = "x11", .fps = 60,
				      .convert_threads = 1, .max_source_restarts = restarts };
	int r;

	start_client(f);
	co.display = fp_display_name(f->d);
	r = fp_capture_open(&f->cap, &co, NULL, 0);
	if (r < 0)
		fail_msg("capture open on %s failed: %s", co.display, strerror(-r));
	return f;
}

static struct fx *start(void **state)
{
	return start_restarts(state, 0);
}

static void click_lands_on_pixel(void **state)
{
	struct fx *f = start(state);

	fpt_input_click(f->cap, &f->rep, f->w, f->h);
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

/* After a hang-up there is no source to send to: -ENOTCONN, not a write to a closed fd. */
static void no_source_not_connected(void **state)
{
	struct fx *f = start(state);
	struct fp_input_event ev = { .type = FP_INPUT_KEY, .code = 30, .value = 1 };
	char why[128];

	assert_true(fp_capture_hangup(f->cap, 5000, why, sizeof(why)) >= 0);
	assert_int_equal(fp_capture_send_input(f->cap, &ev), -ENOTCONN);
}

struct hammer {
	struct fp_capture *cap;
	atomic_bool stop;
	unsigned long sent, refused_busy, not_connected, other;
	int other_err;
};

/* The WebRTC server's side: motion events from a thread of its own, paced at about 1 kHz
 * (pacing only; nothing waits on it), until told to stop. */
static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	const struct timespec pace = { 0, 1000000 };

	for (uint32_t i = 0; !atomic_load(&h->stop); i++) {
		struct fp_input_event ev = { .type = FP_INPUT_MOTION,
					     .x = (i * 977u) % FP_INPUT_POS_ONE,
					     .y = (i * 3931u) % FP_INPUT_POS_ONE };
		int r = fp_capture_send_input(h->cap, &ev);

		if (r == 0)
			h->sent++;
		else if (r == -EAGAIN)
			h->refused_busy++;
		else if (r == -ENOTCONN)
			h->not_connected++;
		else if (!h->other++)
			h->other_err = r;
		nanosleep(&pace, NULL);
	}
	return NULL;
}

/* Fresh frames until the capture restarted its source once and has a frame from it. */
static void frames_until_restarted(struct fx *f)
{
	int64_t end = fp_now_ns() + 6 * FP_NSEC_PER_SEC;
	struct fp_capture_stats st = { 0 };
	const struct fp_yuv_frame *fr;

	while (fp_now_ns() < end) {
		if (fp_capture_next_frame(f->cap, fp_now_ns() + 20 * FP_NSEC_PER_MSEC, &fr) < 0)
			fail_msg("next_frame: %s", fp_capture_error(f->cap));
		fp_capture_get_stats(f->cap, &st);
		if (st.source_restarts == 1)
			return;
	}
	fail_msg("the killed source was not restarted within 6 s");
}

/* fp_capture_send_input from another thread while the session thread replaces a killed
 * source: every call ends in 0, -EAGAIN or -ENOTCONN (never a send on a closed or reused
 * fd, never a crash), and input reaches the new source afterwards. */
static void send_input_races_restart(void **state)
{
	struct fx *f = start_restarts(state, 1);
	struct hammer h = { .cap = f->cap };
	const struct fp_yuv_frame *fr;
	pthread_t t;

	atomic_init(&h.stop, false);
	assert_int_equal(pthread_create(&t, NULL, hammer_thread, &h), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fp_capture_next_frame(f->cap, fp_now_ns() + 20 * FP_NSEC_PER_MSEC,
						       &fr), 0);
	assert_int_equal(kill(fp_capture_source_pid(f->cap), SIGKILL), 0);
	frames_until_restarted(f);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fp_capture_next_frame(f->cap, fp_now_ns() + 20 * FP_NSEC_PER_MSEC,
						       &fr), 0);
	atomic_store(&h.stop, true);
	pthread_join(t, NULL);
	print_message("sent %lu, refused busy %lu, not connected %lu, other %lu\n", h.sent,
		      h.refused_busy, h.not_connected, h.other);
	if (h.other)
		fail_msg("fp_capture_send_input failed with %s during a restart", strerror(-h.other_err));
	assert_true(h.sent > 0);
	fpt_input_held_keys(f->cap, &f->rep);
}

/* The source's own check, against a host that sends garbage (the test is that host, through
 * the broker): malformed and invalid FP_MSG_INPUT packets, each carrying a key the client
 * would report, are dropped; the good key after them arrives first, so the source lived. */
static void source_drops_malformed_input(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "--backend", "x11", "--display", NULL, NULL };
	struct fp_broker_opts o = { .source_exe = source_exe, .source_argv = argv, .spawn = 1 };
	struct fp_msg_input m = { .hdr = { FP_MSG_INPUT, FP_PROTO_VERSION }, .type = FP_INPUT_KEY,
				  .code = 31, .value = 1 };
	uint8_t longer[sizeof(m) + 4] = { 0 };
	char line[256];

	start_client(f);
	argv[3] = (char *)fp_display_name(f->d);
	assert_int_equal(fp_broker_create(&f->b, &o), 0);
	assert_int_equal(fp_broker_send(f->b, &m, sizeof(m) - 1), 0); /* short */
	m.code = 32;
	memcpy(longer, &m, sizeof(m));
	assert_int_equal(fp_broker_send(f->b, longer, sizeof(longer)), 0); /* long */
	m.code = 33;
	m.hdr.version = FP_PROTO_VERSION + 1;
	assert_int_equal(fp_broker_send(f->b, &m, sizeof(m)), 0);
	m.hdr.version = FP_PROTO_VERSION;
	m.code = 34;
	m.reserved0 = 7;
	assert_int_equal(fp_broker_send(f->b, &m, sizeof(m)), 0);
	m.reserved0 = 0;
	m.value = 2; /* well formed, not a valid event */
	assert_int_equal(fp_broker_send(f->b, &m, sizeof(m)), 0);
	m.code = 30;
	m.value = 1;
	assert_int_equal(fp_broker_send(f->b, &m, sizeof(m)), 0);
	m.value = 0;
	assert_int_equal(fp_broker_send(f->b, &m, sizeof(m)), 0);
	fpt_report_expect(&f->rep, "key ", line, sizeof(line), 5000, "good key after garbage");
	assert_string_equal(line, "key 30 1 a");
	fpt_report_expect(&f->rep, "key ", line, sizeof(line), 5000, "good key after garbage");
	assert_string_equal(line, "key 30 0 -");
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
		FX_TEST(no_source_not_connected),
		FX_TEST(source_drops_malformed_input),
		FX_TEST(send_input_races_restart),
	};

	fp_log_init("test-x11-input");
	if (getenv("FPT_FILTER"))
		cmocka_set_test_filter(getenv("FPT_FILTER"));
	signal(SIGPIPE, SIG_IGN);
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	fpt_build_path("tests/x11/x11-input-client", client_exe, sizeof(client_exe));
	return fpt_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
