/* framepush-bench transport — how long a frame takes from the source's publish to the host,
 * and what moving it costs in CPU, against GStreamer's shmsink -> shmsrc (transport_gst.c).
 *
 * Ours runs the real framepush-source (test backend, pattern=solid) behind the host's broker
 * and ring. "wakeup" is the host side of the channel as fp_capture runs it, without the
 * conversion: eventfd wakeup, token checked (generation, slot, seq), slot locked. The source
 * stamps each slot with its capture time right before publishing; the host measures against
 * that on the same CLOCK_MONOTONIC. "converted" is the whole fp_capture path (single-threaded
 * conversion to NV12 included), for reference. CPU per frame is producer + consumer process
 * CPU between the first and the last measured frame, divided by the frames in between. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "broker.h"              /* host_private_inc: the bench spawns the source as the host does */
#include "channel/event.h"
#include "channel/ring.h"
#include "channel/signature.h"
#include "common/proc.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/source.h"

#define FPS 60u
/* The host's own bound on waiting for a slot the source is writing (capture.c). */
#define SLOT_LOCK_TIMEOUT_NS (8 * FP_NSEC_PER_MSEC)
#define FRAME_TIMEOUT_MS 4000
#define EXIT_TIMEOUT_MS 5000
/* The bare source's end of its socket: fd 3 in the exec'd child. */
#define BARE_SOCK_FD 3

void bench_render_solid(uint8_t *px, size_t stride, uint32_t w, uint32_t h, uint32_t frame)
{
	/* rgb=0.5/0.5/0.5, the test source's default colour, packed as it packs it. */
	uint32_t v = 0xff808080u;

	for (uint32_t x = 0; x < w; x++)
		memcpy(px + (size_t)x * 4, &v, 4);
	for (uint32_t y = 1; y < h; y++)
		memcpy(px + (size_t)y * stride, px, (size_t)w * 4);
	fp_signature_write(px, stride, w, h, FP_PIXFMT_XRGB8888, frame, 1);
}

#ifndef FP_BENCH_GST
int bench_gst_transport(const char *self_exe, uint32_t w, uint32_t h, unsigned n, unsigned fps,
			int render, struct bench_xport *out)
{
	(void)self_exe, (void)w, (void)h, (void)n, (void)fps, (void)render, (void)out;
	return -ENOTSUP;
}

int bench_gst_child_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	fprintf(stderr, "gstreamer: not built\n");
	return 2;
}
#endif

static int64_t cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * FP_NSEC_PER_SEC + ts.tv_nsec;
}

/* What fp_capture's try_consume does before it converts: the newest token, if it is this
 * ring's, in range and new, with its slot locked and still the latest. 0 and *lat_ns
 * (publish -> now, the slot locked), or -EAGAIN. */
static int take_latest(struct fp_ring *ring, uint32_t *last_seq, int64_t *lat_ns,
		       unsigned *missed)
{
	uint64_t latest = fp_ring_latest(ring);

	for (int attempt = 0; attempt < 4; attempt++) {
		struct fp_token t = fp_token_unpack(latest);
		uint64_t again;
		int64_t stamp;

		if (t.generation != ring->generation || t.slot >= ring->ring_len ||
		    (int32_t)(t.seq - *last_seq) <= 0)
			return -EAGAIN;
		if (fp_ring_slot_acquire(ring, t.slot, SLOT_LOCK_TIMEOUT_NS) < 0)
			return -EAGAIN;
		again = fp_ring_latest(ring);
		if (again == latest) {
			stamp = (int64_t)ring->status->slot_capture_ns[t.slot];
			*lat_ns = fp_now_ns() - stamp;
			fp_ring_slot_release(ring, t.slot);
			/* Newer frames replaced older ones the host was too late for. */
			if (*last_seq)
				*missed += t.seq - *last_seq - 1;
			*last_seq = t.seq;
			return 0;
		}
		fp_ring_slot_release(ring, t.slot);
		latest = again;
	}
	return -EAGAIN;
}

/* Sleeps on the event (and the source's pidfd, -1 for none) as the host does; n frames
 * after warm-up. */
