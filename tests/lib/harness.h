/* framepush tests — paths of the programs under test, child processes with bounded waits,
 * local ports, temporary directories, whole files and honest skips. */
#ifndef FP_TESTS_HARNESS_H
#define FP_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* $FRAMEPUSH_BUILD_ROOT/rel, e.g. "tools/framepush-source". Static buffer per call site. */
const char *fpt_build_path(const char *rel, char *buf, size_t cap);

/* Spawns argv (argv[0] is the path); returns the pid or -errno. */
pid_t fpt_spawn(char *const argv[]);

/* Spawns argv with stdin from /dev/null and stdout to out_fd (-1: /dev/null); stderr is
 * inherited, so a child's complaints reach the test log. Returns the pid or -errno. */
pid_t fpt_spawn_io(char *const argv[], int out_fd);

/* Waits up to timeout_ms for pid (its exit is an event: a pidfd, no polling); returns its
 * wait status, or -ETIMEDOUT (then kills it). */
int fpt_wait(pid_t pid, int timeout_ms);

/* Runs argv with stdout captured into out (NUL-terminated, truncated at cap - 1; out may be
 * NULL when cap is 0), all of it within timeout_ms. Returns the exit code (fpt_exit_code),
 * -ETIMEDOUT (the child is killed) or -errno. */
int fpt_run(char *const argv[], char *out, size_t cap, int timeout_ms);

/* fpt_run for what a program logs: its stderr captured into out, its stdout to /dev/null. */
int fpt_run_stderr(char *const argv[], char *out, size_t cap, int timeout_ms);

/* A free local port (bound then released: a small race, acceptable in tests), or -errno. */
int fpt_free_port(bool udp);

/* Waits until a socket of another process is bound to port (UDP) or listening on it (TCP),
 * up to timeout_ms. Returns true when seen. */
bool fpt_wait_port(int port, bool udp, int timeout_ms);

/* Occurrences of needle in hay. */
unsigned fpt_count(const char *hay, const char *needle);

/* A fresh directory "$TMPDIR/fpt-XXXXXX" (malloc'd path), or NULL. fpt_rmdir removes the
 * files in it, the directory, and frees the path; accepts NULL. */
char *fpt_tmpdir(void);
void fpt_rmdir(char *dir);

/* cmocka group set-up and tear-down: fpt_tmp is a fresh directory for the group's files,
 * removed afterwards unless FRAMEPUSH_KEEP_TMP is set. */
extern char *fpt_tmp;
int fpt_group_setup(void **state);
int fpt_group_teardown(void **state);

/* Copies the program at src into a fresh world-readable directory under /tmp (0755) and
 * writes the copy's path to out: a process of another uid (sway's user, setpriv) can run it
 * even when the build tree sits in a 0700 directory, as a fresh CI clone does. 0 or -errno. */
int fpt_world_copy(const char *src, char *out, size_t cap);
/* Removes a copy fpt_world_copy made, and its directory (copy is cut to that path). */
void fpt_world_remove(char *copy);

/* The whole file at path, malloc'd, its size in *len; NULL (len untouched) when it is missing,
 * empty or cannot be read whole. */
uint8_t *fpt_read_file(const char *path, size_t *len);

/* Exit code of a wait status, or 128 + signal. */
int fpt_exit_code(int status);

/* Honest skips. A test that cannot run here calls fpt_skip(why): in CI (CI=true), where
 * scripts/deps.sh installed every backend, that is a failure naming why; elsewhere the test
 * is skipped and fpt_exit() turns the run's result into meson's skip code (77) when nothing
 * failed and something skipped, so a skip is never counted as a pass. */
#define fpt_skip(...) do { fpt_skip_note(__VA_ARGS__); skip(); } while (0)
void fpt_skip_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs only the test called name (a group's meson entry): 0, or -1 with "prog: no test
 * named" printed, since a filter that names no test would run nothing and "pass". */
struct CMUnitTest;
int fpt_select_test(const char *prog, const struct CMUnitTest *tests, size_t n, const char *name);

/* The exit code for cmocka's result (the number of failed tests). */
int fpt_exit(int failed);

#endif
