/* framepush — the portal backend's PipeWire stream: the node the portal granted, on the
 * remote fd it gave, driven from framepush-source's poll loop (a pw_loop, no thread).
 *
 * Formats offered: DMA-BUF with the LINEAR modifier first when the machine has a render
 * node (mapped and synced with DMA_BUF_IOCTL_SYNC), then shared memory (MemFd/MemPtr)
 * always; BGRx/BGRA, RGBx/RGBA, the 10-bit x:R:G:B / x:B:G:R layouts, and RGBA_F16 (first
 * when HDR is preferred). A DMA-BUF that cannot be mapped drops DMA-BUF and renegotiates.
 * Every buffer goes back to the stream in the callback that dequeued it; when several are
 * queued the newest with content wins. A stream that errors, disconnects, or stays paused
 * is the display going away: reported, never waited on. */
#ifndef FP_SOURCES_PORTAL_STREAM_H
#define FP_SOURCES_PORTAL_STREAM_H

#include <stdint.h>

#include "portal_copy.h"

struct fp_pw;

/* One buffer's worth, valid during the callback only. */
struct fp_pw_frame {
	const uint8_t *px;          /* NULL: no new picture (only the pointer moved) */
	uint32_t stride, width, height;
	enum fp_portal_pix pix;
	int64_t capture_ns;         /* CLOCK_MONOTONIC */
	const struct fp_portal_cursor *cursor; /* NULL: no pointer (metadata mode only) */
	int pointer_moved;          /* the pointer's position or image changed */
};

struct fp_pw_events {
	/* The negotiated size and layout (again after every renegotiation). */
	void (*format)(void *user, uint32_t width, uint32_t height, enum fp_portal_pix pix);
	void (*frame)(void *user, const struct fp_pw_frame *f);
};

struct fp_pw_opts {
	int fd;                     /* the portal's PipeWire remote; taken (closed on failure) */
	uint32_t node_id;
	uint32_t fps;               /* the rate asked for (the producer may cap it) */
	int prefer_hdr;             /* RGBA_F16 before the 8-bit formats */
	int cursor_meta;            /* ask for SPA_META_Cursor */
	const struct fp_pw_events *events;
	void *user;
};

/* Connects the stream. 0 or -errno (logged). */
int fp_pw_open(struct fp_pw **out, const struct fp_pw_opts *opts);
void fp_pw_close(struct fp_pw *pw);

/* The loop's fd (POLLIN), its next deadline (INT64_MAX: none), and one bounded round of
 * work: 0, or -ESHUTDOWN once the stream is gone (why is logged). */
int fp_pw_fd(const struct fp_pw *pw);
int64_t fp_pw_next_wakeup(const struct fp_pw *pw);
int fp_pw_dispatch(struct fp_pw *pw);

/* Counters for the closing line. */
struct fp_pw_stats {
	uint64_t buffers, superseded, corrupted, undamaged, cursor_only, bad;
};
void fp_pw_stats(const struct fp_pw *pw, struct fp_pw_stats *out);

#endif
