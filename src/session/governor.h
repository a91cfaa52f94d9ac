/* framepush — the encoder governor: keeps a session's encoder inside its frame budget.
 *
 * It is fed the wall time each frame spent in the encoder and answers with the speed level to
 * use: the session maps levels onto the encoder's presets (level 0 the fastest). When the
 * median frame of two windows in a row (a window is ~1/4 s of frames, or of encode time
 * when frames are few) takes more than the
 * high share of the frame period (or one window more than two periods), it steps one level
 * faster: the encoder would otherwise
 * fall behind and ticks be skipped. It steps one level slower, never past the slowest level
 * allowed (what the user or the profile asked for), only after a sustained stretch with the
 * median under the low share; a slower step that had to be undone soon
 * doubles the stretch needed next time, so a machine at the edge does not oscillate.
 * The frames just after a step are not judged: a new encoder's first frames (the keyframe,
 * its warm-up) cost more than its steady state. Pure logic: no clock, no encoder.
 * Private to the session module. */
#ifndef FP_SESSION_GOVERNOR_H
#define FP_SESSION_GOVERNOR_H

#include <stdint.h>

#define FP_GOV_WINDOW_MAX 64u
#define FP_GOV_SETTLE 4u        /* frames after a step that are not judged */

struct fp_governor_limits {
	double high;            /* of the frame period: step faster above this */
	double low;             /* step slower only below this (a slower preset costs ~1.5x) */
};

struct fp_governor {
	int64_t period_ns;
	struct fp_governor_limits lim;
	unsigned level, slowest; /* current and slowest allowed; 0 is the fastest */
	unsigned window;        /* frames per window */
	int64_t sample[FP_GOV_WINDOW_MAX];
	unsigned n, settle;
	int64_t sum_ns;         /* of the window's samples */
	unsigned over;          /* windows in a row over FP_GOV_HIGH */
	unsigned under;         /* windows in a row under FP_GOV_LOW */
	unsigned calm_needed;   /* windows under FP_GOV_LOW before a slower step */
	uint64_t windows_since_up; /* since the last slower step (for its undo) */
	uint64_t steps_faster, steps_slower;
	int64_t last_median_ns; /* of the last full window */
};

/* A governor for frames of period_ns that starts at level start and never goes slower than
 * slowest (0: the fastest; start <= slowest). */
void fp_governor_init(struct fp_governor *g, int64_t period_ns, const struct fp_governor_limits *lim,
		      unsigned start, unsigned slowest);

/* One frame spent encode_ns in the encoder. Returns the level for the next frame: the
 * current one, one faster or one slower. */
unsigned fp_governor_frame(struct fp_governor *g, int64_t encode_ns);

#endif
