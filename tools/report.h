/* What framepush tells its user about a session: the live status line, the summary and the
 * stats JSON. */
#ifndef FP_TOOLS_REPORT_H
#define FP_TOOLS_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "options.h"
#include "framepush/session.h"
#include "serve_glue.h"

/* The status line: at most width columns (a terminal wraps a longer one, and every redraw
 * then adds a line); the least important parts go first when it would be longer. */
void report_status_line(const struct fp_session_progress *p, const char *viewers, char *buf,
			size_t cap, size_t width);

/* fp_session_opts.progress: redraws the status line on stderr. user: the serve glue when
 * serving (its viewers join the line), else NULL. */
void report_progress(const struct fp_session_progress *p, void *user);

/* The line after a session, on stdout (which is stderr once -o - claimed the real one): what
 * was delivered where, or that nothing was. r: the session's return. */
void report_summary(const struct cli *c, const struct fp_session_result *res, int r);

/* serve's line after the session: viewers served and refused, keyframes, input. */
void report_serve_summary(struct serve_glue *g);

/* The stats JSON (a failed write is logged and returned as a negative errno). */
int report_stats_json(const char *path, const struct fp_session_result *r,
		      struct serve_glue *serve);

#endif
