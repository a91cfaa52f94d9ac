/* framepush — the frame channel contract between the host and a source.
 *
 * Both sides include this header, so a layout drift is a compile error. Every offset and
 * size below is pinned with _Static_assert; changing one means bumping FP_PROTO_VERSION.
 *
 * Shared objects (all created by the host, unnamed, sealed against shrink/grow/seal):
 *   control block  host writes, source gets a READ-ONLY fd  (struct fp_control); also sealed
 *                  F_SEAL_FUTURE_WRITE once written, so no reopen of it maps writable
 *   status block   source writes, host validates every read (struct fp_status)
 *   slot[i]        one memfd per ring slot: height * stride bytes of pixels
 *   event          eventfd the source signals after each publish
 *
 * Trust: the host trusts nothing in the status block or in a socket message. It copies a
 * value out once, checks it against limits it chose, then uses the copy.
 */
#ifndef FRAMEPUSH_PROTO_H
#define FRAMEPUSH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "framepush/pixel.h" /* enum fp_pixfmt, struct fp_hdr10: on the wire here */

#define FP_PROTO_MAGIC 0x48535046u /* "FPSH" little-endian */
/* 2: desc_serial became a seqlock (odd while written). 3: FP_MSG_INPUT (host -> source).
 * Both sides build from this header; a source of another layout is refused anyway
 * (control_size / status_size must be sizeof). */
#define FP_PROTO_VERSION 3u

/* Ring length bounds: one slot for the host to read, one being written, one published. */
#define FP_RING_MIN 3u
#define FP_RING_MAX 8u
#define FP_RING_DEFAULT 4u

/* Display size bounds the host accepts from a source (8K UHD). */
#define FP_WIDTH_MIN 2u
#define FP_HEIGHT_MIN 2u
#define FP_WIDTH_MAX 7680u
#define FP_HEIGHT_MAX 4320u

/* The mode a display, a test source and a session take when nobody asked for one. */
#define FP_MODE_DEFAULT_WIDTH 1920u
#define FP_MODE_DEFAULT_HEIGHT 1080u
#define FP_MODE_DEFAULT_HZ 60u

/* What the source reports in fp_status.status; the detail word qualifies it. */
enum fp_source_status {
	FP_SRC_NOT_ATTACHED = 0, /* no delivery accepted yet (or detached)                   */
	FP_SRC_OPENED = 1,       /* attached to the delivered ring, publishing when it can   */
	FP_SRC_BAD_MESSAGE = 2,  /* delivery malformed; detail = byte length, type seen, fd
				  * count, or FP_BAD_MESSAGE_BLOCK_SIZE / _OVERSIZED        */
	FP_SRC_BAD_MAGIC = 3,    /* control block magic wrong; detail = magic seen            */
	FP_SRC_BAD_VERSION = 4,  /* protocol version differs; detail = version seen           */
	FP_SRC_STALE = 5,        /* control block generation != delivery's; detail = seen;
				  * or delivery not newer than the attached ring; detail =
				  * attached generation                                      */
	FP_SRC_BIND_MISMATCH = 6,/* target id is not this source's display; detail = id seen */
	FP_SRC_BAD_RING = 7,     /* ring length out of bounds; detail = length seen           */
	FP_SRC_BAD_SIZE = 8,     /* an fd is smaller than declared; detail = fd index         */
	FP_SRC_NO_SEALS = 9,     /* an fd lacks the required seals; detail = fd index         */
	FP_SRC_MAP_FAILED = 10,  /* mmap failed; detail = errno                               */
	FP_SRC_BAD_FORMAT = 11,  /* size/format/stride invalid; detail = enum fp_bad_format  */
	FP_SRC_CONTROL_WRITABLE = 12, /* control fd lacks F_SEAL_FUTURE_WRITE; detail = seals seen */
	FP_SRC_BAD_EVENT = 13,   /* event fd is not an eventfd; detail = 0, or errno          */
	FP_SRC_STATUS_MAX = 13,
};

