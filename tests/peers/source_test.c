/* framepush-source-test — the test peer: framepush-source's command line and backends, with
 * a "test" backend that adds to the product's test pattern what only tests may have.
 *
 * Spec keys on top of the pattern's (src/sources/test.c):
 *   hostile=..., hostile-after=N, seed=N  attacks on the host (hostile.h)
 *   control=PATH   a FIFO the test made (mkfifo); one command a line, read while running:
 *                    desc W H xrgb8888|rgba16f   the display changes mode
 *                    idle 0|1, mute 0|1          the pattern's idle= and mute=, now
 *                    hold-slot                   announce the next frame but keep its slot
 *                                                (a wedged writer); publish nothing after
 *                  An unknown or malformed command ends the peer (exit 1): a typo in a test
 *                  must not quietly test something else.
 *   claim-target=N  claim display N in the hello (and check rings against it)
 *
 * Built only with the tests; never installed. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel/event.h"
#include "common/log.h"
#include "common/util.h"
#include "hostile.h"
#include "cli.h"
#include "spec.h"
#include "test.h"

#define WHAT "test peer"
#define CONTROL_LINE_MAX 128

/* The peer's keys, taken out of the spec; the rest goes to the pattern. */
struct peer_spec {
	struct fp_hostile_opts hostile;
	char *control;
	uint32_t claim_target; /* 0: not given */
	char *rest;            /* the pattern's pairs, "k=v,k=v" */
	size_t rest_cap;
};

struct fp_backend {
	struct fp_backend *pattern; /* the product's test backend (fp_backend_test) */
	struct fp_hostile *hostile;
	int control_fd;
	int control_keep_fd; /* a writer of our own: the FIFO never reads as closed (no POLLHUP
			      * spin) when the test closes its end between commands */
	char line[CONTROL_LINE_MAX];
	size_t line_len;
	int hold_requested, held;
};

static int take_key(void *user, const char *key, const char *val)
{
	struct peer_spec *s = user;
	size_t n;
	int r = fp_hostile_option(&s->hostile, key, val);

	if (r != -ENOENT)
		return r;
	if (!strcmp(key, "control")) {
		free(s->control);
		s->control = *val ? strdup(val) : NULL;
		return s->control ? 0 : -EINVAL;
	}
	if (!strcmp(key, "claim-target"))
		return fp_spec_u32(WHAT, key, val, 1, UINT32_MAX, &s->claim_target);
	/* rest_cap is the whole spec's length: the pairs go back as they came, never longer. */
	n = strlen(s->rest);
	snprintf(s->rest + n, s->rest_cap - n, "%s%s=%s", n ? "," : "", key, val);
	return 0;
}

static void peer_spec_free(struct peer_spec *s)
{
	free(s->control);
	free(s->rest);
}

/* Splits spec into the peer's keys and the pattern's; peer_spec_free after, also on error. */
static int split_spec(const char *spec, struct peer_spec *s)
{
	*s = (struct peer_spec){ .rest_cap = spec ? strlen(spec) + 1 : 1 };
	s->rest = calloc(1, s->rest_cap);
	if (!s->rest)
		return -ENOMEM;
	return fp_spec_parse(spec, WHAT, take_key, s);
}

/* --spec, split once in main (which needs claim-target before the backend runs) and read by
 * the backend below: a second split would log every error in it twice. */
static struct peer_spec peer_spec;
static int peer_spec_r; /* split_spec's result: a bad spec fails check_spec and create */

/* spec is the one main split (the command line's --spec). */
static int peer_check_spec(const char *spec)
{
	int r = peer_spec_r;

	(void)spec;
	if (r == 0)
		r = fp_backend_test.check_spec(peer_spec.rest);
	return r == -ENOENT ? -EINVAL : r;
}

