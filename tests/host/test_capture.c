/* The host capturer against the real framepush-source: each behaviour of the reference
 * design (attach gate, steady state, repeats, display changes, recover-or-drop, source
 * death, no-frame diagnostic, hostile sources, teardown). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/convert.h"
#include "framepush/encode.h"
#include "desc_flip.h"
#include "harness.h"
#include "backend.h"
#include "test.h"

static char source_exe[4096];
/* The test peer (tests/peers): the same command line, plus attacks and run-time controls
 * the product does not have. */
static char peer_exe[4096];

static struct fp_capture_opts base_opts(const char *spec, uint32_t w, uint32_t h, uint32_t fps)
{
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = "test", .spec = spec,
		.width = w, .height = h, .fps = fps, .verify_signatures = 1, .convert_threads = 1,
	};
	return o;
}

static struct fp_capture_opts peer_opts(const char *spec, uint32_t w, uint32_t h, uint32_t fps)
{
	struct fp_capture_opts o = base_opts(spec, w, h, fps);

	o.source_exe = peer_exe;
	return o;
}

/* The test peer's control FIFO (spec key control=PATH), in a fresh directory (the
 * harness's: under $TMPDIR where that is set). */
struct peer_ctl {
	char *dir;
	char path[PATH_MAX];
	char spec[PATH_MAX + 256]; /* control=PATH and the spec given to peer_ctl_init */
};

static void peer_ctl_init(struct peer_ctl *c, const char *spec)
{
	int n;

	c->dir = fpt_tmpdir();
	if (!c->dir)
		fail_msg("no temporary directory for the peer's FIFO: %s", strerror(errno));
	n = snprintf(c->path, sizeof(c->path), "%s/control", c->dir);
	if (n < 0 || (size_t)n >= sizeof(c->path))
		fail_msg("FIFO path too long under %s", c->dir);
	if (mkfifo(c->path, 0600) < 0)
		fail_msg("mkfifo %s: %s", c->path, strerror(errno));
	n = snprintf(c->spec, sizeof(c->spec), "control=%s%s%s", c->path, spec ? "," : "",
		     spec ? spec : "");
	if (n < 0 || (size_t)n >= sizeof(c->spec))
		fail_msg("peer spec too long: control=%s,%s", c->path, spec);
}

/* Removes the FIFO with its directory. */
static void peer_ctl_fini(struct peer_ctl *c)
{
	fpt_rmdir(c->dir);
	c->dir = NULL;
}

/* Sends one command line to the peer. Never blocks: the peer opened the FIFO before it
 * attached (else ENXIO), and a line shorter than PIPE_BUF goes in whole or not at all. */
static void peer_send(const struct peer_ctl *c, const char *cmd)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s\n", cmd), fd;
	ssize_t w;

	assert_true(n > 0 && (size_t)n < sizeof(line) && n < PIPE_BUF);
	fd = open(c->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fail_msg("peer control %s: %s (%s)", c->path, strerror(errno),
			 errno == ENXIO ? "the peer has not opened it" : "cannot open");
	w = write(fd, line, (size_t)n);
	if (w != n)
		fail_msg("peer control: '%s': wrote %zd of %d bytes: %s", cmd, w, n,
			 w < 0 ? strerror(errno) : "short write");
	close(fd);
}

static struct fp_capture *open_ok(const struct fp_capture_opts *o)
{
	struct fp_capture *cap = NULL;
	char why[512];
	int r = fp_capture_open(&cap, o, why, sizeof(why));

	if (r < 0)
		fail_msg("capture open failed: %s", why);
	return cap;
}

static double ms_since(int64_t t0)
{
	return (double)(fp_now_ns() - t0) / 1e6;
}

/* Opens a session on an idle source and checks how long the gate took and how many kicks
 * it sent. */
static void open_after_kicks(const char *spec, unsigned kicks, double lo_ms, double hi_ms)
{
	struct fp_capture_opts o = base_opts(spec, 320, 180, 60);
	struct fp_capture_stats st;
	struct fp_capture *cap;
	int64_t t0 = fp_now_ns();
	double ms;

	cap = open_ok(&o);
	ms = ms_since(t0);
	fp_capture_get_stats(cap, &st);
	if (st.kicks != kicks || ms < lo_ms || ms >= hi_ms)
		fail_msg("%s: open took %.0f ms and %llu kicks; want %.0f..%.0f ms and %u", spec, ms,
			 (unsigned long long)st.kicks, lo_ms, hi_ms, kicks);
	fp_capture_close(cap);
}

static void attach_gate_kicks_idle_source(void **state)
{
	(void)state;
	/* An idle display publishes nothing until kicked; the first kick is due at 600 ms and
	 * its frame opens the session, long before the second kick (1400 ms). */
	open_after_kicks("idle=1", 1, 550.0, 900.0);
}

static void attach_gate_keeps_kicking(void **state)
{
	(void)state;
	/* This display ignores the first kick (600 ms); the second is due at 1400 ms. */
	open_after_kicks("idle=1,answer-kick=2", 2, 1300.0, 2000.0);
}

static void attach_gate_fails_for_silent_source(void **state)
{
	struct fp_capture_opts o = base_opts("mute=1", 320, 180, 60);
	struct fp_capture *cap = NULL;
	int64_t t0 = fp_now_ns();
	int r;

	(void)state;
	(void)state;
	char e[512];
	unsigned long long kicks = 0;

	r = fp_capture_open(&cap, &o, e, sizeof(e));
	assert_int_equal(r, -ETIMEDOUT);
	assert_null(cap);
	/* Bounded at 4 s, and not failed early. */
	assert_true(ms_since(t0) >= 3900.0);
	assert_true(ms_since(t0) < 6000.0);
	/* The reason names how often it was kicked (600, 1400, ... 3800 ms) and its status. */
	if (!strstr(e, "despite ") || sscanf(strstr(e, "despite "), "despite %llu kicks", &kicks) != 1 ||
	    kicks < 4 || kicks > 5)
		fail_msg("want the kick count (4 or 5) in: %s", e);
	if (!strstr(e, "status OPENED, detail 0"))
		fail_msg("want the status and detail in: %s", e);
}

static void attach_failure_fails_at_once(void **state)
{
	/* The source serves display 7; the host's ring is for 1. */
	struct fp_capture_opts o = peer_opts("claim-target=7", 320, 180, 60);
	struct fp_capture *cap = NULL;
	int64_t t0 = fp_now_ns();
	char why[512];

	(void)state;
	assert_int_equal(fp_capture_open(&cap, &o, why, sizeof(why)), -EPROTO);
	assert_true(ms_since(t0) < 2000.0);
	/* The source's status and detail (the target id it was offered), not just "failed". */
	if (!strstr(why, "BIND_MISMATCH, detail 1"))
		fail_msg("want status and detail in: %s", why);
}

static void steady_state_and_output_ring(void **state)
{
	struct fp_capture_opts o = base_opts(NULL, 640, 360, 120);
	const struct fp_yuv_frame *f, *prev[3] = { 0 };
	struct fp_capture_stats st;
	struct fp_hdr10 meta;
	struct fp_capture *cap;
	uint64_t last_seq = 0;

	(void)state;
	o.pipeline_depth = 2;
	cap = open_ok(&o);
	assert_int_equal(fp_capture_pipeline_depth(cap), 2);
	assert_int_equal(fp_capture_hdr_meta(cap, &meta), 0); /* SDR */
	assert_int_equal(meta.max_luminance, 0);
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
	struct fp_hdr10 meta;

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
		/* The HDR metadata follows the display. */
		assert_int_equal(fp_capture_hdr_meta(cap, &meta), fp_capture_is_hdr(cap));
	} while (st.recreates < 200);
	assert_int_equal(st.signature_failures, 0);
	/* Every fresh frame was published on some ring: the session-wide count covers them,
	 * the current ring's alone cannot (it restarts at each of the 200 rings). */
	if (st.source_published_total < st.frames_fresh || st.source_published >= st.frames_fresh)
		fail_msg("published %llu in all, %llu on this ring; %llu fresh consumed",
			 (unsigned long long)st.source_published_total,
			 (unsigned long long)st.source_published, (unsigned long long)st.frames_fresh);
	/* Both modes flow: most of the ~100 rings of each mode gave a frame. (Not more than one
	 * each: a slow host, as under TSan, takes about one frame a ring, the source flipping
	 * after two.) */
	if (sdr < st.recreates * 2 / 5 || hdr < st.recreates * 2 / 5)
		fail_msg("%llu SDR and %llu HDR frames over %llu recreates (%llu fresh): want 40%% each",
			 (unsigned long long)sdr, (unsigned long long)hdr,
			 (unsigned long long)st.recreates, (unsigned long long)st.frames_fresh);
	fp_capture_close(cap);
}