/* The detail of FP_SRC_BAD_FORMAT: which part of the delivery's geometry was wrong. */
enum fp_bad_format {
	FP_BAD_FORMAT_PIXFMT = 1,  /* format is no enum fp_pixfmt                              */
	FP_BAD_FORMAT_SIZE = 2,    /* width or height outside FP_WIDTH_* / FP_HEIGHT_*          */
	FP_BAD_FORMAT_STRIDE = 3,  /* stride < width * bpp or not a multiple of 4, or slot_size
				    * != stride * height                                      */
	FP_BAD_FORMAT_CONTROL = 4, /* the control block's geometry differs from the message's  */
};

/* Details of FP_SRC_BAD_MESSAGE that are no length or fd count (those fit a packet, far
 * below these), so each detail value means one thing; 0 is a zero-length packet.
 * BLOCK_SIZE: control_size or status_size is not the size of this header's struct (the
 * two sides were built from different contracts). OVERSIZED: the packet was longer, or
 * carried more fds, than any delivery, so its length was never read. */
#define FP_BAD_MESSAGE_BLOCK_SIZE 0xffffffffu
#define FP_BAD_MESSAGE_OVERSIZED 0xfffffffeu

/* A one-line meaning per status, for diagnostics on both sides. */
const char *fp_source_status_name(uint32_t status);
const char *fp_source_status_meaning(uint32_t status);

/* Host-written, source-read. The source gets it through a read-only fd. */
struct fp_control {
	uint32_t magic;        /* FP_PROTO_MAGIC, stored LAST with release ordering */
	uint32_t version;      /* FP_PROTO_VERSION */
	uint32_t generation;   /* ring generation, 1..FP_GEN_MAX */
	uint32_t target_id;    /* the display this ring is for */
	uint32_t ring_len;     /* FP_RING_MIN..FP_RING_MAX */
	uint32_t width;
	uint32_t height;
	uint32_t format;       /* enum fp_pixfmt */
	uint32_t stride;       /* bytes per row in a slot: >= width * bpp and a multiple of 4
				* (all a source may rely on; this host rounds up to 64) */
	uint32_t reserved0;
	uint64_t slot_size;    /* bytes of each slot memfd == height * stride */
	uint64_t reserved[2];
};

_Static_assert(offsetof(struct fp_control, magic) == 0, "control.magic");
_Static_assert(offsetof(struct fp_control, version) == 4, "control.version");
_Static_assert(offsetof(struct fp_control, generation) == 8, "control.generation");
_Static_assert(offsetof(struct fp_control, target_id) == 12, "control.target_id");
_Static_assert(offsetof(struct fp_control, ring_len) == 16, "control.ring_len");
_Static_assert(offsetof(struct fp_control, width) == 20, "control.width");
_Static_assert(offsetof(struct fp_control, height) == 24, "control.height");
_Static_assert(offsetof(struct fp_control, format) == 28, "control.format");
_Static_assert(offsetof(struct fp_control, stride) == 32, "control.stride");
_Static_assert(offsetof(struct fp_control, reserved0) == 36, "control.reserved0");
_Static_assert(offsetof(struct fp_control, slot_size) == 40, "control.slot_size");
_Static_assert(offsetof(struct fp_control, reserved) == 48, "control.reserved");
_Static_assert(sizeof(struct fp_control) == 64, "control size");

/* Slot ownership word values (fp_status.slot_owner[i]). The source takes a slot
 * FREE -> SOURCE to write it, the host FREE -> HOST to read it. FP_SLOT_WAITERS is set by
 * a host futex-waiting on the word, so the source wakes it only when someone waits. */
#define FP_SLOT_FREE 0u
#define FP_SLOT_SOURCE 1u
#define FP_SLOT_HOST 2u
#define FP_SLOT_WAITERS 0x80000000u

/* The display's HDR10 metadata, as its source reports it: SMPTE ST 2086 mastering display
 * colour volume and CTA-861.3 content light level, in the HEVC SEI units (chromaticity in
 * 0.00002 steps, luminance in 0.0001 cd/m2 steps, light levels in cd/m2). Part of the
 * descriptor, under the desc_serial seqlock. present is exactly FP_HDR_META_NONE (the
 * host uses its generic baseline) or FP_HDR_META_PRESENT; the host validates every field
 * (doc/channel.md) and falls back to the baseline on any invalid record. */