/* Opened before the source attaches: the sandbox allows no open() after that. */
static int open_control(struct fp_backend *p, const char *path)
{
	struct stat st;

	p->control_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (p->control_fd < 0 || fstat(p->control_fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		fp_error("test peer: control=%s: %s", path,
			 p->control_fd < 0 ? strerror(errno) : "not a FIFO (mkfifo it)");
		return -EINVAL;
	}
	p->control_keep_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (p->control_keep_fd < 0) {
		fp_error("test peer: control=%s: cannot open a writer: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static void peer_destroy(struct fp_backend *p)
{
	if (!p)
		return;
	fp_hostile_destroy(p->hostile);
	fp_close(&p->control_keep_fd);
	fp_close(&p->control_fd);
	fp_backend_test.destroy(p->pattern);
	free(p);
}

static int peer_create(struct fp_backend **out, const struct fp_backend_args *args)
{
	struct fp_backend_args pattern_args = *args;
	struct fp_backend *p = calloc(1, sizeof(*p));
	const struct peer_spec *s = &peer_spec; /* args->spec, as main split it */
	int r;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->control_fd = p->control_keep_fd = -1;
	r = peer_spec_r == -ENOENT ? -EINVAL : peer_spec_r;
	pattern_args.spec = s->rest;
	if (r == 0)
		r = fp_backend_test.create(&p->pattern, &pattern_args);
	if (r == 0 && s->control)
		r = open_control(p, s->control);
	if (r == 0)
		r = fp_hostile_create(&p->hostile, &s->hostile);
	if (r < 0) {
		peer_destroy(p);
		return r;
	}
	*out = p;
	return 0;
}

static int cmd_desc(struct fp_backend *p, struct fp_source *src, char **arg)
{
	static const char *const formats[] = { "xrgb8888", "rgba16f", NULL };
	unsigned long long w, h;
	int hdr;

	if (fp_parse_uint(arg[0], FP_WIDTH_MIN, FP_WIDTH_MAX, &w) < 0 ||
	    fp_parse_uint(arg[1], FP_HEIGHT_MIN, FP_HEIGHT_MAX, &h) < 0 ||
	    fp_spec_choice(WHAT, "desc format", arg[2], formats, 0, &hdr) < 0)
		return -EINVAL;
	fp_test_pattern_set_mode(p->pattern, src, (uint32_t)w, (uint32_t)h, hdr);
	return 0;
}

static int cmd_idle(struct fp_backend *p, struct fp_source *src, char **arg)
{
	int on;

	(void)src;
	if (fp_spec_bool(WHAT, "idle", arg[0], &on) < 0)
		return -EINVAL;
	fp_test_pattern_set_idle(p->pattern, on);
	return 0;
}

static int cmd_mute(struct fp_backend *p, struct fp_source *src, char **arg)
{
	int on;

	(void)src;
	if (fp_spec_bool(WHAT, "mute", arg[0], &on) < 0)
		return -EINVAL;
	if (!p->held) /* a held slot is for good: the pattern stays muted */
		fp_test_pattern_set_mute(p->pattern, on);
	return 0;
}

static int cmd_hold_slot(struct fp_backend *p, struct fp_source *src, char **arg)
{
	(void)src;
	(void)arg;
	p->hold_requested = 1;
	return 0;
}

static const struct control_cmd {
	const char *name;
	int nargs;
	int (*run)(struct fp_backend *p, struct fp_source *src, char **arg);
} control_cmds[] = {
	{ "desc", 3, cmd_desc },
	{ "idle", 1, cmd_idle },
	{ "mute", 1, cmd_mute },
	{ "hold-slot", 0, cmd_hold_slot },
};

/* One control line; -EINVAL (logged) for anything but a known command, well formed. */
static int run_command(struct fp_backend *p, struct fp_source *src, const char *line)
{
	char copy[CONTROL_LINE_MAX], *word[5], *save = NULL;
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	for (char *t = strtok_r(copy, " \t", &save); t && n < 5; t = strtok_r(NULL, " \t", &save))
		word[n++] = t;
	for (size_t i = 0; n > 0 && i < FP_ARRAY_LEN(control_cmds); i++) {
		const struct control_cmd *c = &control_cmds[i];

		if (strcmp(word[0], c->name) || n != c->nargs + 1)
			continue;
		if (c->run(p, src, word + 1) < 0)
			break;
		fp_info("test peer: control: %s", line);
		return 0;
	}
	fp_error("test peer: control: bad command '%s' (desc W H xrgb8888|rgba16f, idle 0|1, "
		 "mute 0|1, hold-slot)", line);
	return -EINVAL;
}

/* Every whole line the FIFO has; a partial one waits for its end. */
static int read_control(struct fp_backend *p, struct fp_source *src)
{
	for (;;) {
		size_t room = sizeof(p->line) - 1 - p->line_len;
		ssize_t n = read(p->control_fd, p->line + p->line_len, room);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 0; /* cannot happen while we hold a writer; nothing to read anyway */
		p->line_len += (size_t)n;
		while ((nl = memchr(p->line, '\n', p->line_len))) {
			size_t used = (size_t)(nl - p->line) + 1;
			int r;

			*nl = '\0';
			r = run_command(p, src, p->line);
			if (r < 0)
				return r;
			memmove(p->line, p->line + used, p->line_len - used);
			p->line_len -= used;
		}
		if (p->line_len == sizeof(p->line) - 1) {
			fp_error("test peer: control: a line longer than %d bytes",
				 CONTROL_LINE_MAX - 2);
			return -EINVAL;
		}
	}
}

/* A writer wedged inside the slot the host is about to read. The frame is announced as a
 * publish would, but the slot word stays the source's, so the host finds the newest token's
 * slot held (and, once the source is killed, abandoned). */
static void hold_slot(struct fp_backend *p, struct fp_source *src, int slot)
{
	const struct fp_source_ring *ring = fp_source_ring(src);
	struct fp_status *st = fp_source_status_block(src);
	uint64_t token = fp_token_pack(ring->generation, fp_source_next_seq(src), (uint32_t)slot);
	int r;

	atomic_store_explicit((_Atomic uint64_t *)(void *)&st->latest, token, memory_order_release);
	r = fp_event_signal(ring->event_fd);
	if (r < 0 && r != -EAGAIN)
		fp_warn("test peer: cannot signal the held frame: %s", strerror(-r));
	p->held = 1;
	p->hold_requested = 0;
	fp_test_pattern_set_mute(p->pattern, 1); /* keeps its timer, publishes nothing */
	fp_info("test peer: holding published slot %d; publishing nothing more", slot);
}

static int peer_dispatch(struct fp_backend *p, struct fp_source *src)
{
	int slot, r = 0;

	if (p->control_fd >= 0 && read_control(p, src) < 0)
		return -EINVAL; /* the source ends: the test sees it at once */
	fp_hostile_dispatch(p->hostile, src);
	fp_hostile_frame_begin(p->hostile);
	slot = fp_test_pattern_draw(p->pattern, src);
	if (slot >= 0 && p->hold_requested)
		hold_slot(p, src, slot);
	else if (slot >= 0)
		r = fp_test_pattern_publish(p->pattern, src, slot);
	fp_hostile_frame_end(p->hostile, src, slot >= 0);
	if (slot < 0 || p->held || r < 0)
		return 0;
	fp_hostile_published(p->hostile);
	fp_test_pattern_published(p->pattern, src);
	return 0;
}

static void peer_describe(struct fp_backend *p, uint32_t *w, uint32_t *h, uint32_t *fmt)
{
	fp_backend_test.describe(p->pattern, w, h, fmt);
}

static int peer_fd(struct fp_backend *p)
{
	return p->control_fd;
}

static int64_t peer_next_wakeup(struct fp_backend *p)
{
	return fp_backend_test.next_wakeup_ns(p->pattern);
}

static int peer_ring_changed(struct fp_backend *p, const struct fp_source_ring *ring)
{
	fp_hostile_ring_changed(p->hostile, ring);
	return fp_backend_test.ring_changed(p->pattern, ring);
}

static void peer_kick(struct fp_backend *p)
{
	fp_backend_test.kick(p->pattern);
}

static const struct fp_backend_impl peer_backend_test = {
	.name = "test",
	.check_spec = peer_check_spec,
	.create = peer_create,
	.destroy = peer_destroy,
	.describe = peer_describe,
	.fd = peer_fd,
	.next_wakeup_ns = peer_next_wakeup,
	.dispatch = peer_dispatch,
	.ring_changed = peer_ring_changed,
	.kick = peer_kick,
};

int main(int argc, char **argv)
{
	struct fp_source_cli cli;
	int rc;

	fp_log_init("framepush-source-test");
	rc = fp_source_cli_parse(&cli, argc, argv);
	if (rc >= 0)
		return rc;
	if (!strcmp(cli.backend, "test")) {
		/* A bad spec is reported here, once; exec fails it in check_spec or create. */
		peer_spec_r = split_spec(cli.args.spec, &peer_spec);
		if (peer_spec_r == 0 && peer_spec.claim_target)
			cli.target_id = peer_spec.claim_target;
		rc = fp_source_cli_exec(&cli, &peer_backend_test);
		peer_spec_free(&peer_spec);
		return rc;
	}
	return fp_source_cli_exec(&cli, fp_backend_find(cli.backend));
}