static int wakeup_loop(struct fp_ring *ring, int pidfd, pid_t pid, unsigned n,
		       struct bench_xport *res)
{
	struct pollfd p[2] = { { .fd = ring->event_fd, .events = POLLIN },
			       { .fd = pidfd, .events = POLLIN } };
	clockid_t src_clk;
	uint32_t last_seq = 0;
	unsigned seen = 0;
	int64_t cpu0 = 0, cons0 = 0;

	if (clock_getcpuclockid(pid, &src_clk) != 0)
		return -ESRCH;
	while (res->count < n) {
		int64_t lat;
		int r = poll(p, 2, FRAME_TIMEOUT_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || p[1].revents) {
			fprintf(stderr, "bench transport: %s after %u frames\n",
				r == 0 ? "no frame within 4 s" : "the source died", res->count);
			return -EPIPE;
		}
		if (fp_event_consume(p[0].fd) == -EOPNOTSUPP)
			return -EOPNOTSUPP; /* kernel < 5.12: the host polls, nothing to measure */
		if (take_latest(ring, &last_seq, &lat, &res->missed) < 0)
			continue;
		if (seen++ < BENCH_XPORT_WARMUP) {
			res->missed = 0; /* counted from the first measured frame */
			continue;
		}
		res->lat_ns[res->count++] = lat;
		if (res->count == 1) {
			cons0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
			cpu0 = cons0 + cpu_ns(src_clk);
		}
	}
	res->consumer_cpu_ns = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	res->cpu_ns = res->consumer_cpu_ns + cpu_ns(src_clk) - cpu0;
	res->consumer_cpu_ns -= cons0;
	res->cpu_frames = n - 1;
	return 0;
}

/* Delivers a ring at the source's hello mode and measures. */
static int deliver_and_measure(struct fp_broker *b, int pidfd, pid_t pid, unsigned n,
			       struct bench_xport *res)
{
	const struct fp_msg_hello *hello = fp_broker_hello(b);
	struct fp_ring *ring = NULL;
	int r;

	r = fp_ring_create(&ring, fp_ring_next_generation(), 1, FP_RING_DEFAULT, hello->width,
			   hello->height, hello->format);
	if (r == 0)
		r = fp_ring_deliver(ring, fp_broker_sock(b));
	if (r < 0)
		fprintf(stderr, "bench transport: no %ux%u ring for the source: %s\n", hello->width,
			hello->height, strerror(-r));
	else
		r = wakeup_loop(ring, pidfd, pid, n, res);
	fp_ring_destroy(ring); /* our maps only: the source keeps its own until it exits */
	return r;
}

static int ours_wakeup(const char *exe, uint32_t w, uint32_t h, unsigned n, struct bench_xport *res)
{
	char size[32], fps[16];
	char *argv[] = { (char *)"--backend", (char *)"test", (char *)"--size", size, (char *)"--fps",
			 fps, (char *)"--target-id", (char *)"1", (char *)"--spec",
			 (char *)"pattern=solid", NULL };
	struct fp_broker_opts bo = { .source_exe = exe, .source_argv = argv, .spawn = 1 };
	struct fp_broker *b;
	int r;

	snprintf(size, sizeof(size), "%ux%u", w, h);
	snprintf(fps, sizeof(fps), "%u", FPS);
	r = fp_broker_create(&b, &bo);
	if (r < 0) {
		fprintf(stderr, "bench transport: cannot start %s: %s\n", exe, strerror(-r));
		return r;
	}
	r = deliver_and_measure(b, fp_broker_pidfd(b), fp_broker_pid(b), n, res);
	fp_broker_destroy(b); /* hangs up: the source exits */
	return r;
}

/* ---- the bare source: the channel's source end alone, no rendering ---- */

/* transport --ours-producer WxH FRAMES FPS, its socket on BARE_SOCK_FD: publishes frames at
 * FPS that carry only their capture time (the slot's pixels are not written), so that its CPU
 * is the channel's; the GStreamer bare producer writes only its stamp too. Like the test
 * source it goes on until the host hangs up (the host takes the newest frame, so one it was
 * too late for is replaced, not queued), at most 4 x FRAMES. */