/* The record hdr=1 plus these keys makes the test source report (P3-D65, test.c). */
#define OWN_HDR_SPEC "hdr=1,max-cll=1200,max-fall=350,mastering-max=4000,mastering-min=0.005"

static struct fp_hdr10 own_hdr10(void)
{
	return (struct fp_hdr10){
		.red_x = 34000, .red_y = 16000, .green_x = 13250, .green_y = 34500,
		.blue_x = 7500, .blue_y = 3000, .white_x = 15635, .white_y = 16450,
		.max_luminance = 40000000, .min_luminance = 50, .max_cll = 1200, .max_fall = 350,
	};
}

static void expect_hdr10(const struct fp_hdr10 *got, const struct fp_hdr10 *want, const char *what)
{
	if (memcmp(got, want, sizeof(*got)))
		fail_msg("%s: got R %u,%u WP %u,%u L %u..%u CLL %u FALL %u; want R %u,%u WP %u,%u "
			 "L %u..%u CLL %u FALL %u", what, got->red_x, got->red_y, got->white_x,
			 got->white_y, got->min_luminance, got->max_luminance, got->max_cll,
			 got->max_fall, want->red_x, want->red_y, want->white_x, want->white_y,
			 want->min_luminance, want->max_luminance, want->max_cll, want->max_fall);
}

/* The source's own record is what the capturer hands out, from open on (its first frames
 * are encoded with it) and again on every ring after a display change; SDR has none. */
static void hdr_meta_from_source(void **state)
{
	struct fp_capture_opts o = base_opts(OWN_HDR_SPEC ",flip-every=3", 320, 180, 240);
	struct fp_hdr10 meta, want = own_hdr10();
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st = { 0 };
	struct fp_capture *cap;
	int64_t deadline = fp_now_ns() + 30 * FP_NSEC_PER_SEC;
	unsigned hdr_seen = 0, sdr_seen = 0;

	(void)state;
	cap = open_ok(&o);
	assert_true(fp_capture_is_hdr(cap));
	assert_int_equal(fp_capture_hdr_meta(cap, &meta), 1);
	expect_hdr10(&meta, &want, "at open");
	while (st.recreates < 6 || !hdr_seen || !sdr_seen) {
		int r = fp_capture_next_frame(cap, fp_now_ns() + 4 * FP_NSEC_PER_MSEC, &f);

		if (r < 0)
			fail_msg("next_frame failed: %s", fp_capture_error(cap));
		if (fp_capture_is_hdr(cap)) {
			assert_int_equal(fp_capture_hdr_meta(cap, &meta), 1);
			if (st.recreates >= 2)
				expect_hdr10(&meta, &want, "after a display change");
			hdr_seen += st.recreates >= 2;
		} else {
			struct fp_hdr10 zero = { 0 };

			assert_int_equal(fp_capture_hdr_meta(cap, &meta), 0);
			expect_hdr10(&meta, &zero, "SDR");
			sdr_seen++;
		}
		fp_capture_get_stats(cap, &st);
		if (fp_now_ns() > deadline)
			fail_msg("%llu recreates, %u HDR / %u SDR checks in 30 s",
				 (unsigned long long)st.recreates, hdr_seen, sdr_seen);
	}
	fp_capture_close(cap);

	/* The same record on an SDR display: nothing to hand out. */
	o = base_opts("max-cll=1200,max-fall=350", 320, 180, 60);
	cap = open_ok(&o);
	assert_int_equal(fp_capture_hdr_meta(cap, &meta), 0);
	assert_int_equal(meta.max_cll, 0);
	fp_capture_close(cap);
}

/* An invalid record (bad values, or a presence word other than 0/1) is never used and never
 * ends the session: the generic baseline stands in, and the record is logged once, with its
 * values, however many rings repeat it. */
static void hdr_meta_invalid_falls_back(void **state)
{
	static const char *specs[] = { "hdr=1,hdr-meta=bad,flip-every=4",
				       "hdr=1,hdr-meta=bad-present,flip-every=4" };
	static const char *values[] = { "MaxCLL 100, MaxFALL 200", "present 2," };

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(specs); i++) {
		struct fp_capture_opts o = base_opts(specs[i], 320, 180, 240);
		struct fp_hdr10 meta, generic = fp_hdr10_generic;
		const struct fp_yuv_frame *f;
		struct fp_capture_stats st = { 0 };
		struct fp_capture *cap;
		FILE *tmp = tmpfile();
		int saved = dup(STDERR_FILENO);
		char log[8192], *p;
		size_t n;
		unsigned lines = 0;

		assert_non_null(tmp);
		assert_true(saved >= 0);
		assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
		cap = open_ok(&o);
		assert_int_equal(fp_capture_hdr_meta(cap, &meta), 1);
		expect_hdr10(&meta, &generic, specs[i]);
		while (st.recreates < 4) {
			assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 4 * FP_NSEC_PER_MSEC, &f), 0);
			if (fp_capture_hdr_meta(cap, &meta))
				expect_hdr10(&meta, &generic, specs[i]);
			fp_capture_get_stats(cap, &st);
		}
		fp_capture_close(cap);
		fflush(stderr);
		assert_true(dup2(saved, STDERR_FILENO) >= 0);
		close(saved);
		rewind(tmp);
		n = fread(log, 1, sizeof(log) - 1, tmp);
		log[n] = '\0';
		fclose(tmp);
		for (p = log; (p = strstr(p, "invalid HDR10 metadata")); p++)
			lines++;
		if (lines != 1 || !strstr(log, values[i]) || !strstr(log, "generic baseline"))
			fail_msg("%s: want one line with '%s', got %u in: %.2000s", specs[i], values[i],
				 lines, log);
	}
}

/* A frame handed out before a display change stays readable until pipeline_depth more
 * frames have been handed out, even when those are of the new format: the encoder may
 * still be reading it (ASan reports a use-after-free if the old buffers go early). */
static void frame_survives_display_change(void **state)
{
	struct peer_ctl ctl;
	struct fp_capture_opts o;
	const struct fp_yuv_frame *f;
	struct fp_yuv_frame held;
	unsigned char *copy[2];
	size_t bytes[2];
	struct fp_capture *cap;
	int64_t deadline;

	(void)state;
	peer_ctl_init(&ctl, NULL);
	o = peer_opts(ctl.spec, 320, 180, 120);
	o.pipeline_depth = 2;
	cap = open_ok(&o);
	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
	bytes[0] = f->stride[0] * f->height;
	bytes[1] = f->stride[1] * ((f->height + 1) / 2);
	copy[0] = malloc(bytes[0]);
	copy[1] = malloc(bytes[1]);
	assert_true(copy[0] && copy[1]);
	held = *f;
	memcpy(copy[0], held.data[0], bytes[0]);
	memcpy(copy[1], held.data[1], bytes[1]);
	peer_send(&ctl, "desc 256 144 xrgb8888");
	/* Hold the last old-format frame handed out before the first new-format one: a copy
	 * of its descriptor, as the session queues it, and of its pixels. */
	deadline = fp_now_ns() + 3 * FP_NSEC_PER_SEC;
	for (;;) {
		assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 8 * FP_NSEC_PER_MSEC, &f), 0);
		if (f->width == 256)
			break;
		assert_int_equal(f->width, 320);
		held = *f;
		memcpy(copy[0], held.data[0], bytes[0]);
		memcpy(copy[1], held.data[1], bytes[1]);
		if (fp_now_ns() > deadline)
			fail_msg("no 256x144 frame within 3 s of the display change");
	}
	/* That first new-format frame and depth - 1 more: the held one may still be in the
	 * encoder, so its planes must still hold its pixels. */
	for (unsigned i = 1; i < fp_capture_pipeline_depth(cap); i++)
		assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 8 * FP_NSEC_PER_MSEC, &f), 0);
	/* memcmp here, not in uninstrumented cmocka, so ASan checks the reads. */
	assert_true(memcmp(held.data[0], copy[0], bytes[0]) == 0);
	assert_true(memcmp(held.data[1], copy[1], bytes[1]) == 0);
	free(copy[0]);
	free(copy[1]);
	fp_capture_close(cap);
	peer_ctl_fini(&ctl);
}

