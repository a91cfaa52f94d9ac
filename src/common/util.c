#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
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
