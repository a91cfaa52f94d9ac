/* framepush — one message per SOCK_SEQPACKET packet, fds by SCM_RIGHTS.
 *
 * Delivery is all or nothing: the kernel queues a packet and its fds atomically, and the
 * receiver closes every fd of a packet it does not accept in full. */
#ifndef FP_CHANNEL_MSG_H
#define FP_CHANNEL_MSG_H

#include <stddef.h>

#include "framepush/proto.h"

/* Sends len bytes and nfds fds (nfds <= FP_CHANNEL_MAX_FDS). Returns 0 or -errno
 * (-EPIPE when the peer is gone). Never raises SIGPIPE. */
int fp_msg_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* Receives one packet, waiting up to timeout_ms (-1 forever). On success returns the byte
 * length and stores the received fds (CLOEXEC) in fds[0..*nfds). Returns -EAGAIN on timeout,
 * -ECONNRESET when the peer hung up, -EMSGSIZE when the packet or its fds were truncated
 * (every fd that did arrive is closed), 0 for an empty packet (any fds it carried closed). */
int fp_msg_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds, size_t *nfds,
		int timeout_ms);

/* Closes fds[0..n). */
void fp_msg_close_fds(int *fds, size_t n);

#endif
