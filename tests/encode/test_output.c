/* framepush output tests: target checks, and "-" (stdout) read through a pipe by ffmpeg.
 *
 * Usage: test_output FFMPEG FFPROBE [NAME]   (NAME: one test)
 * Every child process has a deadline; nothing asserts on elapsed time.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>

#include "common/log.h"
#include "common/util.h"
#include "encode_test_util.h"
#include "harness.h"
#include "framepush/encode.h"
#include "framepush/output.h"

/* LeakSanitizer: x265 3.5 leaks FrameFilter buffers at encoder close (inside libx265). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libx265.so\n";
}

/* ---- fp_output_check_target ---- */

struct target_case {
	const char *target;
	int kind;           /* > 0: accepted as this kind; -EINVAL: refused */
	const char *names;  /* refused: what the message must say besides the common part */
};

static const struct target_case target_cases[] = {
	{ "out.mkv", FP_OUTPUT_FILE_MKV, NULL },
	{ "a.b/out.MKV", FP_OUTPUT_FILE_MKV, NULL },
	{ "dir/x.mp4", FP_OUTPUT_FILE_MP4, NULL },
	{ "x.ts", FP_OUTPUT_FILE_TS, NULL },
	{ "raw.y4m", FP_OUTPUT_FILE_Y4M, NULL },
	{ "-", FP_OUTPUT_STDOUT_TS, NULL },
	{ "srt://h:1", FP_OUTPUT_SRT, NULL },
	{ "srt://127.0.0.1:9000?latency=200000", FP_OUTPUT_SRT, NULL },
	{ "srt://:9000?mode=listener", FP_OUTPUT_SRT, NULL },
	{ "srt://[::1]:9000", FP_OUTPUT_SRT, NULL },
	{ "udp://239.0.0.1:5000?ttl=2", FP_OUTPUT_UDP, NULL },
	{ "rtp://127.0.0.1:65535", FP_OUTPUT_RTP, NULL },
	{ "rtsp://server:8554/live", FP_OUTPUT_RTSP, NULL },
	{ "rtsp://user:pw@server/live", FP_OUTPUT_RTSP, NULL },
	{ "x.avi", -EINVAL, ".avi files are not written" },
	{ "x.webm", -EINVAL, ".webm files are not written" },
	{ "recording", -EINVAL, "no file extension" },
	{ "a.b/recording", -EINVAL, "no file extension" },
	{ "x.", -EINVAL, "no file extension" },
	{ "", -EINVAL, "no target given" },
	{ "http://h:80/x", -EINVAL, "no http:// output" },
	{ "rtmp://h/live", -EINVAL, "no rtmp:// output" },
	{ "SRT://h:9000", -EINVAL, "write it in lower case, srt:// (libavformat does not take 'SRT://')" },
	{ "Udp://h:9000", -EINVAL, "lower case, udp://" },
	{ "srt://:9000", -EINVAL, "the host is missing" },
	{ "udp://:5000", -EINVAL, "the host is missing" },
	{ "rtsp:///live", -EINVAL, "the host is missing" },
	{ "srt://h", -EINVAL, "the port is missing" },
	{ "srt://h:", -EINVAL, "the port is missing" },
	{ "rtp://h:0", -EINVAL, "port '0' is not a number 1..65535" },
	{ "srt://h:99999", -EINVAL, "port '99999' is not a number 1..65535" },
	{ "udp://h:x", -EINVAL, "port 'x' is not a number 1..65535" },
	{ "udp://h:+80", -EINVAL, "port '+80' is not a number 1..65535" },
	{ "udp://h:123456789", -EINVAL, "port '123456789' is not a number 1..65535" },
	{ "srt://[::1:9000", -EINVAL, "IPv6" },
};

