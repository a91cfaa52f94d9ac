#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel/msg.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/util.h"

extern char **environ;

/* A source exits as soon as its socket hangs up; a healthy one takes milliseconds, so after
 * this long it is stuck and gets SIGKILL. */
#define HANGUP_EXIT_MS 1000
/* After SIGKILL only a task stuck in the kernel (D state) lingers: not worth waiting on. */
#define KILL_EXIT_MS 5000
/* How long a refused peer's hello may take to arrive before the socket is closed anyway:
 * it was sent right after connect, so it is normally already queued. */
#define REFUSED_HELLO_MS 500

struct fp_broker {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	int own_dir;
	int listen_fd;
	int sock;
	struct fp_peer peer;
	uid_t peer_uid;        /* the uid the source must run as */
	unsigned peer_flags;   /* FP_PEER_*: how the peer check runs (tests) */
	pid_t child;           /* spawned source, 0 when none */
	int child_reaped;
	int child_status;
	struct fp_msg_hello hello;
	char exe[PATH_MAX];
};

void fp_broker_destroy(struct fp_broker *b)
{
	if (!b)
		return;
	fp_close(&b->sock);
	fp_close(&b->listen_fd);
	fp_close(&b->peer.pidfd);
	if (b->child > 0 && !b->child_reaped) {
		/* The source exits on the hang-up above: wait for that (its pidfd turns readable),
		 * then insist. */
		if (fp_child_wait(b->child, HANGUP_EXIT_MS, &b->child_status) == -ETIMEDOUT) {
			fp_warn("broker: source pid %d did not exit on hang-up; killing it", (int)b->child);
			kill(b->child, SIGKILL);
			if (fp_child_wait(b->child, KILL_EXIT_MS, &b->child_status) == -ETIMEDOUT)
				fp_error("broker: source pid %d survived SIGKILL for %d ms (stuck in the "
					 "kernel?); leaving it", (int)b->child, KILL_EXIT_MS);
		}
	}
	if (b->path[0])
		unlink(b->path);
	if (b->own_dir)
		rmdir(b->dir);
	free(b);
}

const char *fp_broker_socket_path(const struct fp_broker *b) { return b->path; }
/* NULL-safe: a capturer whose source restart failed has no broker any more. */
int fp_broker_sock(const struct fp_broker *b) { return b ? b->sock : -1; }
int fp_broker_pidfd(const struct fp_broker *b) { return b ? b->peer.pidfd : -1; }
pid_t fp_broker_pid(const struct fp_broker *b) { return b ? b->peer.pid : 0; }
const struct fp_msg_hello *fp_broker_hello(const struct fp_broker *b) { return &b->hello; }

int fp_broker_send(struct fp_broker *b, const void *msg, size_t len)
{
	return !b || b->sock < 0 ? -ENOTCONN : fp_msg_send(b->sock, msg, len, NULL, 0);
}

static struct fp_broker *broker_new(void)
{
	struct fp_broker *b = calloc(1, sizeof(*b));

	if (!b) {
		fp_error("broker: out of memory");
		return NULL;
	}
	b->listen_fd = b->sock = b->peer.pidfd = -1;
	return b;
}

int fp_broker_listen(struct fp_broker **out, const struct fp_broker_opts *opts)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fp_broker *b;
	int r;

	*out = NULL;
	b = broker_new();
	if (!b)
		return -ENOMEM;
	b->peer_uid = opts->drop ? opts->uid : getuid();
	b->peer_flags = opts->peer_flags;
	if (!realpath(opts->source_exe, b->exe)) {
		r = -errno;
		fp_error("broker: source program %s not found: %s", opts->source_exe, strerror(errno));
		free(b);
		return r;
	}
	if (opts->socket_dir) {
		snprintf(b->dir, sizeof(b->dir), "%s", opts->socket_dir);
	} else {
		const char *base = getenv("XDG_RUNTIME_DIR");

		snprintf(b->dir, sizeof(b->dir), "%s/framepush-XXXXXX",
			 base && *base && access(base, W_OK) == 0 ? base : "/tmp");
		/* mkdtemp makes it 0700: only our uid can even reach the socket. */
		if (!mkdtemp(b->dir)) {
			r = -errno;
			fp_error("broker: cannot create socket directory %s: %s", b->dir, strerror(errno));
			free(b);
			return r;
		}
		b->own_dir = 1;
	}
	if ((size_t)snprintf(b->path, sizeof(b->path), "%s/channel.sock", b->dir) >= sizeof(sa.sun_path)) {
		fp_error("broker: socket path %s/channel.sock is too long", b->dir);
		b->path[0] = '\0';
		fp_broker_destroy(b);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, b->path);
	b->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(b->listen_fd, 4) < 0) {
		r = -errno;
		fp_error("broker: listening on %s failed: %s", b->path, strerror(errno));
		if (b->listen_fd < 0 || errno == EADDRINUSE)
			b->path[0] = '\0'; /* not ours to unlink */
		fp_broker_destroy(b);
		return r;
	}
	/* Only the source's account may reach the socket: it is the one that connects. Socket
	 * first, then the directory, while both are still ours alone: nothing is planted. */
	if (opts->drop && (lchown(b->path, opts->uid, opts->gid) < 0 ||
			   (b->own_dir && chown(b->dir, opts->uid, opts->gid) < 0))) {
		r = -errno;
		fp_error("broker: cannot hand %s to uid %u: %s", b->path, (unsigned)opts->uid,
			 strerror(errno));
		fp_broker_destroy(b);
		return r;
	}
	*out = b;
	return 0;
}