static void recover_or_drop(void **state)
{
	struct peer_ctl ctl;
	struct fp_capture_opts o;
	const struct fp_yuv_frame *f;
	struct fp_capture *cap;
	int64_t t0;
	int r;

	(void)state;
	peer_ctl_init(&ctl, NULL);
	o = peer_opts(ctl.spec, 320, 180, 60);
	cap = open_ok(&o);
	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
	/* The display changes, then composes nothing ever again, even when kicked. */
	peer_send(&ctl, "mute 1");
	peer_send(&ctl, "desc 256 144 xrgb8888");
	t0 = fp_now_ns();
	do
		r = fp_capture_next_frame(cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f);
	while (r == 0 && ms_since(t0) < 10000);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(ms_since(t0) >= 2900.0 && ms_since(t0) < 5000.0);
	assert_non_null(strstr(fp_capture_error(cap), "display changed"));
	fp_capture_close(cap);
	peer_ctl_fini(&ctl);
}

static void death_seen_at_once(int hold)
{
	struct peer_ctl ctl;
	struct fp_capture_opts o;
	const struct fp_yuv_frame *f;
	struct fp_capture *cap;
	struct fp_capture_stats st;
	char pid[32];
	int64_t t0;
	int r;

	/* Only the held slot needs the peer and its FIFO; a plain death is the product's. */
	if (hold) {
		peer_ctl_init(&ctl, NULL);
		o = peer_opts(ctl.spec, 320, 180, 60);
	} else {
		o = base_opts(NULL, 320, 180, 60);
	}
	cap = open_ok(&o);
	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
	if (hold) {
		/* The source takes back the next slot it publishes and keeps it (a writer wedged
		 * in the slot the host is about to read). The host sees it: that token's slot
		 * stays busy, is skipped, and is counted once however often it is retried. */
		peer_send(&ctl, "hold-slot");
		t0 = fp_now_ns();
		do {
			assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
			fp_capture_get_stats(cap, &st);
			if (ms_since(t0) > 3000)
				fail_msg("the source never held a published slot");
		} while (st.busy_skipped == 0);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
			assert_true(f->repeated); /* it publishes nothing more */
		}
		fp_capture_get_stats(cap, &st);
		assert_int_equal(st.busy_skipped, 1);
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
	/* The held slot word was taken over from the dead source. */
	fp_capture_get_stats(cap, &st);
	if (hold)
		assert_int_equal(st.abandoned_slots, 1);
	fp_capture_close(cap);
	if (hold)
		peer_ctl_fini(&ctl);
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
	/* The status part itself: the legend that follows names every status anyway. */
	if (!strstr(e, "source status OPENED (1), detail 0"))
		fail_msg("want the status and detail in: %s", e);
	assert_non_null(strstr(e, "NOT_ATTACHED = never attached"));
	assert_non_null(strstr(e, "idle display"));
	fp_capture_close(cap);
}

/* Every next_frame call of a session against a hostile source: each returns within its
 * deadline plus max_ms (the host never blocks on what the source can reach). Returns the
 * first error (0 if none within calls), with the fresh frames counted. */
static int run_calls(struct fp_capture *cap, int calls, int64_t slice_ns, double max_ms,
		     uint64_t *fresh, const char *what)
{
	const struct fp_yuv_frame *f;

	*fresh = 0;
	for (int i = 0; i < calls; i++) {
		int64_t call = fp_now_ns();
		int r = fp_capture_next_frame(cap, call + slice_ns, &f);
		double ms = ms_since(call) - (double)slice_ns / 1e6;

		if (ms > max_ms)
			fail_msg("%s: call %d took %.0f ms past its deadline (limit %.0f)", what, i, ms,
				 max_ms);
		if (r < 0)
			return r;
		*fresh += !f->repeated;
	}
	return 0;
}

/* A source that attacks from its tenth frame on: the session opens, fresh frames flow, no
 * call blocks, nothing leaks; where the attack can end the session (a scribbled descriptor),
 * it ends with the protocol error that names the source, nothing else. */
static void hostile(const char *spec, int may_end)
{
	struct fp_capture_opts o = peer_opts(spec, 320, 180, 240);
	struct fp_capture_stats st;
	struct fp_capture *cap;
	int fds = fp_count_open_fds();
	uint64_t fresh;
	int r;

	cap = open_ok(&o);
	/* No call over 1000 ms in all: 992 past its 8 ms deadline. */
	r = run_calls(cap, 240, 8 * FP_NSEC_PER_MSEC, 992.0, &fresh, spec);
	fp_capture_get_stats(cap, &st);
	fp_info("%s: %llu fresh, %llu stale, %llu busy, end %d (%s)", spec,
		(unsigned long long)st.frames_fresh, (unsigned long long)st.stale_rejected,
		(unsigned long long)st.busy_skipped, r, r < 0 ? fp_capture_error(cap) : "none");
	if (r < 0 && (!may_end || r != -EPROTO || !strstr(fp_capture_error(cap), "source pid")))
		fail_msg("%s: the session ended with %d: %s", spec, r, fp_capture_error(cap));
	assert_true(fresh > 0);
	fp_capture_close(cap);
	assert_int_equal(fp_count_open_fds(), fds);
}

static void hostile_scribbler(void **state)
{
	(void)state;
	hostile("hostile=scribble,hostile-after=10", 1);
}

/* A solid frame converts to one Y value and one CbCr pair everywhere but under its
 * signature (the first 8 pixels of row 0) and the chroma that reaches it (left-sited: sample
 * i filters columns 2i-1..2i+1, so samples 0..4): anything else is garbage the host let
 * through. */
static int frame_is_uniform(const struct fp_yuv_frame *f)
{
	size_t bps = f->format == FP_YUV_P010 ? 2 : 1;
	const uint8_t *y = f->data[0] + f->stride[0], *c = f->data[1] + f->stride[1];

	for (uint32_t row = 0; row < f->height; row++)
		for (uint32_t x = row ? 0 : 8; x < f->width; x++)
			if (memcmp(f->data[0] + row * f->stride[0] + x * bps, y, bps))
				return 0;
	for (uint32_t row = 0; row < (f->height + 1) / 2; row++)
		for (uint32_t x = row ? 0 : 5; x < (f->width + 1) / 2; x++)
			if (memcmp(f->data[1] + row * f->stride[1] + x * 2 * bps, c, 2 * bps))
				return 0;
	return 1;
}

enum { SCRIBBLE_STATUS, SCRIBBLE_PIXELS };

/* A source that attacks the channel in steady state, after a clean open: the session goes
 * on, fresh frames keep coming, the attack is seen (counted), and every frame handed out is
 * whole. scribble-status spares only the descriptor words (a random one would just end the
 * session with "invalid display"); scribble-pixels writes into the published slot. */
