/* The portal backend against a real ScreenCast portal: a headless sway with its portal
 * desktop (private bus, PipeWire, WirePlumber, xdg-desktop-portal(-wlr)), captured through
 * fp_capture by framepush-source --backend portal as the display's account.
 *
 * Each test makes its own display and desktop (about two seconds), so a mode change, a
 * token or a killed service in one never reaches the next. A missing package is a skip
 * here and a failure in CI (fpt_skip). Suite portal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "framepush/display.h"
#include "harness.h"
#include "yuv_checks.h"

/* The test client's colour (wlr-solid-client). */
#define WIN_RGB 0x3366ccu
/* What the issue promises a user: a dead desktop service is a message within a second. */
#define GONE_WITHIN_MS 1000.0

static char source_exe[4096], client_exe[4096];

struct fixture {
	struct fp_display *d;
	struct fp_capture *cap;
	char dir[4096];  /* the display's runtime directory (its services' logs) */
	int fds;
};

static double ms_since(int64_t t0)
{
	return (double)(fp_now_ns() - t0) / 1e6;
}

/* The client alternates its colour and the inverse on every frame callback, and the portal
 * copies in step with them, so a session sees one phase only: either is the window,
 * exactly. */
static int shows_window(const struct fp_yuv_frame *f)
{
	return fpt_tiled_window_is(f, WIN_RGB) || fpt_tiled_window_is(f, ~WIN_RGB & 0xffffffu);
}

static int start_desktop(void **state, const char *chooser)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct fp_display_opts o = { .kind = "sway", .width = 1280, .height = 720,
				     .refresh_hz = 60, .portal = 1, .portal_chooser = chooser };
	int r;

	assert_non_null(fx);
	*state = fx;
	fx->fds = fp_count_open_fds();
	if (access("/usr/bin/sway", X_OK) < 0)
		return 0;
	r = fp_display_create(&fx->d, &o);
	if (r < 0) {
		print_message("sway with the portal desktop did not start (%s)\n", strerror(-r));
		return 0;
	}
	snprintf(fx->dir, sizeof(fx->dir), "%s", fp_display_name(fx->d));
	*strrchr(fx->dir, '/') = '\0';
	return 0;
}

static int setup(void **state) { return start_desktop(state, NULL); }
/* The portal's chooser plays a user who picks nothing: the portal's answer is "cancelled". */
static int setup_refusing(void **state) { return start_desktop(state, "/bin/false"); }

static int teardown(void **state)
{
	struct fixture *fx = *state;
	int fds;

	fp_capture_close(fx->cap);
	fp_display_destroy(fx->d);
	fds = fp_count_open_fds();
	if (fds != fx->fds) {
		print_message("teardown: %d fds open, %d before the display\n", fds, fx->fds);
		free(fx);
		return -1;
	}
	free(fx);
	return 0;
}

static struct fixture *need_desktop(void **state)
{
	struct fixture *fx = *state;

	if (!fx->d)
		fpt_skip("sway or a portal desktop package is missing (see above)");
	assert_non_null(fp_display_bus(fx->d));
	return fx;
}

static void spawn_client(struct fixture *fx)
{
	char colour[16];
	char *argv[] = { client_exe, colour, (char *)"--animate", NULL };
	pid_t pid;

	/* Animated: a wlroots portal sends a frame only when the screen changes. */
	snprintf(colour, sizeof(colour), "%06x", WIN_RGB);
	assert_int_equal(fp_display_spawn(fx->d, argv, &pid), 0);
}

static int open_capture(struct fixture *fx, const char *spec)
{
	struct fp_capture_opts o = {
		.source_exe = source_exe, .backend = "portal", .spec = spec,
		.display = fp_display_bus(fx->d), .fps = 60, .convert_threads = 1,
		.attach_timeout_ns = 10 * FP_NSEC_PER_SEC,
	};

	o.source_drop = fp_display_identity(fx->d, &o.source_uid, &o.source_gid);
	return fp_capture_open(&fx->cap, &o, NULL, 0);
}

/* Fresh frames until one shows the window (bounded, on events). */
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
	fail_msg("the client's window never appeared in a frame from the portal");
	return NULL;
}

