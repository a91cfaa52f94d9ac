/* framepush-bench pipeline — the whole pipeline against the usual tools, on the same display,
 * the same content and the same encoder settings:
 *   x11: framepush against `ffmpeg -f x11grab`, on one Xvfb;
 *   wlr: framepush against wf-recorder, on one headless sway (pixman renderer).
 * A client draws a frame counter every frame (clients/counter.h). Each recorder runs as a
 * child of this process, reps times in rotating order; medians are printed. A third row,
 * fp-live, is `framepush stream` with its defaults (live profile, governor on).
 *
 * What is measured, the same way for every tool:
 *   fps        frames in the recording over its own time span (packet timestamps);
 *   fresh fps  distinct counter values read back from the decoded recording over that span:
 *              repeats and torn frames add nothing, whatever the tool reports of itself;
 *   CPU        user + system time of the recorder and every child it reaped (wait4 rusage:
 *              framepush includes framepush-source) per frame of the recording;
 *   server     the X server's or compositor's CPU over the same run (/proc/<pid>/stat), per
 *              frame of the recording, reported apart: it serves the client and the capture;
 *   latency    capture -> encoded p50/p99 where the tool reports it (framepush --stats-json).
 *
 * As root, sway, its client and wf-recorder run as the display's own account (fp_display
 * makes one); framepush and ffmpeg run as we do. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "clients/counter.h"
#include "common/proc.h"
#include "common/util.h"
#include "framepush/display.h"
#include "framepush/proto.h"

extern char **environ;

/* The encoder settings of every recorder: libx264, yuv420p, no B-frames, a keyframe every
 * 2 s, x264's own thread count (libavcodec's "auto" in all three tools). */
#define ENC_PRESET "veryfast"
#define ENC_TUNE "zerolatency"
#define ENC_CRF "23"
/* framepush options for the same settings, passed when this framepush lists them in its
 * --help. Without --preset/--tune its libx264 defaults are veryfast/zerolatency already;
 * --governor off keeps a governor from changing the preset during the run. */
static const char *const ours_equal_opts[][2] = {
	{ "--preset", ENC_PRESET }, { "--tune", ENC_TUNE }, { "--governor", "off" },
};

#define DECODE_W 128u /* recordings are read back scaled to this: 16x9 pixels a cell */
#define DECODE_H 72u
#define MAX_REPS 15u
#define RUN_GRACE_S 60 /* past --seconds before a recorder counts as hung */
#define STOP_GRACE_MS 15000 /* a recorder told to stop (SIGINT) finishing its file */
#define SETTLE_MS 1000 /* client mapped and drawing before the first run */
#define MIN_W 320u
#define MIN_H 180u

struct opts {
	uint32_t w, h, fps;
	unsigned seconds, reps, threads;
	int x11, wlr, keep;
};

struct tools {
	char self[PATH_MAX], framepush[PATH_MAX], x11_client[PATH_MAX], wl_client[PATH_MAX];
	char ffmpeg[PATH_MAX], ffprobe[PATH_MAX], xvfb[PATH_MAX], sway[PATH_MAX], wfrec[PATH_MAX];
	const char *ours_extra[2 * FP_ARRAY_LEN(ours_equal_opts)];
	size_t n_extra;
};

/* One comparison's test bed: the display, its server, the client in it, the work dirs. */
struct bed {
	const struct opts *o;
	const struct tools *t;
	struct fp_display *d;
	pid_t server;
	char dir[PATH_MAX];    /* ours: framepush's and ffmpeg's files */
	char dropdir[PATH_MAX + 8]; /* the display account's: a dropped recorder's files */
	int drop;
	uid_t uid;
	gid_t gid;
};

/* A recorder's command line and how it runs. */
struct job {
	char *argv[48];
	size_t argc;
	char strs[10][PATH_MAX + 48];
	size_t nstrs;
	char *envp[6];
	int drop;              /* as the display's account (in bed->dropdir) */
	unsigned interrupt_s;  /* > 0: SIGINT after this long (a tool without a duration) */
	char out[PATH_MAX + 48], log[PATH_MAX + 48], stats[PATH_MAX + 48];
};

struct result {
	int ok;
	unsigned frames, fresh, unreadable;
	double span_s, fps, fresh_fps, cpu_ms, server_ms, p50_ms, p99_ms, skipped;
};

struct recorder {
	const char *name;
	void (*build)(const struct bed *b, struct job *j);
	int ours;       /* has --stats-json */
	int as_display; /* runs as the display's account (a Wayland client of it) */
};

struct comparison {
	const char *source, *kind, *server_comm;
	const struct recorder *peer;
};

/* ---- small helpers ---- */

static void arg(struct job *j, const char *s)
{
	if (j->argc + 1 < FP_ARRAY_LEN(j->argv))
		j->argv[j->argc++] = (char *)s;
	j->argv[j->argc] = NULL;
}

static const char *fmt(struct job *j, const char *f, ...) __attribute__((format(printf, 2, 3)));
static const char *fmt(struct job *j, const char *f, ...)
{
	char *s = j->strs[j->nstrs < FP_ARRAY_LEN(j->strs) - 1 ? j->nstrs++ : j->nstrs];
	va_list ap;

	va_start(ap, f);
	vsnprintf(s, sizeof(j->strs[0]), f, ap);
	va_end(ap);
	return s;
}

