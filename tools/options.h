/* framepush's command line: what one record/stream/serve invocation asks for, parsed and
 * checked before anything starts. Every mistake a user can make in the arguments is found
 * here and exits 2 with one line that names the option, the value and what it wants; what
 * is left to fail later (a display that does not answer, a peer that hangs up) is a run
 * failure, exit 1. */
#ifndef FP_TOOLS_OPTIONS_H
#define FP_TOOLS_OPTIONS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "framepush/capture.h"
#include "framepush/serve.h"
#include "framepush/session.h"
#include "serve_glue.h"

enum verb { VERB_RECORD, VERB_STREAM, VERB_SERVE };

#define CLI_GO (-1) /* parsed: go on (any other value is the exit status) */

/* The smallest picture the encoders take; sizes are even (4:2:0 chroma). */
#define CLI_SIZE_MIN FP_CAPTURE_SIZE_MIN

struct cli {
	struct fp_session_opts so;
	struct fp_serve_opts serve;
	struct serve_glue glue;
	const char *verb, *source, *stats_path, *display, *display_kind;
	const char *format;   /* --format: the container on stdout (-o -) */
	char **app;           /* after "--": the application to run inside the display */
	enum verb mode;
	uint32_t mode_width, mode_height; /* of a virtual display; else the --size asked for */
	uint32_t mode_hz;     /* of a virtual display */
	int quiet, overwrite;
	uint64_t given;       /* options the user gave, by bit (see options.c's opt_bit) */
	char backend[32];
	char source_exe[PATH_MAX];
};

/* Parses and checks argv (argv[0] is the verb) into c, which the caller zeroed. CLI_GO, or
 * the exit status: 0 (--help printed), 2 (a usage error, printed). */
int cli_parse(struct cli *c, enum verb mode, int argc, char **argv);

/* The checks that need more than the arguments: the source's own spec parser (a child
 * process) and whether the output file may be replaced (-y, or a question on a terminal).
 * Run once the source is located. CLI_GO or the exit status. */
int cli_check_late(struct cli *c);

/* The help text; f is stdout for --help, stderr for a missing command. */
void cli_usage(FILE *f);

/* "framepush 0.1.0 (...)" and the libraries it runs on. */
void cli_version(FILE *f);

/* An X display name: [HOST]:N[.S]. */
bool cli_is_x_display(const char *s);

/* A display framepush makes for the session: virtual:WxH@HZ (display may be NULL). */
bool cli_is_virtual(const char *display);

#endif
