/* framepush-bench transport, the peer: the same frames through GStreamer's shmsink -> shmsrc
 * between two processes, measured like the framepush channel (publish -> consumer wakeup,
 * producer + consumer CPU per frame).
 *
 * The producer (appsrc -> shmsink) renders each frame as framepush-source's test pattern
 * does, straight into a block of shmsink's shared memory when shmsink's allocator is offered
 * (zero-copy, as framepush-source writes into its ring slot), stamps CLOCK_MONOTONIC into
 * the first 8 bytes and pushes it. The consumer (shmsrc -> fakesink) reads the stamp in the
 * sink's handoff, the moment the frame is in its hands. Both are exec'd from framepush-bench
 * so each is a process of its own, like framepush-source and the host. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include "bench.h"
#include "common/proc.h"
#include "common/util.h"
#include "framepush/proto.h"

#define REPORT_MAGIC 0x66704753u /* "fpGS" */
/* gst_init scans the plugin registry on a first run: seconds, not milliseconds. */
#define START_TIMEOUT_NS (30 * FP_NSEC_PER_SEC)
#define EXIT_TIMEOUT_MS 5000
/* Blocks in the shm area: one being written, a few in flight to the consumer. */
#define SHM_FRAMES 6u

extern char **environ;

/* What the producer says when it ends (after its one 'R' byte once it listens). */
struct producer_report {
	uint32_t magic, frames;
	int64_t payload_ns; /* render + signature CPU over the frames after warm-up */
	uint32_t copied;    /* frames not in shmsink's memory: shmsink copied them */
	uint32_t pad;
};

/* What the consumer says when it ends, followed by count int64 latencies. */
struct consumer_report {
	uint32_t magic, count;
	int64_t cpu_ns;     /* its own + the producer's process CPU over cpu_frames */
	int64_t own_cpu_ns; /* its own part */
	uint32_t cpu_frames, pad;
};

static int64_t cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * FP_NSEC_PER_SEC + ts.tv_nsec;
}

/* The report goes to the fd that was stdout; stdout itself then points at stderr, so that
 * nothing GStreamer prints can land in the middle of the binary report. */
static int take_report_fd(void)
{
	int fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

	if (fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		fprintf(stderr, "bench gst: cannot set up the report fd: %s\n", strerror(errno));
		return -1;
	}
	return fd;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EIO;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Reads exactly len bytes before deadline_ns. 0, -ETIMEDOUT, or -EPIPE at end of file. */
static int read_full(int fd, void *buf, size_t len, int64_t deadline_ns)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, fp_ms_until(deadline_ns));
		ssize_t k;

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -ETIMEDOUT;
		k = read(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EPIPE;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Posts an application message named `what` on the element's bus: how a streaming or poll
 * thread wakes the main thread, which waits on the bus, never on a timer. */
static void post_app(GstElement *e, const char *what)
{
	gst_element_post_message(e, gst_message_new_application(GST_OBJECT(e),
							       gst_structure_new_empty(what)));
}

/* Waits for the application message `what` until deadline_ns. 0, -ETIMEDOUT, or -EIO on a
 * pipeline error (printed). */
static int wait_app(GstElement *pipe, const char *what, int64_t deadline_ns)
{
	GstBus *bus = gst_element_get_bus(pipe);
	int r = -ETIMEDOUT;

	for (;;) {
		int64_t left = deadline_ns - fp_now_ns();
		GstMessage *m;

		if (left <= 0)
			break;
		m = gst_bus_timed_pop_filtered(bus, (GstClockTime)left,
					       GST_MESSAGE_APPLICATION | GST_MESSAGE_ERROR);
		if (!m)
			break;
		if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
			GError *err = NULL;

			gst_message_parse_error(m, &err, NULL);
			fprintf(stderr, "bench gst: %s: %s\n", GST_OBJECT_NAME(m->src),
				err ? err->message : "error");
			g_clear_error(&err);
			gst_message_unref(m);
			r = -EIO;
			break;
		}
		if (gst_message_has_name(m, what)) {
			gst_message_unref(m);
			r = 0;
			break;
		}
		gst_message_unref(m);
	}
	gst_object_unref(bus);
	return r;
}

/* ---- producer ---- */

struct producer {
	GstElement *pipe, *src, *sink;
	GstAllocator *shm_alloc;  /* shmsink's, NULL when it offered none */
	GstAllocationParams params;
	uint32_t w, h, fps, frames;
	int render;               /* 0: only the stamp is written (transport alone) */
	size_t size;
	struct producer_report rep;
};