static void hostile_steady(int mode, unsigned seed)
{
	char spec[160];
	struct fp_capture_opts o;
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st;
	struct fp_capture *cap;
	int fds = fp_count_open_fds();
	uint64_t fresh = 0;

	snprintf(spec, sizeof(spec), "pattern=solid,rgb=0.2/0.5/0.8,hostile=%s,hostile-after=%u,seed=%u",
		 mode == SCRIBBLE_STATUS ? "scribble-status" : "scribble-pixels",
		 mode == SCRIBBLE_STATUS ? 60u : 10u, seed);
	o = peer_opts(spec, 320, 180, 240);
	o.no_frame_timeout_ns = 3 * FP_NSEC_PER_SEC;
	cap = open_ok(&o);
	for (int i = 0; i < 100; i++) {
		int64_t call = fp_now_ns();
		int r = fp_capture_next_frame(cap, call + 8 * FP_NSEC_PER_MSEC, &f);

		if (r < 0)
			fail_msg("seed %u: frame %d: %s", seed, i, fp_capture_error(cap));
		if (ms_since(call) > 1000.0)
			fail_msg("seed %u: next_frame blocked %.0f ms", seed, ms_since(call));
		if (f->width != 320 || f->height != 180 || !frame_is_uniform(f))
			fail_msg("seed %u: frame %d (seq %llu, %s) is not the solid frame the source "
				 "signed", seed, i, (unsigned long long)f->seq,
				 f->repeated ? "repeat" : "fresh");
		fresh += !f->repeated;
	}
	fp_capture_get_stats(cap, &st);
	fp_capture_close(cap);
	fp_info("seed %u: %llu fresh, %llu stale, %llu busy, %llu bad signatures", seed,
		(unsigned long long)st.frames_fresh, (unsigned long long)st.stale_rejected,
		(unsigned long long)st.busy_skipped, (unsigned long long)st.signature_failures);
	assert_true(fresh > 0);
	assert_int_equal(fresh, st.frames_fresh);
	if (mode == SCRIBBLE_STATUS)
		assert_true(st.stale_rejected + st.busy_skipped > 0);
	else
		assert_true(st.signature_failures > 0);
	assert_int_equal(fp_count_open_fds(), fds);
}

static void hostile_status_steady(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 3; seed++)
		hostile_steady(SCRIBBLE_STATUS, seed);
}

static void hostile_pixels_rejected(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 3; seed++)
		hostile_steady(SCRIBBLE_PIXELS, seed);
}

static void hostile_event_spam(void **state)
{
	(void)state;
	hostile("hostile=spam,hostile-after=10", 0);
}

/* The source takes O_NONBLOCK off the eventfd it shares with the host and consumes every
 * count: a host that read() after its poll() blocked until the next publish (250 ms here),
 * or forever once the source went quiet. Now no call overruns, and frames still flow. */
static void hostile_event_stolen(void **state)
{
	struct fp_capture_opts o = peer_opts("pattern=solid,hostile=steal-event,hostile-after=2",
					     320, 180, 4);
	struct fp_capture *cap;
	int fds = fp_count_open_fds();
	uint64_t fresh;

	(void)state;
	cap = open_ok(&o);
	assert_int_equal(run_calls(cap, 100, 20 * FP_NSEC_PER_MSEC, 60.0, &fresh, "steal-event"), 0);
	fp_info("steal-event: %llu fresh frames in 100 calls of 20 ms", (unsigned long long)fresh);
	assert_true(fresh >= 4); /* 2 s at 4 fps: ~8, each found by the token, not the event */
	fp_capture_close(cap);
	assert_int_equal(fp_count_open_fds(), fds);
}

/* A source that floods its socket with junk: each call stays within its deadline (it took
 * 1.2-1.6 s per 20 ms call when the drain was unbounded), the junk is counted, and past the
 * limit the session ends with a protocol violation that says so. */
static void hostile_socket_flood(void **state)
{
	struct fp_capture_opts o = peer_opts("pattern=solid,hostile=flood,hostile-after=2", 320,
					     180, 60);
	struct fp_capture_stats st;
	struct fp_capture *cap;
	int fds = fp_count_open_fds();
	uint64_t fresh;
	int r;

	(void)state;
	cap = open_ok(&o);
	r = run_calls(cap, 500, 20 * FP_NSEC_PER_MSEC, 60.0, &fresh, "flood");
	fp_capture_get_stats(cap, &st);
	fp_info("flood: %d after %llu fresh frames, %llu junk messages: %s", r,
		(unsigned long long)fresh, (unsigned long long)st.junk_messages, fp_capture_error(cap));
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(fp_capture_error(cap), "a flood"));
	assert_true(st.junk_messages > 64);
	fp_capture_close(cap);
	assert_int_equal(fp_count_open_fds(), fds);
}

/* The source is sandboxed once attached: a system call outside its steady-state set (a
 * new socket, as a taken-over source would open to phone home) kills it, and the host says
 * so instead of a bare "died". */
static void forbidden_syscall_killed(const char *spec)
{
	struct fp_capture_opts o = peer_opts(spec, 320, 180, 60);
	struct fp_capture *cap;
	uint64_t fresh;
	int r;

	cap = open_ok(&o);
	r = run_calls(cap, 300, 20 * FP_NSEC_PER_MSEC, 250.0, &fresh, spec);
	fp_info("%s: %d after %llu fresh frames: %s", spec, r, (unsigned long long)fresh,
		fp_capture_error(cap));
	assert_int_equal(r, -EPIPE);
	if (!strstr(fp_capture_error(cap), "signal 31") ||
	    !strstr(fp_capture_error(cap), "sandbox stopped a system call"))
		fail_msg("%s: want the sandbox named in: %s", spec, fp_capture_error(cap));
	fp_capture_close(cap);
}

static void sandbox_kills_forbidden_syscall(void **state)
{
	(void)state;
	forbidden_syscall_killed("pattern=solid,hostile=forbidden-syscall,hostile-after=3");
	/* hostile-after=0 (the default) still waits for the first publish: an attack armed
	 * before the attach ran unsandboxed, and did nothing the host could see. */
	forbidden_syscall_killed("pattern=solid,hostile=forbidden-syscall,hostile-after=0");
}

/* One record type on both sides: the host's copy is the wire record, byte for byte. */
static int same_record(const struct fp_hdr10 *a, const struct fp_hdr_meta *m)
{
	return !memcmp(a, &m->rec, sizeof(*a));
}

/* The source rewrites its descriptor in a tight loop, alternating two HDR10 records of the
 * same mode. The host takes only whole ones (seqlock): never a mixture, never a recreate. */
static void hostile_descriptor_rewrites(void **state)
{
	struct fp_capture_opts o = peer_opts("hdr=1,pattern=solid,hostile=desc-flip,hostile-after=2",
					     320, 180, 240);
	struct fp_hdr_meta rec[2];
	struct fp_capture_stats st;
	struct fp_capture *cap;
	unsigned seen[2] = { 0, 0 };
	const struct fp_hdr10 generic = fp_hdr10_generic;

	(void)state;
	fp_test_desc_flip_records(rec);
	cap = open_ok(&o);
	for (int i = 0; i < 400; i++) {
		const struct fp_yuv_frame *f;
		struct fp_hdr10 m;

		assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 5 * FP_NSEC_PER_MSEC, &f), 0);
		assert_int_equal(fp_capture_hdr_meta(cap, &m), 1);
		if (same_record(&m, &rec[0]))
			seen[0]++;
		else if (same_record(&m, &rec[1]))
			seen[1]++;
		else if (memcmp(&m, &generic, sizeof(m)))
			fail_msg("call %d: the host holds an HDR10 record the source never wrote: "
				 "R %u,%u luminance %u..%u MaxCLL %u MaxFALL %u", i, m.red_x, m.red_y,
				 m.min_luminance, m.max_luminance, m.max_cll, m.max_fall);
	}
	fp_capture_get_stats(cap, &st);
	fp_capture_close(cap);
	fp_info("desc-flip: record A held on %u calls, B on %u", seen[0], seen[1]);
	assert_int_equal(st.recreates, 0);
	assert_true(seen[0] > 0 && seen[1] > 0);
}

/* A source that dies is started again when the session allows it: a new pid, a new ring,
 * fresh frames again, every restart counted; past the limit a death ends the session as
 * before. Nothing leaks across the restarts. */
