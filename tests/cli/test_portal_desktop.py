#!/usr/bin/env python3
"""The sway display's portal desktop: fp_display_create(sway, portal) brings up a private
session bus where xdg-desktop-portal answers with its ScreenCast interface, PipeWire and
WirePlumber run as the display's account, and after destroy nothing of that account runs and
the runtime directory is gone. Also the portal source's usage errors. Suite cli."""
import os, select, subprocess, time

from fptlib import BUILD, FP, check, finish, gone, run, skip, tmpdir

TMP = tmpdir("fpt-portal-")
HELPER = os.path.join(BUILD, "tests", "cli", "fpt-portal-desktop")
NEEDED = ["/usr/bin/sway", "/usr/bin/swaymsg", "/usr/bin/dbus-daemon", "/usr/bin/dbus-send",
          "/usr/bin/pipewire", "/usr/bin/pw-cli", "/usr/bin/wireplumber",
          "/usr/libexec/xdg-desktop-portal", "/usr/libexec/xdg-desktop-portal-wlr",
          "/usr/bin/setpriv"]
SERVICES = ["dbus-daemon", "pipewire", "wireplumber", "xdg-desktop-portal-wlr",
            "xdg-desktop-portal"]

# The portal source with Xvfb: a usage error before anything starts.
r = run([FP, "record", "--display", "virtual:640x480@30", "--source", "portal", "-o",
         os.path.join(TMP, "x.mkv")])
check(r.returncode == 2 and "the portal source needs --display-kind sway" in r.stderr,
      "--source portal with an Xvfb display: exit %d (want 2), %r" % (r.returncode,
                                                                      r.stderr.strip()))
r = run([FP, "record", "--source", "nosuch", "-o", os.path.join(TMP, "x.mkv")])
check(r.returncode == 2 and "portal" in r.stderr,
      "an unknown source names portal among the sources: %r" % r.stderr.strip())


def read_line(p, timeout_s):
    """One line of p's stdout within timeout_s, or '' (bounded: select, then readline)."""
    ready, _, _ = select.select([p.stdout], [], [], timeout_s)
    return p.stdout.readline().strip() if ready else ""


def as_uid(uid, argv):
    """argv as the display's account: its bus admits only its own uid."""
    if os.geteuid() == 0 and uid != 0:
        return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + argv
    return argv


def live_pids(uid, name=None):
    """Pids of uid's processes (named name), zombies left out: they run nothing."""
    # By argv[0]: comm is cut at 15 characters, where both portals read the same.
    r = run(["ps", "-u", str(uid), "-o", "pid=,stat=,args="])
    out = []
    for line in r.stdout.splitlines():
        f = line.split(None, 2)
        if len(f) == 3 and not f[1].startswith("Z") and (
                name is None or os.path.basename(f[2].split()[0]) == name):
            out.append(int(f[0]))
    return out


missing = [p for p in NEEDED if not os.path.exists(p)]
if missing or not os.path.exists(HELPER):
    skip("the portal desktop needs %s" % (missing or [HELPER]))
    finish()

for bad in ["641x480@30", "640x480@0", "640x480@30x", "1x1@30"]:
    r = run([HELPER, bad], timeout=20)
    check(r.returncode == 1 and "usage" in r.stderr,
          "fpt-portal-desktop %s: a usage error before anything starts: exit %d %r" %
          (bad, r.returncode, r.stderr.strip()))

p = subprocess.Popen([HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(os.path.join(TMP, "helper.log"), "w"), text=True)
line = read_line(p, 40)
fields = line.split()
check(len(fields) == 3 and fields[0].startswith("unix:path="),
      "sway + portal desktop ready within 40 s, its bus printed: %r (log: %s/helper.log)" %
      (line, TMP))
if len(fields) == 3:
    bus, uid, rundir = fields[0], int(fields[1]), fields[2]
    check(bus == "unix:path=%s/bus" % rundir, "the bus lives in the runtime dir: %s" % bus)
    st = run(as_uid(uid, ["dbus-send", "--bus=" + bus, "--print-reply",
                          "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus.GetNameOwner",
                          "string:org.freedesktop.portal.Desktop"]), timeout=20)
    check(st.returncode == 0 and 'string ":' in st.stdout,
          "org.freedesktop.portal.Desktop is owned on the display's bus: exit %d %r" %
          (st.returncode, st.stderr.strip()))
    v = run(as_uid(uid, ["dbus-send", "--bus=" + bus, "--print-reply",
                         "--dest=org.freedesktop.portal.Desktop",
                         "/org/freedesktop/portal/desktop", "org.freedesktop.DBus.Properties.Get",
                         "string:org.freedesktop.portal.ScreenCast", "string:version"]),
            timeout=20)
    vf = v.stdout.split()
    check(v.returncode == 0 and len(vf) >= 2 and vf[-2] == "uint32" and int(vf[-1]) >= 1,
          "the ScreenCast portal answers: version %r (exit %d, %r)" %
          (v.stdout.strip()[-80:], v.returncode, v.stderr.strip()))
    pids = {n: live_pids(uid, n) for n in SERVICES}
    check(all(len(v) == 1 for v in pids.values()),
          "one of each service runs as uid %d: %s" % (uid, pids))
    p.stdin.write("\n")
    p.stdin.flush()
    done = read_line(p, 30)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    check(done == "DESTROYED" and rc == 0, "destroyed within 30 s: %r, exit %d" % (done, rc))
    left = [x for v in pids.values() for x in v if not gone(x)]
    check(not left, "every service ended with the display (left: %s)" % left)
    if os.geteuid() == 0:
        others = live_pids(uid)
        check(not others, "no process of the session's uid %d remains (%s)" % (uid, others))
    check(not os.path.exists(rundir), "the runtime dir %s is gone" % rundir)
else:
    p.kill()
    p.wait()
finish()
