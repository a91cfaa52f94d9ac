#include "portal_dbus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define PORTAL_NAME "org.freedesktop.portal.Desktop"
#define PORTAL_PATH "/org/freedesktop/portal/desktop"
#define SCREENCAST_IFACE "org.freedesktop.portal.ScreenCast"
#define REQUEST_IFACE "org.freedesktop.portal.Request"
#define SESSION_IFACE "org.freedesktop.portal.Session"
/* A method call answers at once (the dialog's wait is in the Response): anything slower is
 * a portal that hangs, and must not hang the source. */
#define CALL_TIMEOUT_US (5 * 1000000ull)
/* Source types (SelectSources "types"): one monitor. */
#define SOURCE_MONITOR 1u
/* persist_mode 2: until revoked. */
#define PERSIST_UNTIL_REVOKED 2u
/* Messages handled per dispatch: a flood on the bus cannot keep the source from frames. */
#define DISPATCH_MAX 64

struct fp_portal {
	sd_bus *bus;
	sd_bus_slot *closed_slot, *owner_slot;
	char *session;            /* the session's object path, once created */
	const char *sender;       /* our unique name with ':' dropped and '.' -> '_' */
	char sender_buf[128];
	unsigned request_seq;
	bool ended;
	/* The Response being waited for. */
	bool answered;
	uint32_t response;
	struct fp_portal_grant *grant;
	int (*parse)(struct fp_portal *p, sd_bus_message *m);
};

/* ---- options (a{sv}) ---- */

static int opt_begin(sd_bus_message *m, const char *key, const char *type)
{
	int r = sd_bus_message_open_container(m, 'e', "sv");

	if (r >= 0)
		r = sd_bus_message_append_basic(m, 's', key);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', type);
	return r;
}

static int opt_end(sd_bus_message *m)
{
	int r = sd_bus_message_close_container(m);

	return r < 0 ? r : sd_bus_message_close_container(m);
}

static int opt_str(sd_bus_message *m, const char *key, const char *val)
{
	int r = opt_begin(m, key, "s");

	if (r >= 0)
		r = sd_bus_message_append_basic(m, 's', val);
	return r < 0 ? r : opt_end(m);
}

static int opt_u32(sd_bus_message *m, const char *key, uint32_t val)
{
	int r = opt_begin(m, key, "u");

	if (r >= 0)
		r = sd_bus_message_append_basic(m, 'u', &val);
	return r < 0 ? r : opt_end(m);
}

static int opt_bool(sd_bus_message *m, const char *key, int val)
{
	int r = opt_begin(m, key, "b");

	if (r >= 0)
		r = sd_bus_message_append_basic(m, 'b', &val);
	return r < 0 ? r : opt_end(m);
}

/* ---- reading results ---- */

/* Calls fn for each entry of an a{sv} the reader stands on; fn reads or skips the variant.
 * The portal's dictionaries are small: a bound keeps a broken one from looping. */