static void source_restarted_after_death(void **state)
{
	struct fp_capture_opts o = base_opts("pattern=solid", 320, 180, 60);
	struct fp_capture_stats st;
	struct fp_capture *cap;
	int fds = fp_count_open_fds();
	uint64_t fresh;
	int r = 0;

	(void)state;
	o.max_source_restarts = 2;
	cap = open_ok(&o);
	for (unsigned kill_no = 1; kill_no <= 3 && r == 0; kill_no++) {
		pid_t pid = fp_capture_source_pid(cap);

		assert_int_equal(run_calls(cap, 10, 17 * FP_NSEC_PER_MSEC, 100.0, &fresh, "before"), 0);
		assert_true(fresh > 0);
		assert_int_equal(kill(pid, SIGKILL), 0);
		/* A restart waits for the new source's first frame: up to the 4 s attach gate. */
		r = run_calls(cap, 60, 17 * FP_NSEC_PER_MSEC, 4500.0, &fresh, "after kill");
		fp_capture_get_stats(cap, &st);
		fp_info("kill %u of pid %d: %d, %llu restarts, now pid %d, %llu fresh", kill_no, (int)pid,
			r, (unsigned long long)st.source_restarts, (int)fp_capture_source_pid(cap),
			(unsigned long long)fresh);
		if (kill_no <= 2) {
			assert_int_equal(r, 0);
			assert_int_equal(st.source_restarts, kill_no);
			assert_true(fp_capture_source_pid(cap) != pid);
			assert_true(fresh > 30);
		}
	}
	assert_int_equal(r, -EPIPE); /* the third death is past the limit */
	assert_non_null(strstr(fp_capture_error(cap), "died"));
	fp_capture_close(cap);
	assert_int_equal(fp_count_open_fds(), fds);
}

/* Threads of this process, the caller included. */
static int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* File-backed mappings: the ring's memfds (and any file mapped on the way). Anonymous
 * ones are left out: the allocator (ASan's above all) grows those on its own; a thread
 * stack left behind shows in the task count, a buffer in LSan. */
static int count_file_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strchr(line, '/') != NULL;
	fclose(f);
	return n;
}

struct counts {
	int fds, tasks, maps;
};

static void open_use_close(struct counts *open, char *why, size_t len)
{
	struct fp_capture_opts o = base_opts("hdr=1", 640, 360, 60);
	const struct fp_yuv_frame *f;
	struct fp_capture *cap;
	pid_t pid;

	struct fp_hdr10 meta, generic = fp_hdr10_generic;

	o.convert_threads = 4;
	cap = open_ok(&o);
	assert_true(fp_capture_is_hdr(cap));
	assert_int_equal(fp_capture_hdr_meta(cap, &meta), 1);
	assert_memory_equal(&meta, &generic, sizeof(meta));
	for (int i = 0; i < 5; i++)
		assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 20 * FP_NSEC_PER_MSEC, &f), 0);
	assert_int_equal(f->format, FP_YUV_P010);
	pid = fp_capture_source_pid(cap);
	open->fds = fp_count_open_fds();
	open->tasks = count_tasks();
	open->maps = count_file_maps();
	/* The source exits by itself on the hang-up: not killed, status 0. */
	assert_int_equal(fp_capture_hangup(cap, 2000, why, len), 1);
	fp_capture_close(cap);
	/* ...and was reaped: the pid is gone. */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void teardown_releases_everything(void **state)
{
	char why[96];
	struct counts before, open;

	(void)state;
	/* One round first: the C library keeps per-thread malloc arenas mapped after the
	 * converter's threads exit and reuses them, so only a second round must leave the
	 * process exactly as it found it. */
	open_use_close(&open, why, sizeof(why));
	before.fds = fp_count_open_fds();
	before.tasks = count_tasks();
	before.maps = count_file_maps();
	open_use_close(&open, why, sizeof(why));
	assert_string_equal(why, "exited with status 0");
	/* Open, the session had more of each (the counts can see a leak)... */
	assert_true(open.fds > before.fds);
	assert_true(open.tasks >= before.tasks + 3); /* 4 convert threads, the caller is one */
	assert_true(open.maps > before.maps);
	/* ...and closed, exactly as many as before. */
	assert_int_equal(fp_count_open_fds(), before.fds);
	assert_int_equal(count_tasks(), before.tasks);
	assert_int_equal(count_file_maps(), before.maps);
}

/* Creates the test backend with spec, its log going to a temporary file; returns the
 * result and what it logged. */
static int create_test_backend(const char *spec, char *log, size_t len)
{
	const struct fp_backend_impl *impl = fp_backend_find("test");
	struct fp_backend_args args = { .spec = spec, .width = 64, .height = 32, .fps = 60 };
	struct fp_backend *b = NULL;
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), r;
	size_t n;

	assert_non_null(impl);
	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	r = impl->create(&b, &args);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(log, 1, len - 1, tmp);
	log[n] = '\0';
	fclose(tmp);
	if (b)
		impl->destroy(b);
	return r;
}

/* Runs `exe --backend test --check-spec --spec spec`; returns its exit code, with what it
 * logged in log. */
static int check_spec_exit(const char *exe, const char *spec, char *log, size_t len)
{
	char *argv[] = { (char *)exe, (char *)"--backend", (char *)"test", (char *)"--check-spec",
			 (char *)"--spec", (char *)spec, NULL };
	int code = fpt_run_stderr(argv, log, len, 5000);

	if (code < 0)
		fail_msg("%s --check-spec --spec '%s': %s", exe, spec, strerror(-code));
	return code;
}

/* A typo in a test spec must fail the source, naming the key and the value, rather than
 * quietly test something else. */
static void test_source_spec_strict(void **state)
{
	static const char *bad[] = {
		"hdr=2", "hdr=yes", "hdr=", "idle=01", "mute=true", "flip-every=3x", "flip-every=-1",
		"flip-every= 2", "flip-every=99999999999", "rgb=0.5/0.5", "rgb=0.5/0.5/0.5x",
		"rgb=nan/0/0", "rgb=0/inf/0", "rgb=1e9/0/0", "rgb=a/b/c", "answer-kick=0",
		"pattern=zigzag",
		"max-cll=10001", "max-fall=-1", "max-cll=1e3", "mastering-max=0", "mastering-max=10001",
		"mastering-max=1.00001", "mastering-min=.5", "mastering-min=1.",
		"mastering-max=1000nits", "hdr-meta=yes",
	};
	static const char *good[] = {
		"hdr=0", "hdr=1,idle=1,mute=0", "flip-every=0", "flip-every=7",
		"rgb=0.25/0.5/1", "rgb=-0.1/4.0/12.5", "answer-kick=3",
		"pattern=bars", "max-cll=1000,max-fall=400", "mastering-max=1000,mastering-min=0.0001",
		"mastering-min=0.005", "mastering-max=10000", "hdr-meta=own", "hdr-meta=bad",
		"hdr-meta=bad-present", "max-cll=0,max-fall=0",
	};
	/* Each value fine, the pair not: refused too, naming both (hdr-meta=bad sends one). */
	static const char *bad_pair[][3] = {
		{ "max-cll=100,max-fall=200", "max-fall=200", "max-cll=100" },
		{ "mastering-max=1,mastering-min=1", "mastering-min=1.0000", "mastering-max=1.0000" },
	};
	char log[1024];

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++) {
		if (create_test_backend(bad[i], log, sizeof(log)) != -EINVAL)
			fail_msg("spec '%s' was accepted", bad[i]);
		/* The line names the pair as written and says what would do. */
		if (!strstr(log, bad[i]) || !strstr(log, "expected"))
			fail_msg("spec '%s' refused without naming it: %s", bad[i], log);
	}
	for (size_t i = 0; i < FP_ARRAY_LEN(good); i++)
		if (create_test_backend(good[i], log, sizeof(log)) != 0)
			fail_msg("spec '%s' was refused: %s", good[i], log);
	for (size_t i = 0; i < FP_ARRAY_LEN(bad_pair); i++) {
		if (create_test_backend(bad_pair[i][0], log, sizeof(log)) != -EINVAL)
			fail_msg("spec '%s' was accepted", bad_pair[i][0]);
		if (!strstr(log, bad_pair[i][1]) || !strstr(log, bad_pair[i][2]) ||
		    !strstr(log, "expected"))
			fail_msg("spec '%s' refused without naming the pair: %s", bad_pair[i][0], log);
	}
}

