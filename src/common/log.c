#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_program = "framepush";
static enum fp_log_level log_level = FP_LOG_INFO;
static int log_tty;

int fp_log_init(const char *program)
{
	static const char *const names[] = { "debug", "info", "warn", "error", "quiet" };
	const char *env = getenv("FRAMEPUSH_LOG");

	if (program)
		log_program = program;
	/* A terminal may show a status line (no newline, redrawn in place): each log line
	 * first erases it, so no line lands on the middle of another. */
	log_tty = isatty(STDERR_FILENO);
	if (!env || !*env)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(env, names[i])) {
			log_level = (enum fp_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void fp_log_set_level(enum fp_log_level level)
{
	log_level = level;
}

int fp_log_enabled(enum fp_log_level level)
{
	return level >= log_level && level != FP_LOG_QUIET;
}

void fp_log(enum fp_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warn", "error", "" };
	char line[1024];
	va_list ap;
	int n;

	if (!fp_log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "%s%s[%d] %s: ", log_tty ? "\r\033[K" : "", log_program,
		     (int)getpid(), names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line so lines of concurrent processes do not interleave. */
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