static int bare_source_main(int argc, char **argv)
{
	unsigned long long frames, fps;
	struct fp_source_event ev = { 0 };
	struct fp_source *src;
	uint32_t w, h;
	int64_t due;
	int r;

	if (argc != 4 || fp_parse_size(argv[1], FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX,
				       FP_HEIGHT_MAX, &w, &h) < 0 ||
	    fp_parse_uint(argv[2], 1, 1000000, &frames) < 0 || fp_parse_uint(argv[3], 1, 1000, &fps) < 0) {
		fprintf(stderr, "bench transport: --ours-producer is started by 'framepush-bench "
				"transport' with the arguments it chooses, not by hand\n");
		return 2;
	}
	r = fp_source_open_fd(&src, BARE_SOCK_FD, 1, "bench", w, h, FP_PIXFMT_XRGB8888);
	if (r < 0)
		return 1;
	while (ev.type != FP_SOURCE_EV_ATTACHED && ev.type != FP_SOURCE_EV_HANGUP)
		if (fp_source_dispatch(src, FRAME_TIMEOUT_MS, &ev) == -EAGAIN)
			ev.type = FP_SOURCE_EV_HANGUP; /* no ring within the bound: give up */
	due = fp_now_ns();
	for (unsigned long long i = 0; i < 4 * frames && ev.type != FP_SOURCE_EV_HANGUP; i++) {
		struct timespec ts = { .tv_sec = due / FP_NSEC_PER_SEC, .tv_nsec = due % FP_NSEC_PER_SEC };
		int slot;

		/* Frame pacing, as the test source's timer paces it. */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		due += FP_NSEC_PER_SEC / (int64_t)fps;
		while (ev.type != FP_SOURCE_EV_HANGUP && fp_source_dispatch(src, 0, &ev) == 0)
			;
		slot = fp_source_acquire(src);
		if (slot >= 0)
			fp_source_publish(src, slot, w, h, FP_PIXFMT_XRGB8888, fp_now_ns());
	}
	fp_source_destroy(src);
	return 0;
}

/* Starts self as the bare source with sock on BARE_SOCK_FD. */
static pid_t spawn_bare(const char *self, int sock, uint32_t w, uint32_t h, unsigned n)
{
	char size[32], frames[16], fps[16];
	char *argv[] = { (char *)"framepush-bench", (char *)"transport", (char *)"--ours-producer",
			 size, frames, fps, NULL };
	pid_t pid;

	snprintf(size, sizeof(size), "%ux%u", w, h);
	snprintf(frames, sizeof(frames), "%u", n + BENCH_XPORT_WARMUP);
	snprintf(fps, sizeof(fps), "%u", FPS);
	pid = fork();
	if (pid == 0) {
		/* Async-signal-safe only from here: the one fd the child keeps across exec. */
		if (sock == BARE_SOCK_FD ? fcntl(sock, F_SETFD, 0) < 0
					 : dup2(sock, BARE_SOCK_FD) < 0)
			_exit(127);
		execv(self, argv);
		_exit(127);
	}
	return pid;
}

/* The same host side against the bare source: the channel's cost alone. */
static int ours_bare(const char *self, uint32_t w, uint32_t h, unsigned n, struct bench_xport *res)
{
	struct fp_broker *b = NULL;
	int sv[2], r, status, pidfd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = spawn_bare(self, sv[1], w, h, n);
	close(sv[1]);
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		return r;
	}
	/* An adopted broker has no pidfd: ours, so that a dead child ends the wait at once. */
	pidfd = fp_pidfd_open(pid);
	/* Our own child on a socketpair: nothing to verify, the broker only reads its hello. */
	r = fp_broker_adopt(&b, sv[0], (int64_t)FRAME_TIMEOUT_MS * FP_NSEC_PER_MSEC);
	if (r == 0)
		r = deliver_and_measure(b, pidfd, pid, n, res);
	else
		fprintf(stderr, "bench transport: no hello from the bare source: %s\n", strerror(-r));
	fp_broker_destroy(b); /* hangs up: the child exits */
	fp_close(&pidfd);
	if (fp_child_wait(pid, EXIT_TIMEOUT_MS, &status) == -ETIMEDOUT)
		fp_child_stop(pid, 100);
	return r;
}

