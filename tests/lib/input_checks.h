/* framepush tests — input from the host API to a real display, checked by what an input test
 * client (tests/x11/input_client.c, tests/wlr/input_client.c) reports, one line per event:
 *
 *   ready W H | motion X Y | button CODE 1|0 X Y | wheel AXIS VALUE | key CODE 1|0 TEXT
 *
 * The client writes to a FIFO the test creates; every wait is for a line, bounded by a
 * deadline, and a missing line fails the test with what was expected and what came. */
#ifndef FP_TESTS_INPUT_CHECKS_H
#define FP_TESTS_INPUT_CHECKS_H

#include <stddef.h>
#include <stdint.h>

struct fp_capture;

struct fpt_report {
	int fd;              /* the FIFO, read-write (never end-of-file between writes) */
	char path[4096];
	char buf[8192];
	size_t len;
};

/* Makes a FIFO named name in the directory of the program near (a client of another
 * account reaches it there, as the wlr tests' animated client does) and opens it. */
void fpt_report_open(struct fpt_report *r, const char *near, const char *name);
void fpt_report_close(struct fpt_report *r);

/* The next line that starts with prefix (others are skipped: motion the pointer's own
 * moves cause), waiting until timeout_ms passed; fails the test naming what when none. */
void fpt_report_expect(struct fpt_report *r, const char *prefix, char *line, size_t cap,
		       int timeout_ms, const char *what);

/* Waits for the client's "ready W H" and checks W H is the display's size. */
void fpt_input_wait_ready(struct fpt_report *r, uint32_t w, uint32_t h);

/* The checks, each through fp_capture_send_input, on a w x h display whose whole area is the
 * client's window: a click at a fractional position lands at the expected pixel (+-1); typed
 * "Hello, World!" arrives intact with shift around the capitals and '!'; a held key (A down,
 * B down, B up, A up) is reported in that order; wheel detents both ways on both axes; an
 * invalid event is refused by the host with -EINVAL. */
void fpt_input_click(struct fp_capture *cap, struct fpt_report *r, uint32_t w, uint32_t h);
void fpt_input_type_text(struct fp_capture *cap, struct fpt_report *r);
void fpt_input_held_keys(struct fp_capture *cap, struct fpt_report *r);
void fpt_input_wheel(struct fp_capture *cap, struct fpt_report *r);
void fpt_input_invalid_refused(struct fp_capture *cap);

#endif
