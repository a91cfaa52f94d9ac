#include "encode_test_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

extern char **environ;

static const char *tool_ffmpeg = "/usr/bin/ffmpeg";
static const char *tool_ffprobe = "/usr/bin/ffprobe";

void etu_set_tools(const char *ffmpeg, const char *ffprobe)
{
	if (ffmpeg && *ffmpeg)
		tool_ffmpeg = ffmpeg;
	if (ffprobe && *ffprobe)
		tool_ffprobe = ffprobe;
}

const char *etu_ffmpeg(void)
{
	const char *env = getenv("FRAMEPUSH_FFMPEG");

	return env && *env ? env : tool_ffmpeg;
}

const char *etu_ffprobe(void)
{
	const char *env = getenv("FRAMEPUSH_FFPROBE");

	return env && *env ? env : tool_ffprobe;
}

/* Bars: eight limited-range colours (Y, Cb, Cr at 8 bits). */
static const uint8_t bars[8][3] = {
	{ 235, 128, 128 }, { 210, 16, 146 }, { 170, 166, 16 }, { 145, 54, 34 },
	{ 106, 202, 222 }, { 81, 90, 240 },  { 41, 240, 110 }, { 16, 128, 128 },
};

static unsigned pat_y(uint32_t x, uint32_t y, uint32_t w, uint32_t h, unsigned n, unsigned *bar)
{
	*bar = 8;
	if (y >= h * 2 / 3) {
		*bar = x * 8 / w;
		return bars[*bar][0];
	}
	/* Gradient moving 3 px per frame, period 384 px over 200 levels. */
	return 16 + ((x + y / 2 + 3 * n) % 384) * 200 / 384;
}

static void pat_c(uint32_t cx, uint32_t cy, uint32_t w, uint32_t h, unsigned n, unsigned *cb,
		  unsigned *cr)
{
	uint32_t x = cx * 2, y = cy * 2;

	if (y >= h * 2 / 3) {
		unsigned b = x * 8 / w;

		*cb = bars[b][1];
		*cr = bars[b][2];
		return;
	}
	*cb = 64 + ((x + 2 * n) % 256) / 2;
	*cr = 64 + ((y + n) % 256) / 2;
}

void etu_fill_pattern(struct fp_yuv_frame *f, unsigned n)
{
	uint32_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
	unsigned bar, cb, cr, v;

	for (uint32_t y = 0; y < f->height; y++) {
		for (uint32_t x = 0; x < f->width; x++) {
			v = pat_y(x, y, f->width, f->height, n, &bar);
			if (f->format == FP_YUV_NV12) {
				f->data[0][y * f->stride[0] + x] = (uint8_t)v;
			} else {
				uint16_t s = (uint16_t)((v * 4) << 6);

				memcpy(f->data[0] + y * f->stride[0] + 2 * x, &s, 2);
			}
		}
	}
	for (uint32_t y = 0; y < ch; y++) {
		for (uint32_t x = 0; x < cw; x++) {
			pat_c(x, y, f->width, f->height, n, &cb, &cr);
			if (f->format == FP_YUV_NV12) {
				f->data[1][y * f->stride[1] + 2 * x] = (uint8_t)cb;
				f->data[1][y * f->stride[1] + 2 * x + 1] = (uint8_t)cr;
			} else {
				uint16_t s[2] = { (uint16_t)((cb * 4) << 6), (uint16_t)((cr * 4) << 6) };

				memcpy(f->data[1] + y * f->stride[1] + 4 * x, s, 4);
			}
		}
	}
}

size_t etu_planar_size(const struct fp_yuv_frame *f)
{
	size_t bps = f->format == FP_YUV_P010 ? 2 : 1;
	size_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;

	return bps * ((size_t)f->width * f->height + 2 * cw * ch);
}

void etu_to_planar(const struct fp_yuv_frame *f, uint8_t *out)
{
	size_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
	bool p010 = f->format == FP_YUV_P010;
	uint8_t *u, *v;

	for (uint32_t y = 0; y < f->height; y++) {
		if (!p010) {
			memcpy(out + (size_t)y * f->width, f->data[0] + y * f->stride[0], f->width);
			continue;
		}
		for (uint32_t x = 0; x < f->width; x++) {
			uint16_t s;

			memcpy(&s, f->data[0] + y * f->stride[0] + 2 * x, 2);
			s >>= 6;
			memcpy(out + 2 * ((size_t)y * f->width + x), &s, 2);
		}
	}
	u = out + (p010 ? 2 : 1) * (size_t)f->width * f->height;
	v = u + (p010 ? 2 : 1) * cw * ch;
	for (size_t y = 0; y < ch; y++) {
		for (size_t x = 0; x < cw; x++) {
			if (!p010) {
				u[y * cw + x] = f->data[1][y * f->stride[1] + 2 * x];
				v[y * cw + x] = f->data[1][y * f->stride[1] + 2 * x + 1];
			} else {
				uint16_t s[2];

				memcpy(s, f->data[1] + y * f->stride[1] + 4 * x, 4);
				s[0] >>= 6;
				s[1] >>= 6;
				memcpy(u + 2 * (y * cw + x), &s[0], 2);
				memcpy(v + 2 * (y * cw + x), &s[1], 2);
			}
		}
	}
}

