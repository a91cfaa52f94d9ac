/* The host capturer against the real framepush-source: each behaviour of the reference
 * design (attach gate, steady state, repeats, display changes, recover-or-drop, source
 * death, no-frame diagnostic, hostile sources, teardown). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "harness.h"

static char source_exe[4096];

static struct fp_capture_opts base_opts(const char *spec, uint32_t w, uint32_t h, uint32_t fps)
{
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = "test", .spec = spec,
		.width = w, .height = h, .fps = fps, .verify_signatures = 1, .convert_threads = 1,
	};
	return o;
}

static struct fp_capture *open_ok(const struct fp_capture_opts *o)
{
	struct fp_capture *cap = NULL;
	int r = fp_capture_open(&cap, o);

	if (r < 0)
		fail_msg("capture open failed: %s", strerror(-r));
	return cap;
}

static double ms_since(int64_t t0)
{
	return (double)(fp_now_ns() - t0) / 1e6;
}

static void attach_gate_kicks_idle_source(void **state)
{
	struct fp_capture_opts o = base_opts("idle=1", 320, 180, 60);
	struct fp_capture_stats st;
	struct fp_capture *cap;
	int64_t t0 = fp_now_ns();
	double ms;

	(void)state;
	cap = open_ok(&o);
	ms = ms_since(t0);
	fp_capture_get_stats(cap, &st);
	/* An idle display publishes nothing until kicked; the first kick is due at 600 ms. */
	assert_true(st.kicks >= 1);
	assert_true(ms >= 550.0);
	assert_true(ms < 4000.0);
	fp_capture_close(cap);
}

static void attach_gate_fails_for_silent_source(void **state)
{
	struct fp_capture_opts o = base_opts("mute=1", 320, 180, 60);
	struct fp_capture *cap = NULL;
	int64_t t0 = fp_now_ns();
	int r;

	(void)state;
	r = fp_capture_open(&cap, &o);
	assert_int_equal(r, -ETIMEDOUT);
	assert_null(cap);
	/* Bounded at 4 s, and not failed early. */
	assert_true(ms_since(t0) >= 3900.0);
	assert_true(ms_since(t0) < 6000.0);
}

static void attach_failure_fails_at_once(void **state)
{
	struct fp_capture_opts o = base_opts(NULL, 320, 180, 60);
	struct fp_capture *cap = NULL;
	int64_t t0 = fp_now_ns();

	(void)state;
	o.source_target_id = 7; /* the source serves display 7; the host's ring is for 1 */
	assert_int_equal(fp_capture_open(&cap, &o), -EPROTO);
	assert_true(ms_since(t0) < 2000.0);
}

static void steady_state_and_output_ring(void **state)
{
	struct fp_capture_opts o = base_opts(NULL, 640, 360, 120);
	const struct fp_yuv_frame *f, *prev[3] = { 0 };
	struct fp_capture_stats st;
	struct fp_capture *cap;
	uint64_t last_seq = 0;

	(void)state;
	o.pipeline_depth = 2;
	cap = open_ok(&o);
	assert_int_equal(fp_capture_pipeline_depth(cap), 2);
	for (int i = 0; i < 120; i++) {
		assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 8 * FP_NSEC_PER_MSEC, &f), 0);
		assert_int_equal(f->format, FP_YUV_NV12);
		assert_int_equal(f->width, 640);
		/* The frames still in flight (depth 2) are never the buffer handed out now. */
		assert_ptr_not_equal(f->data[0], prev[0] ? prev[0]->data[0] : NULL);
		assert_ptr_not_equal(f->data[0], prev[1] ? prev[1]->data[0] : NULL);
		if (!f->repeated) {
			assert_true(f->seq > last_seq);
			last_seq = f->seq;
		}
		prev[1] = prev[0];
		prev[0] = f;
	}
	fp_capture_get_stats(cap, &st);
	assert_int_equal(st.frames_out, 120);
	assert_true(st.frames_fresh > 60);
	assert_int_equal(st.signature_failures, 0);
	assert_int_equal(st.stale_rejected, 0);
	fp_capture_close(cap);
}

