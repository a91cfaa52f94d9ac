/* The wlr backend against a real compositor: sway, headless, as an unprivileged user,
 * captured through fp_capture by framepush-source --backend wlr.
 *
 * Each test starts its own sway (about a second), so a mode change or a client in one test
 * cannot leak into the next. When sway is missing or cannot start, the tests skip. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "framepush/display.h"
#include "harness.h"
#include "yuv_checks.h"

/* The test client's colour, and the desktop's (sway config bg #102030). */
#define WIN_RGB 0x3366ccu

static char source_exe[4096], client_exe[4096], anim_exe[4096];

struct fixture {
	struct fp_display *d;
	struct fp_capture *cap;
	int fds; /* open fds before the display: teardown must get back to it */
	int fifo_fd;     /* the animated client's FIFO (commits_copied_while_source_busy) */
	char fifo[4096];
};

static double ms_since(int64_t t0)
{
	return (double)(fp_now_ns() - t0) / 1e6;
}

static int shows_window(const struct fp_yuv_frame *f)
{
	return fpt_tiled_window_is(f, WIN_RGB);
}

static void describe_pixel(const struct fp_yuv_frame *f, uint32_t x, uint32_t y)
{
	const uint8_t *c = f->data[1] + (size_t)(y / 2) * f->stride[1] + (size_t)(x / 2) * 2;
	int ey, ecb, ecr;

	fpt_expect_yuv(WIN_RGB, &ey, &ecb, &ecr);
	print_message("pixel %u,%u of %ux%u: Y %u Cb %u Cr %u (want %d %d %d)\n", x, y, f->width,
		      f->height, f->data[0][(size_t)y * f->stride[0] + x], c[0], c[1], ey, ecb, ecr);
}

static int start_display(void **state, uint32_t w, uint32_t h)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct fp_display_opts o = { .kind = "sway", .width = w, .height = h, .refresh_hz = 60 };
	int r;

	assert_non_null(fx);
	*state = fx;
	fx->fifo_fd = -1;
	fx->fds = fp_count_open_fds();
	if (access("/usr/bin/sway", X_OK) < 0)
		return 0;
	r = fp_display_create(&fx->d, &o);
	if (r < 0)
		print_message("sway did not start (%s): wlr tests skip\n", strerror(-r));
	return 0;
}

static int setup_720p(void **state) { return start_display(state, 1280, 720); }
static int setup_1080p(void **state) { return start_display(state, 1920, 1080); }

static int teardown(void **state)
{
	struct fixture *fx = *state;
	int fds;

	fp_capture_close(fx->cap);
	fp_display_destroy(fx->d);
	fp_close(&fx->fifo_fd);
	if (fx->fifo[0])
		unlink(fx->fifo);
	fds = fp_count_open_fds();
	if (fds != fx->fds) {
		print_message("teardown: %d fds open, %d before the display\n", fds, fx->fds);
		free(fx);
		return -1;
	}
	free(fx);
	return 0;
}

static struct fixture *need_display(void **state)
{
	struct fixture *fx = *state;

	if (!fx->d)
		fpt_skip("sway is not installed or did not start (see above)");
	assert_string_equal(fp_display_backend(fx->d), "wlr");
	return fx;
}

static void spawn_client(struct fixture *fx, int animate)
{
	char colour[16];
	char *argv[] = { client_exe, colour, animate ? (char *)"--animate" : NULL, NULL };
	pid_t pid;

	snprintf(colour, sizeof(colour), "%06x", WIN_RGB);
	assert_int_equal(fp_display_spawn(fx->d, argv, &pid), 0);
	assert_true(pid > 0);
}

static void open_capture(struct fixture *fx)
{
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = fp_display_backend(fx->d),
		.display = fp_display_name(fx->d), .fps = 60, .convert_threads = 1,
	};
	int r;

	o.source_drop = fp_display_identity(fx->d, &o.source_uid, &o.source_gid);
	r = fp_capture_open(&fx->cap, &o, NULL, 0);

	if (r < 0)
		fail_msg("capture open on %s failed: %s", fp_display_name(fx->d), strerror(-r));
}

/* Fresh frames until one shows the window (the client maps asynchronously; its first
 * frame is damage, so this waits on events, not time). */
