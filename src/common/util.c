#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t fp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * FP_NSEC_PER_SEC + ts.tv_nsec;
}

void fp_close(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	errno = saved;
}

int fp_count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own fd */
}

int fp_ms_until(int64_t deadline_ns)
{
	int64_t left = deadline_ns - fp_now_ns();

	if (left <= 0)
		return 0;
	left = (left + FP_NSEC_PER_MSEC - 1) / FP_NSEC_PER_MSEC;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int fp_parse_uint(const char *s, unsigned long long min, unsigned long long max,
		  unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL; /* strtoull would take " 5", "+5" and wrap "-5" */
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parses s[0..len) as a strict decimal in [min, max] (fp_parse_uint on a bounded copy). */
static int parse_uint_n(const char *s, size_t len, uint32_t min, uint32_t max, uint32_t *out)
{
	char buf[16];
	unsigned long long v;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (fp_parse_uint(buf, min, max, &v) < 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int fp_parse_size(const char *s, uint32_t min_w, uint32_t min_h, uint32_t max_w, uint32_t max_h,
		  uint32_t *w, uint32_t *h)
{
	const char *x = strchr(s, 'x');
	uint32_t a, b;

	if (!x || parse_uint_n(s, (size_t)(x - s), min_w, max_w, &a) < 0 ||
	    parse_uint_n(x + 1, strlen(x + 1), min_h, max_h, &b) < 0)
		return -EINVAL;
	*w = a;
	*h = b;
	return 0;
}

int fp_parse_mode(const char *s, uint32_t min_w, uint32_t min_h, uint32_t max_w, uint32_t max_h,
		  uint32_t min_hz, uint32_t max_hz, uint32_t *w, uint32_t *h, uint32_t *hz)
{
	const char *at = strchr(s, '@');
	char size[32];
	uint32_t rate = *hz;
	size_t n = at ? (size_t)(at - s) : strlen(s);

	if (n >= sizeof(size))
		return -EINVAL;
	memcpy(size, s, n);
	size[n] = '\0';
	if (at && parse_uint_n(at + 1, strlen(at + 1), min_hz, max_hz, &rate) < 0)
		return -EINVAL;
	if (fp_parse_size(size, min_w, min_h, max_w, max_h, w, h) < 0)
		return -EINVAL;
	*hz = rate;
	return 0;
}
