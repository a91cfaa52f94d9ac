/* framepush — the host's broker: it starts the source, proves who connected, and is the
 * only path by which the ring's fds leave the host.
 *
 * The source connects to a SOCK_SEQPACKET socket in a private 0700 directory; the host
 * verifies the peer (uid, pidfd, executable, and the pid it spawned) before any fd leaves.
 * A socketpair would not do: its SO_PEERCRED names the process that created the pair. */
#ifndef FP_HOST_BROKER_H
#define FP_HOST_BROKER_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel/peer.h"
#include "framepush/proto.h"

struct fp_broker;

/* How long a spawned source may take to start, connect and say hello when the caller does
 * not say: a sandboxed source attaching to a display starts in well under a second. */
#define FP_BROKER_CONNECT_TIMEOUT_NS (5 * FP_NSEC_PER_SEC)

struct fp_broker_opts {
	const char *source_exe;      /* the binary to spawn and to expect at the other end */
	char *const *source_argv;    /* argv for it, without --connect (added by the broker) */
	const char *socket_dir;      /* where to listen; NULL: a private dir under $XDG_RUNTIME_DIR or /tmp */
	int spawn;                   /* 0: do not spawn, accept any verified connection */
	int64_t connect_timeout_ns;  /* how long the source may take to connect and say hello
	                              * (0: FP_BROKER_CONNECT_TIMEOUT_NS) */
	/* Run the source as uid/gid (no supplementary groups) instead of as ourselves: root
	 * capturing a display that runs as another account starts its source as that account,
	 * never as root in a directory the account owns. The socket directory is handed to it,
	 * the binary is executed through an fd (the build tree may be closed to it), and the
	 * peer check then expects that uid. */
	int drop;
	uid_t uid;
	gid_t gid;
	unsigned peer_flags;         /* tests: FP_PEER_* for the peer check; 0 otherwise */
};

/* Listens, spawns the source (when asked), accepts and verifies it, reads its HELLO.
 * A refused peer gets FP_MSG_REFUSED and no fd. Returns 0 or -errno. */
int fp_broker_create(struct fp_broker **out, const struct fp_broker_opts *opts);

/* Listens only (no spawn, no accept): for tests that bring their own peer. */
int fp_broker_listen(struct fp_broker **out, const struct fp_broker_opts *opts);
/* Accepts one peer and verifies it against expected_pid (0: any pid). On refusal the peer
 * gets FP_MSG_REFUSED and is disconnected; returns -EPERM. */
int fp_broker_accept(struct fp_broker *b, pid_t expected_pid, int64_t timeout_ns);

/* A broker over an already connected socket whose peer the caller vouches for (no spawn,
 * no peer verification, no pid: its death shows only as the socket closing). It reads the
 * hello like accept does and takes sock over, also on failure. For fuzzing the host with an
 * in-process fake source. 0 or -errno. */
int fp_broker_adopt(struct fp_broker **out, int sock, int64_t timeout_ns);

void fp_broker_destroy(struct fp_broker *b);

const char *fp_broker_socket_path(const struct fp_broker *b);
int fp_broker_sock(const struct fp_broker *b);      /* the connected socket, -1 before accept */
int fp_broker_pidfd(const struct fp_broker *b);     /* the verified peer's pidfd */
pid_t fp_broker_pid(const struct fp_broker *b);
const struct fp_msg_hello *fp_broker_hello(const struct fp_broker *b);

/* The spawned source's exit, once its pidfd is readable: fills a human text like
 * "exited with status 2" or "killed by signal 9". Returns 1 when it has exited, else 0. */
int fp_broker_source_exit(struct fp_broker *b, char *text, size_t cap);

int fp_broker_send(struct fp_broker *b, const void *msg, size_t len);

#endif
