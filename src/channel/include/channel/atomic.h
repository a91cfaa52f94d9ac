/* framepush — atomic access to the words of the shared blocks.
 *
 * The contract's structs (framepush/proto.h) are plain integers, so that both sides see one
 * pinned layout; every access to a word the other process writes concurrently goes through
 * its atomic twin, seen through these casts. _Atomic uint32_t / uint64_t have the size and
 * alignment of their plain types on every target framepush builds for. */
#ifndef FP_CHANNEL_ATOMIC_H
#define FP_CHANNEL_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "atomic u32 layout");
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "atomic u64 layout");

#define ATOMIC_U32(p) ((_Atomic uint32_t *)(void *)(p))
#define ATOMIC_U64(p) ((_Atomic uint64_t *)(void *)(p))
/* For a word in a read-only mapping (the source's view of the control block). */
#define ATOMIC_CONST_U32(p) ((const _Atomic uint32_t *)(const void *)(p))

#endif
