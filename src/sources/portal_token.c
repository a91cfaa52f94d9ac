#include "portal_token.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

int fp_portal_token_valid(const char *t)
{
	size_t n = 0;

	if (!t)
		return 0;
	for (; t[n]; n++)
		if (n >= FP_PORTAL_TOKEN_MAX || t[n] <= ' ' || t[n] > '~')
			return 0;
	return n > 0;
}

int fp_portal_token_path(const char *spec_path, char *out, size_t cap)
{
	const char *home = getenv("HOME");
	int n;

	if (!strncmp(spec_path, "~/", 2)) {
		if (!home || !*home) {
			fp_error("portal source: restore=%s: $HOME is not set", spec_path);
			return -ENOENT;
		}
		n = snprintf(out, cap, "%s/%s", home, spec_path + 2);
	} else {
		n = snprintf(out, cap, "%s", spec_path);
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int fp_portal_token_read(const char *path, char *buf, size_t cap)
{
	/* O_NOFOLLOW|O_NONBLOCK: a planted symlink or FIFO is refused, not followed or waited
	 * on. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = fd < 0 ? errno : EINVAL;

		fp_error("portal source: restore token %s: %s", path,
			 e == EINVAL ? "not a regular file" : strerror(e));
		fp_close(&fd);
		return -e;
	}
	n = read(fd, buf, cap - 1);
	fp_close(&fd);
	if (n < 0) {
		fp_error("portal source: reading restore token %s: %s", path, strerror(errno));
		return -EIO;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0)
		return 0;
	if (!fp_portal_token_valid(buf)) {
		fp_warn("portal source: restore token %s is malformed; the portal will ask", path);
		buf[0] = '\0';
		return 0;
	}
	return 1;
}

static int make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	/* One level, as ~/.config/framepush needs; deeper trees are the user's to make. */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fp_portal_token_write(const char *path, const char *token)
{
	char tmp[PATH_MAX];
	size_t len = strlen(token);
	int fd, r = make_parent(path);

	if (r == 0 && snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >=
			      (int)sizeof(tmp))
		r = -ENAMETOOLONG;
	if (r < 0) {
		fp_error("portal source: cannot write restore token %s: %s", path, strerror(-r));
		return r;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, token, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0 || rename(tmp, path) < 0) {
		r = errno ? -errno : -EIO;
		fp_error("portal source: cannot write restore token %s: %s", path, strerror(-r));
		if (fd >= 0)
			unlink(tmp);
	}
	fp_close(&fd);
	return r;
}