/* The pid of the display account's process whose command line starts with exe, or -1. */
static pid_t find_service(struct fixture *fx, const char *exe)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	uid_t uid = getuid();
	gid_t gid;
	pid_t found = -1;

	fp_display_identity(fx->d, &uid, &gid);
	while (d && found < 0 && (e = readdir(d))) {
		char path[300], cmd[256] = "";
		struct stat st;
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || stat(path, &st) < 0 ||
		    st.st_uid != uid || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n > 0 && !strcmp(cmd, exe))
			found = (pid_t)atol(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* The display's frames through the portal: its size, the window in its colour, and the
 * source running as the display's account (never root). */
static void frames_have_size_and_colour(void **state)
{
	struct fixture *fx = need_desktop(state);
	const struct fp_yuv_frame *f;
	char proc[64];
	struct stat st;
	uid_t uid;
	gid_t gid;

	spawn_client(fx);
	assert_int_equal(open_capture(fx, NULL), 0);
	f = wait_window(fx, 10 * FP_NSEC_PER_SEC);
	assert_int_equal(f->format, FP_YUV_NV12);
	assert_int_equal(f->width, 1280);
	assert_int_equal(f->height, 720);
	if (fp_display_identity(fx->d, &uid, &gid)) {
		snprintf(proc, sizeof(proc), "/proc/%d", (int)fp_capture_source_pid(fx->cap));
		assert_int_equal(stat(proc, &st), 0);
		assert_int_equal(st.st_uid, uid);
		assert_true(st.st_uid != 0);
	}
}

/* sway's output changes mode mid-session: the portal renegotiates, the source reports the
 * new size, the host recreates the ring, and frames of the new size show the window. */
static void size_change_recreates_ring(void **state)
{
	struct fixture *fx = need_desktop(state);
	const struct fp_yuv_frame *f;
	struct fp_capture_stats st;
	uint64_t new_size = 0;
	int64_t t0;

	spawn_client(fx);
	assert_int_equal(open_capture(fx, NULL), 0);
	wait_window(fx, 10 * FP_NSEC_PER_SEC);
	t0 = fp_now_ns();
	assert_int_equal(fp_display_set_mode(fx->d, 1024, 768, 60), 0);
	while (ms_since(t0) < 8000.0) {
		int r = fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f);

		if (r < 0)
			fail_msg("next_frame after the mode change: %s", fp_capture_error(fx->cap));
		if (f->width == 1024 && f->height == 768) {
			new_size++;
			if (!f->repeated && shows_window(f))
				break;
		}
	}
	fp_capture_get_stats(fx->cap, &st);
	print_message("mode change: %llu new-size frames after %.0f ms, %llu recreates\n",
		      (unsigned long long)new_size, ms_since(t0), (unsigned long long)st.recreates);
	assert_true(new_size > 0);
	assert_true(st.recreates >= 1);
	assert_true(!f->repeated && shows_window(f));
}

/* Occurrences of what in the portal backend's log (xdg-desktop-portal-wlr logs a restore
 * it was given as "restore data available"). */
static unsigned log_count(struct fixture *fx, const char *log, const char *what)
{
	char path[4200];
	size_t len;
	char *text;
	unsigned n;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, log);
	text = (char *)fpt_read_file(path, &len);
	if (!text)
		return 0;
	/* The file is bytes, not a string: a terminated copy for the search. */
	text = realloc(text, len + 1);
	assert_non_null(text);
	text[len] = '\0';
	n = fpt_count(text, what);
	free(text);
	return n;
}

/* restore=FILE: the first session asks and writes the token (0600, the account's); the
 * second passes it, and the portal restores from it. */