static const struct fp_yuv_frame *wait_window(struct fixture *fx, int64_t timeout_ns)
{
	int64_t end = fp_now_ns() + timeout_ns;
	const struct fp_yuv_frame *f = NULL;

	while (fp_now_ns() < end) {
		int r = fp_capture_next_frame(fx->cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f);

		if (r < 0)
			fail_msg("next_frame: %s", fp_capture_error(fx->cap));
		if (!f->repeated && shows_window(f))
			return f;
	}
	if (f)
		describe_pixel(f, f->width / 4, f->height / 2);
	fail_msg("the client's window never appeared in a captured frame");
	return NULL;
}

/* Owner uid of a path (a /proc/<pid> directory is its process's), or (uid_t)-1. */
static uid_t owner_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_uid : (uid_t)-1;
}

/* As root, each sway session runs as an account of its own: sway, its runtime directory,
 * its applications and the source that captures it, never root and never an account a
 * second session shares (a process left by one session cannot reach the next one's
 * sockets). */
static void sessions_have_own_accounts(void **state)
{
	struct fixture *fx = need_display(state);
	struct fp_display_opts o = { .kind = "sway", .width = 640, .height = 480, .refresh_hz = 60 };
	struct fp_display *second = NULL;
	uid_t uid, uid2;
	gid_t gid, gid2;
	char path[64], dir[4096];

	if (geteuid() != 0)
		fpt_skip("per-session accounts are made by root");
	assert_int_equal(fp_display_identity(fx->d, &uid, &gid), 1);
	assert_true(uid != 0 && gid != 0);
	assert_null(getpwuid(uid)); /* a fresh account, not a shared one from /etc/passwd */
	snprintf(dir, sizeof(dir), "%s", fp_display_name(fx->d));
	*strrchr(dir, '/') = '\0';
	assert_int_equal(owner_of(dir), uid);
	open_capture(fx);
	snprintf(path, sizeof(path), "/proc/%d", (int)fp_capture_source_pid(fx->cap));
	if (owner_of(path) != uid)
		fail_msg("the wlr source runs as uid %d, not as the display's account %u",
			 (int)owner_of(path), (unsigned)uid);
	assert_int_equal(fp_display_create(&second, &o), 0);
	assert_int_equal(fp_display_identity(second, &uid2, &gid2), 1);
	fp_display_destroy(second);
	if (uid2 == uid || gid2 == gid)
		fail_msg("two sessions share uid %u / gid %u", (unsigned)uid, (unsigned)gid);
}

static void captures_client_surface(void **state)
{
	struct fixture *fx = need_display(state);
	const struct fp_yuv_frame *f;
	int64_t t0;

	spawn_client(fx, 0);
	t0 = fp_now_ns();
	open_capture(fx);
	f = wait_window(fx, 5 * FP_NSEC_PER_SEC);
	print_message("window captured %.0f ms after start\n", ms_since(t0));
	assert_int_equal(f->format, FP_YUV_NV12);
	assert_int_equal(f->width, 1280);
	assert_int_equal(f->height, 720);
	/* The titlebar row is not the window colour: the frame is the desktop, not a fill. */
	assert_false(fpt_pixel_is(f, f->width / 2, 2, WIN_RGB));
}

