/* framepush — framepush-source --backend wlr --list: the compositor's wl_outputs and modes.
 *
 * Two round trips: the globals (each wl_output bound at version <= 4, which brings the name),
 * then every output's geometry, modes, scale and name up to its done event. Whatever the
 * compositor sends is kept within fixed arrays: outputs and modes past the caps are counted,
 * a mode sent again (as compositors do for the current one) updates the one stored. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-client.h>

#include "common/log.h"
#include "listing.h"

#define OUTPUT_VERSION 4u /* 4 brings the name and description events */

struct wl_list_out {
	struct wl_output *wl;
	char name[64], make[64], model[64], desc[128];
	int32_t x, y, scale, transform;
	struct fp_list_mode modes[FP_LIST_MAX_MODES];
	uint32_t n_modes;
	struct fp_list_mode current; /* kept apart: known even when its mode line is omitted */
	bool have_current;
	uint64_t modes_omitted; /* past the cap, or nonsensical (a size <= 0) */
};

struct wl_lister {
	struct wl_display *dpy;
	struct wl_registry *reg;
	struct wl_list_out outs[FP_LIST_MAX_OUTPUTS];
	uint32_t n_outs;
	uint64_t outs_omitted;
};

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void out_geometry(void *data, struct wl_output *o, int32_t x, int32_t y, int32_t pw,
			 int32_t ph, int32_t subpixel, const char *make, const char *model,
			 int32_t transform)
{
	struct wl_list_out *out = data;

	(void)o; (void)pw; (void)ph; (void)subpixel;
	out->x = x;
	out->y = y;
	out->transform = transform;
	copy_str(out->make, sizeof(out->make), make);
	copy_str(out->model, sizeof(out->model), model);
}

static void out_mode(void *data, struct wl_output *o, uint32_t flags, int32_t w, int32_t h,
		     int32_t refresh)
{
	struct wl_list_out *out = data;
	struct fp_list_mode m = { .width = (uint32_t)w, .height = (uint32_t)h,
				  .refresh_mhz = refresh > 0 ? (uint32_t)refresh : 0,
				  .current = flags & WL_OUTPUT_MODE_CURRENT,
				  .preferred = flags & WL_OUTPUT_MODE_PREFERRED };
	uint32_t i;

	(void)o;
	if (w <= 0 || h <= 0) {
		out->modes_omitted++;
		return;
	}
	/* One current mode: a newer current event replaces the flag on the older one. */
	if (m.current) {
		out->current = m;
		out->have_current = true;
		for (i = 0; i < out->n_modes; i++)
			out->modes[i].current = false;
	}
	for (i = 0; i < out->n_modes; i++) {
		struct fp_list_mode *s = &out->modes[i];

		if (s->width == m.width && s->height == m.height && s->refresh_mhz == m.refresh_mhz) {
			s->current = s->current || m.current;
			s->preferred = s->preferred || m.preferred;
			return;
		}
	}
	if (out->n_modes < FP_LIST_MAX_MODES)
		out->modes[out->n_modes++] = m;
	else
		out->modes_omitted++;
}

static void out_done(void *data, struct wl_output *o)
{
	(void)data; (void)o;
}

static void out_scale(void *data, struct wl_output *o, int32_t factor)
{
	(void)o;
	((struct wl_list_out *)data)->scale = factor;
}

static void out_name(void *data, struct wl_output *o, const char *name)
{
	struct wl_list_out *out = data;

	(void)o;
	copy_str(out->name, sizeof(out->name), name);
}

static void out_description(void *data, struct wl_output *o, const char *desc)
{
	struct wl_list_out *out = data;

	(void)o;
	copy_str(out->desc, sizeof(out->desc), desc);
}

static const struct wl_output_listener out_listener = {
	.geometry = out_geometry,
	.mode = out_mode,
	.done = out_done,
	.scale = out_scale,
	.name = out_name,
	.description = out_description,
};

