#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "channel/desc.h"
#include "channel/event.h"
#include "common/log.h"
#include "common/util.h"
#include "desc_flip.h"
#include "spec.h"

#define WHAT "test peer"

struct fp_hostile {
	struct fp_hostile_opts o;
	uint64_t published;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t lock;
	pthread_cond_t armed_cond;
	atomic_int stop;
	int armed;                /* under lock: `after` frames were published */
	struct fp_status *status; /* under lock */
	int event_fd;             /* under lock */
	int sock_fd;              /* the thread's own copy of the host socket (flood) */
	int steal_fd;             /* under lock: the stealer's own copy of the eventfd */
	uint8_t *slots[FP_RING_MAX]; /* under lock: the thread's own writable slot mappings */
	uint32_t ring_len;        /* under lock */
	uint64_t slot_size;       /* under lock */
	uint32_t width, height, format; /* under lock: the ring's mode (desc-flip writes it) */
};

int fp_hostile_option(struct fp_hostile_opts *o, const char *key, const char *val)
{
	static const char *const names[] = { "scribble", "scribble-status", "scribble-pixels",
					     "spam", "steal-event", "flood", "desc-flip",
					     "forbidden-syscall", NULL };
	int v, r;

	if (!strcmp(key, "hostile-after"))
		return fp_spec_u32(WHAT, key, val, 0, 1000000000, &o->after);
	if (!strcmp(key, "seed"))
		return fp_spec_u32(WHAT, key, val, 0, UINT32_MAX, &o->seed);
	if (strcmp(key, "hostile"))
		return -ENOENT;
	r = fp_spec_choice(WHAT, key, val, names, FP_HOSTILE_SCRIBBLE, &v);
	if (r == 0)
		o->mode = (enum fp_hostile_mode)v;
	return r;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* One random word into the published slot. Under the lock, which the dispatch holds while it
 * renders and publishes: the latest slot is then complete and the source does not write it
 * again before the next publish, so a frame the host gets whole is one the source signed. */
static void scribble_pixels(struct fp_hostile *h, uint64_t *x)
{
	uint64_t latest = atomic_load_explicit((_Atomic uint64_t *)(void *)&h->status->latest,
					       memory_order_acquire);
	struct fp_token tok = fp_token_unpack(latest);
	uint32_t v = (uint32_t)xorshift(x);
	uint64_t off;

	if (tok.generation == 0 || tok.slot >= h->ring_len || !h->slots[tok.slot] ||
	    h->slot_size < 4)
		return;
	off = (xorshift(x) % (h->slot_size / 4)) * 4;
	memcpy(h->slots[tok.slot] + off, &v, sizeof(v));
}

/* Takes O_NONBLOCK off the eventfd the host shares and reads every count the moment it
 * appears: a host that reads it after its own poll() then finds nothing, and blocks if it
 * trusted the flag. fp_hostile_destroy writes once to get this thread out of its read. */
static void steal_event(struct fp_hostile *h)
{
	int fd;

	pthread_mutex_lock(&h->lock);
	fd = h->event_fd >= 0 ? fcntl(h->event_fd, F_DUPFD_CLOEXEC, 0) : -1;
	h->steal_fd = fd;
	pthread_mutex_unlock(&h->lock);
	if (fd < 0)
		return;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	fp_info("test peer: took O_NONBLOCK off the shared eventfd; consuming every count");
	while (!atomic_load(&h->stop)) {
		uint64_t v;

		if (read(fd, &v, sizeof(v)) < 0)
			break;
	}
	pthread_mutex_lock(&h->lock);
	h->steal_fd = -1;
	close(fd);
	pthread_mutex_unlock(&h->lock);
}

/* Junk the protocol does not allow (a wrong type, then an oversized packet), as fast as the
 * socket takes it, until the host hangs up. */
static void flood(struct fp_hostile *h)
{
	char junk[512] = { 0 };
	uint32_t type = 0xdead;
	unsigned long sent = 0;

	memcpy(junk, &type, sizeof(type));
	while (!atomic_load(&h->stop) && h->sock_fd >= 0) {
		ssize_t n = send(h->sock_fd, junk, sent % 2 ? sizeof(junk) : 8,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN)
			break;
		if (n < 0)
			nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
		else
			sent++;
	}
	fp_info("test peer: flood ended after %lu junk messages", sent);
}

static void desc_flip(struct fp_hostile *h)
{
	struct fp_hdr_meta rec[2];
	uint32_t serial = 0;
	unsigned long writes = 0;

	fp_test_desc_flip_records(rec);
	while (!atomic_load(&h->stop)) {
		pthread_mutex_lock(&h->lock);
		/* An odd count per burst, so bursts end on each record in turn; the pause is the
		 * host's chance to read a complete one. */
		for (int i = 0; h->status && i < 4095; i++) {
			struct fp_desc d = { .width = h->width, .height = h->height,
					     .format = h->format, .hdr = rec[writes++ & 1] };

			/* Past the library's own serial, so the host takes each as new. */
			if (!serial)
				serial = h->status->desc_serial + 1000;
			serial = fp_desc_next_serial(serial);
			fp_desc_write(h->status, &d, serial);
		}
		pthread_mutex_unlock(&h->lock);
		nanosleep(&(struct timespec){ .tv_nsec = 300000 }, NULL);
	}
	fp_info("test peer: rewrote the descriptor %lu times", writes);
}

static void forbidden_syscall(void)
{
	/* Attached, so sandboxed: the kernel kills the process on this call. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	fp_error("test peer: socket() after attach returned %d: the sandbox is missing", fd);
	if (fd >= 0)
		close(fd);
}

/* One burst of scribble, scribble-status or spam (under the lock). */
static void burst(struct fp_hostile *h, uint64_t *x)
{
	/* The descriptor words (desc_width..desc_serial) are spared by scribble-status; the HDR
	 * record (desc_hdr) is not: the host reads it only with a new serial, so no scribble
	 * of it is ever taken. */
	const size_t desc_first = offsetof(struct fp_status, desc_width) / 4;
	const size_t desc_last = offsetof(struct fp_status, desc_serial) / 4;
	enum fp_hostile_mode m = h->o.mode;

	for (int i = 0; i < 4096; i++) {
		uint64_t one = 1;

		xorshift(x);
		if ((m == FP_HOSTILE_SCRIBBLE || m == FP_HOSTILE_SCRIBBLE_STATUS) && h->status) {
			uint32_t *words = (uint32_t *)(void *)h->status;
			size_t n = sizeof(*h->status) / 4, w = (*x >> 32) % n;

			if (m == FP_HOSTILE_SCRIBBLE_STATUS && w >= desc_first && w <= desc_last)
				continue;
			atomic_store_explicit((_Atomic uint32_t *)&words[w], (uint32_t)*x,
					      memory_order_relaxed);
		} else if (m == FP_HOSTILE_SPAM && h->event_fd >= 0) {
			if (write(h->event_fd, &one, sizeof(one)) < 0)
				break;
		}
	}
}

static void *hostile_thread(void *arg)
{
	struct fp_hostile *h = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (h->o.seed ? h->o.seed : (uint64_t)getpid());

	pthread_mutex_lock(&h->lock);
	while (!h->armed && !atomic_load(&h->stop))
		pthread_cond_wait(&h->armed_cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	switch (h->o.mode) {
	case FP_HOSTILE_STEAL_EVENT: steal_event(h); return NULL;
	case FP_HOSTILE_FLOOD: flood(h); return NULL;
	case FP_HOSTILE_DESC_FLIP: desc_flip(h); return NULL;
	case FP_HOSTILE_FORBIDDEN: forbidden_syscall(); return NULL;
	default: break;
	}
	while (!atomic_load(&h->stop)) {
		pthread_mutex_lock(&h->lock);
		if (h->o.mode == FP_HOSTILE_SCRIBBLE_PIXELS) {
			if (h->status)
				scribble_pixels(h, &x);
			pthread_mutex_unlock(&h->lock);
			/* Some frames get through whole, some not: both paths are exercised. */
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			continue;
		}
		burst(h, &x);
		pthread_mutex_unlock(&h->lock);
	}
	return NULL;
}

static void unmap_ring(struct fp_hostile *h)
{
	for (uint32_t i = 0; i < FP_RING_MAX; i++) {
		if (h->slots[i])
			munmap(h->slots[i], h->slot_size);
		h->slots[i] = NULL;
	}
	if (h->status)
		munmap(h->status, sizeof(*h->status));
	h->status = NULL;
	h->ring_len = 0;
	fp_close(&h->event_fd);
}

int fp_hostile_create(struct fp_hostile **out, const struct fp_hostile_opts *o)
{
	struct fp_hostile *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->o = *o;
	h->event_fd = h->sock_fd = h->steal_fd = -1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->armed_cond, NULL);
	if (o->mode != FP_HOSTILE_NONE) {
		if (pthread_create(&h->thread, NULL, hostile_thread, h) != 0) {
			fp_hostile_destroy(h);
			return -EAGAIN;
		}
		h->thread_started = 1;
	}
	*out = h;
	return 0;
}

void fp_hostile_destroy(struct fp_hostile *h)
{
	if (!h)
		return;
	if (h->thread_started) {
		pthread_mutex_lock(&h->lock);
		atomic_store(&h->stop, 1);
		pthread_cond_broadcast(&h->armed_cond);
		/* A stealer blocked in read() on the eventfd needs one count to see stop (on its
		 * own fd: the ring's copy is closed by the detach before this runs). */
		if (h->o.mode == FP_HOSTILE_STEAL_EVENT && h->steal_fd >= 0)
			(void)!write(h->steal_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	unmap_ring(h);
	fp_close(&h->sock_fd);
	pthread_cond_destroy(&h->armed_cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* The thread works on its own mapping and fd copies, so the source library can unmap a
 * detached ring without pulling memory from under the thread. */
void fp_hostile_ring_changed(struct fp_hostile *h, const struct fp_source_ring *ring)
{
	if (h->o.mode == FP_HOSTILE_NONE)
		return;
	pthread_mutex_lock(&h->lock);
	unmap_ring(h);
	if (ring) {
		void *p = mmap(NULL, sizeof(*h->status), PROT_READ | PROT_WRITE, MAP_SHARED,
			       ring->status_fd, 0);

		h->status = p == MAP_FAILED ? NULL : p;
		h->event_fd = fcntl(ring->event_fd, F_DUPFD_CLOEXEC, 0);
		h->slot_size = ring->slot_size;
		h->ring_len = ring->ring_len;
		h->width = ring->width;
		h->height = ring->height;
		h->format = ring->format;
		for (uint32_t i = 0; h->o.mode == FP_HOSTILE_SCRIBBLE_PIXELS && i < ring->ring_len;
		     i++) {
			p = mmap(NULL, ring->slot_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 ring->slot_fd[i], 0);
			h->slots[i] = p == MAP_FAILED ? NULL : p;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

void fp_hostile_dispatch(struct fp_hostile *h, struct fp_source *src)
{
	if (h->o.mode == FP_HOSTILE_FLOOD && h->sock_fd < 0)
		h->sock_fd = fcntl(fp_source_fd(src), F_DUPFD_CLOEXEC, 0); /* before the thread arms */
}

void fp_hostile_frame_begin(struct fp_hostile *h)
{
	if (h->o.mode == FP_HOSTILE_SCRIBBLE_PIXELS)
		pthread_mutex_lock(&h->lock); /* see scribble_pixels */
}

void fp_hostile_frame_end(struct fp_hostile *h, struct fp_source *src, int published)
{
	const struct fp_source_ring *ring = fp_source_ring(src);

	if (h->o.mode == FP_HOSTILE_SCRIBBLE_PIXELS)
		pthread_mutex_unlock(&h->lock);
	/* Take the count straight back: the host woke for it, and finds nothing to read. */
	if (published && ring && h->o.mode == FP_HOSTILE_STEAL_EVENT && h->armed)
		fp_event_consume(ring->event_fd);
}

/* The only place the attack arms, also for after 0 (the first publish): before it the
 * thread has no socket or eventfd copy to attack, and no sandbox to run into. */
void fp_hostile_published(struct fp_hostile *h)
{
	if (h->armed || ++h->published < h->o.after)
		return;
	pthread_mutex_lock(&h->lock);
	h->armed = 1;
	pthread_cond_broadcast(&h->armed_cond);
	pthread_mutex_unlock(&h->lock);
}
