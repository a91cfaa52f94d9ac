/* framepush — the ScreenCast portal's D-Bus conversation (sd-bus), for the portal backend.
 *
 * CreateSession, SelectSources (one monitor, cursor mode, persist mode, restore token),
 * Start, OpenPipeWireRemote: each Request's Response is subscribed to before the call that
 * creates it, so a fast portal cannot answer into the void. Afterwards the session is
 * watched: Session.Closed, or the portal leaving the bus, ends it.
 *
 * sd-bus rather than GDBus: one connection, one pollable fd, no worker thread and no main
 * loop, so it sits in framepush-source's poll loop and keeps working under its seccomp
 * sandbox (GDBus would bring a thread and a GMainContext to feed). */
#ifndef FP_SOURCES_PORTAL_DBUS_H
#define FP_SOURCES_PORTAL_DBUS_H

#include <stdint.h>

#include "portal_token.h"

struct fp_portal;

enum fp_portal_cursor_mode {
	FP_PORTAL_CURSOR_HIDDEN = 1,   /* the portal's bit values (AvailableCursorModes) */
	FP_PORTAL_CURSOR_EMBEDDED = 2,
	FP_PORTAL_CURSOR_METADATA = 4,
};

struct fp_portal_opts {
	const char *bus_address;   /* NULL: the environment's session bus */
	const char *restore_token; /* NULL or "": ask the user */
	int persist;               /* ask for a restore token (persist mode 2) */
	int cursor;                /* 1: the pointer in the frames (metadata or embedded) */
	int64_t deadline_ns;       /* the user's answer included: ends with -ETIMEDOUT */
};

/* What the portal granted. */
struct fp_portal_grant {
	int pw_fd;                 /* the PipeWire remote (O_CLOEXEC), the caller's to close */
	uint32_t node_id;          /* the stream's node */
	int32_t width, height;     /* its size as the portal reports it (0: not given) */
	uint32_t cursor_mode;      /* enum fp_portal_cursor_mode granted */
	uint32_t streams;          /* how many streams the portal gave (the first is taken) */
	char restore_token[FP_PORTAL_TOKEN_MAX + 1]; /* "" when none came */
};

/* Runs the conversation to its end. 0 with *out and *grant, or -errno with the reason
 * logged in the user's terms: no session bus, no portal, no ScreenCast interface, the user
 * refused (-ECANCELED), the portal failed, the deadline passed. */
int fp_portal_open(struct fp_portal **out, const struct fp_portal_opts *opts,
		   struct fp_portal_grant *grant);
/* Closes the session (Session.Close) and the connection. NULL is fine. */
void fp_portal_close(struct fp_portal *p);

/* The bus fd to poll (POLLIN), and what to do when it is readable: 0 while the session
 * lives, -ESHUTDOWN once it was closed or the portal left (logged). Bounded per call. */
int fp_portal_fd(const struct fp_portal *p);
int fp_portal_dispatch(struct fp_portal *p);

#endif
