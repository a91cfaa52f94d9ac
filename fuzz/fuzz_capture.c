/* Fuzz target: what the host reads from a source. An in-process fake source, driven by the
 * input, attaches (with the real source-side validation) to each ring the real capturer
 * delivers, and between the capturer's calls writes whatever the input says: status words,
 * publish tokens of any generation, seq and slot, slot ownership words, the descriptor
 * through its seqlock or torn by hand, the HDR10 record, pixels under a signature or over
 * one, eventfd signals, and socket messages of any size and type with fds attached. The
 * capturer may refuse or end the session, but must not crash, read out of bounds (ASan),
 * hand out a frame of another geometry than its ring's, or leave an fd behind. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/atomic.h"
#include "attach.h"
#include "channel/desc.h"
#include "channel/msg.h"
#include "shm.h"
#include "channel/signature.h"
#include "common/log.h"
#include "common/util.h"
#include "framepush/capture.h"
#include "framepush/frame.h"
#include "broker.h"
#include "capture_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int fp_fuzz_smoke_verdict(unsigned long inputs);

/* How far inputs got: the smoke verdict checks that each kind of outcome happened. */
enum { OUT_FRESH, OUT_REPEAT, OUT_RECREATE, OUT_ENDED, OUT_MAX };
static unsigned long fp_fuzz_capture_count[OUT_MAX];

int fp_fuzz_smoke_verdict(unsigned long inputs)
{
	printf("fuzz smoke: %lu inputs, no crash, no fd leak; %lu fresh frames, %lu repeats, %lu "
	       "ring recreates, %lu sessions ended by the host\n", inputs,
	       fp_fuzz_capture_count[OUT_FRESH], fp_fuzz_capture_count[OUT_REPEAT],
	       fp_fuzz_capture_count[OUT_RECREATE], fp_fuzz_capture_count[OUT_ENDED]);
	for (int i = 0; i < OUT_MAX; i++)
		if (!fp_fuzz_capture_count[i])
			return 1; /* never got that deep: the run proves too little */
	return 0;
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct in *in, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint32_t)*in->p << (8 * i);
	return v;
}

struct fake {
	int sock;
	struct fp_attachment att;
	int attached;
	uint32_t seq;
	int last_slot;
};

/* Takes one ring delivery (waiting up to timeout_ms) and attaches to it as a source would;
 * OPENED goes into the status block. 1 attached, 0 nothing there, -1 refused. */
static int take_delivery(struct fake *f, int timeout_ms)
{
	union {
		struct fp_msg_channel ch;
		char raw[256];
	} m;
	int fds[FP_CHANNEL_MAX_FDS];
	size_t nfds = 0;
	struct fp_attachment att;
	uint32_t detail;
	int n = fp_msg_recv(f->sock, &m, sizeof(m), fds, FP_ARRAY_LEN(fds), &nfds, timeout_ms);

	if (n < 0)
		return 0;
	if (fp_attach(&m, (size_t)n, fds, nfds, 1, &att, &detail) != FP_SRC_OPENED)
		return -1; /* fp_attach closed every fd */
	if (f->attached)
		fp_attachment_release(&f->att);
	f->att = att;
	f->attached = 1;
	f->seq = 0;
	f->last_slot = -1;
	atomic_store(ATOMIC_U32(&att.status->status), FP_SRC_OPENED);
	(void)!write(att.event_fd, &(uint64_t){ 1 }, sizeof(uint64_t)); /* wake the host */
	return 1;
}

static void *first_delivery(void *arg)
{
	take_delivery(arg, 2000);
	return NULL;
}

/* A whole frame, signed, published as a source does. */
static void publish(struct fake *f, struct in *in)
{
	struct fp_attachment *a = &f->att;
	uint32_t i = take(in, 1) % a->ring_len, v = FP_SLOT_FREE;
	uint8_t fill = (uint8_t)take(in, 1);

	if ((int)i == f->last_slot ||
	    !atomic_compare_exchange_strong(ATOMIC_U32(&a->status->slot_owner[i]), &v, FP_SLOT_SOURCE))
		return;
	memset(a->slot[i], fill, a->slot_size);
	fp_signature_write(a->slot[i], a->stride, a->width, a->height, a->format, f->seq + 1,
			   a->generation);
	atomic_store(ATOMIC_U32(&a->status->slot_owner[i]), FP_SLOT_FREE);
	f->seq++;
	f->last_slot = (int)i;
	atomic_store(ATOMIC_U64(&a->status->latest), fp_token_pack(a->generation, f->seq, i));
}

