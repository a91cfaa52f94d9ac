/* framepush — sealed, unnamed shared memory (memfd) helpers. */
#ifndef FP_CHANNEL_SHM_H
#define FP_CHANNEL_SHM_H

#include <stddef.h>
#include <stdint.h>

/* The seals every shared object carries: no peer can truncate it under the host (SIGBUS),
 * grow it, or add seals of its own (e.g. F_SEAL_WRITE to freeze the host's writes). */
#define FP_SHM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Creates an unnamed memfd of `size` bytes, CLOEXEC, sealed with FP_SHM_SEALS.
 * `what` names the object in the memfd debug name and in errors. Returns fd or -errno. */
int fp_shm_create(const char *what, uint64_t size);

/* Opens a second, read-only description of memfd `fd` (through /proc/self/fd): a writable
 * mmap of the result fails with EACCES. Returns fd (CLOEXEC) or -errno. */
int fp_shm_reopen_readonly(int fd);

/* Maps `size` bytes of fd shared; prot as mmap. Returns the mapping or NULL with errno set. */
void *fp_shm_map(int fd, uint64_t size, int prot);
void fp_shm_unmap(void *addr, uint64_t size);

/* Checks that fd is at least `size` bytes and carries FP_SHM_SEALS.
 * Returns 0, -EFBIG when smaller (name kept for the caller's status), -EPERM when unsealed. */
int fp_shm_check(int fd, uint64_t size);

#endif