static int each_entry(struct fp_portal *p, sd_bus_message *m,
		      int (*fn)(struct fp_portal *p, sd_bus_message *m, const char *key))
{
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");

	for (unsigned n = 0; r >= 0 && n < 256; n++) {
		const char *key;

		r = sd_bus_message_enter_container(m, 'e', "sv");
		if (r <= 0)
			break;
		r = sd_bus_message_read_basic(m, 's', &key);
		if (r >= 0)
			r = fn(p, m, key);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* Reads variant of type sig into out, or skips it when its type is another. */
static int read_variant(sd_bus_message *m, const char *sig, char type, void *out)
{
	int r = sd_bus_message_verify_type(m, 'v', sig);

	if (r <= 0)
		return r < 0 ? r : sd_bus_message_skip(m, "v");
	r = sd_bus_message_enter_container(m, 'v', sig);
	if (r >= 0)
		r = sd_bus_message_read_basic(m, type, out);
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int session_entry(struct fp_portal *p, sd_bus_message *m, const char *key)
{
	const char *s = NULL;
	int r;

	if (strcmp(key, "session_handle"))
		return sd_bus_message_skip(m, "v");
	r = read_variant(m, "s", 's', &s);
	if (r >= 0 && s && sd_bus_object_path_is_valid(s)) {
		free(p->session);
		p->session = strdup(s);
		if (!p->session)
			return -ENOMEM;
	}
	return r;
}

static int parse_session(struct fp_portal *p, sd_bus_message *m)
{
	int r = each_entry(p, m, session_entry);

	return r < 0 ? r : p->session ? 0 : -EBADMSG;
}

static int stream_prop(struct fp_portal *p, sd_bus_message *m, const char *key)
{
	int r;

	if (strcmp(key, "size") || sd_bus_message_verify_type(m, 'v', "(ii)") <= 0)
		return sd_bus_message_skip(m, "v");
	r = sd_bus_message_enter_container(m, 'v', "(ii)");
	if (r >= 0)
		r = sd_bus_message_read(m, "(ii)", &p->grant->width, &p->grant->height);
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* streams a(ua{sv}): the first stream is the one we asked for (one monitor); a portal that
 * gives several anyway (KDE can) has them counted, and the first taken. */
static int read_streams(struct fp_portal *p, sd_bus_message *m)
{
	int r = sd_bus_message_enter_container(m, 'v', "a(ua{sv})");

	if (r >= 0)
		r = sd_bus_message_enter_container(m, 'a', "(ua{sv})");
	while (r >= 0 && p->grant->streams < 64) {
		uint32_t node;

		r = sd_bus_message_enter_container(m, 'r', "ua{sv}");
		if (r <= 0)
			break;
		r = sd_bus_message_read_basic(m, 'u', &node);
		if (r >= 0 && p->grant->streams++ == 0) {
			p->grant->node_id = node;
			r = each_entry(p, m, stream_prop);
		} else if (r >= 0) {
			r = sd_bus_message_skip(m, "a{sv}");
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int start_entry(struct fp_portal *p, sd_bus_message *m, const char *key)
{
	const char *tok = NULL;
	int r;

	if (!strcmp(key, "streams") && sd_bus_message_verify_type(m, 'v', "a(ua{sv})") > 0)
		return read_streams(p, m);
	if (strcmp(key, "restore_token"))
		return sd_bus_message_skip(m, "v");
	r = read_variant(m, "s", 's', &tok);
	if (r >= 0 && tok && fp_portal_token_valid(tok))
		snprintf(p->grant->restore_token, sizeof(p->grant->restore_token), "%s", tok);
	else if (r >= 0 && tok)
		fp_warn("portal source: ignoring a malformed restore token (%zu bytes)", strlen(tok));
	return r;
}

static int parse_start(struct fp_portal *p, sd_bus_message *m)
{
	int r = each_entry(p, m, start_entry);

	return r < 0 ? r : p->grant->streams ? 0 : -EBADMSG;
}

static int parse_nothing(struct fp_portal *p, sd_bus_message *m)
{
	(void)p;
	return sd_bus_message_skip(m, "a{sv}");
}

/* ---- the request/response dance ---- */

static int on_response(sd_bus_message *m, void *user, sd_bus_error *err)
{
	struct fp_portal *p = user;
	int r;

	(void)err;
	if (p->answered)
		return 0;
	r = sd_bus_message_read_basic(m, 'u', &p->response);
	if (r < 0)
		p->response = UINT32_MAX;
	else if (p->response == 0)
		r = p->parse(p, m);
	if (r < 0) {
		fp_error("portal source: a malformed portal response: %s", strerror(-r));
		p->response = UINT32_MAX;
	}
	p->answered = true;
	return 0;
}

static const char *method_error(const sd_bus_error *e, int r)
{
	return sd_bus_error_is_set(e) ? e->message ? e->message : e->name : strerror(-r);
}

static int no_screencast(const sd_bus_error *e, int r)
{
	const char *desk = getenv("XDG_CURRENT_DESKTOP");

	fp_error("portal source: xdg-desktop-portal offers no ScreenCast interface (%s): no "
		 "portal backend for this desktop (XDG_CURRENT_DESKTOP=%s); install "
		 "xdg-desktop-portal-gnome, -kde or -wlr", method_error(e, r), desk ? desk : "unset");
	return -ENOTSUP;
}

/* Says what a failed portal call means for the user. */
static int call_failed(const char *what, const sd_bus_error *e, int r)
{
	if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
		fp_error("portal source: no xdg-desktop-portal on the session bus (%s): install "
			 "xdg-desktop-portal and the backend of this desktop (-gnome, -kde or -wlr)",
			 method_error(e, r));
		return -ENOENT;
	}
	if (sd_bus_error_has_names(e, SD_BUS_ERROR_UNKNOWN_INTERFACE, SD_BUS_ERROR_UNKNOWN_METHOD,
				   SD_BUS_ERROR_UNKNOWN_PROPERTY, SD_BUS_ERROR_UNKNOWN_OBJECT))
		return no_screencast(e, r);
	fp_error("portal source: %s failed: %s", what, method_error(e, r));
	return r < 0 ? r : -EIO;
}

/* Waits for the Response, bounded by the deadline (the user's dialog is part of it). */
static int wait_response(struct fp_portal *p, const char *what, int64_t deadline)
{
	while (!p->answered) {
		int r = sd_bus_process(p->bus, NULL);

		if (r < 0) {
			fp_error("portal source: the session bus connection failed during %s: %s", what,
				 strerror(-r));
			return r;
		}
		if (r > 0)
			continue;
		if (fp_now_ns() >= deadline) {
			fp_error("portal source: no answer to %s within the deadline (a portal dialog "
				 "left open?)", what);
			return -ETIMEDOUT;
		}
		r = sd_bus_wait(p->bus, (uint64_t)fp_ms_until(deadline) * 1000u);
		/* A signal (Ctrl-C, the host ending) while the dialog is open ends the wait. */
		if (r == -EINTR)
			fp_error("portal source: interrupted while waiting for %s", what);
		if (r < 0)
			return r;
	}
	if (p->response == 0)
		return 0;
	if (p->response == 1) {
		fp_error("portal source: the user refused to share the screen (%s cancelled)", what);
		return -ECANCELED;
	}
	fp_error("portal source: the portal ended %s (response %u): its backend failed; see the "
		 "xdg-desktop-portal and backend logs", what, p->response);
	return -EIO;
}

/* Calls method (whose last argument is the options dictionary the builder fills, with
 * handle_token added here) and waits for its Response, parsed by parse. */
static int request(struct fp_portal *p, const char *method, int64_t deadline,
		   int (*args)(struct fp_portal *p, sd_bus_message *m, const void *ctx),
		   const void *ctx, int (*parse)(struct fp_portal *p, sd_bus_message *m))
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_slot *slot = NULL;
	char token[32], path[256];
	int r;

	snprintf(token, sizeof(token), "framepush%u_%u", (unsigned)getpid(), ++p->request_seq);
	snprintf(path, sizeof(path), PORTAL_PATH "/request/%s/%s", p->sender, token);
	p->answered = false;
	p->parse = parse;
	/* Subscribed before the call: the Response may come before the call returns. */
	r = sd_bus_match_signal(p->bus, &slot, PORTAL_NAME, path, REQUEST_IFACE, "Response",
				on_response, p);
	if (r >= 0)
		r = sd_bus_message_new_method_call(p->bus, &m, PORTAL_NAME, PORTAL_PATH,
						   SCREENCAST_IFACE, method);
	if (r >= 0)
		r = args(p, m, ctx);
	if (r >= 0)
		r = opt_str(m, "handle_token", token);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0) {
		r = sd_bus_call(p->bus, m, CALL_TIMEOUT_US, &err, &reply);
		if (r < 0)
			r = call_failed(method, &err, r);
		else
			r = wait_response(p, method, deadline);
	}
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	sd_bus_slot_unref(slot);
	return r;
}

static int args_create(struct fp_portal *p, sd_bus_message *m, const void *ctx)
{
	char token[32];
	int r;

	(void)ctx;
	snprintf(token, sizeof(token), "framepush%u", (unsigned)getpid());
	(void)p;
	r = sd_bus_message_open_container(m, 'a', "{sv}");
	return r < 0 ? r : opt_str(m, "session_handle_token", token);
}

struct select_ctx {
	const struct fp_portal_opts *opts;
	uint32_t cursor_mode, version;
};

static int args_select(struct fp_portal *p, sd_bus_message *m, const void *ctx)
{
	const struct select_ctx *c = ctx;
	int r = sd_bus_message_append_basic(m, 'o', p->session);

	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0)
		r = opt_u32(m, "types", SOURCE_MONITOR);
	if (r >= 0)
		r = opt_bool(m, "multiple", 0);
	if (r >= 0 && c->cursor_mode)
		r = opt_u32(m, "cursor_mode", c->cursor_mode);
	/* Restore tokens and persistence came with version 4 of the interface. */
	if (r >= 0 && c->version >= 4 && c->opts->persist)
		r = opt_u32(m, "persist_mode", PERSIST_UNTIL_REVOKED);
	if (r >= 0 && c->version >= 4 && fp_portal_token_valid(c->opts->restore_token))
		r = opt_str(m, "restore_token", c->opts->restore_token);
	return r;
}

static int args_start(struct fp_portal *p, sd_bus_message *m, const void *ctx)
{
	int r = sd_bus_message_append_basic(m, 'o', p->session);

	(void)ctx;
	if (r >= 0)
		r = sd_bus_message_append_basic(m, 's', ""); /* no parent window */
	return r < 0 ? r : sd_bus_message_open_container(m, 'a', "{sv}");
}

/* ---- connection, properties, the remote ---- */

static int connect_bus(struct fp_portal *p, const char *address)
{
	const char *unique = NULL;
	size_t n = 0;
	int r;

	if (address) {
		r = sd_bus_new(&p->bus);
		if (r >= 0)
			r = sd_bus_set_address(p->bus, address);
		if (r >= 0)
			r = sd_bus_set_bus_client(p->bus, 1);
		if (r >= 0)
			r = sd_bus_start(p->bus);
	} else {
		r = sd_bus_open_user(&p->bus);
	}
	if (r < 0) {
		fp_error("portal source: no D-Bus session bus at %s: %s (run inside the desktop "
			 "session, or set DBUS_SESSION_BUS_ADDRESS)",
			 address ? address : "$DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus",
			 strerror(-r));
		return -ENOENT;
	}
	/* The unique name comes with the bus's answer to Hello: wait for it, bounded. */
	for (int64_t end = fp_now_ns() + CALL_TIMEOUT_US * 1000; ; ) {
		r = sd_bus_get_unique_name(p->bus, &unique);
		if (r != -ENOTCONN || fp_now_ns() >= end)
			break;
		r = sd_bus_process(p->bus, NULL);
		if (r == 0)
			r = sd_bus_wait(p->bus, (uint64_t)fp_ms_until(end) * 1000u);
		if (r < 0 && r != -EINTR)
			break;
	}
	if (r < 0) {
		fp_error("portal source: the session bus at %s did not let us in: %s",
			 address ? address : "(environment)", strerror(-r));
		return r;
	}
	/* The request path names us: ":1.42" -> "1_42". */
	for (const char *s = unique + (*unique == ':'); *s && n + 1 < sizeof(p->sender_buf); s++)
		p->sender_buf[n++] = *s == '.' ? '_' : *s;
	p->sender_buf[n] = '\0';
	p->sender = p->sender_buf;
	return 0;
}

static int get_u32_prop(struct fp_portal *p, const char *name, uint32_t *out)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	int r = sd_bus_get_property_trivial(p->bus, PORTAL_NAME, PORTAL_PATH, SCREENCAST_IFACE,
					    name, &err, 'u', out);

	/* GDBus (xdg-desktop-portal) answers Get on an interface it lacks with InvalidArgs. */
	if (r < 0 && sd_bus_error_has_name(&err, SD_BUS_ERROR_INVALID_ARGS))
		r = no_screencast(&err, r);
	else if (r < 0)
		r = call_failed("reading ScreenCast properties", &err, r);
	sd_bus_error_free(&err);
	return r;
}

/* Metadata lets us draw the pointer ourselves (and skip frames where only it moved);
 * embedded is the portal drawing it; hidden when neither or not wanted. */
static uint32_t pick_cursor(uint32_t available, int wanted)
{
	if (!wanted)
		return available & FP_PORTAL_CURSOR_HIDDEN;
	if (available & FP_PORTAL_CURSOR_METADATA)
		return FP_PORTAL_CURSOR_METADATA;
	if (available & FP_PORTAL_CURSOR_EMBEDDED)
		return FP_PORTAL_CURSOR_EMBEDDED;
	return available & FP_PORTAL_CURSOR_HIDDEN;
}

static int open_remote(struct fp_portal *p, struct fp_portal_grant *g)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int fd = -1, r;

	r = sd_bus_call_method(p->bus, PORTAL_NAME, PORTAL_PATH, SCREENCAST_IFACE,
			       "OpenPipeWireRemote", &err, &reply, "oa{sv}", p->session, 0);
	if (r < 0)
		r = call_failed("OpenPipeWireRemote", &err, r);
	if (r >= 0)
		r = sd_bus_message_read_basic(reply, 'h', &fd);
	/* The message owns its fd: ours is a duplicate that outlives it. */
	if (r >= 0 && (g->pw_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		r = -errno;
	if (r < 0)
		fp_error("portal source: no PipeWire remote from the portal: %s", strerror(-r));
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	return r;
}

/* ---- the session, once granted ---- */

static int on_closed(sd_bus_message *m, void *user, sd_bus_error *err)
{
	struct fp_portal *p = user;

	(void)m; (void)err;
	if (!p->ended)
		fp_error("portal source: the portal closed the screen-cast session (the user "
			 "stopped sharing, or the desktop ended it)");
	p->ended = true;
	return 0;
}

static int on_owner(sd_bus_message *m, void *user, sd_bus_error *err)
{
	struct fp_portal *p = user;
	const char *name = NULL, *old = NULL, *new = NULL;

	(void)err;
	if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !name || !new)
		return 0;
	if (!strcmp(name, PORTAL_NAME) && !*new && !p->ended) {
		fp_error("portal source: xdg-desktop-portal left the session bus: the display is "
			 "gone");
		p->ended = true;
	}
	return 0;
}

static int watch_session(struct fp_portal *p)
{
	int r = sd_bus_match_signal(p->bus, &p->closed_slot, PORTAL_NAME, p->session,
				    SESSION_IFACE, "Closed", on_closed, p);

	if (r >= 0)
		r = sd_bus_match_signal(p->bus, &p->owner_slot, "org.freedesktop.DBus",
					"/org/freedesktop/DBus", "org.freedesktop.DBus",
					"NameOwnerChanged", on_owner, p);
	return r;
}

static int converse(struct fp_portal *p, const struct fp_portal_opts *opts,
		    struct fp_portal_grant *g)
{
	struct select_ctx sel = { .opts = opts };
	uint32_t cursors = 0;
	int r;

	r = get_u32_prop(p, "version", &sel.version);
	if (r >= 0 && get_u32_prop(p, "AvailableCursorModes", &cursors) >= 0)
		sel.cursor_mode = pick_cursor(cursors, opts->cursor);
	/* Watched from the start: a portal that dies mid-dialog ends the wait too. */
	if (r >= 0)
		r = request(p, "CreateSession", opts->deadline_ns, args_create, NULL, parse_session);
	if (r >= 0)
		r = watch_session(p);
	if (r >= 0)
		r = request(p, "SelectSources", opts->deadline_ns, args_select, &sel, parse_nothing);
	if (r >= 0)
		r = request(p, "Start", opts->deadline_ns, args_start, NULL, parse_start);
	if (r >= 0 && p->ended)
		r = -ESHUTDOWN;
	if (r >= 0)
		r = open_remote(p, g);
	if (r < 0)
		return r;
	g->cursor_mode = sel.cursor_mode;
	if (opts->persist && sel.version < 4)
		fp_warn("portal source: ScreenCast version %u keeps no restore token (4 does): the "
			"portal will ask again next time", sel.version);
	fp_info("portal source: ScreenCast v%u granted node %u (%dx%d, %u stream%s), cursor mode "
		"%u%s", sel.version, g->node_id, g->width, g->height, g->streams,
		g->streams == 1 ? "" : "s, the first taken", g->cursor_mode,
		g->restore_token[0] ? ", restore token received" : "");
	return 0;
}

int fp_portal_open(struct fp_portal **out, const struct fp_portal_opts *opts,
		   struct fp_portal_grant *grant)
{
	struct fp_portal *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	*grant = (struct fp_portal_grant){ .pw_fd = -1 };
	if (!p)
		return -ENOMEM;
	p->grant = grant;
	r = connect_bus(p, opts->bus_address);
	if (r >= 0)
		r = converse(p, opts, grant);
	if (r < 0) {
		fp_close(&grant->pw_fd);
		fp_portal_close(p);
		return r;
	}
	p->grant = NULL; /* the caller's from now on */
	*out = p;
	return 0;
}

void fp_portal_close(struct fp_portal *p)
{
	if (!p)
		return;
	if (p->session && !p->ended && p->bus) {
		sd_bus_message *m = NULL;

		/* No reply awaited, and no flush (it waits without a bound): sd-bus writes a small
		 * message at once when nothing is queued, and the source is on its way out. */
		if (sd_bus_message_new_method_call(p->bus, &m, PORTAL_NAME, p->session,
						   SESSION_IFACE, "Close") >= 0)
			sd_bus_send(p->bus, m, NULL);
		sd_bus_message_unref(m);
	}
	sd_bus_slot_unref(p->closed_slot);
	sd_bus_slot_unref(p->owner_slot);
	sd_bus_close_unref(p->bus);
	free(p->session);
	free(p);
}

int fp_portal_fd(const struct fp_portal *p)
{
	return sd_bus_get_fd(p->bus);
}

int fp_portal_dispatch(struct fp_portal *p)
{
	for (unsigned i = 0; i < DISPATCH_MAX && !p->ended; i++) {
		int r = sd_bus_process(p->bus, NULL);

		if (r < 0) {
			fp_error("portal source: the session bus connection is gone: %s", strerror(-r));
			p->ended = true;
		}
		if (r <= 0)
			break;
	}
	return p->ended ? -ESHUTDOWN : 0;
}