static double ms_of(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

/* name found in $PATH (or the usual bin directories), as an executable regular file. */
static int find_tool(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		struct stat st;
		int k = snprintf(out, cap, "%.*s/%s", (int)n, path, name);

		if (n && k > 0 && (size_t)k < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	out[0] = '\0';
	return -ENOENT;
}

static int is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* ---- processes ---- */

struct spawn_spec {
	char *const *argv, *const *envp;
	const char *cwd, *log; /* log: stdout and stderr, created after the drop */
	int out_fd;            /* stdout onto this (after log); -1: none */
	int drop;
	uid_t uid;
	gid_t gid;
};

/* Between fork and exec: async-signal-safe calls only; never returns. */
static void child_exec(const struct spawn_spec *s, int err_fd, pid_t parent)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), e;

	setpgid(0, 0); /* its own group: nothing of it gets our terminal's Ctrl-C */
	if (fd >= 0)
		dup2(fd, STDIN_FILENO);
	e = s->drop ? fp_drop_to(s->uid, s->gid) : 0;
	if (!e && s->log) {
		/* After the drop: a dropped child writes only where its account may. */
		fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		e = fd < 0 ? errno : 0;
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
	}
	if (!e && s->out_fd >= 0)
		dup2(s->out_fd, STDOUT_FILENO);
	if (!e && s->cwd && chdir(s->cwd) < 0)
		e = errno;
	/* A bench killed without cleaning up takes its recorders with it. */
	if (!e && (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent))
		e = ESRCH;
	if (!e) {
		execve(s->argv[0], s->argv, s->envp);
		e = errno;
	}
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

/* Starts s; returns once it runs (0 and *pid) or with the errno that kept it from running. */
static int spawn(const struct spawn_spec *s, pid_t *pid)
{
	pid_t parent = getpid(), p;
	int pfd[2], e = 0;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	p = fork();
	if (p < 0) {
		e = errno;
		close(pfd[0]), close(pfd[1]);
		return -e;
	}
	if (p == 0)
		child_exec(s, pfd[1], parent);
	close(pfd[1]);
	/* The pipe closes at exec (EOF: it runs) or carries the errno of the failed step. */
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(p, NULL, 0);
		fprintf(stderr, "bench pipeline: cannot start %s: %s\n", s->argv[0], strerror(e));
		return -e;
	}
	*pid = p;
	return 0;
}

/* Waits for pid until deadline (SIGINT first after interrupt_ms when > 0), then reaps it
 * with its rusage. A child past the deadline is killed with its group: -ETIMEDOUT. */
static int finish(pid_t pid, int interrupt_ms, int64_t deadline, int *st, struct rusage *ru)
{
	int pfd = fp_pidfd_open(pid), r = 0;
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	if (pfd < 0)
		return pfd;
	if (interrupt_ms > 0 && poll(&p, 1, interrupt_ms) == 0) {
		kill(pid, SIGINT);
		deadline = fp_now_ns() + STOP_GRACE_MS * FP_NSEC_PER_MSEC;
	}
	while (!(p.revents & POLLIN)) {
		int ms = fp_ms_until(deadline);

		if (ms == 0 || (poll(&p, 1, ms) < 0 && errno != EINTR))
			break;
	}
	if (!(p.revents & POLLIN)) {
		fprintf(stderr, "bench pipeline: pid %d did not finish in time: killed\n", (int)pid);
		kill(-pid, SIGKILL), kill(pid, SIGKILL);
		r = -ETIMEDOUT;
	}
	close(pfd);
	while (wait4(pid, st, 0, ru) < 0)
		if (errno != EINTR)
			return -errno;
	return r;
}

/* Runs argv (as the bed's account when drop) to its end, its stdout into a buffer the
 * caller frees (at most 64 MiB); 0 when it exited 0. */
static int run_capture(char *const *argv, int drop, const struct bed *b, char **out, size_t *len)
{
	struct spawn_spec s = { .argv = argv, .envp = environ, .out_fd = -1, .drop = drop,
				.uid = b ? b->uid : 0, .gid = b ? b->gid : 0 };
	int64_t deadline = fp_now_ns() + 600 * FP_NSEC_PER_SEC;
	size_t cap = 1 << 16;
	int pfd[2], r, st = 0;
	pid_t pid;

	*out = malloc(cap), *len = 0;
	if (!*out || pipe2(pfd, O_CLOEXEC) < 0)
		return -ENOMEM;
	s.out_fd = pfd[1];
	r = spawn(&s, &pid);
	close(pfd[1]);
	for (ssize_t k = 1; r == 0 && k > 0;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };

		if (*len + 1 >= cap && cap < (64u << 20)) {
			char *m = realloc(*out, cap * 2);

			if (!m)
				break;
			*out = m, cap *= 2;
		}
		if (poll(&p, 1, fp_ms_until(deadline)) <= 0)
			break;
		k = read(pfd[0], *out + *len, cap - 1 - *len);
		if (k < 0 && errno == EINTR)
			k = 1; /* read again */
		else
			*len += k > 0 ? (size_t)k : 0;
	}
	(*out)[*len] = '\0';
	close(pfd[0]);
	if (r == 0)
		r = finish(pid, 0, deadline, &st, NULL);
	return r < 0 ? r : WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* ---- the display's server ---- */

