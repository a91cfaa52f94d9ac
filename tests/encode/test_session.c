/* framepush session tests: the whole pipeline (real framepush-source, capturer, encoder,
 * muxer) driven through fp_session_run, checked with ffprobe.
 *
 * Usage: test_session FFMPEG FFPROBE [GROUP]
 * Waits are bounded by the session's own duration; the only time bound asserted is a lower
 * one (a 2 s session must not end early), never a speed. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "encode_test_util.h"
#include "framepush/session.h"
#include "harness.h"
#include "framepush/encode.h"

#define OUT_FPS 30
#define PERIOD_90K (90000 / OUT_FPS)

static char source_exe[4096];

static struct fp_session_opts base_opts(const char *target, uint32_t source_fps, double seconds)
{
	struct fp_session_opts o = {
		.capture = { .source_exe = source_exe, .backend = "test", .width = 320, .height = 180,
			     .fps = source_fps, .verify_signatures = 1, .convert_threads = 1 },
		.output_fps = OUT_FPS,
		.target = target,
		.codec = FP_CODEC_H264,
		.duration = seconds,
	};
	return o;
}

struct packet {
	long long pts;
	int key;
};

/* Video packets of path (pts in 90 kHz for .ts), in file order. Returns the count. */
static size_t packets_of(const char *path, struct packet *p, size_t cap)
{
	char *argv[] = { (char *)etu_ffprobe(), (char *)"-v", (char *)"error", (char *)"-select_streams",
			 (char *)"v:0", (char *)"-show_entries", (char *)"packet=pts,flags",
			 (char *)"-of", (char *)"csv=p=0", (char *)path, NULL };
	char *out = malloc(1 << 20), *line, *save = NULL;
	size_t n = 0;

	assert_non_null(out);
	assert_int_equal(fpt_run(argv, out, 1 << 20, 30000), 0);
	for (line = strtok_r(out, "\n", &save); line && n < cap; line = strtok_r(NULL, "\n", &save)) {
		char flags[16] = "";

		if (sscanf(line, "%lld,%15s", &p[n].pts, flags) >= 1) {
			p[n].key = flags[0] == 'K';
			n++;
		}
	}
	free(out);
	return n;
}

/* A source publishing 4x faster than the output rate (a 120 Hz compositor, 30 fps out):
 * each tick takes the newest frame, so 2 s of output take 2 s of wall time, the source's
 * extra frames count as dropped and the timestamps sit on the 30 fps grid. */
static void fast_source_paced(void **state)
{
	struct fp_session_result res;
	struct fp_session_opts o;
	struct packet pk[256];
	char path[512];
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/fast.ts", fpt_tmp);
	o = base_opts(path, 120, 2.0);
	assert_int_equal(fp_session_run(&o, &res), 0);
	fprintf(stderr, "fast source: %llu encoded, %llu skipped, %llu dropped in %.3f s\n",
		(unsigned long long)res.frames_encoded, (unsigned long long)res.ticks_skipped,
		(unsigned long long)res.frames_dropped, res.seconds);
	/* Every one of the 60 ticks is accounted for: a frame, or skipped because behind. */
	assert_int_equal(res.frames_encoded + res.ticks_skipped, 2 * OUT_FPS);
	/* Ticks are 1/30 s apart: the last of 60 is due at 59/30 s. Taking frames as fast as
	 * the source makes them would end after about 0.5 s. */
	assert_true(res.seconds >= (2.0 * OUT_FPS - 1) / OUT_FPS - 0.01);
	assert_true(res.frames_dropped >= res.frames_encoded);
	n = packets_of(path, pk, 256);
	assert_int_equal(n, res.frames_encoded);
	for (size_t i = 1; i < n; i++) {
		long long gap = pk[i].pts - pk[i - 1].pts;

		/* One tick, or a whole number of them where ticks were skipped. */
		if (llabs(gap - PERIOD_90K * llround((double)gap / PERIOD_90K)) > 1 || gap < PERIOD_90K - 1)
			fail_msg("packet %zu: pts step %lld, not a multiple of %d", i, gap, PERIOD_90K);
		if (!res.ticks_skipped && llabs(gap - PERIOD_90K) > 1)
			fail_msg("packet %zu: pts step %lld with no tick skipped", i, gap);
	}
}

