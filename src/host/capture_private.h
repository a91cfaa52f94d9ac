/* framepush — the capturer's seams for the in-process fuzzer and tests. Not part of the
 * API: no program includes it, and nothing here is reachable from a command line. */
#ifndef FP_HOST_CAPTURE_PRIVATE_H
#define FP_HOST_CAPTURE_PRIVATE_H

#include <stddef.h>

#include "framepush/capture.h"

struct fp_broker; /* host/broker.h */

/* fp_capture_open over a source already connected (fp_broker_adopt): nothing is spawned,
 * so nothing can be restarted. The capture takes the broker over, also when the open
 * fails. */
int fp_capture_open_adopted(struct fp_capture **out, const struct fp_capture_opts *opts,
			    struct fp_broker *broker, char *why, size_t why_len);

/* A fresh frame if one is waiting, without blocking: 0 and *frame, -EAGAIN when none. */
int fp_capture_try_latest(struct fp_capture *cap, const struct fp_yuv_frame **frame);

#endif