static void send_junk(struct fake *f, struct in *in)
{
	uint8_t buf[200] = { 0 };
	size_t len = take(in, 1) % sizeof(buf), nfds = take(in, 1) % 3;
	int fds[2] = { -1, -1 };

	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)take(in, 1);
	if (take(in, 1) & 1) { /* a well-formed STATUS, maybe refusing the current ring */
		struct fp_msg_status s = { .hdr = { FP_MSG_STATUS, FP_PROTO_VERSION },
					   .generation = f->attached ? f->att.generation : 0,
					   .status = take(in, 1) % (FP_SRC_STATUS_MAX + 2) };

		memcpy(buf, &s, sizeof(s));
		len = sizeof(s);
	}
	for (size_t k = 0; k < nfds; k++)
		fds[k] = k ? eventfd(0, EFD_CLOEXEC) : fp_shm_create("junk", 4096);
	(void)fp_msg_send(f->sock, buf, len, fds, nfds);
	fp_msg_close_fds(fds, nfds);
}

static void write_desc(struct fake *f, struct in *in)
{
	static const uint32_t odd[] = { 0, 1, 15, 8193, 65535, 0xffffffffu };
	struct fp_desc d;
	uint32_t raw = take(in, 1);

	d.width = raw & 0x80 ? odd[raw % FP_ARRAY_LEN(odd)] : 16 + take(in, 2) % 304;
	d.height = raw & 0x40 ? odd[(raw >> 3) % FP_ARRAY_LEN(odd)] : 16 + take(in, 2) % 224;
	d.format = take(in, 1) % 4;
	for (size_t k = 0; k < sizeof(d.hdr); k++)
		((uint8_t *)&d.hdr)[k] = (uint8_t)take(in, 1);
	if (take(in, 1) & 1) /* a plausible record, so validation passes sometimes */
		d.hdr.present = FP_HDR_META_PRESENT;
	fp_desc_write(f->att.status, &d, fp_desc_next_serial(f->att.status->desc_serial));
}

static volatile uint8_t frame_sink;

/* Reads every byte of a frame handed out: ASan sees a buffer that is too small. */
static void check_frame(const struct fp_yuv_frame *fr)
{
	size_t bps = fr->format == FP_YUV_P010 ? 2 : 1;
	uint8_t sum = 0;

	if (fr->width < FP_WIDTH_MIN || fr->height < FP_HEIGHT_MIN || fr->width > 320 ||
	    fr->height > 240) {
		fprintf(stderr, "fuzz-capture: a %ux%u frame was handed out\n", fr->width, fr->height);
		abort();
	}
	for (uint32_t y = 0; y < fr->height; y++)
		for (size_t x = 0; x < fr->width * bps; x++)
			sum += fr->data[0][y * fr->stride[0] + x];
	for (uint32_t y = 0; y < (fr->height + 1) / 2; y++)
		for (size_t x = 0; x < ((fr->width + 1) / 2) * 2 * bps; x++)
			sum += fr->data[1][y * fr->stride[1] + x];
	frame_sink = sum; /* kept, so the reads are not optimised away */
	fp_fuzz_capture_count[fr->repeated ? OUT_REPEAT : OUT_FRESH]++;
}

