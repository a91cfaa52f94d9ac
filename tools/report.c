/* framepush's reports: the status line, the summary and the stats JSON. */
#include "report.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "framepush/capture.h"

#define STATUS_WIDTH 80

/* Appends " part" to buf when the whole line stays within width. */
static void add_part(char *buf, size_t cap, size_t width, const char *part)
{
	size_t n = strlen(buf), p = strlen(part);

	if (!p || n + 2 + p > width || n + 2 + p >= cap)
		return;
	memcpy(buf + n, "  ", 2);
	memcpy(buf + n + 2, part, p + 1);
}

void report_status_line(const struct fp_session_progress *p, const char *viewers, char *buf,
			size_t cap, size_t width)
{
	char part[96];

	/* In order of importance: time, rate and latency always; then the serve viewers, the
	 * counters that say frames went missing, the encoder's preset, recreates. */
	snprintf(buf, cap, "%6.1fs %5.1f fps %6.0f kbit/s lat %.1f/%.1f ms", p->seconds, p->fps,
		 p->bitrate_kbps, (double)p->latency.p50_ns / 1e6, (double)p->latency.p99_ns / 1e6);
	if (strlen(buf) > width)
		buf[width] = '\0';
	snprintf(part, sizeof(part), "rep/drop/skip %llu/%llu/%llu",
		 (unsigned long long)p->frames_repeated, (unsigned long long)p->frames_dropped,
		 (unsigned long long)p->ticks_skipped);
	add_part(buf, cap, width, viewers ? viewers : "");
	add_part(buf, cap, width, part);
	add_part(buf, cap, width, p->preset);
	if (p->recreates) {
		snprintf(part, sizeof(part), "recreates %llu", (unsigned long long)p->recreates);
		add_part(buf, cap, width, part);
	}
}

static size_t terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 && ws.ws_col < STATUS_WIDTH)
		return ws.ws_col - 1;
	return STATUS_WIDTH - 1; /* the cursor sits after the line: one column for it */
}

void report_progress(const struct fp_session_progress *p, void *user)
{
	char line[256], viewers[96] = "";

	if (user)
		serve_glue_status(user, viewers, sizeof(viewers));
	report_status_line(p, viewers, line, sizeof(line), terminal_width());
	/* Erase to the end: a shorter line leaves nothing of the previous one behind. */
	fprintf(stderr, "\r%s\033[K", line);
}

/* ", N what" onto buf when n is not 0. */
static void add_count(char *buf, size_t cap, uint64_t n, const char *what)
{
	size_t len = strlen(buf);

	if (n && len < cap)
		snprintf(buf + len, cap - len, ", %llu %s", (unsigned long long)n, what);
}

void report_summary(const struct cli *c, const struct fp_session_result *res, int r)
{
	const struct fp_capture_stats *s = &res->capture;
	const char *where = res->first_target[0] ? res->first_target
			    : c->so.target ? c->so.target : "the viewers";

	if (!strcmp(where, "-"))
		where = "standard output";
	double secs = res->seconds;
	char extra[160];

	if (r < 0 && res->packets == 0 && res->frames_encoded == 0) {
		fprintf(stdout, "framepush: nothing was delivered to %s\n", where);
		return;
	}
	/* The integrity counters only when they are not zero: a clean run's summary stays
	 * short enough to read. */
	extra[0] = '\0';
	add_count(extra, sizeof(extra), s->recreates, "recreates");
	add_count(extra, sizeof(extra), s->stale_rejected, "stale rejected");
	add_count(extra, sizeof(extra), s->busy_skipped, "busy skipped");
	add_count(extra, sizeof(extra), s->signature_failures, "signature failures");
	fprintf(stdout,
		"framepush: %llu frames in %.2f s (%.2f fps): %llu fresh, %llu repeated, %llu dropped, "
		"%llu ticks skipped%s; %.0f kbit/s, latency p50 %.1f ms p99 %.1f ms -> %s%s\n",
		(unsigned long long)s->frames_out, secs, secs > 0 ? (double)s->frames_out / secs : 0.0,
		(unsigned long long)s->frames_fresh, (unsigned long long)s->frames_repeated,
		(unsigned long long)res->frames_dropped, (unsigned long long)res->ticks_skipped, extra,
		secs > 0 ? (double)res->bytes * 8 / 1000 / secs : 0.0,
		(double)res->latency.p50_ns / 1e6, (double)res->latency.p99_ns / 1e6,
		where, res->segments > 1 ? " (+ more segments)" : "");
}