static void on_client_connected(GstElement *sink, gint fd, gpointer user)
{
	(void)fd;
	(void)user;
	post_app(sink, "connected");
}

static void on_client_disconnected(GstElement *sink, gint fd, gpointer user)
{
	(void)fd;
	(void)user;
	post_app(sink, "disconnected");
}

/* An element made but not (yet) in a bin: its floating reference is ours to drop. */
static void drop_loose(GstElement *e)
{
	if (e)
		gst_object_unref(gst_object_ref_sink(e));
}

static int producer_build(struct producer *p, const char *sock)
{
	GstCaps *caps;

	p->pipe = gst_pipeline_new("producer");
	p->src = gst_element_factory_make("appsrc", "src");
	p->sink = gst_element_factory_make("shmsink", "sink");
	if (!p->pipe || !p->src || !p->sink) {
		fprintf(stderr, "bench gst: appsrc or shmsink missing (gstreamer1.0-plugins-base, "
				"gstreamer1.0-plugins-bad)\n");
		drop_loose(p->src);
		drop_loose(p->sink);
		return -ENOENT;
	}
	caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGRx", "width",
				   G_TYPE_INT, (int)p->w, "height", G_TYPE_INT, (int)p->h,
				   "framerate", GST_TYPE_FRACTION, (int)p->fps, 1, NULL);
	g_object_set(p->src, "caps", caps, "is-live", TRUE, "format", GST_FORMAT_TIME, NULL);
	gst_caps_unref(caps);
	g_object_set(p->sink, "socket-path", sock, "shm-size", (guint)(p->size * SHM_FRAMES),
		     "wait-for-connection", TRUE, "sync", FALSE, NULL);
	g_signal_connect(p->sink, "client-connected", G_CALLBACK(on_client_connected), NULL);
	g_signal_connect(p->sink, "client-disconnected", G_CALLBACK(on_client_disconnected), NULL);
	gst_bin_add_many(GST_BIN(p->pipe), p->src, p->sink, NULL);
	if (!gst_element_link(p->src, p->sink)) {
		fprintf(stderr, "bench gst: cannot link appsrc to shmsink\n");
		return -EIO;
	}
	return 0;
}

/* Asks shmsink for its allocator, as a GStreamer element upstream of it would in its
 * allocation query: frames allocated from it are rendered in the shared area and sent
 * without a copy. Without one, shmsink copies each frame (counted in rep.copied). */
static void producer_find_allocator(struct producer *p)
{
	GstCaps *caps = NULL;
	GstPad *pad = gst_element_get_static_pad(p->src, "src");
	GstQuery *q;

	g_object_get(p->src, "caps", &caps, NULL);
	q = gst_query_new_allocation(caps, TRUE);
	gst_allocation_params_init(&p->params);
	if (gst_pad_peer_query(pad, q) && gst_query_get_n_allocation_params(q) > 0)
		gst_query_parse_nth_allocation_param(q, 0, &p->shm_alloc, &p->params);
	gst_query_unref(q);
	gst_caps_unref(caps);
	gst_object_unref(pad);
}

static GstBuffer *producer_frame(struct producer *p, uint32_t i)
{
	GstMemory *mem = gst_allocator_alloc(p->shm_alloc, p->size, &p->params);
	GstBuffer *buf;
	GstMapInfo map;
	int64_t t0, stamp;

	if (!mem)
		return NULL;
	if (!p->shm_alloc || mem->allocator != p->shm_alloc)
		p->rep.copied++; /* the area was full, or no allocator: shmsink will copy it */
	buf = gst_buffer_new();
	gst_buffer_append_memory(buf, mem);
	if (!gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
		gst_buffer_unref(buf);
		return NULL;
	}
	if (p->render) {
		t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
		bench_render_solid(map.data, (size_t)p->w * 4, p->w, p->h, i + 1);
		/* Counted after warm-up, like the consumer's window: first touches fault. */
		if (i >= BENCH_XPORT_WARMUP)
			p->rep.payload_ns += cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
	}
	stamp = fp_now_ns();
	memcpy(map.data, &stamp, sizeof(stamp));
	gst_buffer_unmap(buf, &map);
	return buf;
}

