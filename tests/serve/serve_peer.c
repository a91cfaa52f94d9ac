/* fp-serve-peer: an fp_serve fed from an Annex B H.264 file, for tests that need the server
 * without a session (the browser tests of the serve module itself, a debugger session).
 *
 *   fp-serve-peer FILE.h264 [LISTEN [FPS [SECONDS [MAX_VIEWERS [view-only]]]]]
 *
 * Prints "url <URL>" once listening, then one line per input event the viewers send
 * ("input <type> <code> <value> <x> <y>") and a stats line per second; loops the file at
 * FPS (default 30) until SIGINT/SIGTERM or SECONDS (0: no limit); exits 0.
 * FP_SERVE_PEER_TLS_CERT and FP_SERVE_PEER_TLS_KEY (PEM files) make it serve HTTPS. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "framepush/serve.h"
#include "harness.h"

struct au {
	size_t off, len;
	bool key;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int input_cb(const struct fp_input_event *ev, void *user)
{
	(void)user;
	printf("input %u %u %d %u %u\n", ev->type, ev->code, ev->value, ev->x, ev->y);
	fflush(stdout);
	return 0;
}

static void keyframe_cb(void *user)
{
	atomic_store((atomic_int *)user, 1);
}

/* Start of the NAL after the start code at p (3 or 4 byte code), or 0 when none at i. */
static size_t start_code(const uint8_t *p, size_t n, size_t i)
{
	if (i + 3 <= n && p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1)
		return i + 3;
	if (i + 4 <= n && p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 0 && p[i + 3] == 1)
		return i + 4;
	return 0;
}

/* Splits at each NAL that starts a new access unit: an AUD, SPS, PPS or SEI after a slice,
 * or a slice whose first_mb_in_slice is 0 after a slice. */
static size_t split(const uint8_t *p, size_t n, struct au *aus, size_t cap)
{
	size_t count = 0, au_start = 0;
	bool vcl = false, key = false;

	for (size_t i = 0; i < n; i++) {
		size_t h = start_code(p, n, i);
		unsigned type;
		bool first_slice, boundary;

		if (!h || h >= n)
			continue;
		type = p[h] & 31;
		first_slice = (type == 1 || type == 5) && h + 1 < n && (p[h + 1] & 0x80);
		boundary = vcl && (type == 9 || type == 7 || type == 8 || type == 6 || first_slice);
		if (boundary && count < cap) {
			aus[count++] = (struct au){ au_start, i - au_start, key };
			au_start = i;
			vcl = key = false;
		}
		if (type == 1 || type == 5)
			vcl = true;
		if (type == 5)
			key = true;
		i = h;
	}
	if (vcl && count < cap)
		aus[count++] = (struct au){ au_start, n - au_start, key };
	return count;
}

static void print_stats(struct fp_serve *s)
{
	struct fp_serve_stats st;

	fp_serve_stats(s, &st);
	printf("stats viewers=%u total=%llu refused=%llu keyframes=%llu forwarded=%llu "
	       "input_refused=%llu dropped=%llu",
	       st.viewers, (unsigned long long)st.viewers_total, (unsigned long long)st.refused,
	       (unsigned long long)st.keyframes_requested, (unsigned long long)st.input_forwarded,
	       (unsigned long long)st.input_refused, (unsigned long long)st.frames_dropped);
	for (unsigned i = 0; i < st.viewers; i++)
		printf(" [%u %s %.0fkbps rtt=%.1fms loss=%.3f lost=%llu]", st.viewer[i].id,
		       st.viewer[i].peer, st.viewer[i].bitrate_kbps, st.viewer[i].rtt_ms,
		       st.viewer[i].loss, (unsigned long long)st.viewer[i].packets_lost);
	printf("\n");
	fflush(stdout);
}

static int run(struct fp_serve *s, const uint8_t *data, const struct au *aus, size_t n_aus,
	       unsigned long long fps, unsigned long long seconds, atomic_int *want_key)
{
	int64_t start = fp_now_ns(), frame_ns = FP_NSEC_PER_SEC / (int64_t)fps, next_stats = 0;
	size_t i = 0;

	for (uint64_t f = 0; !stop; f++) {
		int64_t due = start + (int64_t)f * frame_ns;
		struct timespec ts = { due / FP_NSEC_PER_SEC, due % FP_NSEC_PER_SEC };

		if (seconds && due - start >= (int64_t)seconds * FP_NSEC_PER_SEC)
			break;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		/* A keyframe request restarts the file at its first keyframe (frame 0). */
		if (atomic_exchange(want_key, 0))
			i = 0;
		if (fp_serve_push(s, data + aus[i].off, aus[i].len, (due - start) / 1000,
				  aus[i].key) < 0)
			return 1;
		i = (i + 1) % n_aus;
		if (due >= next_stats) {
			print_stats(s);
			next_stats = due + FP_NSEC_PER_SEC;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long fps = 30, seconds = 0, max_viewers = 0;
	static struct au aus[1 << 16];
	atomic_int want_key = 0;
	struct fp_serve *s;
	size_t n = 0, n_aus;
	uint8_t *data;
	int rc;

	fp_log_init("fp-serve-peer");
	if (argc < 2 || (argc > 3 && fp_parse_uint(argv[3], 1, 240, &fps) < 0) ||
	    (argc > 4 && fp_parse_uint(argv[4], 0, 86400, &seconds) < 0) ||
	    (argc > 5 && fp_parse_uint(argv[5], 0, FP_SERVE_VIEWERS_MAX, &max_viewers) < 0) ||
	    (argc > 6 && strcmp(argv[6], "view-only") != 0)) {
		fprintf(stderr, "usage: fp-serve-peer FILE.h264 [LISTEN [FPS [SECONDS "
				"[MAX_VIEWERS [view-only]]]]]\n");
		return 2;
	}
	data = fpt_read_file(argv[1], &n);
	n_aus = data ? split(data, n, aus, FP_ARRAY_LEN(aus)) : 0;
	if (!n_aus || !aus[0].key) {
		fprintf(stderr, "fp-serve-peer: %s: no access units starting at a keyframe\n", argv[1]);
		free(data);
		return 1;
	}
	struct fp_serve_opts opts = { .listen = argc > 2 ? argv[2] : "127.0.0.1:0",
				      .keyframe = keyframe_cb, .input = input_cb,
				      .user = (void *)&want_key, .bitrate_kbps = 4000,
				      .max_viewers = (unsigned)max_viewers, .view_only = argc > 6,
				      .tls_cert = getenv("FP_SERVE_PEER_TLS_CERT"),
				      .tls_key = getenv("FP_SERVE_PEER_TLS_KEY") };
	if (fp_serve_create(&s, &opts) < 0) {
		free(data);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("url %s\n", fp_serve_url(s));
	fflush(stdout);
	rc = run(s, data, aus, n_aus, fps, seconds, &want_key);
	print_stats(s);
	fp_serve_destroy(s);
	free(data);
	return rc;
}
