/* framepush — framepush-source --list: what a display offers, in one line-based format.
 *
 * One record per line; the first word names the record, indentation is only for the eye.
 * Every other word is a flag (`current`) or key=value; a value (or a name) that is not a
 * plain word is double-quoted with \" \\ and \xNN escapes, so `shlex.split` reads a line.
 * The grammar is in doc/x11.md and doc/wlr.md. Everything is bounded: a display that sends
 * more screens, outputs or modes than the caps below gets the rest counted in an
 * "*-omitted N" line, never stored. */
#ifndef FP_SOURCES_LISTING_H
#define FP_SOURCES_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A display that has not answered the whole listing by then is an error (exit 1). */
#define FP_LIST_TIMEOUT_S 5
#define FP_LIST_MAX_SCREENS 8
#define FP_LIST_MAX_OUTPUTS 32
#define FP_LIST_MAX_MODES 128 /* per output */

struct fp_list_mode {
	uint32_t width, height;
	uint32_t refresh_mhz; /* 0: the display did not say */
	bool current, preferred;
};

/* name as one word: bare when it is made of [A-Za-z0-9._:/+-] only, else quoted. */
void fp_list_word(FILE *f, const char *name, size_t len);
/* " key=value" with value as fp_list_word writes it (NULL or "": nothing is written). */
void fp_list_field(FILE *f, const char *key, const char *value);
/* WxH, then @HZ with two decimals when the rate is known. */
void fp_list_size_rate(FILE *f, uint32_t w, uint32_t h, uint32_t refresh_mhz);
/* "    mode WxH@HZ [current] [preferred]". */
void fp_list_mode_line(FILE *f, const struct fp_list_mode *m);
/* "<indent><what>-omitted N" when n > 0. */
void fp_list_omitted(FILE *f, const char *indent, const char *what, uint64_t n);

/* The backends' listings: 0, or -errno when the display could not be reached or broke off
 * (logged, naming the display). display NULL or "": the environment's ($DISPLAY,
 * $WAYLAND_DISPLAY). */
int fp_x11_list(const char *display, FILE *out);
int fp_wlr_list(const char *display, FILE *out);

#endif
