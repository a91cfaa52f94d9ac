/* Fuzz target: the Wayland relay's parsing (src/display/wl_relay.c), which reads what
 * xdg-desktop-portal-wlr sends sway and what sway answers. Each input is a conversation:
 * messages built from the input (small object ids and opcodes, so registry, manager and
 * frames come up often; sizes that may lie, strings that may be the manager's name) and
 * raw runs of bytes, fed in either direction in pieces. The relay must never read or write
 * out of bounds, take more than it was given, or write more than twice its input. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../src/display/wl_relay.h"
#include "fuzz_bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fp_fuzz_smoke_verdict(unsigned long inputs);

static unsigned long injected, managers;

int fp_fuzz_smoke_verdict(unsigned long inputs)
{
	printf("fuzz smoke: %lu inputs, no crash; %lu managers bound, %lu linux_dmabuf events "
	       "added\n", inputs, managers, injected);
	/* A run that never reached the rewrite would prove nothing. */
	return injected && managers ? 0 : 1;
}

static size_t build(struct fuzz_bytes *in, uint8_t *buf, size_t cap)
{
	static const char name[] = "zwlr_screencopy_manager_v1";
	uint32_t words[24] = { 0 };
	uint8_t shape = fuzz_take(in);
	uint32_t obj = fuzz_take(in) % 4, op = shape & 8 ? 0 : fuzz_take(in) % 4;
	/* Mostly the shape of a capture request and of a frame's buffer event (4 words). */
	uint32_t n = shape & 4 ? fuzz_take(in) % 20 : 4;
	uint32_t hdr, sz;
	size_t len;

	for (uint32_t i = 0; i < n; i++)
		words[i] = fuzz_take(in) % 4 ? fuzz_take(in) % 4 : fuzz_take32(in);
	if ((shape & 3) == 1) { /* a bind of the manager on registry 2: name, version, id */
		obj = 2;
		op = 0;
		n = 11;
		words[0] = 7;
		words[1] = sizeof(name);
		memcpy(&words[2], name, sizeof(name));
		words[9] = 3 + fuzz_take(in) % 2;
		words[10] = 1 + fuzz_take(in) % 3;
	}
	len = 8 + (size_t)n * 4;
	if (len > cap)
		return 0;
	words[0] = words[0] ? words[0] : 1;
	/* The size word may lie (shape bit 4): the parser must not trust it. */
	sz = shape & 16 ? (uint32_t)fuzz_take(in) << 4 : (uint32_t)len;
	hdr = sz << 16 | op;
	memcpy(buf, &obj, 4);
	memcpy(buf + 4, &hdr, 4);
	memcpy(buf + 8, words, (size_t)n * 4);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_bytes in = { data, size };
	struct fp_wl_relay_conn c = { 0 };
	static uint8_t req[8192], ev[8192], out[16384];
	/* Every conversation starts as a client's does: wl_display.get_registry -> 2. */
	size_t nreq = 12, nev = 0;
	const uint32_t get_registry[3] = { 1, 12u << 16 | 1u, 2 };

	memcpy(req, get_registry, sizeof(get_registry));
	for (int steps = 0; steps < 64 && in.n; steps++) {
		uint8_t what = fuzz_take(&in);
		uint8_t *buf = what & 1 ? ev : req;
		size_t *n = what & 1 ? &nev : &nreq, used, w;

		if (what & 6) /* raw runs a quarter of the time: they derail the framing */
			*n += build(&in, buf + *n, 4096 - *n);
		else
			for (uint8_t k = fuzz_take(&in) % 32; k && *n < 4096; k--)
				buf[(*n)++] = fuzz_take(&in);
		if (what & 1) {
			w = fp_wl_relay_events(&c, ev, nev, out, &used);
			assert(used <= nev && w >= used && w <= 2 * used);
			injected += w > used;
		} else {
			used = fp_wl_relay_requests(&c, req, nreq);
			assert(used <= nreq);
		}
		memmove(buf, buf + used, *n - used);
		*n -= used;
		managers += c.manager != 0;
	}
	return 0;
}