static void check_target(void **state)
{
	static const char common[] =
		"write a .mkv, .mp4, .ts or .y4m file, - (stdout, MPEG-TS or Matroska), or "
		"srt://HOST:PORT, udp://HOST:PORT, rtp://HOST:PORT, rtsp://HOST[:PORT]/PATH";

	(void)state;
	for (size_t i = 0; i < FP_ARRAY_LEN(target_cases); i++) {
		const struct target_case *c = &target_cases[i];
		char why[512] = "untouched", head[256];
		int r = fp_output_check_target(c->target, why, sizeof(why));

		fprintf(stderr, "%-40s -> %d %s\n", c->target, r, why);
		assert_int_equal(r, c->kind);
		if (r > 0) {
			assert_string_equal(why, "");
			continue;
		}
		snprintf(head, sizeof(head), "unsupported target '%s': ", c->target);
		assert_memory_equal(why, head, strlen(head));
		assert_non_null(strstr(why, c->names));
		/* One line, ending with every supported kind. */
		assert_null(strchr(why, '\n'));
		assert_true(strlen(why) > strlen(common));
		assert_string_equal(why + strlen(why) - strlen(common), common);
	}
	/* why may be NULL; fp_output_kind_of agrees (and logs). */
	assert_int_equal(fp_output_check_target("x.avi", NULL, 0), -EINVAL);
	assert_int_equal(fp_output_kind_of("SRT://h:1"), -EINVAL);
	assert_int_equal(fp_output_kind_of("srt://h:1"), FP_OUTPUT_SRT);
	/* A name too long for a path is refused before anything opens it. */
	{
		static char longname[8192];

		memset(longname, 'a', sizeof(longname) - 5);
		memcpy(longname + sizeof(longname) - 5, ".mkv", 5);
		assert_int_equal(fp_output_check_target(longname, NULL, 0), -EINVAL);
	}
}


/* ---- "-": stdout through a pipe ---- */

#define W 320
#define H 240
#define FPS 30

static struct fp_encoder_config config(enum fp_codec codec, bool hdr, uint32_t w, uint32_t h)
{
	struct fp_encoder_config c;

	fp_encoder_config_defaults(&c, codec, w, h, FPS);
	c.hdr = hdr;
	c.format = hdr ? FP_YUV_P010 : FP_YUV_NV12;
	c.threads = 2;
	return c;
}

/* A reader of this process's stdout: argv started on the read end of a pipe whose write end
 * becomes fd 1 here (the original kept for pipe_restore). */
struct reader {
	pid_t pid;
	int saved_stdout;
};

static void pipe_start(struct reader *r, char *const argv[])
{
	int pfd[2];

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	fflush(stdout);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		dup2(pfd[0], STDIN_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[0]);
	r->saved_stdout = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	assert_true(r->saved_stdout >= 0);
	assert_true(dup2(pfd[1], STDOUT_FILENO) >= 0);
	close(pfd[1]);
}

/* Puts the test's own stdout back and waits for the reader; its exit code. */
static int pipe_finish(struct reader *r)
{
	assert_true(dup2(r->saved_stdout, STDOUT_FILENO) >= 0);
	close(r->saved_stdout);
	return fpt_exit_code(fpt_wait(r->pid, 30000));
}

/* ffmpeg decoding stdin: one framemd5 line per decoded frame into md5, errors into err. */
static void start_decoder(struct reader *r, char *md5, char *err, const char *name)
{
	char cmd[1200];
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", cmd, NULL };

	snprintf(md5, 512, "%s/%s.md5", fpt_tmp, name);
	snprintf(err, 512, "%s/%s.err", fpt_tmp, name);
	snprintf(cmd, sizeof(cmd), "exec '%s' -v error -i - -f framemd5 '%s' 2>'%s'", etu_ffmpeg(),
		 md5, err);
	pipe_start(r, argv);
}

/* Frames in a framemd5 file, and whether the decoder's error file stayed empty. */
static unsigned decoded_frames(const char *md5, const char *err)
{
	size_t n = 0, elen = 0;
	uint8_t *m = fpt_read_file(md5, &n), *e = fpt_read_file(err, &elen);
	unsigned frames = 0;

	assert_non_null(m);
	if (e && elen)
		fprintf(stderr, "decoder errors: %.*s\n", (int)elen, (const char *)e);
	assert_true(!e || elen == 0);
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || m[i - 1] == '\n') && m[i] != '#' && m[i] != '\n')
			frames++;
	free(m);
	free(e);
	return frames;
}