/* The whole host path, conversion included: fp_capture as framepush runs it. */
static int ours_converted(const char *exe, uint32_t w, uint32_t h, unsigned n, struct bench_xport *res)
{
	struct fp_capture_opts o = { .source_exe = exe, .backend = "test", .spec = "pattern=solid",
				     .width = w, .height = h, .fps = FPS, .convert_threads = 1 };
	struct fp_capture *cap;
	unsigned seen = 0;
	char why[512];
	int r;

	r = fp_capture_open(&cap, &o, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "bench transport: capture failed: %s\n", why);
		return r;
	}
	while (res->count < n) {
		const struct fp_yuv_frame *f;

		/* A far deadline: only a fresh frame (never a repeat) wakes us. */
		r = fp_capture_next_frame(cap, fp_now_ns() + FP_NSEC_PER_SEC, &f);
		if (r < 0)
			break;
		if (!f->repeated && seen++ >= BENCH_XPORT_WARMUP)
			res->lat_ns[res->count++] = fp_now_ns() - f->pts_ns;
	}
	fp_capture_close(cap);
	return r < 0 ? r : 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct pct {
	double p50, p99, max;  /* microseconds, -1 when not run */
	double cpu, cons;      /* per frame: producer + consumer, consumer alone; -1 unknown */
};

static struct pct summarize(struct bench_xport *x)
{
	struct pct s = { -1, -1, -1, -1, -1 };

	if (!x->count)
		return s;
	qsort(x->lat_ns, x->count, sizeof(*x->lat_ns), cmp_i64);
	s.p50 = (double)x->lat_ns[x->count / 2] / 1e3;
	s.p99 = (double)x->lat_ns[(size_t)x->count * 99 / 100] / 1e3;
	s.max = (double)x->lat_ns[x->count - 1] / 1e3;
	if (x->cpu_frames) {
		s.cpu = (double)x->cpu_ns / x->cpu_frames / 1e3;
		s.cons = (double)x->consumer_cpu_ns / x->cpu_frames / 1e3;
	}
	return s;
}

static void print_row(const char *what, const struct pct *s)
{
	if (s->p50 < 0) {
		printf("  %-36s %9s\n", what, "not run");
		return;
	}
	printf("  %-36s %9.1f %9.1f %9.1f", what, s->p50, s->p99, s->max);
	if (s->cpu >= 0)
		printf(" %9.1f %9.1f", s->cpu, s->cons);
	printf("\n");
}

enum { RUN_OURS, RUN_CONV, RUN_GST, RUN_OURS_BARE, RUN_GST_BARE, RUNS };

static void report(uint32_t w, uint32_t h, unsigned n, struct bench_xport *x)
{
	static const char *const names[RUNS] = {
		[RUN_OURS] = "framepush, test source: wakeup",
		[RUN_CONV] = "framepush, test source: converted",
		[RUN_GST] = "gstreamer, same render: wakeup",
		[RUN_OURS_BARE] = "framepush, bare source: wakeup",
		[RUN_GST_BARE] = "gstreamer, bare producer: wakeup",
	};
	struct pct s[RUNS];
	double payload = x[RUN_GST].payload_ns > 0 ? (double)x[RUN_GST].payload_ns / 1e3 : -1;

	for (int i = 0; i < RUNS; i++)
		s[i] = summarize(&x[i]);
	printf("%ux%u XRGB8888 at %u fps, %u frames after %u warm-up; microseconds\n", w, h, FPS,
	       n, BENCH_XPORT_WARMUP);
	printf("  %-36s %9s %9s %9s %9s %9s\n", "publish -> consumer has the frame", "p50", "p99",
	       "max", "cpu/frm", "consumer");
	for (int i = 0; i < RUNS; i++)
		print_row(names[i], &s[i]);
	printf("  wakeup: framepush = token checked and slot locked, before conversion; "
	       "gstreamer = fakesink handoff\n  converted: fp_capture, NV12 on 1 thread, "
	       "no cpu figure\n");
	printf("  frames framepush's host never saw (a newer one replaced each; GStreamer queues "
	       "them all): test source %u, bare %u\n", x[RUN_OURS].missed, x[RUN_OURS_BARE].missed);
	if (payload >= 0)
		printf("  render + signature per frame (in both producers' cpu/frm, measured in "
		       "GStreamer's): %.1f; bare: neither renders\n", payload);
	if (x[RUN_GST].count)
		printf("  GStreamer frames shmsink had to copy (shm area full): %u, bare: %u\n",
		       x[RUN_GST].copied, x[RUN_GST_BARE].copied);
	else
		printf("  gstreamer: not built (its figures below are -1)\n");
	printf("bench transport %ux%u ours_p50_us=%.1f ours_p99_us=%.1f ours_max_us=%.1f "
	       "ours_cpu_us=%.1f gst_p50_us=%.1f gst_p99_us=%.1f gst_max_us=%.1f gst_cpu_us=%.1f "
	       "payload_cpu_us=%.1f ours_bare_p50_us=%.1f ours_bare_p99_us=%.1f "
	       "ours_bare_max_us=%.1f ours_bare_cpu_us=%.1f gst_bare_p50_us=%.1f "
	       "gst_bare_p99_us=%.1f gst_bare_max_us=%.1f gst_bare_cpu_us=%.1f "
	       "ours_conv_p50_us=%.1f ours_conv_p99_us=%.1f\n", w, h, s[RUN_OURS].p50,
	       s[RUN_OURS].p99, s[RUN_OURS].max, s[RUN_OURS].cpu, s[RUN_GST].p50, s[RUN_GST].p99,
	       s[RUN_GST].max, s[RUN_GST].cpu, payload, s[RUN_OURS_BARE].p50, s[RUN_OURS_BARE].p99,
	       s[RUN_OURS_BARE].max, s[RUN_OURS_BARE].cpu, s[RUN_GST_BARE].p50,
	       s[RUN_GST_BARE].p99, s[RUN_GST_BARE].max, s[RUN_GST_BARE].cpu, s[RUN_CONV].p50,
	       s[RUN_CONV].p99);
}

