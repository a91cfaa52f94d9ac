/* framepush — small helpers the kernel makes easy to get wrong: clocks, EINTR, fd ownership. */
#ifndef FP_COMMON_UTIL_H
#define FP_COMMON_UTIL_H

#include <stdint.h>
#include <unistd.h>

#define FP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FP_NSEC_PER_SEC INT64_C(1000000000)
#define FP_NSEC_PER_MSEC INT64_C(1000000)

/* CLOCK_MONOTONIC in nanoseconds: the capture clock of every timestamp in framepush. */
int64_t fp_now_ns(void);

/* Closes *fd if valid and sets it to -1; keeps errno. */
void fp_close(int *fd);

/* Hands ownership of an fd on: returns it and leaves -1 behind. */
static inline int fp_take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

/* Number of open fds of this process (counts /proc/self/fd); tests and leak checks use it. */
int fp_count_open_fds(void);

/* Strict decimal: the whole string is digits (no sign, space or suffix: "30x", "", "-5" and
 * " 5" are mistakes, not 30, 0, a wrapped value or 5) and the value is in [min, max].
 * Returns 0 and *out, or -EINVAL. */
int fp_parse_uint(const char *s, unsigned long long min, unsigned long long max,
		  unsigned long long *out);

/* Strict "WxH" (a lower-case x, as the help writes it): two strict decimals (fp_parse_uint rules), nothing around
 * them; each in [min, max] of its axis. Returns 0 and *w, *h, or -EINVAL. */
int fp_parse_size(const char *s, uint32_t min_w, uint32_t min_h, uint32_t max_w, uint32_t max_h,
		  uint32_t *w, uint32_t *h);

/* Strict "WxH@HZ" or "WxH" (then *hz keeps what the caller put there): a display mode. The
 * size as fp_parse_size, the rate a strict decimal in [min_hz, max_hz]. 0 or -EINVAL. */
int fp_parse_mode(const char *s, uint32_t min_w, uint32_t min_h, uint32_t max_w, uint32_t max_h,
		  uint32_t min_hz, uint32_t max_hz, uint32_t *w, uint32_t *h, uint32_t *hz);

/* Milliseconds left until deadline_ns, clamped to [0, INT32_MAX], for poll(). */
int fp_ms_until(int64_t deadline_ns);

#endif