/* n pattern frames from e into o (pts from frame first on), flushed; every write must give
 * want (0, or the error the output ended with). Returns the packets written. */
static unsigned encode_n(struct fp_encoder *e, struct fp_output *o, unsigned first, unsigned n,
			 int want)
{
	const struct fp_encoder_config *c = fp_encoder_config(e);
	AVPacket *pkt = av_packet_alloc();
	struct fp_yuv_frame f;
	unsigned written = 0;
	int r;

	assert_non_null(pkt);
	assert_int_equal(fp_yuv_frame_alloc(&f, c->format, c->width, c->height), 0);
	for (unsigned i = 0; i <= n; i++) {
		if (i < n) {
			etu_fill_pattern(&f, first + i);
			f.pts_ns = (int64_t)(first + i) * FP_NSEC_PER_SEC / FPS;
			assert_int_equal(fp_encoder_submit(e, &f), 0);
		} else {
			assert_int_equal(fp_encoder_flush(e), 0);
		}
		while ((r = fp_encoder_receive(e, pkt)) == 0) {
			int w = fp_output_write(o, pkt);

			av_packet_unref(pkt);
			if (w == 0)
				written++;
			else
				assert_int_equal(w, want);
		}
		assert_true(r == -EAGAIN || r == -ENODATA);
	}
	fp_yuv_frame_free(&f);
	av_packet_free(&pkt);
	return written;
}

/* One stream to stdout across a switch from cfg a to cfg b: switch_ret is what the switch must
 * return; then the frames ffmpeg decoded from the pipe must be want_frames. */
static void stdout_case(const char *name, const char *format, const struct fp_encoder_config *a,
			const struct fp_encoder_config *b, int switch_ret, const char *failure,
			unsigned want_frames)
{
	struct fp_output_options opt = { .stdout_format = format };
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	enum fp_output_switch_mode mode = 0;
	struct reader rd;
	char md5[512], err[512];

	start_decoder(&rd, md5, err, name);
	assert_int_equal(fp_encoder_create(&e, a), 0);
	assert_int_equal(fp_output_open(&o, "-", e, &opt), 0);
	assert_int_equal(fp_output_kind(o), format && !strcmp(format, "mkv") ? FP_OUTPUT_STDOUT_MKV
									    : FP_OUTPUT_STDOUT_TS);
	/* The stream has its own descriptor now: fd 1 writes land on stderr, not in it. */
	printf("stray line on stdout while streaming\n");
	fflush(stdout);
	assert_int_equal(encode_n(e, o, 0, 30, 0), 30);
	fp_encoder_destroy(e);
	assert_int_equal(fp_encoder_create(&e, b), 0);
	assert_int_equal(fp_output_switch(o, e, &mode), switch_ret);
	fprintf(stderr, "%s: switch %d, failure: '%s'\n", name, switch_ret, fp_output_failure(o));
	if (switch_ret == 0) {
		assert_int_equal(mode, FP_SWITCH_INBAND);
		assert_string_equal(fp_output_failure(o), "");
		assert_int_equal(encode_n(e, o, 30, 30, 0), 30);
	} else {
		assert_non_null(strstr(fp_output_failure(o), failure));
		assert_int_equal(encode_n(e, o, 30, 5, switch_ret), 0); /* the output stays dead */
	}
	assert_int_equal(fp_output_close(o), switch_ret);
	fp_encoder_destroy(e);
	assert_int_equal(pipe_finish(&rd), 0);
	assert_int_equal(decoded_frames(md5, err), want_frames);
}

static void stdout_ts(void **state)
{
	struct fp_encoder_config a = config(FP_CODEC_H264, false, W, H);
	struct fp_encoder_config b = config(FP_CODEC_H264, false, 240, 180);

	(void)state;
	/* Default format MPEG-TS; a size change of the same codec goes on in-band. */
	stdout_case("ts-resize", NULL, &a, &b, 0, NULL, 60);
}