struct stall {
	int stalled;
	struct fp_session *session;
	int keyframe_at_progress; /* request a keyframe from the nth progress call (0: never) */
	int progress_calls;
};

static void on_started(struct fp_session *s, void *user)
{
	((struct stall *)user)->session = s;
}

/* Runs on the capture thread: a one-off 400 ms stall there (a scheduler hiccup, a slow
 * convert) puts the loop about 12 ticks behind. */
static void on_progress_stall(const struct fp_session_progress *p, void *user)
{
	struct stall *st = user;
	struct timespec ts = { 0, 400 * 1000 * 1000 };

	(void)p;
	if (st->stalled++ == 0)
		nanosleep(&ts, NULL); /* the event under test is the stall itself */
}

/* Behind the output clock: the ticks already past are skipped and counted, and the ones
 * encoded keep their place on the grid, so the stream stays in wall-clock time. */
static void stall_skips_ticks(void **state)
{
	struct fp_session_result res;
	struct fp_session_opts o;
	struct stall st = { 0 };
	struct packet pk[256];
	char path[512];
	long long big = 0;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/stall.ts", fpt_tmp);
	o = base_opts(path, OUT_FPS, 2.0);
	o.progress = on_progress_stall;
	o.user = &st;
	assert_int_equal(fp_session_run(&o, &res), 0);
	fprintf(stderr, "stall: %llu encoded, %llu skipped in %.3f s\n",
		(unsigned long long)res.frames_encoded, (unsigned long long)res.ticks_skipped,
		res.seconds);
	assert_true(st.stalled > 0);
	assert_int_equal(res.frames_encoded + res.ticks_skipped, 2 * OUT_FPS);
	/* 400 ms is 12 ticks; the stall runs within a tick, so at least 10 are gone. */
	assert_true(res.ticks_skipped >= 10);
	n = packets_of(path, pk, 256);
	assert_int_equal(n, res.frames_encoded);
	for (size_t i = 1; i < n; i++) {
		long long gap = pk[i].pts - pk[i - 1].pts;

		if (gap > big)
			big = gap;
	}
	fprintf(stderr, "stall: largest pts step %lld (%.1f ticks)\n", big, (double)big / PERIOD_90K);
	assert_true(big >= 10 * PERIOD_90K);
}

static void on_progress_keyframe(const struct fp_session_progress *p, void *user)
{
	struct stall *st = user;

	(void)p;
	if (++st->progress_calls == st->keyframe_at_progress)
		fp_session_request_keyframe(st->session);
}

/* fp_session_request_keyframe from the capture thread (the encoder runs on its own):
 * with a GOP longer than the session, the only keyframes are the first and the requested
 * one. */
static void session_keyframe(void **state)
{
	struct fp_session_result res;
	struct fp_session_opts o;
	struct stall st = { .keyframe_at_progress = 1 };
	struct packet pk[256];
	char path[512];
	unsigned keys = 0;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/key.ts", fpt_tmp);
	o = base_opts(path, OUT_FPS, 2.0);
	o.keyint = 1000;
	o.started = on_started;
	o.progress = on_progress_keyframe;
	o.user = &st;
	assert_int_equal(fp_session_run(&o, &res), 0);
	assert_true(st.progress_calls >= 1);
	n = packets_of(path, pk, 256);
	for (size_t i = 0; i < n; i++) {
		if (pk[i].key)
			fprintf(stderr, "keyframe at packet %zu of %zu\n", i, n);
		keys += (unsigned)pk[i].key;
	}
	assert_true(n > 0 && pk[0].key);
	assert_int_equal(keys, 2);
}

/* What a packet consumer (serve) was handed. */
struct consumer {
	FILE *f;                  /* the access units, concatenated: an Annex B stream */
	size_t aus, keys, keys_with_sps;
	int64_t last_capture_ns;
	int out_of_order;
	uint8_t first_sps[4];     /* NAL header, profile_idc, constraint flags, level_idc */
	struct fp_session *session;
	size_t key_request_at;    /* ask for a keyframe after this many AUs */
};

/* The first NAL unit of an Annex B access unit (after its start code), or NULL. */
static const uint8_t *first_nal(const uint8_t *d, size_t n, size_t *left)
{
	size_t i = 0;

	while (i + 3 < n && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1))
		i++;
	if (i + 3 >= n)
		return NULL;
	*left = n - i - 3;
	return d + i + 3;
}

