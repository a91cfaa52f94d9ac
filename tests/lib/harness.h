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

/* Exit code of a wait status, or 128 + signal. */
int fpt_exit_code(int status);

#endif