/* The product has no way in to the test peer's attacks and controls: framepush-source (and
 * its test backend in process) refuses their keys as unknown; the peer takes them, as
 * strictly as the pattern's own. --check-spec answers without a display or a host. */
static void test_hooks_only_in_peer(void **state)
{
	static const char *peer_only[][2] = {
		{ "hostile=scribble", "hostile" }, { "hostile-after=0,seed=42", "hostile-after" },
		{ "control=/tmp/fifo", "control" }, { "claim-target=7", "claim-target" },
	};
	static const char *peer_bad[] = { "hostile-after=1.5", "seed=-3", "hostile=nice",
					  "claim-target=0", "hdr=2" };
	char log[1024], want[64];

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(peer_only); i++) {
		snprintf(want, sizeof(want), "unknown option '%s'", peer_only[i][1]);
		if (create_test_backend(peer_only[i][0], log, sizeof(log)) != -EINVAL ||
		    !strstr(log, want))
			fail_msg("test backend: '%s' not refused as unknown: %s", peer_only[i][0], log);
		if (check_spec_exit(source_exe, peer_only[i][0], log, sizeof(log)) != 2 ||
		    !strstr(log, want))
			fail_msg("framepush-source: '%s' not refused as unknown: %s", peer_only[i][0],
				 log);
		if (check_spec_exit(peer_exe, peer_only[i][0], log, sizeof(log)) != 0)
			fail_msg("test peer: '%s' refused: %s", peer_only[i][0], log);
	}
	for (size_t i = 0; i < FP_ARRAY_LEN(peer_bad); i++)
		if (check_spec_exit(peer_exe, peer_bad[i], log, sizeof(log)) != 2 ||
		    !strstr(log, peer_bad[i]) || !strstr(log, "expected"))
			fail_msg("test peer: '%s' not refused by name: %s", peer_bad[i], log);
	assert_int_equal(check_spec_exit(source_exe, "pattern=bars,hdr=1", log, sizeof(log)), 0);
}

/* ---- Region capture (crop) and odd or tiny display sizes ---- */

static struct fp_capture_opts crop_opts(const char *spec, uint32_t w, uint32_t h, uint32_t cx,
					uint32_t cy, uint32_t cw, uint32_t ch)
{
	struct fp_capture_opts o = base_opts(spec, w, h, 60);

	o.crop_x = cx;
	o.crop_y = cy;
	o.crop_width = cw;
	o.crop_height = ch;
	return o;
}

/* What this process and its sources log, into a temporary file. */
struct log_capture {
	FILE *tmp;
	int saved;
};

static void log_capture_start(struct log_capture *lc)
{
	lc->tmp = tmpfile();
	lc->saved = dup(STDERR_FILENO);
	assert_non_null(lc->tmp);
	assert_true(lc->saved >= 0);
	assert_true(dup2(fileno(lc->tmp), STDERR_FILENO) >= 0);
}

static void log_capture_end(struct log_capture *lc, char *log, size_t len)
{
	size_t n;

	fflush(stderr);
	assert_true(dup2(lc->saved, STDERR_FILENO) >= 0);
	close(lc->saved);
	rewind(lc->tmp);
	n = fread(log, 1, len - 1, lc->tmp);
	log[n] = '\0';
	fclose(lc->tmp);
}

/* The pattern the source draws (the same code, in process), as the display's whole slot. */
struct pattern_frame {
	struct fp_backend *b;
	uint8_t *px;
	size_t stride, bpp;
	uint32_t w, h;
};

static void pattern_init(struct pattern_frame *p, const char *spec, uint32_t w, uint32_t h, int hdr)
{
	const struct fp_backend_impl *impl = fp_backend_find("test");
	struct fp_backend_args args = { .spec = spec, .width = w, .height = h, .fps = 60 };

	assert_non_null(impl);
	assert_int_equal(impl->create(&p->b, &args), 0);
	p->bpp = hdr ? 8 : 4;
	p->stride = w * p->bpp;
	p->w = w;
	p->h = h;
	p->px = malloc(p->stride * h);
	assert_non_null(p->px);
}

static void pattern_fini(struct pattern_frame *p)
{
	fp_backend_find("test")->destroy(p->b);
	free(p->px);
}

/* Whether luma rows a and b (n samples of bps bytes: NV12 codes, or P010's 10-bit codes
 * in the high bits of a little-endian u16) differ by at most tol codes anywhere. */
static int luma_near(const uint8_t *a, const uint8_t *b, size_t n, size_t bps, int tol)
{
	for (size_t k = 0; k < n; k++) {
		int va = bps == 1 ? a[k] : (a[2 * k] | a[2 * k + 1] << 8) >> 6;
		int vb = bps == 1 ? b[k] : (b[2 * k] | b[2 * k + 1] << 8) >> 6;

		if (abs(va - vb) > tol)
			return 0;
	}
	return 1;
}

/* Whether f is exactly the rectangle (x, y) of pattern frame `frame`: every byte of the
 * converted rectangle (the same converter the capturer runs, so a chroma filter change
 * cannot make it differ), and its luma against the whole frame's converted at that offset
 * (the pixels themselves, whatever the test's own offset arithmetic): exact on the scalar
 * path, within 1 on a SIMD one (whose vector luma and scalar tail round differently, and a
 * column falls in either by its place in the row). Row 0 starts with the source's signature,
 * which the pattern does not have: it is left out. */
static int frame_is_rect(struct pattern_frame *p, struct fp_converter *conv, uint32_t frame,
			 uint32_t x, uint32_t y, const struct fp_yuv_frame *f)
{
	enum fp_pixfmt fmt = p->bpp == 8 ? FP_PIXFMT_RGBA16F : FP_PIXFMT_XRGB8888;
	size_t bps = p->bpp == 8 ? 2 : 1, n = f->width * bps;
	int tol = fp_converter_path(conv) == FP_CPU_SCALAR ? 0 : 1;
	struct fp_yuv_frame rect = { 0 }, full = { 0 };
	int same = 1;

	fp_test_pattern_render(p->b, p->px, p->stride, frame);
	assert_int_equal(fp_yuv_frame_alloc(&rect, f->format, f->width, f->height), 0);
	assert_int_equal(fp_yuv_frame_alloc(&full, f->format, p->w, p->h), 0);
	assert_int_equal(fp_converter_run(conv, fmt, p->px + y * p->stride + x * p->bpp, p->stride,
					  f->width, f->height, &rect), 0);
	assert_int_equal(fp_converter_run(conv, fmt, p->px, p->stride, p->w, p->h, &full), 0);
	for (uint32_t r = y ? 0 : 2; r < f->height && same; r++) {
		const uint8_t *got = f->data[0] + r * f->stride[0];

		same = !memcmp(got, rect.data[0] + r * rect.stride[0], n) &&
		       luma_near(got, full.data[0] + (y + r) * full.stride[0] + x * bps, f->width,
				 bps, tol);
		if (same && r < f->height / 2)
			same = !memcmp(f->data[1] + r * f->stride[1], rect.data[1] + r * rect.stride[1], n);
	}
	fp_yuv_frame_free(&rect);
	fp_yuv_frame_free(&full);
	return same;
}

