#include "channel/desc.h"

#include <stdatomic.h>
#include <string.h>

#include "channel/atomic.h"

uint32_t fp_desc_next_serial(uint32_t s)
{
	s = (s + 2) & ~1u;
	return s ? s : 2;
}

void fp_desc_write(struct fp_status *st, const struct fp_desc *d, uint32_t serial)
{
	/* Odd first, and the release fence keeps the field stores after it: a reader that
	 * sees any new field also sees the odd serial when it checks again. */
	atomic_store_explicit(ATOMIC_U32(&st->desc_serial), serial - 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	st->desc_width = d->width;
	st->desc_height = d->height;
	st->desc_format = d->format;
	memcpy(&st->desc_hdr, &d->hdr, sizeof(d->hdr));
	/* Even last, release: whoever sees it sees every field above. */
	atomic_store_explicit(ATOMIC_U32(&st->desc_serial), serial, memory_order_release);
}

uint32_t fp_desc_read(const struct fp_status *st, struct fp_desc *d)
{
	uint32_t s1 = atomic_load_explicit(ATOMIC_CONST_U32(&st->desc_serial), memory_order_acquire);
	uint32_t s2;

	if (s1 == 0 || (s1 & 1))
		return 0;
	d->width = st->desc_width;
	d->height = st->desc_height;
	d->format = st->desc_format;
	memcpy(&d->hdr, &st->desc_hdr, sizeof(d->hdr));
	/* The acquire fence keeps the copies above before the second load. */
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(ATOMIC_CONST_U32(&st->desc_serial), memory_order_relaxed);
	return s1 == s2 ? s1 : 0;
}
