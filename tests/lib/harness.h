/* framepush tests — paths of the programs under test and small process helpers. */
#ifndef FP_TESTS_HARNESS_H
#define FP_TESTS_HARNESS_H

#include <stdint.h>
#include <sys/types.h>

/* $FRAMEPUSH_BUILD_ROOT/rel, e.g. "tools/framepush-source". Static buffer per call site. */
const char *fpt_build_path(const char *rel, char *buf, size_t cap);

/* Spawns argv (argv[0] is the path); returns the pid or -errno. */
pid_t fpt_spawn(char *const argv[]);

/* Waits up to timeout_ms for pid; returns its wait status, or -ETIMEDOUT (then kills it). */
int fpt_wait(pid_t pid, int timeout_ms);

/* Copies the program at src into a fresh world-readable directory under /tmp (0755) and
 * writes the copy's path to out: a process of another uid (sway's user, setpriv) can run it
 * even when the build tree sits in a 0700 directory, as a fresh CI clone does. 0 or -errno. */
int fpt_world_copy(const char *src, char *out, size_t cap);

/* Exit code of a wait status, or 128 + signal. */
int fpt_exit_code(int status);

/* Honest skips. A test that cannot run here calls fpt_skip(why): in CI (CI=true), where
 * scripts/deps.sh installed every backend, that is a failure naming why; elsewhere the test
 * is skipped and fpt_exit() turns the run's result into meson's skip code (77) when nothing
 * failed and something skipped, so a skip is never counted as a pass. */
#define fpt_skip(...) do { fpt_skip_note(__VA_ARGS__); skip(); } while (0)
void fpt_skip_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit code for cmocka's result (the number of failed tests). */
int fpt_exit(int failed);

#endif