static void restore_token_written_and_reused(void **state)
{
	struct fixture *fx = need_desktop(state);
	char spec[4400], token[4300], first[128] = "";
	struct stat st;
	size_t len;
	char *text;

	spawn_client(fx);
	snprintf(token, sizeof(token), "%s/portal.token", fx->dir);
	snprintf(spec, sizeof(spec), "restore=%s", token);
	assert_int_equal(open_capture(fx, spec), 0);
	wait_window(fx, 10 * FP_NSEC_PER_SEC);
	fp_capture_close(fx->cap);
	fx->cap = NULL;
	assert_int_equal(stat(token, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = (char *)fpt_read_file(token, &len);
	assert_non_null(text);
	snprintf(first, sizeof(first), "%.*s", (int)len, text);
	free(text);
	assert_true(strlen(first) > 8);
	assert_int_equal(log_count(fx, "xdpw.log", "restore data available"), 0);

	assert_int_equal(open_capture(fx, spec), 0);
	wait_window(fx, 10 * FP_NSEC_PER_SEC);
	assert_int_equal(log_count(fx, "xdpw.log", "restore data available"), 1);
	assert_int_equal(stat(token, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Kills a desktop service mid-session: the session must end, with the source's death
 * reported, within GONE_WITHIN_MS. */
static void kill_ends_session(void **state, const char *exe)
{
	struct fixture *fx = need_desktop(state);
	const struct fp_yuv_frame *f;
	pid_t pid;
	int64_t t0;
	int r;

	spawn_client(fx);
	assert_int_equal(open_capture(fx, NULL), 0);
	wait_window(fx, 10 * FP_NSEC_PER_SEC);
	pid = find_service(fx, exe);
	if (pid <= 0)
		fail_msg("no %s of the display's account", exe);
	t0 = fp_now_ns();
	assert_int_equal(kill(pid, SIGKILL), 0);
	do
		r = fp_capture_next_frame(fx->cap, fp_now_ns() + 16 * FP_NSEC_PER_MSEC, &f);
	while (r == 0 && ms_since(t0) < 5000.0);
	print_message("%s killed: session ended after %.0f ms: %s\n", exe, ms_since(t0),
		      fp_capture_error(fx->cap));
	assert_true(r < 0);
	assert_non_null(strstr(fp_capture_error(fx->cap), "source pid"));
	if (ms_since(t0) > GONE_WITHIN_MS)
		fail_msg("the session took %.0f ms to end (want < %.0f)", ms_since(t0),
			 GONE_WITHIN_MS);
}

/* A user who refuses: the session does not start, and the source says so in those words
 * (its stderr is ours: caught in a file for the length of the open). */
static void refusal_is_reported(void **state)
{
	struct fixture *fx = need_desktop(state);
	char path[4200];
	size_t len = 0;
	char *text;
	int saved = dup(STDERR_FILENO), fd, r;

	snprintf(path, sizeof(path), "%s/source-stderr", fpt_tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	r = open_capture(fx, NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	text = (char *)fpt_read_file(path, &len);
	unlink(path);
	print_message("refused: open %d, %s\n", r, fx->cap ? fp_capture_error(fx->cap) : "");
	if (!text || !memmem(text, len, "the user refused to share the screen", 36))
		fail_msg("the source did not say the user refused: %.*s", (int)len, text ? text : "");
	free(text);
	assert_true(r < 0);
}

static void pipewire_killed_ends_session(void **state)
{
	kill_ends_session(state, "/usr/bin/pipewire");
}

static void portal_killed_ends_session(void **state)
{
	kill_ends_session(state, "/usr/libexec/xdg-desktop-portal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(frames_have_size_and_colour, setup, teardown),
		cmocka_unit_test_setup_teardown(size_change_recreates_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_token_written_and_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(pipewire_killed_ends_session, setup, teardown),
		cmocka_unit_test_setup_teardown(portal_killed_ends_session, setup, teardown),
		cmocka_unit_test_setup_teardown(refusal_is_reported, setup_refusing, teardown),
	};
	char built[4096];
	int rc;

	fp_log_init("test-portal");
	signal(SIGPIPE, SIG_IGN);
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	/* The client runs as the display's account, which cannot enter a 0700 build tree. */
	fpt_build_path("tests/wlr/wlr-solid-client", built, sizeof(built));
	if (fpt_world_copy(built, client_exe, sizeof(client_exe)) < 0) {
		fprintf(stderr, "test-portal: cannot copy %s for the display's account\n", built);
		return 1;
	}
	rc = fpt_exit(cmocka_run_group_tests(tests, fpt_group_setup, fpt_group_teardown));
	fpt_world_remove(client_exe);
	return rc;
}
