/* framepush — the source's sandbox, entered once it has attached to its first ring.
 *
 * From then on a source only moves frames: it needs the display's socket and the host's,
 * the shared memory it was given, timers and its own memory. A source that a display or a
 * hostile peer managed to take over should not be able to do more: no new files, sockets
 * or processes, no exec, no ptrace, no privileges (PR_SET_NO_NEW_PRIVS). Everything else
 * kills the process (SIGSYS), which the host reports as the sandbox stopping it. */
#ifndef FP_SOURCES_SANDBOX_H
#define FP_SOURCES_SANDBOX_H

/* Installs the filter on every thread of the process. 0 or -errno (logged). */
int fp_source_sandbox(void);

#endif
