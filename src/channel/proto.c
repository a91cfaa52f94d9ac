#include "framepush/proto.h"

static const char *const status_names[] = {
	[FP_SRC_NOT_ATTACHED] = "NOT_ATTACHED", [FP_SRC_OPENED] = "OPENED",
	[FP_SRC_BAD_MESSAGE] = "BAD_MESSAGE",   [FP_SRC_BAD_MAGIC] = "BAD_MAGIC",
	[FP_SRC_BAD_VERSION] = "BAD_VERSION",   [FP_SRC_STALE] = "STALE",
	[FP_SRC_BIND_MISMATCH] = "BIND_MISMATCH", [FP_SRC_BAD_RING] = "BAD_RING",
	[FP_SRC_BAD_SIZE] = "BAD_SIZE",         [FP_SRC_NO_SEALS] = "NO_SEALS",
	[FP_SRC_MAP_FAILED] = "MAP_FAILED",     [FP_SRC_BAD_FORMAT] = "BAD_FORMAT",
	[FP_SRC_CONTROL_WRITABLE] = "CONTROL_WRITABLE", [FP_SRC_BAD_EVENT] = "BAD_EVENT",
};

static const char *const status_meanings[] = {
	[FP_SRC_NOT_ATTACHED] = "the source has not attached to any ring (delivery not received or not accepted yet)",
	[FP_SRC_OPENED] = "the source attached; no frames means its display composed nothing (idle) or it cannot match the ring's format",
	[FP_SRC_BAD_MESSAGE] = "the delivery message was malformed (detail: length, type or fd count; 4294967295: a block size is not this build's; 4294967294: too long or too many fds)",
	[FP_SRC_BAD_MAGIC] = "the control block's magic was wrong (detail: magic seen)",
	[FP_SRC_BAD_VERSION] = "host and source speak different protocol versions (detail: version seen)",
	[FP_SRC_STALE] = "an old ring: the control block's generation differs from the delivery's (detail: generation seen), or the delivery is not newer than the attached ring (detail: attached generation)",
	[FP_SRC_BIND_MISMATCH] = "the ring is for another display than the source serves (detail: target id seen)",
	[FP_SRC_BAD_RING] = "the ring length is out of bounds (detail: length seen)",
	[FP_SRC_BAD_SIZE] = "a shared object is smaller than declared (detail: fd index)",
	[FP_SRC_NO_SEALS] = "a shared object lacks the shrink/grow/seal seals (detail: fd index)",
	[FP_SRC_MAP_FAILED] = "mapping a shared object failed (detail: errno)",
	[FP_SRC_BAD_FORMAT] = "size, stride or pixel format is invalid (detail: 1 pixel format, 2 size, 3 stride or slot size, 4 control block disagrees)",
	[FP_SRC_CONTROL_WRITABLE] = "the control block lacks F_SEAL_FUTURE_WRITE, so the source could reopen it writable (detail: seals seen)",
	[FP_SRC_BAD_EVENT] = "the frame-ready fd is not an eventfd, or cannot be made non-blocking (detail: 0, or errno)",
};

/* A status added without a name or meaning fails the build (gaps: test_proto checks). */
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == FP_SRC_STATUS_MAX + 1, "names");
_Static_assert(sizeof(status_meanings) / sizeof(status_meanings[0]) == FP_SRC_STATUS_MAX + 1,
	       "meanings");

const char *fp_source_status_name(uint32_t status)
{
	return status <= FP_SRC_STATUS_MAX ? status_names[status] : "UNKNOWN";
}

const char *fp_source_status_meaning(uint32_t status)
{
	return status <= FP_SRC_STATUS_MAX ? status_meanings[status] : "a status this host does not know";
}
