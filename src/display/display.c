#include "framepush/display.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/* Each kind lives in its own file; both are always built (they need no library, only
 * their programs at run time), so plain references pull them out of a static archive. */
extern const struct fp_display_impl fp_display_xvfb;
extern const struct fp_display_impl fp_display_sway;

static const struct fp_display_impl *const all_kinds[] = { &fp_display_xvfb, &fp_display_sway };

static const struct fp_display_impl *find(const char *kind)
{
	for (size_t i = 0; kind && i < FP_ARRAY_LEN(all_kinds); i++)
		if (!strcmp(all_kinds[i]->kind, kind))
			return all_kinds[i];
	return NULL;
}

static const struct fp_display_impl *impl_of(const struct fp_display *d)
{
	return ((const struct fp_display_base *)(const void *)d)->impl;
}

int fp_display_create(struct fp_display **out, const struct fp_display_opts *opts)
{
	const struct fp_display_impl *impl = find(opts->kind);

	*out = NULL;
	if (!impl) {
		fp_error("display: unknown or unavailable kind '%s' (xvfb, sway)",
			 opts->kind ? opts->kind : "(none)");
		return -ENOTSUP;
	}
	return impl->create(out, opts);
}

void fp_display_destroy(struct fp_display *d)
{
	if (d)
		impl_of(d)->destroy(d);
}

const char *fp_display_name(const struct fp_display *d) { return impl_of(d)->name(d); }
const char *fp_display_backend(const struct fp_display *d) { return impl_of(d)->backend; }

const char *fp_display_client_env(const struct fp_display *d)
{
	return impl_of(d)->client_env ? impl_of(d)->client_env(d) : "";
}

const char *fp_display_bus(const struct fp_display *d)
{
	return impl_of(d)->bus ? impl_of(d)->bus(d) : NULL;
}

int fp_display_identity(const struct fp_display *d, uid_t *uid, gid_t *gid)
{
	return impl_of(d)->identity ? impl_of(d)->identity(d, uid, gid) : 0;
}

int fp_display_export_env(const struct fp_display *d)
{
	const char *kv = fp_display_client_env(d), *eq = strchr(kv, '=');
	char key[64];

	if (!eq)
		return 0;
	if ((size_t)(eq - kv) >= sizeof(key))
		return -ENAMETOOLONG;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	return setenv(key, eq + 1, 1) < 0 ? -errno : 0;
}

int fp_display_set_mode(struct fp_display *d, uint32_t width, uint32_t height, uint32_t hz)
{
	return impl_of(d)->set_mode ? impl_of(d)->set_mode(d, width, height, hz) : -ENOTSUP;
}

int fp_display_spawn(struct fp_display *d, char *const argv[], pid_t *pid)
{
	return impl_of(d)->spawn(d, argv, pid);
}
