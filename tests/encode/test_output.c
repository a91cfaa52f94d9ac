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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_target),
	};

	fp_log_init("test_output");
	if (argc > 2)
		etu_set_tools(argv[1], argv[2]);
	if (argc > 3) {
		size_t i = 0;

		/* A filter that names no test would run nothing and "pass". */
		while (i < FP_ARRAY_LEN(tests) && strcmp(tests[i].name, argv[3]))
			i++;
		if (i == FP_ARRAY_LEN(tests)) {
			fprintf(stderr, "test_output: no test named '%s'\n", argv[3]);
			return 1;
		}
		cmocka_set_test_filter(argv[3]);
	}
	/* A reader that closes the pipe must surface as -EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	fp_encode_route_av_log();
	return cmocka_run_group_tests(tests, fpt_group_setup, fpt_group_teardown);
}