static void pipeline_depth_env_clamped(void **state)
{
	struct fp_capture_opts o = base_opts(NULL, 64, 32, 60);
	struct fp_capture *cap;

	(void)state;
	setenv("FRAMEPUSH_PIPELINE_DEPTH", "9", 1);
	cap = open_ok(&o);
	assert_int_equal(fp_capture_pipeline_depth(cap), 3);
	fp_capture_close(cap);
	setenv("FRAMEPUSH_PIPELINE_DEPTH", "1", 1);
	cap = open_ok(&o);
	assert_int_equal(fp_capture_pipeline_depth(cap), 1);
	fp_capture_close(cap);
	unsetenv("FRAMEPUSH_PIPELINE_DEPTH");
	o.pipeline_depth = 3;
	cap = open_ok(&o);
	assert_int_equal(fp_capture_pipeline_depth(cap), 3);
	fp_capture_close(cap);
}

static void repeats_when_idle(void **state)
{
	struct fp_capture_opts o = base_opts("idle=1", 320, 180, 60);
	const struct fp_yuv_frame *f, *prev = NULL;
	struct fp_capture *cap = open_ok(&o);
	struct fp_capture_stats st;
	int64_t start = fp_now_ns();

	(void)state;
	for (int i = 0; i < 30; i++) {
		assert_int_equal(fp_capture_next_frame(cap, start + (i + 1) * 16 * FP_NSEC_PER_MSEC, &f), 0);
		if (prev) {
			assert_ptr_not_equal(f->data[0], prev->data[0]); /* a fresh buffer each time */
			assert_int_equal(f->seq, prev->seq);
			assert_true(f->repeated);
			assert_memory_equal(f->data[0], prev->data[0], f->stride[0] * f->height);
		}
		prev = f;
	}
	fp_capture_get_stats(cap, &st);
	assert_true(st.frames_repeated >= 29);
	fp_capture_close(cap);
}

static void display_flips_200(void **state)
{
	struct fp_capture_opts o = base_opts("flip-every=2", 320, 180, 240);
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st;
	struct fp_capture *cap = open_ok(&o);
	int64_t deadline = fp_now_ns() + 90 * FP_NSEC_PER_SEC;
	uint64_t sdr = 0, hdr = 0;

	(void)state;
	do {
		int r = fp_capture_next_frame(cap, fp_now_ns() + 4 * FP_NSEC_PER_MSEC, &f);

		if (r < 0)
			fail_msg("next_frame failed after %llu recreates: %s",
				 (unsigned long long)st.recreates, fp_capture_error(cap));
		/* Every frame has the geometry and format of one of the two modes, matching. */
		if (f->format == FP_YUV_P010) {
			assert_int_equal(f->width, 240);
			assert_int_equal(f->height, 134);
			hdr++;
		} else {
			assert_int_equal(f->width, 320);
			assert_int_equal(f->height, 180);
			sdr++;
		}
		fp_capture_get_stats(cap, &st);
		if (fp_now_ns() > deadline)
			fail_msg("only %llu recreates in 90 s", (unsigned long long)st.recreates);
	} while (st.recreates < 200);
	assert_int_equal(st.signature_failures, 0);
	assert_true(sdr > 100 && hdr > 100);
	fp_capture_close(cap);
}

static void recover_or_drop(void **state)
{
	struct fp_capture_opts o = base_opts(NULL, 320, 180, 60);
	const struct fp_yuv_frame *f;
	struct fp_capture *cap = open_ok(&o);
	int64_t t0;
	int r;

	(void)state;
	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
	/* The display changes, then composes nothing ever again, even when kicked. */
	assert_int_equal(fp_capture_config(cap, FP_CONFIG_SET_MUTE, 1, 0, 0, 0), 0);
	assert_int_equal(fp_capture_config(cap, FP_CONFIG_SET_DESC, 0, 256, 144, FP_PIXFMT_XRGB8888), 0);
	t0 = fp_now_ns();
	do
		r = fp_capture_next_frame(cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f);
	while (r == 0 && ms_since(t0) < 10000);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(ms_since(t0) >= 2900.0 && ms_since(t0) < 5000.0);
	assert_non_null(strstr(fp_capture_error(cap), "display changed"));
	fp_capture_close(cap);
}

