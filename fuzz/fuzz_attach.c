/* Fuzz target: the source's validation of a delivery (what a hostile host or a corrupted
 * message controls). The input builds the message bytes, the fd count, each fd's size and
 * seals, and the control block's contents; fp_attach must refuse or accept without
 * crashing and without leaving a single fd or mapping behind. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach.h"
#include "shm.h"
#include "common/util.h"
#include "framepush/proto.h"
#include "fuzz_bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int fp_fuzz_smoke_verdict(unsigned long inputs);

/* How often each status came out: the smoke verdict shows the depth reached. */
static unsigned long fp_fuzz_status_count[FP_SRC_STATUS_MAX + 1];

int fp_fuzz_smoke_verdict(unsigned long inputs)
{
	printf("fuzz smoke: %lu inputs, no crash, no fd leak; statuses:", inputs);
	for (int s = 0; s <= FP_SRC_STATUS_MAX; s++)
		printf(" %d:%lu", s, fp_fuzz_status_count[s]);
	printf("\n");
	/* A run that never got past the first check would prove nothing. */
	return fp_fuzz_status_count[FP_SRC_OPENED] && fp_fuzz_status_count[FP_SRC_BAD_SIZE] &&
			       fp_fuzz_status_count[FP_SRC_NO_SEALS] &&
			       fp_fuzz_status_count[FP_SRC_CONTROL_WRITABLE] &&
			       fp_fuzz_status_count[FP_SRC_BAD_EVENT]
		       ? 0
		       : 1;
}

/* count bytes of buf overwritten, each at an offset and with a value the input chooses. */
static void scribble(struct fuzz_bytes *in, uint8_t *buf, size_t len, unsigned count)
{
	for (unsigned k = count; k; k--) {
		uint8_t at = fuzz_take(in) % len;

		buf[at] = fuzz_take(in);
	}
}

static const struct fp_msg_channel valid_msg = {
	.hdr = { FP_MSG_CHANNEL, FP_PROTO_VERSION }, .generation = 7, .target_id = 1,
	.ring_len = 3, .width = 16, .height = 8, .format = FP_PIXFMT_XRGB8888, .stride = 64,
	.slot_size = 64 * 8, .control_size = sizeof(struct fp_control),
	.status_size = sizeof(struct fp_status),
};

/* The message: the valid one with a few bytes broken, so the checks deep in fp_attach are
 * reached, not only the first one; sometimes cut or padded. Returns its length. */
static size_t build_msg(struct fuzz_bytes *in, uint8_t *msg, size_t cap)
{
	size_t len = fuzz_take(in);
	uint8_t b;

	memcpy(msg, &valid_msg, sizeof(valid_msg));
	len = len & 0x80 ? len % cap : sizeof(valid_msg);
	b = fuzz_take(in);
	scribble(in, msg, cap, b % 4 == 0 ? (b >> 4) % 8 : 0);
	return len;
}

/* The control block: valid, or scribbled by the input. */
static void write_control(struct fuzz_bytes *in, int fd)
{
	struct fp_control c = { .magic = FP_PROTO_MAGIC, .version = FP_PROTO_VERSION,
				.generation = 7, .target_id = 1, .ring_len = 3, .width = 16,
				.height = 8, .format = FP_PIXFMT_XRGB8888, .stride = 64,
				.slot_size = 64 * 8 };
	uint8_t b = fuzz_take(in);

	scribble(in, (uint8_t *)&c, sizeof(c), b % 2 ? 0 : (b >> 1) % 8);
	if (pwrite(fd, &c, sizeof(c), 0) != (ssize_t)sizeof(c))
		abort();
}

/* Delivery fd i as `mode` says: its size right, half, double or zero; sealed or not; the
 * frame-ready one an eventfd, blocking or not (the source must cope). */
static int make_fd(struct fuzz_bytes *in, size_t i, uint8_t mode)
{
	uint64_t want = i == 0 ? sizeof(struct fp_control) : i == 1 ? sizeof(struct fp_status) : 64 * 8;
	uint64_t sz = mode % 8 < 5 ? want : mode % 8 == 5 ? want / 2 : mode % 8 == 6 ? want * 2 : 0;
	int unsealed = (mode >> 3) % 8 == 7, fd;

	if (i == 2 && !unsealed)
		fd = eventfd(0, EFD_CLOEXEC | (mode & 1 ? EFD_NONBLOCK : 0));
	else if (unsealed) {
		fd = memfd_create("fuzz-unsealed", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, (off_t)sz) < 0)
			abort();
	} else {
		/* The control block stays unsealed until written, as the host does it. */
		fd = i == 0 ? fp_shm_create_open("fuzz", sz) : fp_shm_create("fuzz", sz);
	}
	if (fd < 0)
		abort();
	if (i == 0 && sz >= sizeof(struct fp_control))
		write_control(in, fd);
	/* Sealed as the host seals it, or (a quarter of inputs) without FUTURE_WRITE. */
	if (i == 0 && !unsealed &&
	    fcntl(fd, F_ADD_SEALS, mode >> 6 == 3 ? FP_SHM_SEALS : FP_SHM_SEALS_READONLY) < 0)
		abort();
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_bytes in = { data, size };
	uint8_t msg[96] = { 0 };
	int fds[FP_CHANNEL_MAX_FDS];
	struct fp_attachment att;
	uint32_t detail, st;
	size_t len, nfds;
	int before = fp_count_open_fds();

	len = build_msg(&in, msg, sizeof(msg));
	nfds = fuzz_take(&in);
	nfds = nfds & 0x80 ? nfds % (FP_CHANNEL_MAX_FDS + 1) : 3 + valid_msg.ring_len;
	for (size_t i = 0; i < nfds; i++)
		fds[i] = make_fd(&in, i, fuzz_take(&in));
	st = fp_attach(msg, len, fds, nfds, 1, &att, &detail);
	if (st > FP_SRC_STATUS_MAX)
		abort();
	fp_fuzz_status_count[st]++;
	if (st == FP_SRC_OPENED) {
		/* Accepted: every mapping must be usable for the whole declared size. */
		for (uint32_t i = 0; i < att.ring_len; i++)
			att.slot[i][att.slot_size - 1] = 1;
		fp_attachment_release(&att);
	}
	if (fp_count_open_fds() != before)
		abort(); /* a refused or released delivery left an fd open */
	return 0;
}
