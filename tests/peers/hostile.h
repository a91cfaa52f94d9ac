/* framepush tests — the test peer's attacks on the host, run on their own thread against
 * the attached ring (hostile=scribble|scribble-status|scribble-pixels|spam|steal-event|
 * flood|desc-flip|forbidden-syscall, hostile-after=N, seed=N). doc/SECURITY.md lists what
 * each proves. */
#ifndef FP_TESTS_PEERS_HOSTILE_H
#define FP_TESTS_PEERS_HOSTILE_H

#include <stdint.h>

#include "framepush/source.h"

enum fp_hostile_mode {
	FP_HOSTILE_NONE,
	FP_HOSTILE_SCRIBBLE,        /* random words over the whole status block */
	FP_HOSTILE_SCRIBBLE_STATUS, /* ...over all of it but the descriptor: the session goes on */
	FP_HOSTILE_SCRIBBLE_PIXELS, /* into the published slot's pixels, after publish */
	FP_HOSTILE_SPAM,            /* signal the event in a tight loop */
	FP_HOSTILE_STEAL_EVENT,     /* clear O_NONBLOCK on the shared eventfd, consume every count */
	FP_HOSTILE_FLOOD,           /* junk messages on the socket, as fast as it takes them */
	FP_HOSTILE_DESC_FLIP,       /* the descriptor rewritten in a tight loop (seqlock test) */
	FP_HOSTILE_FORBIDDEN,       /* a taken-over source reaching out: a new socket */
};

struct fp_hostile_opts {
	enum fp_hostile_mode mode;
	uint32_t after; /* start after this many published frames */
	uint32_t seed;  /* the attack's random sequence (0: from the pid) */
};

/* One spec pair: 0, -EINVAL (logged) for a bad value, -ENOENT for a key that is not one of
 * hostile, hostile-after, seed. */
int fp_hostile_option(struct fp_hostile_opts *o, const char *key, const char *val);

struct fp_hostile;

/* Starts the attack thread (mode NONE: an object whose calls do nothing). 0 or -errno. */
int fp_hostile_create(struct fp_hostile **out, const struct fp_hostile_opts *o);
void fp_hostile_destroy(struct fp_hostile *h);

/* The ring changed (NULL: detached): the thread maps its own copy, mode is the ring's. */
void fp_hostile_ring_changed(struct fp_hostile *h, const struct fp_source_ring *ring);
/* Every dispatch, first: flood takes its copy of the host socket. */
void fp_hostile_dispatch(struct fp_hostile *h, struct fp_source *src);
/* Around drawing and publishing one frame; published says whether it was (steal-event
 * takes the count back at once). */
void fp_hostile_frame_begin(struct fp_hostile *h);
void fp_hostile_frame_end(struct fp_hostile *h, struct fp_source *src, int published);
/* A frame was published: counts toward hostile-after. */
void fp_hostile_published(struct fp_hostile *h);

#endif