static void refuse(int sock)
{
	struct fp_msg_header m = { .type = FP_MSG_REFUSED, .version = FP_PROTO_VERSION };
	int fds[FP_CHANNEL_MAX_FDS];
	char junk[64];
	size_t nfds;

	(void)fp_msg_send(sock, &m, sizeof(m), NULL, 0);
	/* Read (and drop) the peer's hello first: closing a UNIX socket with unread data makes
	 * the peer's next read fail with ECONNRESET, and it would never see why it was refused. */
	if (fp_msg_recv(sock, junk, sizeof(junk), fds, FP_ARRAY_LEN(fds), &nfds,
			REFUSED_HELLO_MS) >= 0)
		fp_msg_close_fds(fds, nfds);
}

/* The hello is data from the peer: exact size, right type and version, or nothing. On
 * success the broker owns sock. */
static int read_hello(struct fp_broker *b, int sock, int64_t deadline)
{
	int fds[FP_CHANNEL_MAX_FDS];
	size_t nfds;
	int r = fp_msg_recv(sock, &b->hello, sizeof(b->hello), fds, FP_ARRAY_LEN(fds), &nfds,
			    fp_ms_until(deadline));

	if (r >= 0)
		fp_msg_close_fds(fds, nfds);
	if (r != (int)sizeof(b->hello) || b->hello.hdr.type != FP_MSG_HELLO ||
	    b->hello.hdr.version != FP_PROTO_VERSION) {
		fp_error("broker: pid %d sent no valid hello (got %d bytes, type %u, version %u)",
			 (int)b->peer.pid, r, r >= 8 ? b->hello.hdr.type : 0,
			 r >= 8 ? b->hello.hdr.version : 0);
		return r < 0 ? r : -EPROTO;
	}
	b->hello.backend[sizeof(b->hello.backend) - 1] = '\0';
	b->sock = sock;
	return 0;
}

int fp_broker_accept(struct fp_broker *b, pid_t expected_pid, int64_t timeout_ns)
{
	int64_t deadline = fp_now_ns() + timeout_ns;
	int sock = -1, r;

	for (;;) {
		struct pollfd p[2] = { { .fd = b->listen_fd, .events = POLLIN },
				       { .fd = -1, .events = POLLIN } };
		int left = fp_ms_until(deadline);

		/* A spawned source that dies before connecting must not cost the whole timeout. */
		if (b->child > 0)
			p[1].fd = fp_pidfd_open(b->child);
		r = poll(p, 2, left);
		if (p[1].fd >= 0)
			close(p[1].fd);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			fp_error("broker: no source connected to %s within %lld ms", b->path,
				 (long long)(timeout_ns / FP_NSEC_PER_MSEC));
			return -ETIMEDOUT;
		}
		if (p[1].revents) {
			char why[64];

			fp_broker_source_exit(b, why, sizeof(why));
			fp_error("broker: source pid %d %s before connecting", (int)b->child, why);
			return -ECHILD;
		}
		sock = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (sock >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			r = -errno;
			fp_error("broker: accept on %s failed: %s", b->path, strerror(errno));
			return r;
		}
	}
	r = fp_peer_verify_flags(sock, b->exe, b->peer_uid, expected_pid, b->peer_flags, &b->peer);
	if (r < 0) {
		refuse(sock);
		close(sock);
		return r;
	}
	r = read_hello(b, sock, deadline);
	if (r < 0) {
		fp_close(&b->peer.pidfd);
		close(sock);
	}
	return r;
}