/* One step of the fake source, or one call of the host. 0 goes on, <0 the session ended. */
static int step(struct fake *f, struct fp_capture *cap, struct in *in)
{
	struct fp_status *st = f->att.status;
	const struct fp_yuv_frame *fr;
	uint32_t op = take(in, 1) % 13, gen0 = fp_capture_generation(cap);
	int r = 0;

	switch (op) {
	case 0: /* any word of the status block */
		atomic_store_explicit(ATOMIC_U32((uint32_t *)(void *)st + take(in, 1) % (sizeof(*st) / 4)),
				      take(in, 4), memory_order_relaxed);
		break;
	case 1: { /* a token: this ring's generation or another, any seq, any slot */
		uint32_t gen = take(in, 1) & 1 ? f->att.generation : take(in, 4);

		atomic_store(ATOMIC_U64(&st->latest), fp_token_pack(gen, take(in, 4), take(in, 1)));
		break;
	}
	case 2:
		write_desc(f, in);
		break;
	case 3: /* the seqlock word by hand: odd forever, or torn */
		atomic_store(ATOMIC_U32(&st->desc_serial), take(in, 4));
		break;
	case 4:
		send_junk(f, in);
		break;
	case 5: { /* a slot word */
		static const uint32_t words[] = { FP_SLOT_FREE, FP_SLOT_SOURCE,
						  FP_SLOT_SOURCE | FP_SLOT_WAITERS, FP_SLOT_HOST };
		uint32_t i = take(in, 1) % FP_RING_MAX, w = take(in, 1);

		atomic_store(ATOMIC_U32(&st->slot_owner[i]), w < 200 ? words[w % 4] : take(in, 4));
		break;
	}
	case 6:
		(void)!write(f->att.event_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
		break;
	case 7: { /* pixels over a signature */
		uint32_t i = take(in, 1) % f->att.ring_len;
		uint64_t off = take(in, 4) % f->att.slot_size;

		f->att.slot[i][off] = (uint8_t)take(in, 1);
		break;
	}
	case 8:
		publish(f, in);
		break;
	case 9:
		r = fp_capture_try_latest(cap, &fr);
		if (r == 0)
			check_frame(fr);
		r = r == -EAGAIN ? 0 : r;
		break;
	case 10:
		r = fp_capture_next_frame(cap, fp_now_ns(), &fr);
		if (r == 0)
			check_frame(fr);
		break;
	case 11:
		if (take_delivery(f, 0) < 0)
			return -1;
		break;
	default: /* the capture time hint of a slot */
		st->slot_capture_ns[take(in, 1) % FP_RING_MAX] = (uint64_t)take(in, 4) << take(in, 1) % 32;
		break;
	}
	if (fp_capture_generation(cap) != gen0) {
		fp_fuzz_capture_count[OUT_RECREATE]++;
		if (take_delivery(f, 1000) < 0)
			return -1;
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct fp_msg_hello hello = { .hdr = { FP_MSG_HELLO, FP_PROTO_VERSION }, .target_id = 1,
				      .width = 64, .height = 48, .format = FP_PIXFMT_XRGB8888 };
	struct fake f = { .sock = -1, .last_slot = -1 };
	struct fp_capture_opts o = {
		.backend = "fuzz", .verify_signatures = 1, .convert_threads = 1, .lazy_attach = 1,
		.attach_timeout_ns = 2 * FP_NSEC_PER_SEC, .no_frame_timeout_ns = 5 * FP_NSEC_PER_MSEC,
		.recover_timeout_ns = 30 * FP_NSEC_PER_MSEC,
	};
	struct in in = { data, size };
	struct fp_broker *broker = NULL;
	struct fp_capture *cap = NULL;
	pthread_t t;
	int sv[2], fds_before = fp_count_open_fds();

	if (!quiet++)
		fp_log_set_level(FP_LOG_QUIET); /* a hostile peer makes the host log a lot */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	f.sock = sv[1];
	if (fp_msg_send(f.sock, &hello, sizeof(hello), NULL, 0) < 0 ||
	    fp_broker_adopt(&broker, sv[0], FP_NSEC_PER_SEC) < 0)
		abort();
	if (pthread_create(&t, NULL, first_delivery, &f) != 0)
		abort();
	if (fp_capture_open_adopted(&cap, &o, broker, NULL, 0) < 0)
		cap = NULL;
	pthread_join(t, NULL);
	while (cap && f.attached && in.n) {
		if (step(&f, cap, &in) < 0) {
			fp_fuzz_capture_count[OUT_ENDED]++;
			break;
		}
	}
	fp_capture_close(cap);
	if (f.attached)
		fp_attachment_release(&f.att);
	close(f.sock);
	if (fp_count_open_fds() != fds_before) {
		fprintf(stderr, "fuzz-capture: %d fds open, %d before\n", fp_count_open_fds(), fds_before);
		abort(); /* libFuzzer keeps the input; the smoke driver's is reproducible */
	}
	return 0;
}
