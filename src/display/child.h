/* framepush — starting the processes of a virtual display (servers, compositors, apps).
 *
 * One fork+exec path for every display kind, so each child gets the same guarantees:
 * its own process group (stopping it ends what it started), stdin on /dev/null, an exec
 * failure reported as -errno, and PR_SET_PDEATHSIG, so a host killed without cleaning up
 * (SIGKILL, a crash) takes its display with it instead of leaving servers behind. */
#ifndef FP_DISPLAY_CHILD_H
#define FP_DISPLAY_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* The PATH of everything a display starts when it does not pass the caller's on. */
#define FP_DISPLAY_PATH "/usr/local/bin:/usr/bin:/bin"

/* Finds the program name in path (colon separated; NULL or "" means FP_DISPLAY_PATH) as
 * execvp would: a name with a '/' is taken as it is, otherwise the first regular,
 * executable file path/name. 0 and the path in out, or -ENOENT / -ENAMETOOLONG. */
int fp_display_find_exe(const char *name, const char *path, char *out, size_t cap);

struct fp_display_child {
	const char *exe;        /* path to execve (no PATH search here: fp_display_find_exe) */
	/* Instead of exe: a function the child runs after the same setup, then exits with its
	 * result (0 or an errno). It may use async-signal-safe calls only (the parent may have
	 * threads); once ready it closes *ready_fd and sets it to -1, releasing the parent. An
	 * error before that is reported as an exec failure would be. */
	int (*run)(void *arg, int *ready_fd);
	void *run_arg;
	char *const *argv;
	char *const *envp;
	const char *cwd;        /* the child's working directory, "/" if it fails; NULL: ours */
	const char *log_path;   /* stdout and stderr appended to this file; NULL: inherited */
	int stdout_fd;          /* stdout onto this fd (after log_path); -1: none */
	int keep_fd;            /* an fd the program inherits (its CLOEXEC cleared); -1: none */
	int drop;               /* run as uid/gid, with no supplementary groups (we are root) */
	uid_t uid;
	gid_t gid;
};

/* Forks and execs c (or runs c->run), returning once the program runs (its group and death signal are in
 * place by then) or could not be started. The death signal (SIGTERM) follows the thread
 * that called this: create displays from a thread that lives as long as they do. Returns 0
 * and *pid, or -errno (the exec's own failure included). */
int fp_display_start_child(const struct fp_display_child *c, pid_t *pid);

/* Runs c to its end with its stdout captured into out (NUL-terminated, cut at cap - 1; out
 * may be NULL), all of it within timeout_ms: read whole, so the child never blocks on a
 * full pipe; one that outlives the bound is killed. c->stdout_fd is replaced by the pipe.
 * Returns the exit code (128 + signal), or -errno. */
int fp_display_run_child(const struct fp_display_child *c, char *out, size_t cap,
			 int timeout_ms);

#endif