static void mode_change_recreates_ring(void **state)
{
	struct fixture *fx = need_display(state);
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st;
	uint64_t old_size = 0, new_size = 0, wrong = 0;
	int64_t t0, t_first_new = 0;

	spawn_client(fx, 0);
	open_capture(fx);
	f = wait_window(fx, 5 * FP_NSEC_PER_SEC);
	assert_int_equal(f->width, 1280);

	t0 = fp_now_ns();
	assert_int_equal(fp_display_set_mode(fx->d, 1024, 768, 60), 0);
	/* Until a fresh 1024x768 frame with the re-tiled window arrives (bounded). */
	while (ms_since(t0) < 8000.0) {
		int r = fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f);

		if (r < 0)
			fail_msg("next_frame after the mode change: %s", fp_capture_error(fx->cap));
		if (f->width == 1280 && f->height == 720) {
			/* Old-size frames are fine only until the first new-size one. */
			if (new_size)
				wrong++;
			old_size++;
		} else if (f->width == 1024 && f->height == 768) {
			if (!new_size)
				t_first_new = fp_now_ns();
			new_size++;
			if (!f->repeated && shows_window(f))
				break;
		} else {
			wrong++;
		}
	}
	fp_capture_get_stats(fx->cap, &st);
	print_message("mode change: first 1024x768 frame after %.0f ms; %llu old-size, %llu new-size "
		      "frames, %llu recreates\n",
		      t_first_new ? (double)(t_first_new - t0) / 1e6 : -1.0,
		      (unsigned long long)old_size, (unsigned long long)new_size,
		      (unsigned long long)st.recreates);
	assert_true(new_size > 0);
	assert_true(!f->repeated && shows_window(f));
	assert_int_equal(wrong, 0);
	assert_true(st.recreates >= 1);
	assert_int_equal(st.stale_rejected, 0);
	assert_int_equal(st.source_dropped, 0); /* the source never wrote an old-size frame */
	/* And it keeps going at the new size. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
		assert_int_equal(f->width, 1024);
		assert_int_equal(f->height, 768);
	}
}

static void idle_output_publishes_nothing_until_kicked(void **state)
{
	struct fixture *fx = need_display(state);
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st0, st1;
	int64_t t0, quiet_since;

	spawn_client(fx, 0);
	open_capture(fx);
	wait_window(fx, 5 * FP_NSEC_PER_SEC);
	/* Let the desktop settle: wait (bounded) until 500 ms pass without a fresh frame. */
	t0 = fp_now_ns();
	quiet_since = fp_now_ns();
	while (ms_since(quiet_since) < 500.0) {
		assert_true(ms_since(t0) < 5000.0);
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
		if (!f->repeated)
			quiet_since = fp_now_ns();
	}
	fp_capture_get_stats(fx->cap, &st0);
	/* Two seconds of nothing changing: repeats only, and the source published nothing. */
	t0 = fp_now_ns();
	while (ms_since(t0) < 2000.0) {
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
		assert_true(f->repeated);
	}
	fp_capture_get_stats(fx->cap, &st1);
	assert_int_equal(st1.frames_fresh, st0.frames_fresh);
	assert_int_equal(st1.source_published, st0.source_published);
	assert_int_equal(st1.kicks, st0.kicks);
	/* A kick makes the compositor compose: one fresh frame, promptly. */
	t0 = fp_now_ns();
	assert_int_equal(fp_capture_kick(fx->cap), 0);
	do
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
	while (f->repeated && ms_since(t0) < 2000.0);
	print_message("kick to fresh frame: %.1f ms\n", ms_since(t0));
	assert_false(f->repeated);
	assert_true(shows_window(f));
	fp_capture_get_stats(fx->cap, &st1);
	assert_true(st1.source_published > st0.source_published);
}

/* Runs swaymsg against the test's sway (root reaches its IPC socket); its exit code. */
static int swaymsg(struct fixture *fx, char *a1, char *a2, char *a3, char *a4, char *a5)
{
	char ipc[4096];
	char *argv[] = { "/usr/bin/swaymsg", "-q", "-s", ipc, a1, a2, a3, a4, a5, NULL };

	snprintf(ipc, sizeof(ipc), "%s", fp_display_name(fx->d));
	snprintf(strrchr(ipc, '/'), sizeof(ipc) - (size_t)(strrchr(ipc, '/') - ipc),
		 "/sway-ipc.sock");
	return fpt_exit_code(fpt_wait(fpt_spawn(argv), 5000));
}

/* Luma of the last 8 columns, rows y..y+23: where a pointer at the right edge is drawn. */
static void right_edge(const struct fp_yuv_frame *f, uint32_t y, uint8_t out[24][8])
{
	for (uint32_t j = 0; j < 24; j++)
		memcpy(out[j], f->data[0] + (size_t)(y + j) * f->stride[0] + f->width - 8, 8);
}

/* A pointer resting at the right edge: the kick's nudge must put it back where it was,
 * so every frame the kick produces draws the cursor exactly as before. */
static void kick_is_net_zero_at_right_edge(void **state)
{
	struct fixture *fx = need_display(state);
	const struct fp_yuv_frame *f;
	uint8_t before[24][8], after[24][8], bg[24][8];
	int64_t t0;
	int fresh = 0;

	open_capture(fx);
	assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
	memset(bg, f->data[0][(size_t)(f->height / 2) * f->stride[0] + f->width / 2], sizeof(bg));
	assert_int_equal(swaymsg(fx, "seat", "seat0", "cursor", "set", "1279 360"), 0);
	/* Until a fresh frame shows the cursor in the last column (bounded). */
	t0 = fp_now_ns();
	for (;;) {
		if (ms_since(t0) > 3000.0)
			fail_msg("no frame with the cursor at the right edge within 3 s");
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
		right_edge(f, 360, before);
		if (!f->repeated && memcmp(before, bg, sizeof(bg)))
			break;
	}
	/* A pointer that ends one pixel left shows more of the arrow: any fresh frame the
	 * kick makes must equal the one before it in this patch. */
	assert_int_equal(fp_capture_kick(fx->cap), 0);
	t0 = fp_now_ns();
	while (ms_since(t0) < 1000.0) {
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
		if (f->repeated)
			continue;
		fresh++;
		right_edge(f, 360, after);
		for (int j = 0; j < 24; j++)
			for (int i = 0; i < 8; i++)
				if (after[j][i] != before[j][i])
					fail_msg("after the kick, luma at (%u,%u) is %u, was %u: the pointer "
						 "moved", 1272 + i, 360 + j, after[j][i], before[j][i]);
	}
	print_message("kick at the right edge: %d fresh frame(s), cursor unmoved\n", fresh);
	assert_true(fresh >= 1);
}