/* Frames of an idle source (one a kick, so frame number == seq) against the pattern. */
static void expect_rects(struct fp_capture *cap, struct pattern_frame *p, uint32_t x, uint32_t y,
			 uint32_t w, uint32_t h, const char *what)
{
	struct fp_converter *conv;
	const struct fp_yuv_frame *f;
	uint32_t got_w, got_h;

	assert_int_equal(fp_converter_create(&conv, 1, FP_CPU_AUTO), 0);
	fp_capture_size(cap, &got_w, &got_h);
	if (got_w != w || got_h != h)
		fail_msg("%s: fp_capture_size says %ux%u, want %ux%u", what, got_w, got_h, w, h);
	for (int i = 0; i < 3; i++) {
		if (i)
			assert_int_equal(fp_capture_kick(cap), 0);
		assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + 2 * FP_NSEC_PER_SEC, &f), 0);
		assert_false(f->repeated);
		if (f->width != w || f->height != h)
			fail_msg("%s: a %ux%u frame, want %ux%u", what, f->width, f->height, w, h);
		/* Frame number and seq go up together: one frame a kick, each published. */
		if (!frame_is_rect(p, conv, (uint32_t)f->seq, x, y, f)) {
			int at = -1;

			/* The pattern repeats every 128 frames: say whether another one matched. */
			for (uint32_t k = 0; k < 128 && at < 0; k++)
				if (frame_is_rect(p, conv, k, x, y, f))
					at = (int)k;
			fail_msg("%s: frame seq %llu is not the %ux%u rectangle at %u,%u of pattern "
				 "frame %llu (of pattern frame %d; -1: of none)", what,
				 (unsigned long long)f->seq, w, h, x, y, (unsigned long long)f->seq, at);
		}
	}
	fp_converter_destroy(conv);
}

/* FRAMEPUSH_CPU_PATH as the run had it: crop_exact_pixels forces the scalar path for a
 * while, and its teardown puts this back even when it failed half way. */
static char *cpu_path_saved;

static int cpu_path_save(void **state)
{
	const char *v = getenv("FRAMEPUSH_CPU_PATH");

	(void)state;
	cpu_path_saved = v ? strdup(v) : NULL;
	return v && !cpu_path_saved ? -1 : 0;
}

static int cpu_path_restore(void **state)
{
	(void)state;
	if (cpu_path_saved)
		setenv("FRAMEPUSH_CPU_PATH", cpu_path_saved, 1);
	else
		unsetenv("FRAMEPUSH_CPU_PATH");
	free(cpu_path_saved);
	cpu_path_saved = NULL;
	return 0;
}

/* A crop hands out exactly that rectangle of the display, SDR (4-byte pixels) and HDR
 * (8-byte), at an offset whose row and column both matter (34 + 3 * 22 is no multiple of 8,
 * the pattern's step from frame to frame). */
static void crop_exact_pixels(void **state)
{
	static const struct {
		const char *spec;
		int hdr;
		uint32_t x, y, w, h;
	} cases[] = {
		{ "idle=1", 0, 34, 22, 200, 120 },
		{ "idle=1,hdr=1", 1, 34, 22, 200, 120 },
		{ "idle=1", 0, 35, 21, 64, 16 },     /* odd offsets: any source address */
		{ "idle=1,hdr=1", 1, 304, 164, 16, 16 }, /* to the last column and row */
	};

	(void)state;
	/* The run's path (the CPU's best: vector loads from any address), then the scalar one:
	 * the converter reads FRAMEPUSH_CPU_PATH when the capture opens. */
	for (size_t i = 0; i < 2 * FP_ARRAY_LEN(cases); i++) {
		size_t c = i % FP_ARRAY_LEN(cases);
		struct fp_capture_opts o = crop_opts(cases[c].spec, 320, 180, cases[c].x, cases[c].y,
						     cases[c].w, cases[c].h);
		struct pattern_frame p;
		struct fp_capture *cap;
		char what[128];

		if (i == FP_ARRAY_LEN(cases))
			setenv("FRAMEPUSH_CPU_PATH", "scalar", 1);
		cap = open_ok(&o);
		snprintf(what, sizeof(what), "%s crop %u,%u,%u,%u (%s)", cases[c].spec, cases[c].x,
			 cases[c].y, cases[c].w, cases[c].h, i < FP_ARRAY_LEN(cases) ? "auto" : "scalar");
		pattern_init(&p, cases[c].spec, 320, 180, cases[c].hdr);
		expect_rects(cap, &p, cases[c].x, cases[c].y, cases[c].w, cases[c].h, what);
		pattern_fini(&p);
		fp_capture_close(cap);
	}
}

/* A display of odd size is captured at the even size below (its last column and row
 * dropped), said once; the pixels are the display's own. */
static void odd_display_rounded_down(void **state)
{
	struct fp_capture_opts o = base_opts("idle=1", 641, 481, 60);
	struct pattern_frame p;
	struct fp_capture *cap;
	struct log_capture lc;
	char log[16384];

	(void)state;
	log_capture_start(&lc);
	cap = open_ok(&o);
	pattern_init(&p, "idle=1", 641, 481, 0);
	expect_rects(cap, &p, 0, 0, 640, 480, "641x481");
	pattern_fini(&p);
	fp_capture_close(cap);
	log_capture_end(&lc, log, sizeof(log));
	if (fpt_count(log, "has an odd size") != 1 ||
	    !strstr(log, "display 641x481 has an odd size; capturing 640x480"))
		fail_msg("want one line on the odd size in: %.3000s", log);
}

/* Odd sizes through display changes: each frame is its mode's even size, both modes flow,
 * and the odd one is said once, not once a ring. */
static void odd_display_changes(void **state)
{
	struct fp_capture_opts o = base_opts("flip-every=2", 333, 187, 240);
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st = { 0 };
	struct fp_capture *cap;
	struct log_capture lc;
	unsigned big = 0, small = 0;
	char log[65536];

	(void)state;
	log_capture_start(&lc);
	cap = open_ok(&o);
	while (st.recreates < 10) {
		if (fp_capture_next_frame(cap, fp_now_ns() + 4 * FP_NSEC_PER_MSEC, &f) < 0)
			fail_msg("ended after %llu recreates: %s", (unsigned long long)st.recreates,
				 fp_capture_error(cap));
		/* 333x187, then 3/4 rounded to even by the source: 248x140. */
		if (f->width == 332 && f->height == 186)
			big++;
		else if (f->width == 248 && f->height == 140)
			small++;
		else
			fail_msg("a %ux%u frame", f->width, f->height);
		fp_capture_get_stats(cap, &st);
	}
	assert_true(big > 0 && small > 0);
	assert_int_equal(st.signature_failures, 0);
	fp_capture_close(cap);
	log_capture_end(&lc, log, sizeof(log));
	if (fpt_count(log, "has an odd size") != 1)
		fail_msg("want one line on the odd size over %llu display changes, got %u",
			 (unsigned long long)st.recreates, fpt_count(log, "has an odd size"));
}

/* Displays smaller than an encoder takes end the session at open, with the reason, at
 * once (--size 2x2 used to spend 20 s on signature warnings). 16x16 is the smallest that
 * works; 17x17 becomes 16x16. */
static void tiny_display_refused(void **state)
{
	static const uint32_t tiny[][2] = { { 2, 2 }, { 15, 16 }, { 16, 15 }, { 640, 8 } };
	const struct fp_yuv_frame *f;
	struct fp_capture *cap = NULL;
	char why[512], want[96];

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(tiny); i++) {
		struct fp_capture_opts o = base_opts(NULL, tiny[i][0], tiny[i][1], 60);
		int64_t t0 = fp_now_ns();

		assert_int_equal(fp_capture_open(&cap, &o, why, sizeof(why)), -ERANGE);
		assert_null(cap);
		if (ms_since(t0) > 2000.0)
			fail_msg("%ux%u: took %.0f ms to refuse", tiny[i][0], tiny[i][1], ms_since(t0));
		snprintf(want, sizeof(want), "display %ux%u is smaller than the 16x16 an encoder takes",
			 tiny[i][0], tiny[i][1]);
		if (!strstr(why, want))
			fail_msg("want '%s' in: %s", want, why);
	}
	for (uint32_t s = 16; s <= 17; s++) {
		struct fp_capture_opts o = base_opts(NULL, s, s, 60);

		cap = open_ok(&o);
		assert_int_equal(fp_capture_next_frame(cap, fp_now_ns() + FP_NSEC_PER_SEC, &f), 0);
		assert_int_equal(f->width, 16);
		assert_int_equal(f->height, 16);
		fp_capture_close(cap);
	}
}

