/* framepush encode tests — synthetic frames, child processes with bounded waits, ffprobe JSON. */
#ifndef FP_ENCODE_TEST_UTIL_H
#define FP_ENCODE_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "framepush/frame.h"

/* Moving gradient + colour bars, frame n. NV12 (8-bit) or P010 (10-bit in the high bits). */
void etu_fill_pattern(struct fp_yuv_frame *f, unsigned n);

/* Planar copy (I420 or 16-bit little-endian I010 for P010) of a frame, as a decoder to
 * yuv420p / yuv420p10le would return it. out must hold etu_planar_size(f) bytes. */
size_t etu_planar_size(const struct fp_yuv_frame *f);
void etu_to_planar(const struct fp_yuv_frame *f, uint8_t *out);

/* PSNR of planar 4:2:0 data (8- or 16-bit samples with max value peak), all planes. */
double etu_psnr(const uint8_t *a, const uint8_t *b, size_t bytes, int bits);

/* Runs argv[0] (an absolute path) with stdout captured into out (NUL-terminated; truncated
 * at cap - 1), killing it after timeout_ms. Returns the exit status, or -1 on spawn failure,
 * timeout (the child is killed) or a signal. */
int etu_run(char *const argv[], char *out, size_t cap, int timeout_ms);

/* Starts argv[0] in the background (stdout/stdin to /dev/null). Returns pid or -1. */
pid_t etu_spawn(char *const argv[]);
/* Waits for pid up to timeout_ms; kills it (SIGKILL) when it overstays. Returns its exit
 * status, or -1 when it had to be killed or died of a signal. */
int etu_wait(pid_t pid, int timeout_ms);
/* Sends SIGINT, then waits like etu_wait. */
int etu_stop(pid_t pid, int timeout_ms);

/* A free local port (bound then released: a small race, acceptable in tests). */
int etu_free_port(bool udp);
/* Waits until a socket is bound to 127.0.0.1/0.0.0.0:port (UDP) or listening (TCP), by reading
 * /proc/net/{udp,tcp}, up to timeout_ms. Returns true when seen. */
bool etu_wait_port(int port, bool udp, int timeout_ms);

/* Value of the first "key": in an ffprobe JSON text (string or number), copied into out.
 * Returns true when found. */
bool etu_json_get(const char *json, const char *key, char *out, size_t cap);
/* Number of occurrences of needle in hay. */
unsigned etu_count(const char *hay, const char *needle);

/* ffmpeg / ffprobe: $FRAMEPUSH_FFMPEG / $FRAMEPUSH_FFPROBE, else the paths meson found. */
const char *etu_ffmpeg(void);
const char *etu_ffprobe(void);
void etu_set_tools(const char *ffmpeg, const char *ffprobe);

/* mkdtemp under $TMPDIR or /tmp; etu_rmdir removes the directory and the files in it. */
char *etu_tmpdir(void);
void etu_rmdir(char *dir);

/* cmocka group set-up and tear-down: etu_tmp is a fresh directory for the group's files,
 * removed afterwards unless FRAMEPUSH_KEEP_TMP is set. */
extern char *etu_tmp;
int etu_group_setup(void **state);
int etu_group_teardown(void **state);

#endif