void report_serve_summary(struct serve_glue *g)
{
	struct fp_serve_stats st;

	fp_serve_stats(g->srv, &st);
	printf("framepush: served %llu viewer%s (%llu refused); %llu keyframes requested; input "
	       "%llu forwarded, %llu refused\n", (unsigned long long)st.viewers_total,
	       st.viewers_total == 1 ? "" : "s", (unsigned long long)st.refused,
	       (unsigned long long)st.keyframes_requested, (unsigned long long)st.input_forwarded,
	       (unsigned long long)st.input_refused);
}

static void json_string(FILE *f, const char *key, const char *v, int last)
{
	fprintf(f, "  \"%s\": ", key);
	if (!v || !*v) {
		fputs("null", f);
	} else {
		fputc('"', f);
		for (const char *p = v; *p; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', f);
			if ((unsigned char)*p >= 0x20)
				fputc(*p, f);
		}
		fputc('"', f);
	}
	fputs(last ? "\n" : ",\n", f);
}

static void json_counters(FILE *f, const struct fp_session_result *r)
{
	const struct fp_capture_stats *s = &r->capture;

	fprintf(f,
		"{\n  \"frames_out\": %llu,\n  \"frames_fresh\": %llu,\n  \"frames_repeated\": %llu,\n"
		"  \"frames_dropped\": %llu,\n  \"ticks_skipped\": %llu,\n  \"frames_encoded\": %llu,\n  \"stale_rejected\": %llu,\n"
		"  \"busy_skipped\": %llu,\n  \"recreates\": %llu,\n  \"signature_failures\": %llu,\n"
		"  \"kicks\": %llu,\n  \"abandoned_slots\": %llu,\n  \"junk_messages\": %llu,\n"
		"  \"source_restarts\": %llu,\n"
		"  \"packets\": %llu,\n"
		"  \"bytes\": %llu,\n  \"segments\": %u,\n  \"seconds\": %.3f,\n  \"fps\": %.3f,\n"
		"  \"bitrate_kbps\": %.1f,\n  \"latency_p50_ms\": %.3f,\n  \"latency_p99_ms\": %.3f,\n"
		"  \"latency_max_ms\": %.3f,\n  \"source_status\": \"%s\",\n  \"source_detail\": %u,\n"
		"  \"preset_steps_faster\": %llu,\n  \"preset_steps_slower\": %llu,\n",
		(unsigned long long)s->frames_out, (unsigned long long)s->frames_fresh,
		(unsigned long long)s->frames_repeated, (unsigned long long)r->frames_dropped,
		(unsigned long long)r->ticks_skipped, (unsigned long long)r->frames_encoded, (unsigned long long)s->stale_rejected,
		(unsigned long long)s->busy_skipped, (unsigned long long)s->recreates,
		(unsigned long long)s->signature_failures, (unsigned long long)s->kicks,
		(unsigned long long)s->abandoned_slots, (unsigned long long)s->junk_messages,
		(unsigned long long)s->source_restarts,
		(unsigned long long)r->packets,
		(unsigned long long)r->bytes, r->segments, r->seconds,
		r->seconds > 0 ? (double)s->frames_out / r->seconds : 0.0,
		r->seconds > 0 ? (double)r->bytes * 8 / 1000 / r->seconds : 0.0,
		(double)r->latency.p50_ns / 1e6, (double)r->latency.p99_ns / 1e6,
		(double)r->latency.max_ns / 1e6, fp_source_status_name(s->source_status),
		s->source_detail, (unsigned long long)r->preset_steps_faster,
		(unsigned long long)r->preset_steps_slower);
}

int report_stats_json(const char *path, const struct fp_session_result *r,
		      struct serve_glue *serve)
{
	FILE *f = fopen(path, "we");
	int err;

	if (!f) {
		err = errno;
		fprintf(stderr, "framepush: cannot write stats to %s: %s\n", path, strerror(err));
		return -err;
	}
	json_counters(f, r);
	if (serve)
		serve_glue_json(serve, f);
	/* What was written, not what was asked for: HDR turns h264 into hevc, .y4m is raw. */
	json_string(f, "codec", r->codec, 0);
	json_string(f, "last_codec", r->last_codec, 0);
	json_string(f, "encoder", r->encoder, 0);
	json_string(f, "preset", r->preset_first, 0);
	json_string(f, "last_preset", r->preset_last, 0);
	json_string(f, "target", r->first_target, 0);
	json_string(f, "last_target", r->last_target, 0);
	json_string(f, "error", r->error, 1);
	fputs("}\n", f);
	err = ferror(f) ? EIO : 0;
	if (fclose(f) != 0 && !err)
		err = errno;
	if (err) {
		fprintf(stderr, "framepush: writing stats to %s failed: %s\n", path, strerror(err));
		return -err;
	}
	return 0;
}
