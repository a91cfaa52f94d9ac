/* framepush list — what `--display` could capture: the screens, outputs and modes of an X
 * display or a wlroots compositor.
 *
 * The host program links no display backend: each display is listed by a framepush-source
 * --list child, which writes its listing (complete, or nothing) straight to our stdout and
 * bounds its own wait on the display; the wait here is only the backstop for a child that
 * hangs anyway. */
#include "list.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc.h"
#include "options.h"
#include "source_exe.h"

#define LIST_MAX_DISPLAYS 8
/* The source gives up on a silent display after 5 s; past this it is stuck itself. */
#define LIST_CHILD_WAIT_MS 10000

struct list_target {
	const char *backend; /* "x11" or "wlr" */
	const char *display;
};

static void list_usage(FILE *f)
{
	fprintf(f,
"usage: framepush list [--display D]...\n"
"\n"
"Print what a display offers to capture: an X display's screens and RandR\n"
"outputs, or a wlroots compositor's outputs, each with its current mode,\n"
"position and the modes it has. Without --display: the X display in $DISPLAY\n"
"and the Wayland display in $WAYLAND_DISPLAY, each under its own heading.\n"
"\n"
"  --display D   :N, HOST:N  an X display (what --display :N captures)\n"
"                NAME        a Wayland socket in $XDG_RUNTIME_DIR (wayland-1),\n"
"                            or its path (up to %d --display)\n"
"  -h, --help    this text\n"
"\n"
"One record per line, first word the kind: 'X display :0' or 'Wayland display\n"
"wayland-1', 'screen N size=WxH depth=D', 'output NAME ... current=WxH@HZ\n"
"pos=X,Y', 'mode WxH@HZ [current] [preferred]', '*-omitted N'; a blank line\n"
"between displays.\n"
"\n"
"Exit status: 0 when every display was listed, 1 when one could not be reached\n"
"within 5 s (the others are still listed), 2 on bad usage.\n",
		LIST_MAX_DISPLAYS);
}

/* The backend that captures display: what framepush record --display D would use. */
static int classify(const char *d, struct list_target *t)
{
	if (!*d || !strncmp(d, "virtual:", 8)) {
		fprintf(stderr, "framepush list: --display '%s': want an existing display, :N or a "
			"Wayland socket (virtual: displays exist only inside a session)\n", d);
		return -EINVAL;
	}
	*t = (struct list_target){ .backend = cli_is_x_display(d) ? "x11" : "wlr", .display = d };
	return 0;
}

/* --display options into targets; else what the environment points to. 0 or exit 2. */
static int list_targets(int argc, char **argv, struct list_target *t, int *n)
{
	static const struct option opts[] = { { "display", required_argument, NULL, 'D' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *x, *wl;
	int c;

	*n = 0;
	opterr = 0; /* one line of our own, not getopt's and then the usage */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			list_usage(stdout);
			return -1;
		}
		if (c == 'D' && *n < LIST_MAX_DISPLAYS) {
			if (classify(optarg, &t[*n]) < 0)
				return 2;
			(*n)++;
			continue;
		}
		if (c == 'D')
			fprintf(stderr, "framepush list: at most %d --display", LIST_MAX_DISPLAYS);
		else if (c == ':')
			fprintf(stderr, "framepush list: a value is missing after '%s'", argv[optind - 1]);
		else
			fprintf(stderr, "framepush list: unknown option '%s'", argv[optind - 1]);
		fprintf(stderr, " (see framepush list --help)\n");
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "framepush list: stray argument '%s' (see framepush list --help)\n",
			argv[optind]);
		return 2;
	}
	if (*n)
		return 0;
	x = getenv("DISPLAY");
	wl = getenv("WAYLAND_DISPLAY");
	if (x && *x)
		t[(*n)++] = (struct list_target){ .backend = "x11", .display = x };
	if (wl && *wl)
		t[(*n)++] = (struct list_target){ .backend = "wlr", .display = wl };
	if (*n)
		return 0;
	fprintf(stderr, "framepush list: no display found: set DISPLAY or WAYLAND_DISPLAY, or "
		"give --display\n");
	return 2;
}

/* One framepush-source --list; 0 when it listed the display, else 1 (it said why). */
static int list_one(const char *exe, const struct list_target *t)
{
	char *argv[] = { (char *)exe, (char *)"--backend", (char *)t->backend, (char *)"--display",
			 (char *)t->display, (char *)"--list", NULL };
	int status, r;
	pid_t pid;

	fflush(stdout); /* our output comes before the child's on the shared stdout */
	r = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
	if (r) {
		fprintf(stderr, "framepush list: cannot run %s: %s\n", exe, strerror(r));
		return 1;
	}
	r = fp_child_wait(pid, LIST_CHILD_WAIT_MS, &status);
	if (r == -ETIMEDOUT) {
		fp_child_stop(pid, 100);
		fprintf(stderr, "framepush list: %s did not finish within %d s; stopped\n", exe,
			LIST_CHILD_WAIT_MS / 1000);
		return 1;
	}
	if (r < 0 || !WIFEXITED(status)) {
		fprintf(stderr, "framepush list: %s failed for %s display %s\n", exe,
			strcmp(t->backend, "x11") ? "Wayland" : "X", t->display);
		return 1;
	}
	/* 1: the display did not answer; 2: this build cannot list that kind (said why). */
	return WEXITSTATUS(status) ? 1 : 0;
}

int fp_cli_list(int argc, char **argv)
{
	struct list_target t[LIST_MAX_DISPLAYS];
	char exe[PATH_MAX];
	int n, r, rc = 0;

	r = list_targets(argc, argv, t, &n);
	if (r)
		return r < 0 ? 0 : r;
	if (fp_find_source_exe(exe, sizeof(exe)) < 0) {
		fprintf(stderr, "framepush list: cannot locate framepush-source; set FRAMEPUSH_SOURCE\n");
		return 1;
	}
	for (int i = 0, listed = 0; i < n; i++) {
		if (listed)
			putchar('\n'); /* after a listing, before the next display's */
		r = list_one(exe, &t[i]);
		listed += r == 0;
		rc = rc || r;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "framepush list: cannot write the listing: %s\n", strerror(errno));
		return 1;
	}
	return rc;
}
