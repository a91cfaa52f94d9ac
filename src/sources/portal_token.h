/* framepush — the portal's restore token on disk: read once, replaced atomically.
 *
 * A token is single use: the portal consumes the one we pass and hands out the next, so
 * the file is rewritten after every grant, and never left half written (a crash mid-write
 * would cost the user the next dialog, not leave garbage that is sent to the portal). */
#ifndef FP_SOURCES_PORTAL_TOKEN_H
#define FP_SOURCES_PORTAL_TOKEN_H

#include <stddef.h>

/* Longest restore token kept (portals hand out UUIDs, 36 characters). */
#define FP_PORTAL_TOKEN_MAX 255

/* A token is only ever written to a file or sent back when it looks like one: printable
 * ASCII without spaces, 1..FP_PORTAL_TOKEN_MAX bytes. */
int fp_portal_token_valid(const char *t);

/* Expands a leading "~/" with $HOME into out. 0, or -ENAMETOOLONG / -ENOENT (no $HOME). */
int fp_portal_token_path(const char *spec_path, char *out, size_t cap);

/* Reads the token in path into buf (cap bytes, NUL-terminated, trailing newline dropped).
 * 1 when one was read, 0 when there is none (no file: first run), -errno when the file is
 * there but unusable (not a regular file, unreadable, malformed: logged). */
int fp_portal_token_read(const char *path, char *buf, size_t cap);

/* Replaces path with token: a 0600 temporary file beside it, written, synced, renamed over
 * it; the directory is created (0700) when missing. 0 or -errno (logged). */
int fp_portal_token_write(const char *path, const char *token);

#endif