static void reg_global(void *data, struct wl_registry *reg, uint32_t name, const char *iface,
		       uint32_t version)
{
	struct wl_lister *l = data;
	struct wl_list_out *out;

	if (strcmp(iface, wl_output_interface.name) || !version)
		return; /* version 0 does not exist: binding it would be a protocol error */
	if (l->n_outs >= FP_LIST_MAX_OUTPUTS) {
		l->outs_omitted++;
		return;
	}
	out = &l->outs[l->n_outs++];
	/* The wlr backend's name for an output without a name event (output=output-N). */
	snprintf(out->name, sizeof(out->name), "output-%u", name);
	out->scale = 1;
	out->wl = wl_registry_bind(reg, name, &wl_output_interface,
				   version < OUTPUT_VERSION ? version : OUTPUT_VERSION);
	wl_output_add_listener(out->wl, &out_listener, out);
}

static void reg_global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	(void)data; (void)reg; (void)name; /* the listing shows the outputs as first sent */
}

static const struct wl_registry_listener reg_listener = {
	.global = reg_global,
	.global_remove = reg_global_remove,
};

static const char *transform_name(int32_t t)
{
	static const char *const names[] = { "normal",  "90",         "180",         "270",
					     "flipped", "flipped-90", "flipped-180", "flipped-270" };

	return t >= 0 && t < 8 ? names[t] : "unknown";
}

static void print_output(FILE *f, const struct wl_list_out *out)
{
	const struct fp_list_mode *cur = &out->current;

	fputs("  output ", f);
	fp_list_word(f, out->name, strlen(out->name));
	if (out->have_current) {
		fputs(" current=", f);
		fp_list_size_rate(f, cur->width, cur->height, cur->refresh_mhz);
	}
	fprintf(f, " pos=%d,%d scale=%d transform=%s", out->x, out->y, out->scale,
		transform_name(out->transform));
	fp_list_field(f, "make", out->make);
	fp_list_field(f, "model", out->model);
	fp_list_field(f, "description", out->desc);
	fputc('\n', f);
	for (uint32_t i = 0; i < out->n_modes; i++)
		fp_list_mode_line(f, &out->modes[i]);
	fp_list_omitted(f, "    ", "modes", out->modes_omitted);
}

static void release(struct wl_lister *l)
{
	for (uint32_t i = 0; i < l->n_outs; i++) {
		if (wl_output_get_version(l->outs[i].wl) >= WL_OUTPUT_RELEASE_SINCE_VERSION)
			wl_output_release(l->outs[i].wl);
		else
			wl_output_destroy(l->outs[i].wl);
	}
	if (l->reg)
		wl_registry_destroy(l->reg);
	wl_display_disconnect(l->dpy);
	free(l);
}

int fp_wlr_list(const char *display, FILE *out)
{
	const char *env = getenv("WAYLAND_DISPLAY");
	const char *name = display && *display ? display : env && *env ? env : "wayland-0";
	struct wl_lister *l = calloc(1, sizeof(*l)); /* ~70 KiB of fixed arrays: not the stack */
	int r;

	if (!l)
		return -ENOMEM;
	/* NULL: $WAYLAND_DISPLAY; a name is relative to $XDG_RUNTIME_DIR, a path taken as is. */
	errno = 0;
	l->dpy = wl_display_connect(display && *display ? display : NULL);
	if (!l->dpy) {
		r = errno ? -errno : -ECONNREFUSED;
		fp_error("wlr: cannot connect to Wayland display %s: %s", name, strerror(-r));
		free(l);
		return r;
	}
	l->reg = wl_display_get_registry(l->dpy);
	wl_registry_add_listener(l->reg, &reg_listener, l);
	if (wl_display_roundtrip(l->dpy) < 0 || wl_display_roundtrip(l->dpy) < 0) {
		r = wl_display_get_error(l->dpy) ? -wl_display_get_error(l->dpy) : -EPIPE;
		fp_error("wlr: the connection to Wayland display %s broke off: %s", name,
			 strerror(-r));
		release(l);
		return r;
	}
	fputs("Wayland display ", out);
	fp_list_word(out, name, strlen(name));
	fputc('\n', out);
	for (uint32_t i = 0; i < l->n_outs; i++)
		print_output(out, &l->outs[i]);
	fp_list_omitted(out, "  ", "outputs", l->outs_omitted);
	release(l);
	return 0;
}