double etu_psnr(const uint8_t *a, const uint8_t *b, size_t bytes, int bits)
{
	double sse = 0, peak = (double)((1 << bits) - 1);
	size_t n;

	if (bits <= 8) {
		for (size_t i = 0; i < bytes; i++) {
			double d = (double)a[i] - (double)b[i];

			sse += d * d;
		}
		n = bytes;
	} else {
		n = bytes / 2;
		for (size_t i = 0; i < n; i++) {
			uint16_t x, y;
			double d;

			memcpy(&x, a + 2 * i, 2);
			memcpy(&y, b + 2 * i, 2);
			d = (double)x - (double)y;
			sse += d * d;
		}
	}
	if (sse == 0)
		return 99.0;
	return 10.0 * log10(peak * peak / (sse / (double)n));
}

static int status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int etu_wait(pid_t pid, int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return status_of(st);
		if (r < 0 && errno != EINTR)
			return -1;
		if (fp_now_ns() > deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			fprintf(stderr, "child %d overstayed %d ms: killed\n", (int)pid, timeout_ms);
			return -1;
		}
		/* Polling a child's exit: 10 ms steps, bounded by the deadline above. */
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

int etu_stop(pid_t pid, int timeout_ms)
{
	kill(pid, SIGINT);
	return etu_wait(pid, timeout_ms);
}

pid_t etu_spawn(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(r));
		return -1;
	}
	return pid;
}

int etu_run(char *const argv[], char *out, size_t cap, int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;
	posix_spawn_file_actions_t fa;
	size_t used = 0;
	int p[2], r;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0) {
		fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(r));
		close(p[0]);
		return -1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int ms = fp_ms_until(deadline);
		char sink[4096];
		ssize_t n;

		if (ms == 0)
			break;
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (used + 1 < cap)
			n = read(p[0], out + used, cap - 1 - used);
		else
			n = read(p[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < cap)
			used += (size_t)n;
	}
	close(p[0]);
	if (cap)
		out[used] = '\0';
	return etu_wait(pid, fp_ms_until(deadline) + 100);
}

int etu_free_port(bool udp)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static bool port_seen(int port, bool udp)
{
	FILE *f = fopen(udp ? "/proc/net/udp" : "/proc/net/tcp", "r");
	char line[512];
	bool seen = false;

	if (!f)
		return false;
	while (!seen && fgets(line, sizeof(line), f)) {
		unsigned addr, lport, st;

		/* "  sl  local_address rem_address   st ..." -> "0: 0100007F:1F90 00000000:0000 0A" */
		if (sscanf(line, " %*d: %x:%x %*x:%*x %x", &addr, &lport, &st) != 3)
			continue;
		if ((int)lport != port)
			continue;
		seen = udp ? true : st == 0x0A; /* TCP_LISTEN */
	}
	fclose(f);
	return seen;
}

bool etu_wait_port(int port, bool udp, int timeout_ms)
{
	int64_t deadline = fp_now_ns() + (int64_t)timeout_ms * FP_NSEC_PER_MSEC;

	for (;;) {
		if (port_seen(port, udp))
			return true;
		if (fp_now_ns() > deadline)
			return false;
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}
}

bool etu_json_get(const char *json, const char *key, char *out, size_t cap)
{
	char pat[128];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	if (!p || cap == 0)
		return false;
	p += strlen(pat);
	if (*p == '"') {
		p++;
		while (*p && *p != '"' && n + 1 < cap)
			out[n++] = *p++;
	} else {
		while (*p && *p != ',' && *p != '\n' && *p != '}' && n + 1 < cap)
			out[n++] = *p++;
	}
	out[n] = '\0';
	return true;
}

unsigned etu_count(const char *hay, const char *needle)
{
	unsigned n = 0;
	size_t len = strlen(needle);

	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

char *etu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/fp-encode-XXXXXX", base) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

void etu_rmdir(char *dir)
{
	DIR *d;
	struct dirent *e;

	if (!dir)
		return;
	d = opendir(dir);
	if (d) {
		while ((e = readdir(d))) {
			char p[4096];

			if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

char *etu_tmp;

int etu_group_setup(void **state)
{
	(void)state;
	etu_tmp = etu_tmpdir();
	return etu_tmp ? 0 : -1;
}

int etu_group_teardown(void **state)
{
	(void)state;
	if (getenv("FRAMEPUSH_KEEP_TMP"))
		fprintf(stderr, "kept %s\n", etu_tmp);
	else
		etu_rmdir(etu_tmp);
	etu_tmp = NULL;
	return 0;
}
