#!/usr/bin/env python3
"""What a terminal, a neighbour and a session's own programs can do to a session, against the
real binary. Ctrl-C is sent to the whole foreground process group, as a terminal does: every
session ends cleanly (exit 0, file finished), in record and stream, for the test source and
each virtual display kind. A virtual Xvfb refuses a client without the session's cookie. A
program that detaches (setsid, double fork) does not outlive its session. Suite cli."""
import json, os, shutil, signal, socket, subprocess, sys, time

from fptlib import (BUILD, FP, Report, check, finish, gone, interrupt, skip, stream0, tmpdir,
                    wait_line)

TMP = tmpdir("fpt-bounds-")
client = os.path.join(BUILD, "tests", "cli", "fpt-x11-client")


def start(args):
    """framepush in a new session (its own process group, as a shell's foreground job),
    stderr piped so its log can be waited on."""
    return subprocess.Popen([FP, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def ctrl_c(name, args, out=None):
    # A file output is opened before the first frame; this line says one was written.
    ready = "first frame written" if out else "attached to ring"
    p = start(args)
    ok, seen = wait_line(p, ready, 30)
    check(ok, "%s: the session started ('%s' logged)" % (name, ready))
    rest = interrupt(p)
    s = stream0(out) if out else None
    check(p.returncode == 0 and (out is None or (s is not None and int(s["nb_read_frames"]) > 0)),
          "%s: Ctrl-C to the process group ends it cleanly: exit %s, %s frames decode" %
          (name, p.returncode, s and s["nb_read_frames"]))
    if p.returncode != 0:
        print("".join(seen)[-1500:] + (rest or "")[-1500:])


# The test source, record and stream.
out = os.path.join(TMP, "test.mkv")
ctrl_c("record --source test", ["record", "--source", "test", "--size", "320x180", "--fps", "30",
                                "-o", out], out)
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
ctrl_c("stream --source test", ["stream", "--source", "test", "--size", "320x180", "--fps", "30",
                                "--to", "udp://127.0.0.1:%d" % rx.getsockname()[1]])
rx.close()

# A live stream outlives a source crash: the source is started again (stream's default
# --restart-source 3), counted, and Ctrl-C still ends the session cleanly.
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
stats = os.path.join(TMP, "restart.json")
p = start(["stream", "--source", "test", "--size", "320x180", "--fps", "30", "--stats-json", stats,
           "--to", "udp://127.0.0.1:%d" % rx.getsockname()[1]])
ok, seen = wait_line(p, "attached to ring", 30)
kids = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(p.pid)], capture_output=True,
                      text=True).stdout.split()
src = next((int(a) for a, b in zip(kids[0::2], kids[1::2]) if b.startswith("framepush-sou")), 0)
check(ok and src > 0, "stream started, its source is pid %d" % src)
if src:
    os.kill(src, signal.SIGKILL)
ok2, seen2 = wait_line(p, "attached to ring", 30)  # the new source's ring
check(ok2, "a new source attached after the kill")
interrupt(p)
st = json.load(open(stats)) if os.path.exists(stats) else {}
check(p.returncode == 0 and st.get("source_restarts") == 1,
      "stream survived a source SIGKILL: exit %s, source_restarts %s" %
      (p.returncode, st.get("source_restarts")))
rx.close()

have_xvfb = shutil.which("Xvfb") is not None and os.path.exists(client)
if not have_xvfb:
    skip("Xvfb or the X test client is not installed")
else:
    out = os.path.join(TMP, "xvfb.mkv")
    ctrl_c("record --display virtual (xvfb)", ["record", "--display", "virtual:320x240@30",
                                               "--fps", "30", "-o", out, "--", client], out)

    # The session's Xvfb is private: the application gets the cookie, a client without it
    # is refused, as root and as another user.
    # The application leaves a daemon that setsid()s and double-forks away from it; both
    # report on one FIFO: the daemon its pid, the application its display and cookie.
    report = Report(os.path.join(TMP, "report.fifo"))
    app = ("(setsid sh -c 'echo $$ > %s; exec sleep 1000' </dev/null >/dev/null 2>&1 &); "
           "echo \"$DISPLAY $XAUTHORITY\" > %s; exec %s" % (report.path, report.path, client))
    p = start(["record", "--display", "virtual:320x240@30", "--fps", "30", "-o",
               os.path.join(TMP, "private.mkv"), "--", "sh", "-c", app])
    lines = report.lines(2, 20)
    report.close()
    parts = next((l.split() for l in lines if l.startswith(":")), [])
    daemon = next((int(l) for l in lines if l.isdigit()), 0)
    check(len(parts) == 2 and parts[0].startswith(":") and os.path.isfile(parts[1]),
          "the application got DISPLAY and XAUTHORITY (%s)" % parts)
    if len(parts) == 2:
        dpy, auth = parts
        st = os.stat(os.path.dirname(auth))
        check(st.st_mode & 0o777 == 0o700 and os.stat(auth).st_mode & 0o777 == 0o600,
              "the cookie lives in a 0700 directory, file 0600 (%o, %o)" %
              (st.st_mode & 0o777, os.stat(auth).st_mode & 0o777))
        env = {k: v for k, v in os.environ.items() if k != "XAUTHORITY"}
        env["XAUTHORITY"] = os.path.join(TMP, "none")
        r = subprocess.run(["xdpyinfo", "-display", dpy], env=env, capture_output=True, timeout=20)
        check(r.returncode != 0, "xdpyinfo without the cookie is refused (exit %d)" % r.returncode)
        r = subprocess.run(["xdpyinfo", "-display", dpy], env=dict(env, XAUTHORITY=auth),
                           capture_output=True, timeout=20)
        check(r.returncode == 0, "xdpyinfo with the session's cookie connects (exit %d)" % r.returncode)
        if os.getuid() == 0 and shutil.which("setpriv"):
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                "xdpyinfo", "-display", dpy], env=env, capture_output=True,
                               timeout=20)
            check(r.returncode != 0, "xdpyinfo as uid 65534 is refused (exit %d)" % r.returncode)
    check(daemon > 0, "the detached daemon started (pid %d)" % daemon)
    wait_line(p, "attached to ring", 30)
    interrupt(p)
    alive = daemon > 0 and not gone(daemon)
    check(p.returncode == 0 and daemon and not alive,
          "a setsid()+double-fork daemon does not outlive its session (exit %s, daemon %s)" %
          (p.returncode, "still running" if alive else "gone"))
    if alive:
        os.kill(daemon, signal.SIGKILL)
    check(not (len(parts) == 2 and os.path.exists(os.path.dirname(parts[1]))),
          "the cookie and its directory are removed with the session")

wl_client = os.path.join(BUILD, "tests", "wlr", "wlr-solid-client")
if not (shutil.which("sway") and os.path.exists(wl_client)):
    skip("sway or the Wayland test client is not installed")
else:
    d = tmpdir("fpt-wlclient-")
    os.chmod(d, 0o755)
    copy = shutil.copy(wl_client, d)
    os.chmod(copy, 0o755)
    out = os.path.join(TMP, "sway.mkv")
    ctrl_c("record --display virtual (sway)", ["record", "--display", "virtual:320x240@60",
                                               "--display-kind", "sway", "--fps", "30", "-o",
                                               out, "--", copy, "3060c0", "--animate"], out)

finish()
