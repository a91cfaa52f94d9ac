#!/usr/bin/env python3
"""framepush with real displays, end to end: a virtual display created for the session with
an application inside it, recorded to a file that ffprobe accepts; an existing display
attached and left running; a host killed outright takes its display along. Suite cli."""
import json, os, select, signal, subprocess, sys, time

from fptlib import BUILD, FP, Report, check, gone, run, probe as probe_all, skip, stream0 as probe, finish, tmpdir, start_xvfb

TMP = tmpdir("fpt-disp-")

client = os.path.join(BUILD, "tests", "cli", "fpt-x11-client")
if not os.path.exists("/usr/bin/Xvfb") or not os.path.exists(client):
    skip("Xvfb or the X test client is not available")
    finish()

out, stats = os.path.join(TMP, "xvfb.mkv"), os.path.join(TMP, "xvfb.json")
# The application is a shell that also leaves a grandchild which has nothing to do with X
# (so it would not die with the X server): the session must end it too. It reports its
# display and both pids, so the checks look at this session's objects only.
report = os.path.join(TMP, "app.txt")
r = run([FP, "record", "--display", "virtual:1280x720@60", "--fps", "30", "--duration", "2", "-q",
         "-o", out, "--stats-json", stats, "--", "/bin/sh", "-c",
         "sleep 1000 & echo \"$DISPLAY $! $$\" > %s; exec %s" % (report, client)])
rep = open(report).read().split() if os.path.exists(report) else []
s = probe(out)
st = json.load(open(stats)) if os.path.exists(stats) else {}
check(r.returncode == 0 and s is not None and s["width"] == 1280 and s["height"] == 720
      and abs(int(s["nb_read_frames"]) - 60) <= 2,
      "virtual Xvfb 1280x720 + client -> mkv: exit %d, %s" %
      (r.returncode, s and (s["width"], s["height"], s["nb_read_frames"])))
check(st.get("frames_fresh", 0) >= 20, "the animated client produced %d fresh frames" %
      st.get("frames_fresh", 0))
check(len(rep) == 3 and not os.path.exists("/tmp/.X11-unix/X" + rep[0][1:]),
      "the session's virtual display %s is gone after the session" % (rep[:1],))
check(len(rep) == 3 and gone(int(rep[1])) and gone(int(rep[2])),
      "the application and its own children ended with the session (%s)" % rep[1:])



def wait_gone(pid_fds, timeout_s):
    """Waits (bounded) on pidfds; returns the names of the processes still alive."""
    left = dict(pid_fds)
    end = select.epoll()
    for name, fd in left.items():
        end.register(fd, select.EPOLLIN)
    deadline = time.monotonic() + timeout_s
    while left:
        wait_s = deadline - time.monotonic()
        if wait_s <= 0:
            break
        for fd, _ in end.poll(wait_s):
            for name in [n for n, f in left.items() if f == fd]:
                end.unregister(fd)
                del left[name]
    end.close()
    return sorted(left)


# Attaching to a display framepush did not create: it records it and leaves it running.
xv, name = start_xvfb("640x480")
check(xv is not None, "our own Xvfb is ready (-displayfd) within 10 s")
if xv is not None:
    env = dict(os.environ, DISPLAY=name)
    cl = subprocess.Popen([client], env=env)
    out = os.path.join(TMP, "attach.mkv")
    r = run([FP, "record", "--display", name, "--fps", "30", "--duration", "2", "-q", "-o", out])
    s = probe(out)
    check(r.returncode == 0 and s is not None and s["width"] == 640 and s["height"] == 480
          and abs(int(s["nb_read_frames"]) - 60) <= 2,
          "--display %s (existing Xvfb) -> mkv: exit %d, %s" %
          (name, r.returncode, s and (s["width"], s["height"], s["nb_read_frames"])))
    check(xv.poll() is None and os.path.exists("/tmp/.X11-unix/X" + name[1:]),
          "the existing Xvfb is still running after the session (exit %s)" % xv.poll())
    check(cl.poll() is None, "the existing display's client is still running (exit %s)" % cl.poll())
    cl.kill()
    cl.wait()
    xv.terminate()
    try:
        xv.wait(5)
    except subprocess.TimeoutExpired:
        xv.kill()
        xv.wait()

# A host killed outright (no cleanup runs) must not leave its Xvfb, application or source
# behind.
report = Report(os.path.join(TMP, "app.fifo"))
log = open(os.path.join(TMP, "killed.log"), "w")
host = subprocess.Popen([FP, "record", "--display", "virtual:320x240@30", "--fps", "30",
                         "--duration", "60", "-q", "-o", os.path.join(TMP, "killed.mkv"), "--",
                         "sh", "-c", "echo $$ > %s; exec sleep 1000" % report.path],
                        stdout=log, stderr=log)
