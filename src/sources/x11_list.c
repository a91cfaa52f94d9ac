/* framepush — framepush-source --backend x11 --list: the X screens and their RandR outputs.
 *
 * Read-only: RandR 1.3's GetScreenResourcesCurrent (no probing of the hardware, which can
 * take seconds and flicker monitors), GetOutputInfo and GetCrtcInfo per output. The counts in
 * a reply come from the server: each one is checked against the reply's length before an
 * accessor walks it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xcb/randr.h>
#include <xcb/xcb.h>

#include "common/log.h"
#include "listing.h"

struct x11_list {
	xcb_connection_t *c;
	FILE *out;
	const char *name;
	xcb_randr_get_screen_resources_current_reply_t *res;
	xcb_randr_mode_info_t *modes; /* res's, validated */
	int n_modes;
};

/* True when end lies within the reply: 32 bytes plus its length field in 4-byte units. */
static bool reply_holds(const void *reply, const void *end)
{
	const xcb_generic_reply_t *r = reply;

	return (const char *)end <= (const char *)reply + 32 + (size_t)r->length * 4;
}

static uint32_t mode_refresh_mhz(const xcb_randr_mode_info_t *m)
{
	uint64_t dots = (uint64_t)m->htotal * m->vtotal;
	uint64_t mhz;

	if (!dots)
		return 0;
	mhz = (uint64_t)m->dot_clock * 1000 / dots;
	if (m->mode_flags & XCB_RANDR_MODE_FLAG_INTERLACE)
		mhz *= 2;
	if (m->mode_flags & XCB_RANDR_MODE_FLAG_DOUBLE_SCAN)
		mhz /= 2;
	return mhz > UINT32_MAX ? 0 : (uint32_t)mhz;
}

static const xcb_randr_mode_info_t *find_mode(const struct x11_list *l, xcb_randr_mode_t id)
{
	for (int i = 0; i < l->n_modes; i++)
		if (l->modes[i].id == id)
			return &l->modes[i];
	return NULL;
}

/* The output's modes, the first num_preferred of them preferred (RandR's rule). */
static void list_modes(struct x11_list *l, const xcb_randr_get_output_info_reply_t *oi,
		       xcb_randr_mode_t current)
{
	const xcb_randr_mode_t *ids = xcb_randr_get_output_info_modes(oi);
	int n = xcb_randr_get_output_info_modes_length(oi), shown = 0;

	for (int i = 0; i < n && shown < FP_LIST_MAX_MODES; i++) {
		const xcb_randr_mode_info_t *m = find_mode(l, ids[i]);

		if (!m)
			continue; /* a mode id the resources did not name: nothing to say about it */
		fp_list_mode_line(l->out, &(struct fp_list_mode){
			.width = m->width, .height = m->height, .refresh_mhz = mode_refresh_mhz(m),
			.current = ids[i] == current, .preferred = i < oi->num_preferred });
		shown++;
	}
	fp_list_omitted(l->out, "    ", "modes", (uint64_t)(n - shown));
}

/* "at WxH@HZ pos=X,Y" of the output's CRTC, or " off" when it drives none. */
static int list_crtc(struct x11_list *l, xcb_randr_crtc_t crtc, xcb_randr_mode_t *current)
{
	xcb_randr_get_crtc_info_reply_t *ci;
	const xcb_randr_mode_info_t *m;

	*current = XCB_NONE;
	if (crtc == XCB_NONE) {
		fputs(" off", l->out);
		return 0;
	}
	ci = xcb_randr_get_crtc_info_reply(
		l->c, xcb_randr_get_crtc_info(l->c, crtc, l->res->config_timestamp), NULL);
	if (!ci)
		return xcb_connection_has_error(l->c) ? -EPIPE : 0; /* gone meanwhile: say less */
	*current = ci->mode;
	m = find_mode(l, ci->mode);
	fputs(" current=", l->out);
	fp_list_size_rate(l->out, ci->width, ci->height, m ? mode_refresh_mhz(m) : 0);
	fprintf(l->out, " pos=%d,%d", ci->x, ci->y);
	free(ci);
	return 0;
}

static int list_output(struct x11_list *l, xcb_randr_output_t id, xcb_randr_output_t primary)
{
	static const char *const conn[] = { "connected", "disconnected", "unknown" };
	xcb_randr_get_output_info_reply_t *oi = xcb_randr_get_output_info_reply(
		l->c, xcb_randr_get_output_info(l->c, id, l->res->config_timestamp), NULL);
	xcb_randr_mode_t current = XCB_NONE;
	int r = 0;

	if (!oi)
		return xcb_connection_has_error(l->c) ? -EPIPE : 0;
	if (!reply_holds(oi, xcb_randr_get_output_info_name_end(oi).data)) {
		fp_error("x11: X display %s sent a malformed RandR output reply", l->name);
		free(oi);
		return -EPROTO;
	}
	fputs("  output ", l->out);
	fp_list_word(l->out, (const char *)xcb_randr_get_output_info_name(oi),
		     (size_t)xcb_randr_get_output_info_name_length(oi));
	fprintf(l->out, " %s", oi->connection < 3 ? conn[oi->connection] : "unknown");
	fputs(id == primary ? " primary" : "", l->out);
	r = list_crtc(l, oi->crtc, &current);
	fputc('\n', l->out);
	if (r == 0)
		list_modes(l, oi, current);
	free(oi);
	return r;
}

