#!/usr/bin/env python3
"""framepush with real displays, end to end: a virtual display created for the session with
an application inside it, recorded to a file that ffprobe accepts. Suite cli."""
import json, os, sys

from fptlib import BUILD, FP, check, run, stream0 as probe, finish, tmpdir

TMP = tmpdir("fpt-disp-")


def xdisplays():
    return sorted(f for f in os.listdir("/tmp/.X11-unix")) if os.path.isdir("/tmp/.X11-unix") else []


client = os.path.join(BUILD, "tests", "cli", "fpt-x11-client")
if not os.path.exists("/usr/bin/Xvfb") or not os.path.exists(client):
    print("SKIP: Xvfb or the X test client is not available")
    sys.exit(77)

before = xdisplays()
out, stats = os.path.join(TMP, "xvfb.mkv"), os.path.join(TMP, "xvfb.json")
# The application is a shell that also leaves a grandchild which has nothing to do with X
# (so it would not die with the X server): the session must end it too.
marker = "317.%d" % os.getpid()
r = run([FP, "record", "--display", "virtual:1280x720@60", "--fps", "30", "--duration", "2", "-q",
         "-o", out, "--stats-json", stats, "--", "/bin/sh", "-c",
         "sleep %s & exec %s" % (marker, client)])
s = probe(out)
st = json.load(open(stats)) if os.path.exists(stats) else {}
check(r.returncode == 0 and s is not None and s["width"] == 1280 and s["height"] == 720
      and abs(int(s["nb_read_frames"]) - 60) <= 2,
      "virtual Xvfb 1280x720 + client -> mkv: exit %d, %s" %
      (r.returncode, s and (s["width"], s["height"], s["nb_read_frames"])))
check(st.get("frames_fresh", 0) >= 20, "the animated client produced %d fresh frames" %
      st.get("frames_fresh", 0))
check(xdisplays() == before, "the virtual display is gone after the session (%s)" % xdisplays())
r = run(["pgrep", "-f", client])
r2 = run(["pgrep", "-f", "sleep " + marker])
check(r.returncode == 1 and r2.returncode == 1,
      "the application and its own children ended with the session")

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
    r = run([FP, "record", "--display", "virtual:1280x720@60", "--display-kind", "sway",
             "--fps", "30", "--duration", "2", "-q", "-o", out, "--stats-json", stats, "--",
             copy, "3060c0", "--animate"])
    s = probe(out)
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    check(r.returncode == 0 and s is not None and s["width"] == 1280 and s["height"] == 720
          and abs(int(s["nb_read_frames"]) - 60) <= 2 and st.get("frames_fresh", 0) >= 10,
          "virtual sway 1280x720 + client -> mkv: exit %d, %s, %s fresh" %
          (r.returncode, s and (s["width"], s["height"], s["nb_read_frames"]), st.get("frames_fresh")))
    r2 = run(["pgrep", "-x", "sway"])
    check(r2.returncode == 1, "sway is gone after the session")
    if r.returncode:
        print(r.stderr[-1500:])
else:
    print("skip: sway or the Wayland test client is not available")

finish()