lines = report.lines(1, 20)
report.close()
app = int(lines[0]) if lines and lines[0].isdigit() else 0
check(app > 0, "the application (bare name 'sh') started inside the virtual display and "
      "reported its pid within 20 s")
kids = run(["ps", "-o", "pid=,comm=", "--ppid", str(host.pid)]).stdout.split()
kids = {int(p): c for p, c in zip(kids[0::2], kids[1::2])}
pids = {"Xvfb": next((p for p, c in kids.items() if c == "Xvfb"), 0), "the application": app,
        "framepush-source": next((p for p, c in kids.items() if c.startswith("framepush-sou")), 0)}
check(all(p in kids for p in pids.values()),
      "the host's children are Xvfb, the application and the source: %s" % kids)
fds = {}
for c, p in pids.items():
    try:
        fds[c] = os.pidfd_open(p)  # before the kill: a pidfd cannot name a reused pid
    except (ProcessLookupError, ValueError, OSError):
        pass
host.kill()
host.wait()
left = wait_gone(fds, 5)
check(not left and len(fds) == len(pids),
      "SIGKILL of the host: %s exited within 5 s; still running: %s" % (sorted(fds), left))
for c, p in pids.items():
    if c in left:
        os.kill(p, signal.SIGKILL)
for fd in fds.values():
    os.close(fd)
log.close()

# sway headless as the virtual display, a Wayland client inside it.
wl_client = os.path.join(BUILD, "tests", "wlr", "wlr-solid-client")
if os.path.exists("/usr/bin/sway") and os.path.exists(wl_client):
    import shutil, stat
    # The client runs as sway's unprivileged user: give it a copy it can reach.
    d = tmpdir("fpt-wlclient-")
    os.chmod(d, 0o755)
    copy = shutil.copy(wl_client, d)
    os.chmod(copy, 0o755)
    out, stats = os.path.join(TMP, "sway.mkv"), os.path.join(TMP, "sway.json")
    rdir = tmpdir("fpt-wlreport-")
    os.chmod(rdir, 0o777)  # the application runs as sway's user
    report = os.path.join(rdir, "app.txt")
    # A bare program name ("sh", as in the README's `-- foot`) is found in the display's PATH.
    r = run([FP, "record", "--display", "virtual:1280x720@60", "--display-kind", "sway",
             "--fps", "30", "--duration", "2", "-q", "-o", out, "--stats-json", stats, "--",
             "sh", "-c", 'echo "$$ $XDG_RUNTIME_DIR" > "$1"; exec "$0" 3060c0 --animate', copy,
             report])
    rep = open(report).read().split() if os.path.exists(report) else []
    s = probe(out)
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    check(r.returncode == 0 and s is not None and s["width"] == 1280 and s["height"] == 720
          and abs(int(s["nb_read_frames"]) - 60) <= 2 and st.get("frames_fresh", 0) >= 10,
          "virtual sway 1280x720 + client started by bare name -> mkv: exit %d, %s, %s fresh" %
          (r.returncode, s and (s["width"], s["height"], s["nb_read_frames"]), st.get("frames_fresh")))
    # sway presents at 60 Hz and the output is 30 fps: frames are taken on the output's
    # ticks, so the stream keeps real time (2 s of session for 2 s of video, not 60
    # compositor frames in 1 s played back in slow motion) with one tick between frames.
    fr = probe_all(out, ("-show_frames", "-show_entries", "frame=pts_time"))
    ts = [float(f["pts_time"]) for f in (fr or {}).get("frames", []) if "pts_time" in f]
    steps = [b - a for a, b in zip(ts, ts[1:])]
    check(st.get("seconds", 0) >= 1.9 and steps and max(abs(x - 1 / 30) for x in steps) < 0.002,
          "sway 60 Hz captured at 30 fps in real time: session %.2f s, pts steps %.4f..%.4f s" %
          (st.get("seconds", 0), min(steps or [0]), max(steps or [0])))
    check(len(rep) == 2 and gone(int(rep[0])) and not os.path.exists(rep[1]),
          "this session's sway is gone after it: its client ended, its runtime directory "
          "removed (%s)" % rep)
    if r.returncode:
        print(r.stderr[-1500:])
else:
    skip("sway or the Wayland test client is not available")

finish()