static void stdout_ts_codec_change(void **state)
{
	struct fp_encoder_config sdr = config(FP_CODEC_H264, false, W, H);
	struct fp_encoder_config hdr = config(FP_CODEC_HEVC, true, W, H);
	struct fp_encoder_config hevc = config(FP_CODEC_HEVC, false, W, H);

	(void)state;
	/* h264 SDR -> hevc HDR: one TS cannot change codec; what was written still decodes. */
	stdout_case("ts-h264-hdr", "ts", &sdr, &hdr, -ENOTSUP,
		    "the stream on stdout changed codec (h264 320x240 nv12 -> hevc 320x240 "
		    "yuv420p10le), which one MPEG-TS stream cannot carry; --codec hevc keeps one "
		    "stream over SDR/HDR", 30);
	/* hevc SDR -> hevc HDR: the same stream goes on. */
	stdout_case("ts-hevc-hdr", "ts", &hevc, &hdr, 0, NULL, 60);
}

static void stdout_mkv(void **state)
{
	struct fp_encoder_config a = config(FP_CODEC_H264, false, W, H);
	struct fp_encoder_config same = config(FP_CODEC_H264, false, W, H);
	struct fp_encoder_config b = config(FP_CODEC_H264, false, 240, 180);

	(void)state;
	/* Live Matroska read from a pipe; the same picture from a new encoder goes on. */
	stdout_case("mkv-same", "mkv", &a, &same, 0, NULL, 60);
	/* Any picture change ends it, saying so; the first 30 frames are intact. */
	stdout_case("mkv-resize", "mkv", &a, &b, -ENOTSUP,
		    "the picture on stdout changed (h264 320x240 nv12 -> h264 240x180 nv12), which "
		    "one Matroska stream cannot carry", 30);
}

/* A reader that leaves after a few bytes: writing ends with -EPIPE and one plain account. */
static void stdout_reader_gone(void **state)
{
	struct fp_encoder_config cfg = config(FP_CODEC_H264, false, W, H);
	char *argv[] = { (char *)"head", (char *)"-c", (char *)"1000", NULL };
	struct fp_encoder *e = NULL;
	struct fp_output *o = NULL;
	struct reader rd;
	unsigned written = 0;

	(void)state;
	pipe_start(&rd, argv);
	assert_int_equal(fp_encoder_create(&e, &cfg), 0);
	assert_int_equal(fp_output_open(&o, "-", e, NULL), 0);
	/* head leaves after 1000 bytes; the pipe's buffer takes up to 64 KiB more before a write
	 * sees EPIPE, so go on (bounded) until it does. */
	for (unsigned k = 0; k < 100 && !fp_output_failure(o)[0]; k++) {
		written += encode_n(e, o, k * 10, 10, -EPIPE);
		fp_encoder_destroy(e);
		assert_int_equal(fp_encoder_create(&e, &cfg), 0);
		fp_output_switch(o, e, NULL);
	}
	fprintf(stderr, "reader gone after %u packets: '%s'\n", written, fp_output_failure(o));
	assert_string_equal(fp_output_failure(o), "the reader of stdout closed it");
	assert_int_equal(fp_output_close(o), -EPIPE);
	fp_encoder_destroy(e);
	assert_int_equal(pipe_finish(&rd), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_target),
		cmocka_unit_test(stdout_ts),
		cmocka_unit_test(stdout_ts_codec_change),
		cmocka_unit_test(stdout_mkv),
		cmocka_unit_test(stdout_reader_gone),
	};

	fp_log_init("test_output");
	if (argc > 2)
		etu_set_tools(argv[1], argv[2]);
	if (argc > 3 && fpt_select_test("test_output", tests, sizeof(tests) / sizeof(tests[0]), argv[3]) < 0)
		return 1;
	/* A reader that closes the pipe must surface as -EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	fp_encode_route_av_log();
	return cmocka_run_group_tests(tests, fpt_group_setup, fpt_group_teardown);
}