static int consume(void *user, const uint8_t *data, size_t size, int64_t capture_ns, bool key)
{
	struct consumer *c = user;
	size_t left = 0;
	const uint8_t *nal = first_nal(data, size, &left);

	fwrite(data, 1, size, c->f);
	if (capture_ns <= c->last_capture_ns)
		c->out_of_order++;
	c->last_capture_ns = capture_ns;
	if (key) {
		c->keys++;
		/* AUD (9) may come first; the SPS (7) must be in the AU. */
		for (; nal && left > 4; nal = first_nal(nal, left, &left)) {
			if ((nal[0] & 0x1f) != 7)
				continue;
			c->keys_with_sps++;
			if (!c->first_sps[0])
				memcpy(c->first_sps, nal, 4);
			break;
		}
	}
	if (++c->aus == c->key_request_at && c->session)
		fp_session_request_keyframe(c->session);
	return 0;
}

static void on_started_consumer(struct fp_session *s, void *user)
{
	((struct consumer *)user)->session = s;
}

/* serve's path: no target; each access unit to a function, with its capture time, parameter
 * sets before every keyframe (a viewer joins at one), constrained baseline when asked, and a
 * keyframe on request mid-stream. The units together are a stream ffmpeg decodes whole. */
static void packets_to_consumer(void **state)
{
	struct consumer c = { .key_request_at = 20 };
	struct fp_packet_consumer pc = { .name = "test consumer", .write = consume, .user = &c };
	struct fp_session_result res;
	struct fp_session_opts o;
	char path[512], frames[64];

	(void)state;
	snprintf(path, sizeof(path), "%s/consumer.h264", fpt_tmp);
	c.f = fopen(path, "wbe");
	assert_non_null(c.f);
	o = base_opts(NULL, OUT_FPS, 1.5);
	o.packets = &pc;
	o.constrained_baseline = 1;
	o.keyint = 1000;
	o.profile = FP_PROFILE_LIVE;
	o.started = on_started_consumer;
	o.user = &c;
	assert_int_equal(fp_session_run(&o, &res), 0);
	fclose(c.f);
	fprintf(stderr, "consumer: %zu units, %zu keyframes (%zu with SPS), sps %02x %02x %02x %02x\n",
		c.aus, c.keys, c.keys_with_sps, c.first_sps[0], c.first_sps[1], c.first_sps[2],
		c.first_sps[3]);
	assert_int_equal(c.aus, res.frames_encoded);
	assert_true(c.aus > 20);
	assert_int_equal(c.out_of_order, 0);
	/* The first unit and the one asked for; keyint 1000 makes no others. */
	assert_true(c.keys >= 2);
	assert_int_equal(c.keys_with_sps, c.keys);
	/* profile_idc 66 with constraint_set1: constrained baseline. */
	assert_int_equal(c.first_sps[1], 66);
	assert_true(c.first_sps[2] & 0x40);
	assert_string_equal(res.first_target, "test consumer");
	{
		char *argv[] = { (char *)etu_ffprobe(), (char *)"-v", (char *)"error", (char *)"-count_frames",
				 (char *)"-select_streams", (char *)"v:0", (char *)"-show_entries",
				 (char *)"stream=nb_read_frames", (char *)"-of", (char *)"csv=p=0", path, NULL };

		assert_int_equal(fpt_run(argv, frames, sizeof(frames), 30000), 0);
		assert_int_equal(strtol(frames, NULL, 10), (long)c.aus);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fast_source_paced),
		cmocka_unit_test(stall_skips_ticks),
		cmocka_unit_test(session_keyframe),
		cmocka_unit_test(packets_to_consumer),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s FFMPEG FFPROBE [GROUP]\n", argv[0]);
		return 2;
	}
	etu_set_tools(argv[1], argv[2]);
	if (argc > 3 && fpt_select_test("test_session", tests, sizeof(tests) / sizeof(tests[0]), argv[3]) < 0)
		return 1;
	fp_log_init("test-session");
	fp_encode_route_av_log();
	fpt_build_path("tools/framepush-source", source_exe, sizeof(source_exe));
	return cmocka_run_group_tests(tests, fpt_group_setup, fpt_group_teardown);
}
