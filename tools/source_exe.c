#include "source_exe.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fp_find_source_exe(char *out, size_t cap)
{
	const char *env = getenv("FRAMEPUSH_SOURCE");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		if ((size_t)snprintf(out, cap, "%s", env) >= cap)
			return -ENAMETOOLONG;
		return 0;
	}
	/* readlink does not terminate, and a full buffer may be a truncated path. */
	n = readlink("/proc/self/exe", self, sizeof(self));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(self))
		return -ENAMETOOLONG;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s/framepush-source", self) >= cap)
		return -ENAMETOOLONG;
	return 0;
}