/* user + system CPU of pid in ms, from /proc/<pid>/stat; NAN when unreadable. */
static double proc_cpu_ms(pid_t pid, char *comm, size_t comm_cap, pid_t *ppid)
{
	char path[64], buf[1024], *save = NULL, *tok, *close_paren;
	unsigned long long v[13] = { 0 };
	FILE *f;
	size_t n, i = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: it ends at the last ')'. */
	close_paren = strrchr(buf, ')');
	if (!n || !close_paren || !strchr(buf, '('))
		return NAN;
	if (comm)
		snprintf(comm, comm_cap, "%.*s", (int)(close_paren - strchr(buf, '(') - 1),
			 strchr(buf, '(') + 1);
	/* After it: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime (proc(5)); only ppid, utime and stime are read (tpgid may be -1). */
	for (tok = strtok_r(close_paren + 1, " ", &save); tok && i < FP_ARRAY_LEN(v);
	     tok = strtok_r(NULL, " ", &save), i++)
		if ((i == 1 || i >= 11) && fp_parse_uint(tok, 0, ULLONG_MAX, &v[i]) < 0)
			return NAN;
	if (i < FP_ARRAY_LEN(v))
		return NAN;
	if (ppid)
		*ppid = (pid_t)v[1];
	return (double)(v[11] + v[12]) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/* Our child process named comm (the display's server), or -1. */
static pid_t child_named(const char *comm)
{
	DIR *dp = opendir("/proc");
	struct dirent *e;
	pid_t found = -1;

	while (dp && found < 0 && (e = readdir(dp))) {
		unsigned long long pid;
		char name[64];
		pid_t ppid = 0;

		if (fp_parse_uint(e->d_name, 1, INT_MAX, &pid) < 0)
			continue;
		if (!isnan(proc_cpu_ms((pid_t)pid, name, sizeof(name), &ppid)) &&
		    ppid == getpid() && !strcmp(name, comm))
			found = (pid_t)pid;
	}
	if (dp)
		closedir(dp);
	return found;
}

/* ---- the recorders ---- */

/* framepush with the bench's crf, keyframe interval and threads. live 0: `record` pinned to
 * the peers' encoder settings (ours_equal_opts); 1: `stream` as a user runs it (see
 * build_ours_live). */
static void build_framepush(const struct bed *b, struct job *j, int live)
{
	const struct opts *o = b->o;

	arg(j, b->t->framepush), arg(j, live ? "stream" : "record");
	arg(j, "--display"), arg(j, fp_display_name(b->d));
	arg(j, "--fps"), arg(j, fmt(j, "%u", o->fps));
	arg(j, "--duration"), arg(j, fmt(j, "%u", o->seconds));
	arg(j, "--codec"), arg(j, "h264");
	arg(j, "--crf"), arg(j, ENC_CRF);
	arg(j, "--keyint"), arg(j, fmt(j, "%u", 2 * o->fps));
	if (o->threads)
		arg(j, "--threads"), arg(j, fmt(j, "%u", o->threads));
	for (size_t i = 0; !live && i < b->t->n_extra; i++)
		arg(j, b->t->ours_extra[i]);
	arg(j, "--stats-json"), arg(j, j->stats);
	arg(j, "-q"), arg(j, "-y"), arg(j, live ? "--to" : "-o"), arg(j, j->out);
}

static void build_ours(const struct bed *b, struct job *j)
{
	build_framepush(b, j, 0);
}

static void build_x11grab(const struct bed *b, struct job *j)
{
	const struct opts *o = b->o;

	arg(j, b->t->ffmpeg), arg(j, "-nostdin"), arg(j, "-hide_banner"), arg(j, "-v");
	arg(j, "error"), arg(j, "-y"), arg(j, "-f"), arg(j, "x11grab");
	arg(j, "-framerate"), arg(j, fmt(j, "%u", o->fps));
	arg(j, "-video_size"), arg(j, fmt(j, "%ux%u", o->w, o->h));
	arg(j, "-i"), arg(j, fp_display_name(b->d));
	arg(j, "-t"), arg(j, fmt(j, "%u", o->seconds));
	arg(j, "-c:v"), arg(j, "libx264"), arg(j, "-preset"), arg(j, ENC_PRESET);
	arg(j, "-tune"), arg(j, ENC_TUNE), arg(j, "-crf"), arg(j, ENC_CRF);
	arg(j, "-bf"), arg(j, "0"), arg(j, "-g"), arg(j, fmt(j, "%u", 2 * o->fps));
	arg(j, "-pix_fmt"), arg(j, "yuv420p");
	/* The conversion's threads: those of the filter graph (auto: one per CPU and one). */
	if (o->threads)
		arg(j, "-filter_threads"), arg(j, fmt(j, "%u", o->threads));
	arg(j, j->out);
}

/* wf-recorder 0.3 has no duration and no frame rate: it takes a frame per compositor
 * frame that has damage (our client damages every one) and stops on SIGINT. Its -x is
 * ignored; -t forces yuv420p. Its conversion runs on its filter graph's automatic thread
 * count (no option sets it). It runs in the display's session, as its account. */
static void build_wfrec(const struct bed *b, struct job *j)
{
	const char *sock = fp_display_name(b->d), *slash = strrchr(sock, '/');
	size_t n = 0;

	arg(j, b->t->wfrec), arg(j, "-c"), arg(j, "libx264");
	arg(j, "-p"), arg(j, "preset=" ENC_PRESET), arg(j, "-p"), arg(j, "tune=" ENC_TUNE);
	arg(j, "-p"), arg(j, "crf=" ENC_CRF), arg(j, "-p"), arg(j, fmt(j, "g=%u", 2 * b->o->fps));
	arg(j, "-b"), arg(j, "0"), arg(j, "-t"), arg(j, "-f"), arg(j, j->out);
	/* An absolute WAYLAND_DISPLAY is the socket itself (libwayland >= 1.15). */
	j->envp[n++] = (char *)fmt(j, "WAYLAND_DISPLAY=%s", sock);
	j->envp[n++] = (char *)fmt(j, "XDG_RUNTIME_DIR=%.*s", slash ? (int)(slash - sock) : 0, sock);
	j->envp[n++] = (char *)fmt(j, "HOME=%s", j->drop ? b->dropdir : b->dir);
	j->envp[n++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
	j->envp[n] = NULL;
	j->interrupt_s = b->o->seconds;
}

/* What a user of `framepush stream` gets: the live profile with its defaults (pipeline depth
 * 1, the encoder governor choosing the preset), the same client, crf and keyframe interval.
 * Not the equal-settings comparison: a row of its own. */
static void build_ours_live(const struct bed *b, struct job *j)
{
	build_framepush(b, j, 1);
}

static const struct recorder rec_ours = { .name = "framepush", .build = build_ours, .ours = 1 };
static const struct recorder rec_live = { .name = "fp-live", .build = build_ours_live, .ours = 1 };
static const struct recorder rec_x11grab = { .name = "x11grab", .build = build_x11grab };
static const struct recorder rec_wfrec = { .name = "wf-recorder", .build = build_wfrec,
					   .as_display = 1 };

static const struct comparison comparisons[] = {
	{ .source = "x11", .kind = "xvfb", .server_comm = "Xvfb", .peer = &rec_x11grab },
	{ .source = "wlr", .kind = "sway", .server_comm = "sway", .peer = &rec_wfrec },
};

/* ---- reading a recording back ---- */

/* Mean of the 3x3 pixels around the centre of cell (col, row) of a DECODE_W x DECODE_H
 * gray frame. */
static unsigned cell_mean(const uint8_t *g, unsigned col, unsigned row)
{
	uint32_t x = (fpb_edge(DECODE_W, FPB_COLS, col) + fpb_edge(DECODE_W, FPB_COLS, col + 1)) / 2;
	uint32_t y = (fpb_edge(DECODE_H / 2, FPB_ROWS, row) +
		      fpb_edge(DECODE_H / 2, FPB_ROWS, row + 1)) / 2;
	unsigned sum = 0;

	for (uint32_t dy = y - 1; dy <= y + 1; dy++)
		for (uint32_t dx = x - 1; dx <= x + 1; dx++)
			sum += g[dy * DECODE_W + dx];
	return sum / 9;
}

/* The counter in a frame: 0 and *n, or -1 when a bit and its complement cell do not
 * clearly disagree (a torn, blended or foreign frame). */
static int read_counter(const uint8_t *g, uint32_t *n)
{
	uint32_t v = 0;

	for (unsigned bit = 0; bit < FPB_BITS; bit++) {
		unsigned col = bit % FPB_COLS, row = bit / FPB_COLS;
		unsigned a = cell_mean(g, col, row), c = cell_mean(g, col, row + 2);

		if (a > 160 && c < 96)
			v |= 1u << bit;
		else if (!(a < 96 && c > 160))
			return -1;
	}
	*n = v;
	return 0;
}

/* Frames and their time span from the packet timestamps (no B-frames: decode order is
 * presentation order). */
static int read_span(const struct bed *b, const struct job *j, struct result *res)
{
	char *argv[] = { (char *)b->t->ffprobe, (char *)"-v", (char *)"error", (char *)"-select_streams",
			 (char *)"v:0", (char *)"-show_entries", (char *)"packet=pts_time",
			 (char *)"-of", (char *)"csv=p=0", (char *)j->out, NULL };
	double first = NAN, last = NAN;
	char *out, *line, *save = NULL;
	size_t len;
	int r = run_capture(argv, j->drop, b, &out, &len);

	res->frames = 0;
	for (line = strtok_r(r == 0 ? out : NULL, "\n", &save); r == 0 && line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *end;
		double t = strtod(line, &end);

		if (end == line || !isfinite(t))
			continue; /* "N/A" */
		first = isnan(first) || t < first ? t : first;
		last = isnan(last) || t > last ? t : last;
		res->frames++;
	}
	free(out);
	if (r < 0 || res->frames < 2 || !(last > first)) {
		fprintf(stderr, "bench pipeline: %s: no usable video (%u frames)\n", j->out, res->frames);
		return r < 0 ? r : -EINVAL;
	}
	/* n frames cover n intervals of the mean spacing, the last one's included. */
	res->span_s = (last - first) * res->frames / (res->frames - 1);
	return 0;
}

/* Distinct counter values in the decoded recording. */
static int read_fresh(const struct bed *b, const struct job *j, struct result *res)
{
	char *argv[] = { (char *)b->t->ffmpeg, (char *)"-nostdin", (char *)"-v", (char *)"error",
			 (char *)"-i", (char *)j->out, (char *)"-an", (char *)"-vf",
			 (char *)"scale=128:72:flags=area,format=gray", (char *)"-fps_mode",
			 (char *)"passthrough", (char *)"-f", (char *)"rawvideo", (char *)"pipe:1", NULL };
	const size_t fsize = DECODE_W * DECODE_H;
	uint8_t *seen = calloc(1u << FPB_BITS >> 3, 1);
	char *out = NULL;
	size_t len = 0;
	int r = seen ? run_capture(argv, j->drop, b, &out, &len) : -ENOMEM;

	_Static_assert(DECODE_W == 128 && DECODE_H == 72, "the scale filter above says 128:72");
	res->fresh = res->unreadable = 0;
	for (size_t off = 0; r == 0 && off + fsize <= len; off += fsize) {
		uint32_t n;

		if (read_counter((const uint8_t *)out + off, &n) < 0)
			res->unreadable++;
		else if (!(seen[n >> 3] & 1u << (n & 7)))
			seen[n >> 3] |= (uint8_t)(1u << (n & 7)), res->fresh++;
	}
	if (r == 0 && len / fsize != res->frames)
		fprintf(stderr, "bench pipeline: %s: %zu frames decoded, %u packets\n", j->out,
			len / fsize, res->frames);
	free(out);
	free(seen);
	return r;
}

/* A number after "key": in framepush's --stats-json, or NAN. */
static double json_number(const char *json, const char *key)
{
	char pat[64];
	const char *p;
	char *end;
	double v;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	if (!p)
		return NAN;
	v = strtod(p + strlen(pat), &end);
	return end == p + strlen(pat) ? NAN : v;
}

static int read_stats(const struct job *j, struct result *res)
{
	char buf[8192];
	FILE *f = fopen(j->stats, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	res->p50_ms = json_number(buf, "latency_p50_ms");
	res->p99_ms = json_number(buf, "latency_p99_ms");
	res->skipped = json_number(buf, "ticks_skipped");
	if (isnan(res->p50_ms) || isnan(res->p99_ms)) {
		fprintf(stderr, "bench pipeline: %s: no latency in it\n", j->stats);
		return -EINVAL;
	}
	return 0;
}

/* ---- one run of one recorder ---- */

/* Runs the job to its end: its CPU (rusage, reaped children included) and the server's
 * over the same time, both in ms, in res (per frame once the recording is read). */
static int record(const struct bed *b, const struct job *j, struct result *res)
{
	struct spawn_spec s = { .argv = j->argv, .envp = j->envp[0] ? j->envp : environ,
				.cwd = j->drop ? b->dropdir : b->dir, .log = j->log, .out_fd = -1,
				.drop = j->drop, .uid = b->uid, .gid = b->gid };
	int64_t deadline = fp_now_ns() + ((int64_t)b->o->seconds + RUN_GRACE_S) * FP_NSEC_PER_SEC;
	double s0 = proc_cpu_ms(b->server, NULL, 0, NULL), s1;
	struct rusage ru = { 0 };
	int r, st = 0;
	pid_t pid;

	r = spawn(&s, &pid);
	if (r < 0)
		return r;
	r = finish(pid, (int)j->interrupt_s * 1000, deadline, &st, &ru);
	s1 = proc_cpu_ms(b->server, NULL, 0, NULL);
	if (r < 0)
		return r;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench pipeline: %s %s (its output: %s)\n", j->argv[0],
			WIFEXITED(st) ? "failed" : "was killed", j->log);
		return -EIO;
	}
	res->cpu_ms = ms_of(&ru.ru_utime) + ms_of(&ru.ru_stime);
	res->server_ms = s1 - s0;
	return 0;
}

static int run_one(const struct bed *b, const struct recorder *rec, unsigned rep,
		   struct result *res)
{
	struct job j = { .drop = rec->as_display && b->drop };
	const char *dir = j.drop ? b->dropdir : b->dir;
	int r;

	*res = (struct result){ .p50_ms = NAN, .p99_ms = NAN, .skipped = NAN };
	snprintf(j.out, sizeof(j.out), "%s/%s-%u.mkv", dir, rec->name, rep + 1);
	snprintf(j.log, sizeof(j.log), "%s/%s-%u.log", dir, rec->name, rep + 1);
	snprintf(j.stats, sizeof(j.stats), "%s/%s-%u.json", dir, rec->name, rep + 1);
	rec->build(b, &j);
	r = record(b, &j, res);
	if (r == 0)
		r = read_span(b, &j, res);
	if (r == 0)
		r = read_fresh(b, &j, res);
	if (r == 0 && rec->ours)
		r = read_stats(&j, res);
	if (r < 0) {
		printf("  rep %u %-12s failed: %s\n", rep + 1, rec->name, strerror(-r));
		return r;
	}
	res->fps = res->frames / res->span_s;
	res->fresh_fps = res->fresh / res->span_s;
	res->cpu_ms /= res->frames;
	res->server_ms /= res->frames;
	res->ok = 1;
	printf("  rep %u %-12s %5.1f fps, %5.1f fresh (%u unreadable of %u frames), "
	       "%6.2f ms CPU/frame, server %5.2f ms/frame\n", rep + 1, rec->name, res->fps,
	       res->fresh_fps, res->unreadable, res->frames, res->cpu_ms, res->server_ms);
	fflush(stdout);
	return 0;
}

/* ---- results ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of one field (at offset off) over the successful runs; NAN when none. */
static double median(const struct result *rs, unsigned n, size_t off)
{
	double v[MAX_REPS];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		if (rs[i].ok && !isnan(*(const double *)((const char *)&rs[i] + off)))
			v[k++] = *(const double *)((const char *)&rs[i] + off);
	if (!k)
		return NAN;
	qsort(v, k, sizeof(v[0]), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

#define MED(rs, n, field) median(rs, n, offsetof(struct result, field))

static void print_row(const char *name, const struct result *rs, unsigned n)
{
	double p50 = MED(rs, n, p50_ms), p99 = MED(rs, n, p99_ms);
	char lat[48] = "     -       -";

	if (!isnan(p50))
		snprintf(lat, sizeof(lat), "%6.2f  %6.2f", p50, p99);
	printf("%-12s %7.1f %10.1f %13.2f %16.2f %s\n", name, MED(rs, n, fps), MED(rs, n, fresh_fps),
	       MED(rs, n, cpu_ms), MED(rs, n, server_ms), lat);
}

static void report(const struct bed *b, const struct comparison *c, const struct result *ours,
		   const struct result *peer, const struct result *live)
{
	const struct opts *o = b->o;
	unsigned n = o->reps;
	char conv[64] = "auto";

	if (o->threads)
		snprintf(conv, sizeof(conv), "%u%s", o->threads,
			 c->peer == &rec_wfrec ? " (wf-recorder: auto)" : "");
	printf("%s %ux%u@%u, medians of %u x %u s: libx264 %s/%s crf %s, no B-frames, yuv420p, "
	       "x264 threads auto in all; conversion threads %s\n", c->source, o->w, o->h,
	       o->fps, n, o->seconds, ENC_PRESET, ENC_TUNE, ENC_CRF, conv);
	printf("%-12s %7s %10s %13s %16s %7s %7s\n", "", "fps", "fresh fps", "CPU ms/frame",
	       c->server_comm, "p50 ms", "p99 ms");
	print_row(rec_ours.name, ours, n);
	print_row(c->peer->name, peer, n);
	print_row(rec_live.name, live, n);
	printf("(CPU: the recorder with its children; %s: the server's CPU per recorded frame, "
	       "apart; latency: capture -> encoded, where the tool reports it; fp-live: framepush "
	       "stream with its defaults, the governor choosing the preset: %.0f ticks skipped)\n",
	       c->server_comm, MED(live, n, skipped));
	printf("bench pipeline %s %ux%u@%u ours_fps=%.1f ours_cpu_ms=%.2f peer=%s peer_fps=%.1f "
	       "peer_cpu_ms=%.2f ours_fresh_fps=%.1f peer_fresh_fps=%.1f ours_server_ms=%.2f "
	       "peer_server_ms=%.2f ours_p50_ms=%.2f ours_p99_ms=%.2f live_fps=%.1f live_fresh_fps=%.1f "
	       "live_cpu_ms=%.2f live_p50_ms=%.2f live_p99_ms=%.2f live_skipped=%.0f reps=%u seconds=%u "
	       "threads=%u\n",
	       c->source, o->w, o->h, o->fps, MED(ours, n, fps), MED(ours, n, cpu_ms),
	       c->peer->name, MED(peer, n, fps), MED(peer, n, cpu_ms), MED(ours, n, fresh_fps),
	       MED(peer, n, fresh_fps), MED(ours, n, server_ms), MED(peer, n, server_ms),
	       MED(ours, n, p50_ms), MED(ours, n, p99_ms), MED(live, n, fps), MED(live, n, fresh_fps),
	       MED(live, n, cpu_ms), MED(live, n, p50_ms), MED(live, n, p99_ms), MED(live, n, skipped),
	       n, o->seconds, o->threads);
	fflush(stdout);
}

/* ---- the test bed ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* Work directories: ours (root's, when we are root, passable by others) and, when the
 * display runs as its own account, a directory of that account for what it writes. */
static int make_dirs(struct bed *b)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(b->dir, sizeof(b->dir), "%s/framepush-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(b->dir)) {
		int e = errno;

		fprintf(stderr, "bench pipeline: cannot create %s: %s\n", b->dir, strerror(e));
		b->dir[0] = '\0';
		return -e;
	}
	snprintf(b->dropdir, sizeof(b->dropdir), "%s/display", b->dir);
	if (!b->drop)
		return 0;
	if (chmod(b->dir, 0711) < 0 || mkdir(b->dropdir, 0700) < 0 ||
	    chown(b->dropdir, b->uid, b->gid) < 0) {
		int e = errno;

		fprintf(stderr, "bench pipeline: cannot prepare %s for uid %u: %s\n", b->dropdir,
			(unsigned)b->uid, strerror(e));
		return -e;
	}
	return 0;
}

static int start_client(struct bed *b, const struct comparison *c)
{
	char rate[16];
	char *x11_argv[] = { (char *)b->t->x11_client, rate, NULL };
	char *wl_argv[] = { (char *)b->t->wl_client, NULL };
	struct timespec settle = { SETTLE_MS / 1000, (SETTLE_MS % 1000) * 1000000L };
	pid_t pid;
	int r;

	snprintf(rate, sizeof(rate), "%u", b->o->fps);
	r = fp_display_spawn(b->d, !strcmp(c->source, "x11") ? x11_argv : wl_argv, &pid);
	if (r < 0) {
		fprintf(stderr, "bench pipeline: cannot start the client: %s\n", strerror(-r));
		return r;
	}
	/* No event says "the window is on screen" to a process that is no client of the
	 * display: a settle time, before any measurement starts. */
	nanosleep(&settle, NULL);
	return waitpid(pid, NULL, WNOHANG) == pid ? -ECHILD : 0;
}

static int bed_open(struct bed *b, const struct comparison *c)
{
	struct fp_display_opts o = { .kind = c->kind, .width = b->o->w, .height = b->o->h,
				     .refresh_hz = b->o->fps };
	int r = fp_display_create(&b->d, &o);

	if (r < 0) {
		fprintf(stderr, "bench pipeline: the %s display did not start: %s\n", c->kind,
			strerror(-r));
		return r;
	}
	/* X clients (ffmpeg, framepush) need the display's cookie in their environment. */
	r = fp_display_export_env(b->d);
	b->server = child_named(c->server_comm);
	b->drop = fp_display_identity(b->d, &b->uid, &b->gid);
	if (r == 0 && b->server < 0) {
		fprintf(stderr, "bench pipeline: no %s process found among ours\n", c->server_comm);
		r = -ESRCH;
	}
	if (r == 0)
		r = make_dirs(b);
	return r < 0 ? r : start_client(b, c);
}

static void bed_close(struct bed *b, int failed)
{
	fp_display_destroy(b->d);
	b->d = NULL;
	if (!b->dir[0])
		return;
	if (failed || b->o->keep)
		printf("recordings and logs kept in %s\n", b->dir);
	else
		nftw(b->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Why comparison c cannot run here, or NULL. */
static const char *missing(const struct tools *t, const struct comparison *c)
{
	if (!t->ffmpeg[0] || !t->ffprobe[0])
		return "ffmpeg and ffprobe are needed to read the recordings back";
	if (!strcmp(c->source, "x11")) {
		if (!t->xvfb[0])
			return "Xvfb is not installed";
		if (!is_file(t->x11_client))
			return "bench/clients/fpb-x11-client was not built (needs libxcb)";
		return NULL;
	}
	if (!t->sway[0] || !is_file("/usr/bin/sway") || !is_file("/usr/bin/swaymsg"))
		return "sway is not installed (/usr/bin/sway, /usr/bin/swaymsg)";
	if (!t->wfrec[0])
		return "wf-recorder is not installed";
	if (!is_file(t->wl_client))
		return "bench/clients/fpb-wl-client was not built (needs wayland-client, "
		       "wayland-protocols, wayland-scanner)";
	return NULL;
}

/* One comparison: 0 done, 1 skipped, < 0 failed. */
static int compare(const struct opts *o, const struct tools *t, const struct comparison *c)
{
	struct result ours[MAX_REPS], peer[MAX_REPS], live[MAX_REPS];
	struct bed b = { .o = o, .t = t, .server = -1 };
	const char *why = missing(t, c);
	int r, failed = 0;

	if (why) {
		printf("bench pipeline %s: skipped, %s\n", c->source, why);
		return 1;
	}
	printf("bench pipeline %s: framepush vs %s on %s %ux%u@%u\n", c->source, c->peer->name,
	       c->kind, o->w, o->h, o->fps);
	fflush(stdout);
	r = bed_open(&b, c);
	/* Rotating order: no recorder always runs on a warmer (or busier) machine. */
	for (unsigned rep = 0; r == 0 && rep < o->reps; rep++) {
		const struct recorder *recs[3] = { &rec_ours, c->peer, &rec_live };
		struct result *res[3] = { &ours[rep], &peer[rep], &live[rep] };

		for (unsigned k = 0; k < 3; k++) {
			unsigned i = (rep + k) % 3;

			failed |= run_one(&b, recs[i], rep, res[i]) < 0;
		}
	}
	if (r == 0 && !isnan(MED(ours, o->reps, fps)) && !isnan(MED(peer, o->reps, fps)) &&
	    !isnan(MED(live, o->reps, fps)))
		report(&b, c, ours, peer, live);
	else if (r == 0)
		r = -EIO;
	bed_close(&b, r < 0 || failed);
	return r < 0 ? r : failed ? -EIO : 0;
}

/* ---- tools and options ---- */

/* Which of ours_equal_opts this framepush has (its record --help lists them). */
static void probe_ours(struct tools *t)
{
	char *argv[] = { t->framepush, (char *)"record", (char *)"--help", NULL };
	char *help = NULL;
	size_t len = 0;
	int r = run_capture(argv, 0, NULL, &help, &len);

	for (size_t i = 0; i < FP_ARRAY_LEN(ours_equal_opts); i++) {
		if (r == 0 && strstr(help, ours_equal_opts[i][0])) {
			t->ours_extra[t->n_extra++] = ours_equal_opts[i][0];
			t->ours_extra[t->n_extra++] = ours_equal_opts[i][1];
		} else {
			printf("note: this framepush has no %s; its default applies\n",
			       ours_equal_opts[i][0]);
		}
	}
	free(help);
}

static int join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s%s", a, b);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* framepush and the clients from this build (FRAMEPUSH_BUILD_ROOT, else the directory
 * above this program's), the rest from $PATH. 0, or -ENOENT when framepush is missing. */
static int find_tools(struct tools *t)
{
	const char *root = getenv("FRAMEPUSH_BUILD_ROOT");
	ssize_t n = readlink("/proc/self/exe", t->self, sizeof(t->self) - 1);
	char *slash;

	t->self[n > 0 ? n : 0] = '\0';
	if ((slash = strrchr(t->self, '/')))
		*slash = '\0'; /* <build>/bench */
	if (!root || !*root) {
		if ((slash = strrchr(t->self, '/')))
			*slash = '\0';
		root = t->self;
	}
	if (join(t->framepush, sizeof(t->framepush), root, "/tools/framepush") < 0 ||
	    join(t->x11_client, sizeof(t->x11_client), root, "/bench/clients/fpb-x11-client") < 0 ||
	    join(t->wl_client, sizeof(t->wl_client), root, "/bench/clients/fpb-wl-client") < 0) {
		fprintf(stderr, "bench pipeline: build directory path too long: %s\n", root);
		return -ENAMETOOLONG;
	}
	find_tool("ffmpeg", t->ffmpeg, sizeof(t->ffmpeg));
	find_tool("ffprobe", t->ffprobe, sizeof(t->ffprobe));
	find_tool("Xvfb", t->xvfb, sizeof(t->xvfb));
	find_tool("sway", t->sway, sizeof(t->sway));
	find_tool("wf-recorder", t->wfrec, sizeof(t->wfrec));
	if (!is_file(t->framepush)) {
		fprintf(stderr, "bench pipeline: %s not found (set FRAMEPUSH_BUILD_ROOT to the build "
			"directory)\n", t->framepush);
		return -ENOENT;
	}
	probe_ours(t);
	return 0;
}

static void pipeline_usage(FILE *f)
{
	fprintf(f,
		"usage: framepush-bench pipeline [--size WxH] [--fps N] [--seconds N] [--reps N]\n"
		"                                 [--threads N] [--only x11|wlr] [--keep]\n"
		"  framepush against ffmpeg -f x11grab on Xvfb, and against wf-recorder on headless\n"
		"  sway: same display, client (a frame counter), encoder settings; rotating order; plus\n"
		"  fp-live: framepush stream with its own defaults (live profile, governor).\n"
		"  --size WxH     display size (default 1920x1080)\n"
		"  --fps N        output rate and display refresh, 1..240 (default 60)\n"
		"  --seconds N    length of each recording, 2..60 (default 10)\n"
		"  --reps N       recordings per tool, 1..15 (default 3); medians are printed\n"
		"  --threads N    conversion threads, 0..256: framepush --threads, ffmpeg\n"
		"                 -filter_threads (default 0: each tool's automatic count, one per\n"
		"                 CPU; wf-recorder has no setting and always uses its own)\n"
		"  --only K       x11 or wlr: one comparison only\n"
		"  --keep         keep the recordings and logs (always kept after a failure)\n"
		"  framepush and the clients come from this build (or $FRAMEPUSH_BUILD_ROOT), the\n"
		"  other tools from $PATH; a missing one skips its comparison.\n");
}

static int bad(const char *opt, const char *v, const char *want)
{
	fprintf(stderr, "framepush-bench pipeline: bad --%s '%s': want %s\n", opt, v, want);
	return -EINVAL;
}

static int parse_opt(struct opts *o, int c, const char *v)
{
	unsigned long long n;

	switch (c) {
	case 's':
		return fp_parse_size(v, MIN_W, MIN_H, FP_WIDTH_MAX, FP_HEIGHT_MAX, &o->w, &o->h) < 0
			       ? bad("size", v, "WxH, 320x180 at least") : 0;
	case 'f':
		return fp_parse_uint(v, 1, 240, &n) < 0 ? bad("fps", v, "1..240") : (o->fps = (uint32_t)n, 0);
	case 'S':
		return fp_parse_uint(v, 2, 60, &n) < 0 ? bad("seconds", v, "2..60")
						       : (o->seconds = (unsigned)n, 0);
	case 'r':
		return fp_parse_uint(v, 1, MAX_REPS, &n) < 0 ? bad("reps", v, "1..15")
							     : (o->reps = (unsigned)n, 0);
	case 't':
		return fp_parse_uint(v, 0, 256, &n) < 0 ? bad("threads", v, "0..256")
							: (o->threads = (unsigned)n, 0);
	case 'o':
		if (strcmp(v, "x11") && strcmp(v, "wlr"))
			return bad("only", v, "x11 or wlr");
		o->x11 = !strcmp(v, "x11"), o->wlr = !o->x11;
		return 0;
	case 'k':
		o->keep = 1;
		return 0;
	default:
		return -EINVAL;
	}
}

/* 0 go, 1 help shown, -EINVAL usage error (reported). */
static int parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },    { "fps", required_argument, NULL, 'f' },
		{ "seconds", required_argument, NULL, 'S' }, { "reps", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' }, { "only", required_argument, NULL, 'o' },
		{ "keep", no_argument, NULL, 'k' },          { "help", no_argument, NULL, 'h' },
		{ 0, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .w = FP_MODE_DEFAULT_WIDTH, .h = FP_MODE_DEFAULT_HEIGHT, .fps = 60,
			    .seconds = 10, .reps = 3, .threads = 0, .x11 = 1, .wlr = 1 };
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			pipeline_usage(stdout);
			return 1;
		}
		if (parse_opt(o, c, optarg) < 0) {
			if (c == '?')
				pipeline_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pipeline_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int bench_pipeline_main(int argc, char **argv)
{
	struct tools t = { 0 };
	struct opts o;
	int r = parse_args(&o, argc, argv), failed = 0;

	if (r)
		return r > 0 ? 0 : 2;
	if (find_tools(&t) < 0)
		return 1;
	for (size_t i = 0; i < FP_ARRAY_LEN(comparisons); i++) {
		const struct comparison *c = &comparisons[i];

		if ((!strcmp(c->source, "x11") && !o.x11) || (!strcmp(c->source, "wlr") && !o.wlr))
			continue;
		failed |= compare(&o, &t, c) < 0;
	}
	return failed;
}
