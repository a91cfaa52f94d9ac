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
r = run([FP, "record", "--display", "virtual:1280x720@60", "--fps", "30", "--duration", "2", "-q",
         "-o", out, "--stats-json", stats, "--", client])
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
check(r.returncode == 1, "the application ended with the session")

finish()