static void death_seen_at_once(int hold)
{
	struct fp_capture_opts o = base_opts(NULL, 320, 180, 60);
	const struct fp_yuv_frame *f;
	struct fp_capture *cap = open_ok(&o);
	char pid[32];
	int64_t t0;
	int r;

	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
	if (hold) {
		/* Let the source wedge itself inside a published slot before it dies. */
		assert_int_equal(fp_capture_config(cap, FP_CONFIG_HOLD_SLOT, 0, 0, 0, 0), 0);
		for (int i = 0; i < 10; i++)
			assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
	}
	snprintf(pid, sizeof(pid), "pid %d", (int)fp_capture_source_pid(cap));
	t0 = fp_now_ns();
	assert_int_equal(kill(fp_capture_source_pid(cap), SIGKILL), 0);
	/* A far deadline: only the death itself may wake next_frame early... */
	do
		r = fp_capture_next_frame(cap, fp_now_ns() + 5 * FP_NSEC_PER_SEC, &f);
	while (r == 0 && ms_since(t0) < 5000);
	assert_int_equal(r, -EPIPE);
	/* ...and it must, within 250 ms of the kill. */
	assert_true(ms_since(t0) < 250.0);
	assert_non_null(strstr(fp_capture_error(cap), pid));
	assert_non_null(strstr(fp_capture_error(cap), "died"));
	assert_non_null(strstr(fp_capture_error(cap), "signal 9"));
	fp_capture_close(cap);
}

static void source_death(void **state)
{
	(void)state;
	death_seen_at_once(0);
}

static void source_death_holding_slot(void **state)
{
	(void)state;
	death_seen_at_once(1);
}

static void no_frame_diagnostic(void **state)
{
	struct fp_capture_opts o = base_opts("mute=1", 320, 180, 60);
	const struct fp_yuv_frame *f;
	struct fp_capture *cap;
	const char *e;

	(void)state;
	o.lazy_attach = 1;
	o.no_frame_timeout_ns = 1 * FP_NSEC_PER_SEC; /* the default is 20 s */
	cap = open_ok(&o);
	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns(), &f), -ETIMEDOUT);
	e = fp_capture_error(cap);
	assert_non_null(strstr(e, "OPENED"));
	assert_non_null(strstr(e, "detail 0"));
	assert_non_null(strstr(e, "NOT_ATTACHED = never attached"));
	assert_non_null(strstr(e, "idle display"));
	fp_capture_close(cap);
}

static void hostile(const char *spec)
{
	struct fp_capture_opts o = base_opts(spec, 320, 180, 240);
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st;
	struct fp_capture *cap = NULL;
	int fds = fp_count_open_fds();
	int64_t t0 = fp_now_ns();
	int r = fp_capture_open(&cap, &o);

	/* The host may refuse the session, but must not crash, hang or leak. */
	if (r == 0) {
		for (int i = 0; i < 240; i++) {
			int64_t call = fp_now_ns();

			r = fp_capture_next_frame(cap, call + 8 * FP_NSEC_PER_MSEC, &f);
			assert_true(ms_since(call) < 4000.0);
			if (r < 0)
				break;
		}
		fp_capture_get_stats(cap, &st);
		fp_capture_close(cap);
	}
	assert_true(ms_since(t0) < 20000.0);
	assert_int_equal(fp_count_open_fds(), fds);
}

static void hostile_scribbler(void **state)
{
	(void)state;
	hostile("hostile=scribble");
}

static void hostile_event_spam(void **state)
{
	(void)state;
	hostile("hostile=spam");
}

static void teardown_releases_everything(void **state)
{
	struct fp_capture_opts o = base_opts("hdr=1", 640, 360, 60);
	const struct fp_yuv_frame *f;
	struct fp_capture *cap;
	int fds = fp_count_open_fds();
	pid_t pid;

	(void)state;
	cap = open_ok(&o);
	assert_true(fp_capture_is_hdr(cap));
	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
	assert_int_equal(f->format, FP_YUV_P010);
	pid = fp_capture_source_pid(cap);
	assert_true(fp_count_open_fds() > fds);
	fp_capture_close(cap);
	assert_int_equal(fp_count_open_fds(), fds);
	/* The source exited on the hang-up and was reaped: the pid is gone. */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(attach_gate_kicks_idle_source),
		cmocka_unit_test(attach_gate_fails_for_silent_source),
		cmocka_unit_test(attach_failure_fails_at_once),
		cmocka_unit_test(steady_state_and_output_ring),
		cmocka_unit_test(pipeline_depth_env_clamped),
		cmocka_unit_test(repeats_when_idle),
		cmocka_unit_test(display_flips_200),
		cmocka_unit_test(recover_or_drop),
		cmocka_unit_test(source_death),
		cmocka_unit_test(source_death_holding_slot),
		cmocka_unit_test(no_frame_diagnostic),
		cmocka_unit_test(hostile_scribbler),
		cmocka_unit_test(hostile_event_spam),
		cmocka_unit_test(teardown_releases_everything),
	};

	fp_log_init("test-capture");
	signal(SIGPIPE, SIG_IGN);
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