/* The screen's RandR outputs; nothing when the server lacks RandR 1.3. */
static int list_outputs(struct x11_list *l, const xcb_screen_t *scr)
{
	xcb_randr_get_output_primary_reply_t *pr;
	xcb_randr_output_t primary = XCB_NONE;
	const xcb_randr_output_t *outs;
	int n, r = 0, i;

	l->res = xcb_randr_get_screen_resources_current_reply(
		l->c, xcb_randr_get_screen_resources_current(l->c, scr->root), NULL);
	if (!l->res)
		return xcb_connection_has_error(l->c) ? -EPIPE : 0;
	if (!reply_holds(l->res, xcb_randr_get_screen_resources_current_names_end(l->res).data)) {
		fp_error("x11: X display %s sent a malformed RandR resources reply", l->name);
		r = -EPROTO;
		goto out;
	}
	l->modes = xcb_randr_get_screen_resources_current_modes(l->res);
	l->n_modes = xcb_randr_get_screen_resources_current_modes_length(l->res);
	pr = xcb_randr_get_output_primary_reply(l->c, xcb_randr_get_output_primary(l->c, scr->root),
						NULL);
	if (pr)
		primary = pr->output;
	free(pr);
	outs = xcb_randr_get_screen_resources_current_outputs(l->res);
	n = xcb_randr_get_screen_resources_current_outputs_length(l->res);
	for (i = 0; i < n && i < FP_LIST_MAX_OUTPUTS && r == 0; i++)
		r = list_output(l, outs[i], primary);
	if (r == 0)
		fp_list_omitted(l->out, "  ", "outputs", (uint64_t)(n - i));
out:
	free(l->res);
	l->res = NULL;
	return r;
}

/* RandR 1.3 or newer, else the screens are listed without outputs (warned once). */
static bool have_randr(struct x11_list *l)
{
	const xcb_query_extension_reply_t *q = xcb_get_extension_data(l->c, &xcb_randr_id);
	xcb_randr_query_version_reply_t *v;
	bool ok;

	if (!q || !q->present) {
		fp_warn("x11: X display %s has no RandR: outputs are not listed", l->name);
		return false;
	}
	v = xcb_randr_query_version_reply(l->c, xcb_randr_query_version(l->c, 1, 3), NULL);
	ok = v && (v->major_version > 1 || v->minor_version >= 3);
	if (v && !ok)
		fp_warn("x11: X display %s has RandR %u.%u, not 1.3: outputs are not listed",
			l->name, v->major_version, v->minor_version);
	free(v);
	return ok;
}

static int list_screens(struct x11_list *l)
{
	xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(l->c));
	bool randr = have_randr(l);
	unsigned i = 0;
	int r = 0;

	fputs("X display ", l->out);
	fp_list_word(l->out, l->name, strlen(l->name));
	fputc('\n', l->out);
	for (; it.rem && i < FP_LIST_MAX_SCREENS && r == 0; xcb_screen_next(&it), i++) {
		fprintf(l->out, "screen %u size=%ux%u depth=%u\n", i, it.data->width_in_pixels,
			it.data->height_in_pixels, it.data->root_depth);
		if (randr)
			r = list_outputs(l, it.data);
	}
	if (r == 0)
		fp_list_omitted(l->out, "", "screens", (uint64_t)it.rem);
	if (r == 0 && xcb_connection_has_error(l->c))
		r = -EPIPE;
	if (r == -EPIPE)
		fp_error("x11: the connection to X display %s broke off", l->name);
	return r;
}

int fp_x11_list(const char *display, FILE *out)
{
	struct x11_list l = { .out = out };
	const char *env = getenv("DISPLAY");
	int err, r;

	l.name = display && *display ? display : env && *env ? env : "(unset)";
	l.c = xcb_connect(display && *display ? display : NULL, NULL);
	err = xcb_connection_has_error(l.c);
	if (err) {
		/* xcb says only how it failed; the likely causes are what a user can act on. */
		fp_error("x11: cannot connect to X display %s: %s (xcb error %d)", l.name,
			 err == XCB_CONN_CLOSED_PARSE_ERR ? "not an X display name"
			 : "no X server answers there, or it refused this client", err);
		xcb_disconnect(l.c);
		return -ECONNREFUSED;
	}
	r = list_screens(&l);
	xcb_disconnect(l.c);
	return r;
}
