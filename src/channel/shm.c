#include "shm.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static int shm_create(const char *what, uint64_t size, int seals)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "framepush-%s", what);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL) /* kernels before 6.3 do not know NOEXEC_SEAL */
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		int r = -errno;
		fp_error("shm %s: memfd_create failed: %s", what, strerror(errno));
		return r;
	}
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, seals) < 0) {
		int r = -errno;
		fp_error("shm %s: sizing to %llu bytes and sealing failed: %s", what,
			 (unsigned long long)size, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

int fp_shm_create(const char *what, uint64_t size)
{
	return shm_create(what, size, FP_SHM_SEALS);
}

int fp_shm_create_open(const char *what, uint64_t size)
{
	return shm_create(what, size, F_SEAL_SHRINK | F_SEAL_GROW);
}

int fp_shm_seal_readonly(int fd, const char *what)
{
	if (fcntl(fd, F_ADD_SEALS, FP_SHM_SEALS_READONLY) < 0) {
		int r = -errno;

		/* EINVAL here means a kernel before 5.1: refuse rather than deliver a control
		 * block the source could reopen writable. */
		fp_error("shm %s: adding F_SEAL_FUTURE_WRITE failed: %s", what, strerror(errno));
		return r;
	}
	return 0;
}

int fp_shm_reopen_readonly(int fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0) {
		int r = -errno;
		fp_error("shm: read-only reopen of fd %d failed: %s", fd, strerror(errno));
		return r;
	}
	return ro;
}

void *fp_shm_map(int fd, uint64_t size, int prot)
{
	void *p;

	if (size == 0 || size > SIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void fp_shm_unmap(void *addr, uint64_t size)
{
	if (addr)
		munmap(addr, (size_t)size);
}

int fp_shm_check(int fd, uint64_t size)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size < size)
		return -EFBIG;
	seals = fp_shm_seals(fd);
	if (seals < 0 || (seals & FP_SHM_SEALS) != FP_SHM_SEALS)
		return -EPERM;
	return 0;
}

int fp_shm_seals(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	return seals < 0 ? -errno : seals;
}