/* A width that is not a multiple of 16: the compositor's stride (width * 4) is not the
 * ring's (a multiple of 64), so the copy goes through the bounce buffer. */
static void odd_width_uses_bounce_buffer(void **state)
{
	struct fixture *fx = need_display(state);
	const struct fp_yuv_frame *f;
	int64_t t0;

	spawn_client(fx, 0);
	open_capture(fx);
	wait_window(fx, 5 * FP_NSEC_PER_SEC);
	assert_int_equal(fp_display_set_mode(fx->d, 1366, 768, 60), 0);
	t0 = fp_now_ns();
	do {
		if (fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f) < 0)
			fail_msg("next_frame: %s", fp_capture_error(fx->cap));
	} while (!(f->width == 1366 && !f->repeated && shows_window(f)) && ms_since(t0) < 8000.0);
	assert_int_equal(f->width, 1366);
	assert_int_equal(f->height, 768);
	assert_false(f->repeated);
	assert_true(shows_window(f));
	/* The right edge column (last 4 pixels of the row) is the window's border or the
	 * window, never garbage from the stride padding: it must not be black. */
	assert_true(f->data[0][(size_t)(f->height / 2) * f->stride[0] + f->width - 1] > 16);
}

/* The compositor goes away: the source exits with an error, the host says so promptly. */
static void compositor_exit_ends_session(void **state)
{
	struct fixture *fx = need_display(state);
	char *argv[] = { (char *)"/usr/bin/swaymsg", (char *)"exit", NULL };
	const struct fp_yuv_frame *f;
	pid_t pid;
	int64_t t0;
	int r;

	spawn_client(fx, 0);
	open_capture(fx);
	wait_window(fx, 5 * FP_NSEC_PER_SEC);
	t0 = fp_now_ns();
	/* Inside the display, as its user, exactly as any client could. */
	assert_int_equal(fp_display_spawn(fx->d, argv, &pid), 0);
	do
		r = fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f);
	while (r == 0 && ms_since(t0) < 5000.0);
	print_message("compositor exit seen after %.0f ms: %s\n", ms_since(t0),
		      fp_capture_error(fx->cap));
	assert_int_equal(r, -EPIPE);
	assert_non_null(strstr(fp_capture_error(fx->cap), "died"));
	assert_non_null(strstr(fp_capture_error(fx->cap), "exit"));
}

/* ---- the animated client (anim_client.c): its frame counter as 16 stripes ---- */

static int luma_at(const struct fp_yuv_frame *f, uint32_t x, uint32_t y)
{
	return f->data[0][(size_t)y * f->stride[0] + x];
}

/* The client's counter in a frame: bit 15 first in 16 columns, the complement below it.
 * -1 when a column is not clean white over black or black over white (no window yet, or a
 * torn or covered frame). The sample rows sit well inside both bands at any titlebar. */
static long read_counter(const struct fp_yuv_frame *f)
{
	unsigned long v = 0;

	for (uint32_t i = 0; i < 16; i++) {
		uint32_t x = (2 * i + 1) * f->width / 32;
		int top = luma_at(f, x, f->height * 9 / 32), bot = luma_at(f, x, f->height * 23 / 32);

		if (!((top > 200 && bot < 40) || (top < 40 && bot > 200)))
			return -1;
		v = v << 1 | (top > 200);
	}
	return (long)v;
}

/* Fresh frames until one shows counter `want` (any readable one when want < 0). */
static const struct fp_yuv_frame *wait_counter(struct fixture *fx, long want, int64_t timeout_ns)
{
	int64_t end = fp_now_ns() + timeout_ns;
	const struct fp_yuv_frame *f = NULL;
	long last = -1;

	while (fp_now_ns() < end) {
		if (fp_capture_next_frame(fx->cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f) < 0)
			fail_msg("next_frame: %s", fp_capture_error(fx->cap));
		if (f->repeated)
			continue;
		last = read_counter(f);
		if (last >= 0 && (want < 0 || last == want))
			return f;
	}
	fail_msg("no frame showed the client's counter %ld (last read %ld)", want, last);
	return NULL;
}