/* Pushes the frames at fps, each stamped right before its push. */
static int producer_push(struct producer *p)
{
	int64_t period = FP_NSEC_PER_SEC / p->fps, due = fp_now_ns();

	for (uint32_t i = 0; i < p->frames; i++) {
		struct timespec ts = { .tv_sec = due / FP_NSEC_PER_SEC, .tv_nsec = due % FP_NSEC_PER_SEC };
		GstBuffer *buf;

		/* Frame pacing, as a display's refresh paces the test source: not a wait for
		 * another process. */
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		due += period;
		buf = producer_frame(p, i);
		if (!buf) {
			fprintf(stderr, "bench gst: cannot allocate a %zu-byte frame\n", p->size);
			return -ENOMEM;
		}
		if (gst_app_src_push_buffer(GST_APP_SRC(p->src), buf) != GST_FLOW_OK) {
			fprintf(stderr, "bench gst: appsrc refused frame %u\n", i);
			return -EIO;
		}
		p->rep.frames++;
	}
	gst_app_src_end_of_stream(GST_APP_SRC(p->src));
	return 0;
}

static int producer_run(struct producer *p, const char *sock, int report_fd)
{
	int r = producer_build(p, sock);

	if (r < 0)
		return r;
	if (gst_element_set_state(p->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		fprintf(stderr, "bench gst: producer pipeline does not start\n");
		return -EIO;
	}
	producer_find_allocator(p);
	/* shmsink listens once the pipeline started: the consumer may connect now. */
	if (write_full(report_fd, "R", 1) < 0)
		return -EIO;
	r = wait_app(p->pipe, "connected", fp_now_ns() + START_TIMEOUT_NS);
	if (r < 0) {
		fprintf(stderr, "bench gst: no consumer connected to %s\n", sock);
		return r;
	}
	r = producer_push(p);
	if (r < 0)
		return r;
	/* The consumer hangs up once it has every frame: tearing down sooner could drop the
	 * last ones in flight. */
	return wait_app(p->pipe, "disconnected",
			fp_now_ns() + (int64_t)EXIT_TIMEOUT_MS * FP_NSEC_PER_MSEC);
}

/* transport --gst-producer SOCKET WxH FRAMES FPS RENDER */
static int producer_main(int argc, char **argv)
{
	struct producer p = { .rep = { .magic = REPORT_MAGIC } };
	unsigned long long frames, fps, render;
	int fd = take_report_fd(), r;

	if (fd < 0 || argc != 6 || fp_parse_uint(argv[5], 0, 1, &render) < 0 ||
	    fp_parse_size(argv[2], FP_WIDTH_MIN, FP_HEIGHT_MIN, FP_WIDTH_MAX, FP_HEIGHT_MAX, &p.w,
			  &p.h) < 0 ||
	    fp_parse_uint(argv[3], 1, 1000000, &frames) < 0 || fp_parse_uint(argv[4], 1, 1000, &fps) < 0)
		return 2;
	p.frames = (uint32_t)frames;
	p.fps = (uint32_t)fps;
	p.render = (int)render;
	p.size = (size_t)p.w * p.h * 4;
	r = producer_run(&p, argv[1], fd);
	if (p.pipe) {
		gst_element_set_state(p.pipe, GST_STATE_NULL);
		gst_object_unref(p.pipe);
	}
	if (p.shm_alloc)
		gst_object_unref(p.shm_alloc);
	if (r == 0)
		r = write_full(fd, &p.rep, sizeof(p.rep));
	close(fd);
	return r < 0 ? 1 : 0;
}

/* ---- consumer ---- */

struct consumer {
	GstElement *pipe;
	clockid_t producer_clk;
	uint32_t n, seen;
	int64_t cpu0, own0;
	struct consumer_report rep;
	int64_t *lat;
};

static int64_t both_cpu_ns(const struct consumer *c)
{
	return cpu_ns(CLOCK_PROCESS_CPUTIME_ID) + cpu_ns(c->producer_clk);
}

/* fakesink's handoff: the frame is in the consumer's hands. */
static void on_handoff(GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer user)
{
	struct consumer *c = user;
	int64_t now = fp_now_ns(), stamp = 0;
	uint32_t i = c->seen++;

	(void)pad;
	if (gst_buffer_extract(buf, 0, &stamp, sizeof(stamp)) != sizeof(stamp) ||
	    i < BENCH_XPORT_WARMUP || c->rep.count >= c->n)
		return;
	c->lat[c->rep.count++] = now - stamp;
	if (c->rep.count == 1) {
		c->own0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
		c->cpu0 = both_cpu_ns(c);
	}
	if (c->rep.count < c->n)
		return;
	c->rep.own_cpu_ns = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c->own0;
	c->rep.cpu_ns = both_cpu_ns(c) - c->cpu0;
	c->rep.cpu_frames = c->n - 1;
	post_app(sink, "done");
}

static int consumer_run(struct consumer *c, const char *sock)
{
	GstElement *src, *sink;
	int64_t deadline;

	c->pipe = gst_pipeline_new("consumer");
	src = gst_element_factory_make("shmsrc", "src");
	sink = gst_element_factory_make("fakesink", "sink");
	if (!c->pipe || !src || !sink) {
		fprintf(stderr, "bench gst: shmsrc or fakesink missing\n");
		drop_loose(src);
		drop_loose(sink);
		return -ENOENT;
	}
	g_object_set(src, "socket-path", sock, "is-live", TRUE, NULL);
	g_object_set(sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
	g_signal_connect(sink, "handoff", G_CALLBACK(on_handoff), c);
	gst_bin_add_many(GST_BIN(c->pipe), src, sink, NULL);
	if (!gst_element_link(src, sink) ||
	    gst_element_set_state(c->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		fprintf(stderr, "bench gst: consumer pipeline does not start on %s\n", sock);
		return -EIO;
	}
	/* The frames come at the producer's rate (60 fps here); four times that long is a
	 * generous bound on a loaded machine. */
	deadline = fp_now_ns() + START_TIMEOUT_NS +
		   (int64_t)(c->n + BENCH_XPORT_WARMUP) * 4 * FP_NSEC_PER_SEC / 60;
	return wait_app(c->pipe, "done", deadline);
}

/* transport --gst-consumer SOCKET FRAMES PRODUCER_PID */
static int consumer_main(int argc, char **argv)
{
	struct consumer c = { .rep = { .magic = REPORT_MAGIC } };
	unsigned long long n, pid;
	int fd = take_report_fd(), r;

	if (fd < 0 || argc != 4 || fp_parse_uint(argv[2], 2, 1000000, &n) < 0 ||
	    fp_parse_uint(argv[3], 1, INT32_MAX, &pid) < 0)
		return 2;
	c.n = (uint32_t)n;
	c.lat = calloc(c.n, sizeof(*c.lat));
	if (!c.lat || clock_getcpuclockid((pid_t)pid, &c.producer_clk) != 0) {
		fprintf(stderr, "bench gst: no memory, or no CPU clock for producer pid %llu\n", pid);
		free(c.lat);
		return 1;
	}
	r = consumer_run(&c, argv[1]);
	if (c.pipe) {
		gst_element_set_state(c.pipe, GST_STATE_NULL); /* hangs up: the producer ends */
		gst_object_unref(c.pipe);
	}
	if (r == 0)
		r = write_full(fd, &c.rep, sizeof(c.rep));
	if (r == 0)
		r = write_full(fd, c.lat, (size_t)c.rep.count * sizeof(*c.lat));
	close(fd);
	free(c.lat);
	return r < 0 ? 1 : 0;
}

int bench_gst_child_main(int argc, char **argv)
{
	GError *err = NULL;
	int r = 2;

	if (!gst_init_check(NULL, NULL, &err)) {
		fprintf(stderr, "bench gst: GStreamer does not start: %s\n",
			err ? err->message : "unknown error");
		g_clear_error(&err);
		return 1;
	}
	if (!strcmp(argv[0], "--gst-producer"))
		r = producer_main(argc, argv);
	else if (!strcmp(argv[0], "--gst-consumer"))
		r = consumer_main(argc, argv);
	if (r == 2)
		fprintf(stderr, "bench gst: %s is started by 'framepush-bench transport' with the "
				"arguments it chooses, not by hand\n", argv[0]);
	return r;
}

/* ---- the parent ---- */

/* Starts self_exe with args, its stdout a pipe whose read end is *out_fd. */
static int spawn_child(const char *self_exe, char *const *args, pid_t *pid, int *out_fd)
{
	posix_spawn_file_actions_t fa;
	int p[2], r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn(pid, self_exe, &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		fprintf(stderr, "bench gst: cannot start %s %s: %s\n", self_exe, args[2], strerror(r));
		return -r;
	}
	*out_fd = p[0];
	return 0;
}

static void end_child(pid_t pid, const char *what)
{
	int status = 0;

	if (pid <= 0)
		return;
	if (fp_child_wait(pid, EXIT_TIMEOUT_MS, &status) == -ETIMEDOUT) {
		fprintf(stderr, "bench gst: the %s did not end; stopping it\n", what);
		fp_child_stop(pid, 100);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench gst: the %s ended with status 0x%x\n", what, (unsigned)status);
	}
}

/* Reads the consumer's report into out (latencies checked against n), then the
 * producer's. */
static int read_reports(int cons_fd, int prod_fd, unsigned n, struct bench_xport *out)
{
	int64_t deadline = fp_now_ns() + START_TIMEOUT_NS +
			   (int64_t)(n + BENCH_XPORT_WARMUP) * 4 * FP_NSEC_PER_SEC / 60;
	struct consumer_report cr;
	struct producer_report pr;
	int r = read_full(cons_fd, &cr, sizeof(cr), deadline);

	if (r == 0 && (cr.magic != REPORT_MAGIC || cr.count != n || cr.cpu_frames >= n))
		r = -EPROTO;
	if (r == 0)
		r = read_full(cons_fd, out->lat_ns, (size_t)n * sizeof(*out->lat_ns), deadline);
	if (r < 0) {
		fprintf(stderr, "bench gst: no report from the consumer: %s\n", strerror(-r));
		return r;
	}
	r = read_full(prod_fd, &pr, sizeof(pr), fp_now_ns() + EXIT_TIMEOUT_MS * FP_NSEC_PER_MSEC);
	if (r == 0 && (pr.magic != REPORT_MAGIC || pr.frames <= BENCH_XPORT_WARMUP))
		r = -EPROTO;
	if (r < 0) {
		fprintf(stderr, "bench gst: no report from the producer: %s\n", strerror(-r));
		return r;
	}
	out->count = n;
	out->cpu_ns = cr.cpu_ns;
	out->consumer_cpu_ns = cr.own_cpu_ns;
	out->cpu_frames = cr.cpu_frames;
	out->payload_ns = pr.payload_ns ? pr.payload_ns / (pr.frames - BENCH_XPORT_WARMUP) : -1;
	out->copied = pr.copied;
	return 0;
}

static int run_pair(const char *self_exe, const char *sock, uint32_t w, uint32_t h, unsigned n,
		    unsigned fps, int render, struct bench_xport *out)
{
	char size[32], frames[16], count[16], rate[16], ppid[16], ready;
	char *prod_args[] = { (char *)"framepush-bench", (char *)"transport",
			      (char *)"--gst-producer", (char *)sock, size, frames, rate,
			      (char *)(render ? "1" : "0"), NULL };
	char *cons_args[] = { (char *)"framepush-bench", (char *)"transport",
			      (char *)"--gst-consumer", (char *)sock, count, ppid, NULL };
	pid_t prod = 0, cons = 0;
	int prod_fd = -1, cons_fd = -1, r;

	snprintf(size, sizeof(size), "%ux%u", w, h);
	snprintf(frames, sizeof(frames), "%u", n + BENCH_XPORT_WARMUP);
	snprintf(count, sizeof(count), "%u", n);
	snprintf(rate, sizeof(rate), "%u", fps);
	r = spawn_child(self_exe, prod_args, &prod, &prod_fd);
	if (r < 0)
		return r;
	r = read_full(prod_fd, &ready, 1, fp_now_ns() + START_TIMEOUT_NS);
	if (r < 0 || ready != 'R') {
		fprintf(stderr, "bench gst: the producer did not start listening\n");
		r = r < 0 ? r : -EPROTO;
		goto out_producer;
	}
	snprintf(ppid, sizeof(ppid), "%d", (int)prod);
	r = spawn_child(self_exe, cons_args, &cons, &cons_fd);
	if (r < 0)
		goto out_producer;
	r = read_reports(cons_fd, prod_fd, n, out);
	fp_close(&cons_fd);
	end_child(cons, "consumer");
out_producer:
	fp_close(&prod_fd);
	end_child(prod, "producer");
	return r;
}

int bench_gst_transport(const char *self_exe, uint32_t w, uint32_t h, unsigned n, unsigned fps,
			int render, struct bench_xport *out)
{
	char dir[] = "/tmp/fp-bench-gst-XXXXXX", sock[64];
	int r;

	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench gst: cannot create a socket directory: %s\n", strerror(errno));
		return -errno;
	}
	snprintf(sock, sizeof(sock), "%s/shm", dir);
	r = run_pair(self_exe, sock, w, h, n, fps, render, out);
	unlink(sock); /* shmsink removes it when it stops cleanly; not when it was killed */
	rmdir(dir);
	return r;
}