int fp_broker_adopt(struct fp_broker **out, int sock, int64_t timeout_ns)
{
	struct fp_broker *b;
	int r;

	*out = NULL;
	b = broker_new();
	if (!b) {
		close(sock);
		return -ENOMEM;
	}
	r = read_hello(b, sock, fp_now_ns() + timeout_ns);
	if (r < 0) {
		close(sock);
		free(b);
		return r;
	}
	*out = b;
	return 0;
}

int fp_broker_source_exit(struct fp_broker *b, char *text, size_t cap)
{
	if (!b || b->child <= 0)
		return 0;
	if (!b->child_reaped) {
		if (waitpid(b->child, &b->child_status, WNOHANG) != b->child)
			return 0;
		b->child_reaped = 1;
	}
	if (WIFEXITED(b->child_status))
		snprintf(text, cap, "exited with status %d", WEXITSTATUS(b->child_status));
	else if (WIFSIGNALED(b->child_status) && WTERMSIG(b->child_status) == SIGSYS)
		snprintf(text, cap, "was killed by signal %d (%s): its sandbox stopped a system call "
			 "a source may not make", SIGSYS, strsignal(SIGSYS));
	else if (WIFSIGNALED(b->child_status))
		snprintf(text, cap, "was killed by signal %d (%s)", WTERMSIG(b->child_status),
			 strsignal(WTERMSIG(b->child_status)));
	else
		snprintf(text, cap, "ended");
	return 1;
}

/* Both spawns put the source in its own process group: a terminal's Ctrl-C signals the
 * foreground group, and the source must not die of it before the host has finished the
 * session. It ends when the host hangs up (or dies: its socket closes). They return 0 or a
 * positive errno, as posix_spawn does. */
static int spawn_self(struct fp_broker *b, char **argv)
{
	posix_spawnattr_t attr;
	int r = posix_spawnattr_init(&attr);

	if (r != 0)
		return r;
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	r = posix_spawn(&b->child, b->exe, NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	return r;
}

/* As uid/gid: the binary is opened here, as ourselves, and executed through that fd, so a
 * build tree closed to that account does not matter; the peer check still compares
 * /proc/<pid>/exe with it. An exec failure shows as the child exiting before it connects. */
static int spawn_as(struct fp_broker *b, char **argv, uid_t uid, gid_t gid)
{
	int fd = open(b->exe, O_RDONLY | O_CLOEXEC), err;
	pid_t pid;

	if (fd < 0)
		return errno;
	pid = fork();
	if (pid == 0) {
		/* Async-signal-safe calls only. */
		setpgid(0, 0);
		if (fp_drop_to(uid, gid))
			_exit(126);
		fexecve(fd, argv, environ);
		_exit(127);
	}
	err = pid < 0 ? errno : 0;
	close(fd);
	if (pid > 0)
		b->child = pid;
	return err;
}

int fp_broker_create(struct fp_broker **out, const struct fp_broker_opts *opts)
{
	struct fp_broker *b;
	char *argv[64];
	size_t n = 0;
	int r;

	r = fp_broker_listen(&b, opts);
	if (r < 0)
		return r;
	if (opts->spawn) {
		argv[n++] = b->exe;
		argv[n++] = (char *)"--connect";
		argv[n++] = b->path;
		for (size_t i = 0; opts->source_argv && opts->source_argv[i] && n < FP_ARRAY_LEN(argv) - 1; i++)
			argv[n++] = opts->source_argv[i];
		argv[n] = NULL;
		r = opts->drop ? spawn_as(b, argv, opts->uid, opts->gid) : spawn_self(b, argv);
		if (r != 0) {
			fp_error("broker: starting %s failed: %s", b->exe, strerror(r));
			b->child = 0;
			fp_broker_destroy(b);
			return -r;
		}
	}
	r = fp_broker_accept(b, opts->spawn ? b->child : 0,
			     opts->connect_timeout_ns ? opts->connect_timeout_ns
						     : FP_BROKER_CONNECT_TIMEOUT_NS);
	if (r < 0) {
		fp_broker_destroy(b);
		return r;
	}
	fp_info("broker: source pid %d (%s, backend %s) verified; display %ux%u format %u",
		(int)b->peer.pid, b->peer.exe, b->hello.backend, b->hello.width, b->hello.height,
		b->hello.format);
	*out = b;
	return 0;
}
