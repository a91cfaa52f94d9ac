/* framepush — sealed, unnamed shared memory (memfd) helpers. */
#ifndef FP_CHANNEL_SHM_H
#define FP_CHANNEL_SHM_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

/* The seals every shared object carries: no peer can truncate it under the host (SIGBUS),
 * grow it, or add seals of its own (e.g. F_SEAL_WRITE to freeze the host's writes). */
#define FP_SHM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010 /* Linux 5.1; older libc headers lack it */
#endif

/* The control block's seals on top: a read-only fd alone is not enough, since anyone holding
 * it can reopen /proc/self/fd/N O_RDWR (same inode, same uid). With FUTURE_WRITE no new
 * writable mapping or write() succeeds on any fd of it; the host's mapping made before the
 * seal keeps working. */
#define FP_SHM_SEALS_READONLY (FP_SHM_SEALS | F_SEAL_FUTURE_WRITE)

/* Creates an unnamed memfd of `size` bytes, CLOEXEC, sealed with FP_SHM_SEALS.
 * `what` names the object in the memfd debug name and in errors. Returns fd or -errno. */
int fp_shm_create(const char *what, uint64_t size);

/* As fp_shm_create, but sealed only against shrink and grow: the seal set stays open so the
 * host can fill the object and then seal it with fp_shm_seal_readonly before it leaves. */
int fp_shm_create_open(const char *what, uint64_t size);

/* Adds FP_SHM_SEALS_READONLY to a memfd from fp_shm_create_open. Returns 0 or -errno. */
int fp_shm_seal_readonly(int fd, const char *what);

/* Opens a second, read-only description of memfd `fd` (through /proc/self/fd): a writable
 * mmap of the result fails with EACCES. Returns fd (CLOEXEC) or -errno. */
int fp_shm_reopen_readonly(int fd);

/* Maps `size` bytes of fd shared; prot as mmap. Returns the mapping or NULL with errno set. */
void *fp_shm_map(int fd, uint64_t size, int prot);
void fp_shm_unmap(void *addr, uint64_t size);

/* Checks that fd is at least `size` bytes and carries FP_SHM_SEALS.
 * Returns 0, -EFBIG when smaller (name kept for the caller's status), -EPERM when unsealed. */
int fp_shm_check(int fd, uint64_t size);

/* The seals on fd (F_GET_SEALS), or -errno (-EINVAL: not a sealable memfd). */
int fp_shm_seals(int fd);

#endif