/* A crop the display does not fit ends the open at once, naming the crop and the size. */
static void crop_not_fitting_refused(void **state)
{
	static const uint32_t crops[][4] = { { 0, 0, 336, 160 }, { 0, 0, 320, 182 },
					     { 306, 0, 16, 16 }, { 0, 166, 16, 16 } };
	struct fp_capture *cap = NULL;
	char why[512], want[64];

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(crops); i++) {
		struct fp_capture_opts o = crop_opts(NULL, 320, 180, crops[i][0], crops[i][1],
						     crops[i][2], crops[i][3]);
		int64_t t0 = fp_now_ns();

		assert_int_equal(fp_capture_open(&cap, &o, why, sizeof(why)), -ERANGE);
		assert_null(cap);
		assert_true(ms_since(t0) < 2000.0);
		snprintf(want, sizeof(want), "crop %u,%u,%u,%u", crops[i][0], crops[i][1],
			 crops[i][2], crops[i][3]);
		if (!strstr(why, want) || !strstr(why, "does not fit the 320x180 display"))
			fail_msg("want the crop and the display named in: %s", why);
	}
}

/* A crop that fits one mode and not the next ends the session at the change, cleanly:
 * every frame before it is the crop's size, the error names the crop and the new size,
 * and it stands for every later call. A crop that fits both modes goes on through. */
static void crop_and_display_change(void **state)
{
	struct fp_capture_opts o = crop_opts("flip-every=3", 320, 180, 16, 8, 256, 160);
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st = { 0 };
	struct fp_capture *cap = open_ok(&o);
	int64_t deadline = fp_now_ns() + 10 * FP_NSEC_PER_SEC;
	unsigned frames = 0;
	int r;

	(void)state;
	while ((r = fp_capture_next_frame(cap, fp_now_ns() + 4 * FP_NSEC_PER_MSEC, &f)) == 0) {
		assert_int_equal(f->width, 256);
		assert_int_equal(f->height, 160);
		frames++;
		if (fp_now_ns() > deadline)
			fail_msg("still running after 10 s and %u frames", frames);
	}
	assert_int_equal(r, -ERANGE);
	assert_true(frames > 0);
	/* The source's 3/4 mode: 240x134. */
	if (!strstr(fp_capture_error(cap), "crop 16,8,256,160") ||
	    !strstr(fp_capture_error(cap), "new 240x134 display"))
		fail_msg("want the crop and the new size in: %s", fp_capture_error(cap));
	assert_int_equal(fp_capture_next_frame(cap, fp_now_ns(), &f), -ERANGE);
	fp_capture_close(cap);

	o = crop_opts("flip-every=2", 320, 180, 16, 8, 200, 120);
	cap = open_ok(&o);
	while (st.recreates < 10) {
		if (fp_capture_next_frame(cap, fp_now_ns() + 4 * FP_NSEC_PER_MSEC, &f) < 0)
			fail_msg("ended after %llu recreates: %s", (unsigned long long)st.recreates,
				 fp_capture_error(cap));
		assert_int_equal(f->width, 200);
		assert_int_equal(f->height, 120);
		fp_capture_get_stats(cap, &st);
	}
	fp_capture_close(cap);
}

/* Crops no display can take are refused by open before a source starts, with the rule. */
static void crop_invalid_refused(void **state)
{
	static const struct {
		uint32_t c[4];
		const char *rule;
	} bad[] = {
		{ { 0, 0, 14, 16 }, "at least 16" },      { { 0, 0, 16, 2 }, "at least 16" },
		{ { 0, 0, 17, 16 }, "even" },             { { 0, 0, 16, 31 }, "even" },
		{ { 7666, 0, 16, 16 }, "7680x4320" },     { { 0, 4306, 16, 16 }, "7680x4320" },
		{ { 0, 0, 7682, 16 }, "7680x4320" },      { { UINT32_MAX - 7, 0, 16, 16 }, "7680x4320" },
		{ { 0, UINT32_MAX, 16, 16 }, "7680x4320" }, { { 4, 0, 0, 0 }, "no crop" },
		{ { 0, 0, 0, 16 }, "no crop" },
	};
	static const uint32_t good[][4] = { { 0, 0, 0, 0 }, { 0, 0, 16, 16 },
					    { 7664, 4304, 16, 16 }, { 1, 1, 7678, 4318 } };
	struct fp_capture *cap = NULL;
	char why[512], want[64];

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(bad); i++) {
		const uint32_t *c = bad[i].c;
		struct fp_capture_opts o = crop_opts(NULL, 320, 180, c[0], c[1], c[2], c[3]);

		if (!fp_capture_crop_problem(c[0], c[1], c[2], c[3]))
			fail_msg("crop %u,%u,%u,%u passes fp_capture_crop_problem", c[0], c[1], c[2], c[3]);
		/* A source that does not exist: a crop refused after it started fails otherwise. */
		o.source_exe = "/nonexistent/framepush-source";
		assert_int_equal(fp_capture_open(&cap, &o, why, sizeof(why)), -EINVAL);
		assert_null(cap);
		snprintf(want, sizeof(want), "crop %u,%u,%u,%u", c[0], c[1], c[2], c[3]);
		if (!strstr(why, want) || !strstr(why, bad[i].rule))
			fail_msg("want '%s' and '%s' in: %s", want, bad[i].rule, why);
	}
	for (size_t i = 0; i < FP_ARRAY_LEN(good); i++)
		if (fp_capture_crop_problem(good[i][0], good[i][1], good[i][2], good[i][3]))
			fail_msg("crop %u,%u,%u,%u refused: %s", good[i][0], good[i][1], good[i][2],
				 good[i][3],
				 fp_capture_crop_problem(good[i][0], good[i][1], good[i][2], good[i][3]));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(attach_gate_kicks_idle_source),
		cmocka_unit_test(attach_gate_keeps_kicking),
		cmocka_unit_test(attach_gate_fails_for_silent_source),
		cmocka_unit_test(attach_failure_fails_at_once),
		cmocka_unit_test(steady_state_and_output_ring),
		cmocka_unit_test(pipeline_depth_env_clamped),
		cmocka_unit_test(repeats_when_idle),
		cmocka_unit_test(display_flips_200),
		cmocka_unit_test(frame_survives_display_change),
		cmocka_unit_test(recover_or_drop),
		cmocka_unit_test(source_death),
		cmocka_unit_test(source_death_holding_slot),
		cmocka_unit_test(source_restarted_after_death),
		cmocka_unit_test(no_frame_diagnostic),
		cmocka_unit_test(hostile_scribbler),
		cmocka_unit_test(hostile_status_steady),
		cmocka_unit_test(hostile_pixels_rejected),
		cmocka_unit_test(hostile_event_spam),
		cmocka_unit_test(hostile_event_stolen),
		cmocka_unit_test(hostile_socket_flood),
		cmocka_unit_test(hostile_descriptor_rewrites),
		cmocka_unit_test(sandbox_kills_forbidden_syscall),
		cmocka_unit_test(teardown_releases_everything),
		cmocka_unit_test(test_source_spec_strict),
		cmocka_unit_test(test_hooks_only_in_peer),
		cmocka_unit_test(hdr_meta_from_source),
		cmocka_unit_test(hdr_meta_invalid_falls_back),
		cmocka_unit_test_setup_teardown(crop_exact_pixels, cpu_path_save, cpu_path_restore),
		cmocka_unit_test(crop_not_fitting_refused),
		cmocka_unit_test(crop_and_display_change),
		cmocka_unit_test(crop_invalid_refused),
		cmocka_unit_test(odd_display_rounded_down),
		cmocka_unit_test(odd_display_changes),
		cmocka_unit_test(tiny_display_refused),
	};

	/* An optional argument picks tests by name (cmocka glob), for one case under a sanitizer. */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	fp_log_init("test-capture");
	signal(SIGPIPE, SIG_IGN);
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	fpt_build_path("tests/peers/framepush-source-test", peer_exe, sizeof(peer_exe));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
