/* framepush — logging. One line per event, prefixed with the program and level; the caller
 * names the object and values. FRAMEPUSH_LOG=debug|info|warn|error|quiet sets the threshold. */
#ifndef FP_COMMON_LOG_H
#define FP_COMMON_LOG_H

enum fp_log_level { FP_LOG_DEBUG, FP_LOG_INFO, FP_LOG_WARN, FP_LOG_ERROR, FP_LOG_QUIET };

/* Sets the program's name and the threshold from FRAMEPUSH_LOG. -EINVAL when FRAMEPUSH_LOG
 * names no level (the threshold stays info: the caller decides whether that is fatal). */
int fp_log_init(const char *program);
void fp_log_set_level(enum fp_log_level level);
int fp_log_enabled(enum fp_log_level level);
void fp_log(enum fp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fp_debug(...) fp_log(FP_LOG_DEBUG, __VA_ARGS__)
#define fp_info(...) fp_log(FP_LOG_INFO, __VA_ARGS__)
#define fp_warn(...) fp_log(FP_LOG_WARN, __VA_ARGS__)
#define fp_error(...) fp_log(FP_LOG_ERROR, __VA_ARGS__)

#endif