#define FP_HDR_META_NONE 0u
#define FP_HDR_META_PRESENT 1u

struct fp_hdr_meta {
	uint32_t present;
	struct fp_hdr10 rec;     /* framepush/pixel.h: the one HDR10 record, in its units */
};

_Static_assert(offsetof(struct fp_hdr_meta, present) == 0, "hdr_meta.present");
_Static_assert(offsetof(struct fp_hdr_meta, rec.red_x) == 4, "hdr_meta.red_x");
_Static_assert(offsetof(struct fp_hdr_meta, rec.red_y) == 6, "hdr_meta.red_y");
_Static_assert(offsetof(struct fp_hdr_meta, rec.green_x) == 8, "hdr_meta.green_x");
_Static_assert(offsetof(struct fp_hdr_meta, rec.green_y) == 10, "hdr_meta.green_y");
_Static_assert(offsetof(struct fp_hdr_meta, rec.blue_x) == 12, "hdr_meta.blue_x");
_Static_assert(offsetof(struct fp_hdr_meta, rec.blue_y) == 14, "hdr_meta.blue_y");
_Static_assert(offsetof(struct fp_hdr_meta, rec.white_x) == 16, "hdr_meta.white_x");
_Static_assert(offsetof(struct fp_hdr_meta, rec.white_y) == 18, "hdr_meta.white_y");
_Static_assert(offsetof(struct fp_hdr_meta, rec.max_luminance) == 20, "hdr_meta.max_luminance");
_Static_assert(offsetof(struct fp_hdr_meta, rec.min_luminance) == 24, "hdr_meta.min_luminance");
_Static_assert(offsetof(struct fp_hdr_meta, rec.max_cll) == 28, "hdr_meta.max_cll");
_Static_assert(offsetof(struct fp_hdr_meta, rec.max_fall) == 30, "hdr_meta.max_fall");
_Static_assert(sizeof(struct fp_hdr_meta) == 32, "hdr_meta size");

/* Source-written, host-read (and the host's CAS on the slot words). */
struct fp_status {
	uint32_t status;                 /* enum fp_source_status */
	uint32_t detail;
	uint32_t attached_generation;    /* generation the source is attached to */
	uint32_t reserved0;
	uint64_t latest;                 /* publish token, stored with release ordering */
	/* The display as the source sees it now; the host recreates the ring on a change. */
	uint32_t desc_width;
	uint32_t desc_height;
	uint32_t desc_format;
	uint32_t desc_serial;            /* seqlock: odd while written, even (not 0) when whole */
	uint64_t frames_published;
	uint64_t frames_dropped;         /* format guard and no-free-slot drops */
	uint64_t reserved1;
	uint32_t slot_owner[FP_RING_MAX];     /* futex words */
	uint64_t slot_capture_ns[FP_RING_MAX];/* CLOCK_MONOTONIC at capture, per slot */
	struct fp_hdr_meta desc_hdr;     /* descriptor too, under the same seqlock */
};

_Static_assert(offsetof(struct fp_status, status) == 0, "status.status");
_Static_assert(offsetof(struct fp_status, detail) == 4, "status.detail");
_Static_assert(offsetof(struct fp_status, attached_generation) == 8, "status.attached_generation");
_Static_assert(offsetof(struct fp_status, reserved0) == 12, "status.reserved0");
_Static_assert(offsetof(struct fp_status, latest) == 16, "status.latest");
_Static_assert(offsetof(struct fp_status, desc_width) == 24, "status.desc_width");
_Static_assert(offsetof(struct fp_status, desc_height) == 28, "status.desc_height");
_Static_assert(offsetof(struct fp_status, desc_format) == 32, "status.desc_format");
_Static_assert(offsetof(struct fp_status, desc_serial) == 36, "status.desc_serial");
_Static_assert(offsetof(struct fp_status, frames_published) == 40, "status.frames_published");
_Static_assert(offsetof(struct fp_status, frames_dropped) == 48, "status.frames_dropped");
_Static_assert(offsetof(struct fp_status, reserved1) == 56, "status.reserved1");
_Static_assert(offsetof(struct fp_status, slot_owner) == 64, "status.slot_owner");
_Static_assert(offsetof(struct fp_status, slot_capture_ns) == 96, "status.slot_capture_ns");
_Static_assert(offsetof(struct fp_status, desc_hdr) == 160, "status.desc_hdr");
_Static_assert(sizeof(struct fp_status) == 192, "status size");

