#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_program = "framepush";
static enum fp_log_level log_level = FP_LOG_INFO;

void fp_log_init(const char *program)
{
	const char *env = getenv("FRAMEPUSH_LOG");

	if (program)
		log_program = program;
	if (!env)
		return;
	if (!strcmp(env, "debug"))
		log_level = FP_LOG_DEBUG;
	else if (!strcmp(env, "info"))
		log_level = FP_LOG_INFO;
	else if (!strcmp(env, "warn"))
		log_level = FP_LOG_WARN;
	else if (!strcmp(env, "error"))
		log_level = FP_LOG_ERROR;
	else if (!strcmp(env, "quiet"))
		log_level = FP_LOG_QUIET;
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
	n = snprintf(line, sizeof(line), "%s[%d] %s: ", log_program, (int)getpid(), names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line so lines of concurrent processes do not interleave. */
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