/* One run; GStreamer's -ENOTSUP (not built) leaves it empty, reported as not run. */
static int run_one(int which, const char *exe, const char *self, uint32_t w, uint32_t h,
		   unsigned n, struct bench_xport *x)
{
	int r;

	switch (which) {
	case RUN_OURS: return ours_wakeup(exe, w, h, n, x);
	case RUN_CONV: return ours_converted(exe, w, h, n, x);
	case RUN_OURS_BARE: return ours_bare(self, w, h, n, x);
	default:
		r = bench_gst_transport(self, w, h, n, FPS, which == RUN_GST, x);
		return r == -ENOTSUP ? 0 : r;
	}
}

static int run_size(const char *exe, const char *self, uint32_t w, uint32_t h, unsigned n)
{
	struct bench_xport x[RUNS] = { { 0 } };
	int r = 0;

	for (int i = 0; i < RUNS; i++) {
		x[i].lat_ns = calloc(n, sizeof(int64_t));
		x[i].payload_ns = -1;
		if (!x[i].lat_ns)
			r = -ENOMEM;
	}
	for (int i = 0; i < RUNS && r == 0; i++) {
		r = run_one(i, exe, self, w, h, n, &x[i]);
		if (r < 0)
			fprintf(stderr, "bench transport: %ux%u run %d failed: %s\n", w, h, i,
				strerror(-r));
	}
	if (r == 0)
		report(w, h, n, x);
	for (int i = 0; i < RUNS; i++)
		free(x[i].lat_ns);
	return r;
}

int bench_transport_main(int argc, char **argv)
{
	char exe[PATH_MAX + 32], self[PATH_MAX];
	unsigned long long n = 600;
	ssize_t len;
	int c;

	if (argc >= 2 && !strncmp(argv[1], "--gst-", 6))
		return bench_gst_child_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "--ours-producer"))
		return bare_source_main(argc - 1, argv + 1);
	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n' || fp_parse_uint(optarg, 2, 1000000, &n) < 0) {
			fprintf(stderr, "usage: framepush-bench transport [-n FRAMES (2..1000000)]\n");
			return 2;
		}
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		return 1;
	self[len] = '\0';
	/* framepush-source lives in the build's tools/ next to bench/. */
	snprintf(exe, sizeof(exe), "%.*s/../tools/framepush-source",
		 (int)(strrchr(self, '/') - self), self);
	if (getenv("FRAMEPUSH_SOURCE"))
		snprintf(exe, sizeof(exe), "%s", getenv("FRAMEPUSH_SOURCE"));
	if (run_size(exe, self, 1920, 1080, (unsigned)n) < 0 ||
	    run_size(exe, self, 3840, 2160, (unsigned)n) < 0)
		return 1;
	return 0;
}