/* Until quiet_ms pass without a fresh frame (bounded): the source has published all there
 * was and, when nothing changes, waits with its requests in flight. The last frame. */
static const struct fp_yuv_frame *wait_quiet(struct fixture *fx, double quiet_ms)
{
	int64_t t0 = fp_now_ns(), quiet_since = fp_now_ns();
	const struct fp_yuv_frame *f = NULL;

	while (!f || ms_since(quiet_since) < quiet_ms) {
		if (ms_since(t0) > 5000.0)
			fail_msg("the desktop did not go quiet within 5 s");
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 50 * FP_NSEC_PER_MSEC, &f), 0);
		if (!f->repeated)
			quiet_since = fp_now_ns();
	}
	return f;
}

/* The counter the client wrote to its FIFO once its burst was shown; -1 after timeout_ms. */
static long read_fifo(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned long long v;
	char line[32];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	n = read(fd, line, sizeof(line) - 1);
	if (n < 2 || line[n - 1] != '\n')
		return -1;
	line[n - 1] = '\0';
	return fp_parse_uint(line, 0, 65535, &v) < 0 ? -1 : (long)v;
}

/* A FIFO next to the animated client, which runs as sway's account and writes to it. */
static void make_fifo(struct fixture *fx)
{
	char *slash;

	snprintf(fx->fifo, sizeof(fx->fifo), "%s", anim_exe);
	slash = strrchr(fx->fifo, '/');
	snprintf(slash, sizeof(fx->fifo) - (size_t)(slash - fx->fifo), "/burst.fifo");
	unlink(fx->fifo);
	assert_int_equal(mkfifo(fx->fifo, 0600), 0);
	assert_int_equal(chmod(fx->fifo, 0666), 0);
	/* Read-write: the FIFO never reads as end-of-file between two of the client's writes. */
	fx->fifo_fd = open(fx->fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(fx->fifo_fd >= 0);
}

/* One round of commits_copied_while_source_busy: 1 when it proved the point, 0 when the
 * machine was too slow for the capture times to mean anything. */
static int burst_while_stopped(struct fixture *fx, pid_t client, pid_t source)
{
	const struct fp_yuv_frame *f = wait_quiet(fx, 300.0);
	uint64_t seq = f->seq;
	int64_t t_stop, t_cont;
	siginfo_t si;
	long shown;

	t_stop = fp_now_ns();
	assert_int_equal(kill(source, SIGSTOP), 0);
	/* Stopped for sure before the client draws: a source still running could ask again. */
	assert_int_equal(waitid(P_PID, (id_t)source, &si, WSTOPPED), 0);
	assert_int_equal(kill(client, SIGUSR1), 0);
	shown = read_fifo(fx->fifo_fd, 5000);
	t_cont = fp_now_ns();
	assert_int_equal(kill(source, SIGCONT), 0);
	if (shown < 0)
		fail_msg("the client did not report its burst within 5 s");
	f = wait_counter(fx, shown, 3 * FP_NSEC_PER_SEC);
	print_message("burst to counter %ld with the source stopped %.1f ms: copied %.1f ms before "
		      "it continued, seq %llu -> %llu\n", shown, (double)(t_cont - t_stop) / 1e6,
		      (double)(t_cont - f->pts_ns) / 1e6, (unsigned long long)seq,
		      (unsigned long long)f->seq);
	/* Capture times older than a second are replaced by "now" (source and host): such a
	 * slow round says nothing either way. */
	if (t_cont - t_stop > 500 * FP_NSEC_PER_MSEC)
		return 0;
	if (f->pts_ns >= t_cont)
		fail_msg("counter %ld was copied %.1f ms after the source continued: no request of "
			 "the source was waiting for that commit while it was busy", shown,
			 (double)(f->pts_ns - t_cont) / 1e6);
	/* Each of the burst's two commits was published once: none lost, none twice. */
	assert_int_equal(f->seq, seq + 2);
	return 1;
}

/* The source keeps its next screencopy request in flight while it handles a frame, so a
 * commit that comes while it is busy is still copied. On a quiet desktop the source is
 * stopped (SIGSTOP: as busy as it gets), the client shows two new frames, one compositor
 * commit each, and the source continues. The frame with the second counter must carry a
 * compositor capture time from before SIGCONT: both commits were copied while the source
 * was stopped. With one request in flight the second commit is copied only by a
 * composition after the source asked again, which is later. No timing is asserted. */
static void commits_copied_while_source_busy(void **state)
{
	struct fixture *fx = need_display(state);
	char burst[] = "2", opt_burst[] = "--burst", opt_fifo[] = "--fifo";
	char *argv[] = { anim_exe, opt_burst, burst, opt_fifo, fx->fifo, NULL };
	pid_t client, source;

	make_fifo(fx);
	assert_int_equal(fp_display_spawn(fx->d, argv, &client), 0);
	open_capture(fx);
	wait_counter(fx, 0, 5 * FP_NSEC_PER_SEC);
	source = fp_capture_source_pid(fx->cap);
	assert_true(source > 0);
	for (int round = 0; round < 5; round++)
		if (burst_while_stopped(fx, client, source))
			return;
	fail_msg("five rounds on a machine too busy to tell (each stop took over 500 ms)");
}

/* A measurement more than a check: an animating client at 1080p, frames per second seen
 * by the host. The source logs its copy latency when it exits. */
static void throughput_1080p(void **state)
{
	struct fixture *fx = need_display(state);
	char *argv[] = { anim_exe, NULL };
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st0, st1;
	long first, last;
	int64_t t0;
	double secs;
	pid_t pid;

	assert_int_equal(fp_display_spawn(fx->d, argv, &pid), 0);
	open_capture(fx);
	first = read_counter(wait_counter(fx, -1, 5 * FP_NSEC_PER_SEC));
	last = first;
	fp_capture_get_stats(fx->cap, &st0);
	t0 = fp_now_ns();
	while (ms_since(t0) < 3000.0) {
		assert_int_equal(fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f), 0);
		if (!f->repeated && read_counter(f) >= 0)
			last = read_counter(f);
	}
	secs = ms_since(t0) / 1000.0;
	fp_capture_get_stats(fx->cap, &st1);
	/* The counter advances once per composition that showed a new client frame. */
	print_message("1080p animating: the client drew %.1f frames/s, the source published "
		      "%.1f/s, the host took %.1f fresh/s\n", (double)(last - first) / secs,
		      (double)(st1.source_published - st0.source_published) / secs,
		      (double)(st1.frames_fresh - st0.frames_fresh) / secs);
	assert_int_equal(f->width, 1920);
	assert_true(st1.frames_fresh - st0.frames_fresh >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(captures_client_surface, setup_720p, teardown),
		cmocka_unit_test_setup_teardown(sessions_have_own_accounts, setup_720p, teardown),
		cmocka_unit_test_setup_teardown(mode_change_recreates_ring, setup_720p, teardown),
		cmocka_unit_test_setup_teardown(idle_output_publishes_nothing_until_kicked, setup_720p,
						teardown),
		cmocka_unit_test_setup_teardown(kick_is_net_zero_at_right_edge, setup_720p, teardown),
		cmocka_unit_test_setup_teardown(odd_width_uses_bounce_buffer, setup_720p, teardown),
		cmocka_unit_test_setup_teardown(compositor_exit_ends_session, setup_720p, teardown),
		cmocka_unit_test_setup_teardown(commits_copied_while_source_busy, setup_720p,
						teardown),
		cmocka_unit_test_setup_teardown(throughput_1080p, setup_1080p, teardown),
	};

	fp_log_init("test-wlr");
	signal(SIGPIPE, SIG_IGN);
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	{
		char built[4096];

		/* The clients run as sway's user, which cannot enter a 0700 build tree. */
		fpt_build_path("tests/wlr/wlr-solid-client", built, sizeof(built));
		if (fpt_world_copy(built, client_exe, sizeof(client_exe)) < 0) {
			fprintf(stderr, "test-wlr: cannot copy %s for the sway user\n", built);
			return 1;
		}
		fpt_build_path("tests/wlr/wlr-anim-client", built, sizeof(built));
		if (fpt_world_copy(built, anim_exe, sizeof(anim_exe)) < 0) {
			fprintf(stderr, "test-wlr: cannot copy %s for the sway user\n", built);
			return 1;
		}
	}
	{
		int rc = fpt_exit(cmocka_run_group_tests(tests, NULL, NULL));

		fpt_world_remove(client_exe);
		fpt_world_remove(anim_exe);
		return rc;
	}
}