/* Publish token: (generation << 40) | (seq << 8) | slot; 24/32/8 bits.
 * Generation 0 is the "nothing published" sentinel. */
#define FP_GEN_BITS 24
#define FP_SEQ_BITS 32
#define FP_SLOT_BITS 8
#define FP_GEN_MAX ((1u << FP_GEN_BITS) - 1u)

struct fp_token {
	uint32_t generation;
	uint32_t seq;
	uint32_t slot;
};

static inline uint64_t fp_token_pack(uint32_t generation, uint32_t seq, uint32_t slot)
{
	return ((uint64_t)(generation & FP_GEN_MAX) << 40) | ((uint64_t)seq << 8) |
	       (uint64_t)(slot & 0xffu);
}

static inline struct fp_token fp_token_unpack(uint64_t token)
{
	struct fp_token t = {
		.generation = (uint32_t)(token >> 40) & FP_GEN_MAX,
		.seq = (uint32_t)(token >> 8),
		.slot = (uint32_t)token & 0xffu,
	};
	return t;
}

/* Attach check, run by the source on the control block it mapped:
 * STALE when magic or generation disagree with the delivery message,
 * BIND_MISMATCH when the target id is not the display the source serves.
 * Before it, a source already attached refuses (STALE) a delivery whose generation is not
 * newer than its ring's, in 24-bit serial arithmetic: a replayed or older ring. */
enum fp_attach_result {
	FP_ATTACH_OK = 0,
	FP_ATTACH_STALE = 1,
	FP_ATTACH_BIND_MISMATCH = 2,
};

static inline enum fp_attach_result fp_attach_check(uint32_t magic, uint32_t generation,
						    uint32_t target_id, uint32_t want_generation,
						    uint32_t want_target_id)
{
	if (magic != FP_PROTO_MAGIC || generation != want_generation)
		return FP_ATTACH_STALE;
	if (target_id != want_target_id)
		return FP_ATTACH_BIND_MISMATCH;
	return FP_ATTACH_OK;
}

/* ---- Channel messages on the SOCK_SEQPACKET socket (one message per packet) ---- */

enum fp_msg_type {
	FP_MSG_HELLO = 1,   /* source -> host: who I am, what my display is */
	FP_MSG_CHANNEL = 2, /* host -> source: a ring; fds via SCM_RIGHTS */
	FP_MSG_STATUS = 3,  /* source -> host: attach result for a delivery */
	FP_MSG_KICK = 4,    /* host -> source: make the display compose a frame */
	/* 5 was a test hook channel; retired, so a host or source treats it as junk. */
	FP_MSG_REFUSED = 6, /* host -> source: peer verification failed; no fds follow */
	FP_MSG_INPUT = 7,   /* host -> source: one input event to inject (struct fp_msg_input) */
};

struct fp_msg_header {
	uint32_t type;
	uint32_t version; /* FP_PROTO_VERSION */
};
_Static_assert(offsetof(struct fp_msg_header, type) == 0, "header.type");
_Static_assert(offsetof(struct fp_msg_header, version) == 4, "header.version");
_Static_assert(sizeof(struct fp_msg_header) == 8, "header size");

struct fp_msg_hello {
	struct fp_msg_header hdr;
	uint32_t target_id;
	uint32_t width, height, format; /* the display's current descriptor */
	char backend[16];               /* NUL-terminated backend name */
};
_Static_assert(offsetof(struct fp_msg_hello, target_id) == 8, "hello.target_id");
_Static_assert(offsetof(struct fp_msg_hello, width) == 12, "hello.width");
_Static_assert(offsetof(struct fp_msg_hello, height) == 16, "hello.height");
_Static_assert(offsetof(struct fp_msg_hello, format) == 20, "hello.format");
_Static_assert(offsetof(struct fp_msg_hello, backend) == 24, "hello.backend");
_Static_assert(sizeof(struct fp_msg_hello) == 40, "hello size");

/* fds, in order: control (read-only), status, event, slot[0..ring_len-1]. */
#define FP_CHANNEL_FD_CONTROL 0
#define FP_CHANNEL_FD_STATUS 1
#define FP_CHANNEL_FD_EVENT 2
#define FP_CHANNEL_FD_SLOT0 3
#define FP_CHANNEL_MAX_FDS (3 + FP_RING_MAX)

struct fp_msg_channel {
	struct fp_msg_header hdr;
	uint32_t generation;
	uint32_t target_id;
	uint32_t ring_len;
	uint32_t width, height, format, stride;
	uint32_t reserved0;
	uint64_t slot_size;
	uint64_t control_size;
	uint64_t status_size;
};
_Static_assert(offsetof(struct fp_msg_channel, generation) == 8, "channel.generation");
_Static_assert(offsetof(struct fp_msg_channel, target_id) == 12, "channel.target_id");
_Static_assert(offsetof(struct fp_msg_channel, ring_len) == 16, "channel.ring_len");
_Static_assert(offsetof(struct fp_msg_channel, width) == 20, "channel.width");
_Static_assert(offsetof(struct fp_msg_channel, height) == 24, "channel.height");
_Static_assert(offsetof(struct fp_msg_channel, format) == 28, "channel.format");
_Static_assert(offsetof(struct fp_msg_channel, stride) == 32, "channel.stride");
_Static_assert(offsetof(struct fp_msg_channel, reserved0) == 36, "channel.reserved0");
_Static_assert(offsetof(struct fp_msg_channel, slot_size) == 40, "channel.slot_size");
_Static_assert(offsetof(struct fp_msg_channel, control_size) == 48, "channel.control_size");
_Static_assert(offsetof(struct fp_msg_channel, status_size) == 56, "channel.status_size");
_Static_assert(sizeof(struct fp_msg_channel) == 64, "channel size");

struct fp_msg_status {
	struct fp_msg_header hdr;
	uint32_t generation; /* of the delivery this answers */
	uint32_t status;     /* enum fp_source_status */
	uint32_t detail;
	uint32_t reserved0;
};
_Static_assert(offsetof(struct fp_msg_status, generation) == 8, "status msg.generation");
_Static_assert(offsetof(struct fp_msg_status, status) == 12, "status msg.status");
_Static_assert(offsetof(struct fp_msg_status, detail) == 16, "status msg.detail");
_Static_assert(offsetof(struct fp_msg_status, reserved0) == 20, "status msg.reserved0");
_Static_assert(sizeof(struct fp_msg_status) == 24, "status msg size");

/* One viewer input event (framepush/input.h), host -> source, no fds. The source takes it only
 * at exactly this size and version, with reserved0 == 0 and fp_input_event_valid() true on
 * the copied fields; anything else is dropped (counted), never fatal. */
struct fp_msg_input {
	struct fp_msg_header hdr;
	uint32_t type;   /* enum fp_input_type */
	uint32_t code;
	int32_t value;
	uint32_t x, y;   /* MOTION: in 1/FP_INPUT_POS_ONE of the display */
	uint32_t reserved0;
};
_Static_assert(offsetof(struct fp_msg_input, type) == 8, "input.type");
_Static_assert(offsetof(struct fp_msg_input, code) == 12, "input.code");
_Static_assert(offsetof(struct fp_msg_input, value) == 16, "input.value");
_Static_assert(offsetof(struct fp_msg_input, x) == 20, "input.x");
_Static_assert(offsetof(struct fp_msg_input, y) == 24, "input.y");
_Static_assert(offsetof(struct fp_msg_input, reserved0) == 28, "input.reserved0");
_Static_assert(sizeof(struct fp_msg_input) == 32, "input size");

#endif
