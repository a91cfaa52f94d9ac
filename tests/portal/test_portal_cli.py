#!/usr/bin/env python3
"""framepush record --source portal as a user runs it: a virtual sway display with its portal
desktop recorded until Ctrl-C (exit 0, a file ffprobe reads, nothing of the session left);
killing PipeWire mid-session ends it with the source's reason on stderr; the errors a user
meets without a desktop (root, no session bus). Suite portal."""
import os, select, signal, subprocess, sys, time

sys.path.insert(0, os.path.join(os.environ.get("FRAMEPUSH_SOURCE_ROOT", "."), "tests", "cli"))
from fptlib import (BUILD, FP, check, finish, interrupt, run, skip, stream0,  # noqa: E402
                    tmpdir, wait_line)

TMP = tmpdir("fpt-portal-cli-")
ANIM = os.path.join(BUILD, "tests", "wlr", "wlr-anim-client")
NEEDED = ["/usr/bin/sway", "/usr/bin/dbus-daemon", "/usr/bin/pipewire", "/usr/bin/wireplumber",
          "/usr/libexec/xdg-desktop-portal", "/usr/libexec/xdg-desktop-portal-wlr"]


def start(out, extra_env=None):
    """A portal session recording out, its stderr read line by line (info level)."""
    env = dict(os.environ, FRAMEPUSH_LOG="info", **(extra_env or {}))
    # The client runs as the display's account: a copy it can read (the build tree may
    # be 0700, as a fresh clone is).
    client = os.path.join(TMP, "anim")
    if not os.path.exists(client):
        with open(ANIM, "rb") as src, open(client, "wb") as dst:
            dst.write(src.read())
        os.chmod(client, 0o755)
        os.chmod(TMP, 0o755)
    return subprocess.Popen([FP, "record", "--display", "virtual:640x480@30", "--display-kind",
                             "sway", "--source", "portal", "-y", "-o", out, "--", client],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def session_uid(lines):
    for line in lines:
        if "sway display: sway pid" in line and " as uid " in line:
            return int(line.split(" as uid ")[1].split(",")[0])
    return None


def alive(uid):
    """The session account's processes that still run (zombies run nothing)."""
    r = run(["ps", "-u", str(uid), "-o", "stat=,args="])
    return [l for l in r.stdout.splitlines() if l.strip() and not l.strip().startswith("Z")]


missing = [p for p in NEEDED if not os.path.exists(p)]
if missing or not os.path.exists(ANIM):
    skip("the portal desktop needs %s" % (missing or [ANIM]))
    finish()

# Ctrl-C ends a portal session like any other: exit 0, a whole file, nothing left running.
out = os.path.join(TMP, "ctrlc.mkv")
p = start(out)
first, seen = wait_line(p, "session: first frame written", 30)
time.sleep(1.0)  # a second of recording: the duration is the point here, not a sync
seen.append(interrupt(p))
s = stream0(out)
uid = session_uid(seen)
check(first, "the portal session delivered a first frame (stderr: %s)" % "".join(seen)[-600:])
check(p.returncode == 0 and s is not None and int(s.get("nb_read_frames", 0)) >= 20 and
      s["width"] == 640, "Ctrl-C: exit %d, %s" % (p.returncode, s and (s["width"], s["height"],
                                                                     s["nb_read_frames"])))
check(s is not None and s.get("r_frame_rate") == "30/1",
      "no --fps: the output runs at the virtual display's 30 Hz (%s)" % (s and s.get("r_frame_rate")))
check(uid is not None and not alive(uid),
      "nothing of the session's account %s runs after Ctrl-C: %s" % (uid, uid and alive(uid)))

# PipeWire killed mid-session: the session ends at once, saying why, exit 1.
out = os.path.join(TMP, "killed.mkv")
p = start(out)
first, seen = wait_line(p, "session: first frame written", 30)
uid = session_uid(seen)
pw = [l.split()[0] for l in run(["ps", "-u", str(uid), "-o", "pid=,args="]).stdout.splitlines()
      if l.split()[1:2] == ["/usr/bin/pipewire"]] if uid else []
t0 = time.monotonic()
if pw:
    os.kill(int(pw[0]), signal.SIGKILL)
try:
    rest = p.communicate(timeout=20)[1]
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    rest = p.communicate()[1]
took = time.monotonic() - t0
check(first and pw, "a running session and its pipewire (%s)" % pw)
check(p.returncode == 1 and "PipeWire went away: the display is gone" in rest,
      "pipewire killed: exit %d, stderr %r" % (p.returncode, rest[-400:]))
# The session ends in well under a second; the rest is the display's teardown.
check(took < 10, "pipewire killed: framepush ended %.1f s later" % took)

# The runs below are the unprivileged account's: it cannot enter a 0700 build tree (a fresh
# clone is one), so it runs copies (framepush finds framepush-source beside itself).
BIN = tmpdir("fpt-portal-bin-")
os.chmod(BIN, 0o755)
for exe in ("framepush", "framepush-source"):
    with open(os.path.join(BUILD, "tools", exe), "rb") as src, \
            open(os.path.join(BIN, exe), "wb") as dst:
        dst.write(src.read())
    os.chmod(os.path.join(BIN, exe), 0o755)
FP_COPY = os.path.join(BIN, "framepush")

# Without a desktop: the source refuses root, and names a bus that is not there.
if os.geteuid() == 0:
    r = run([FP, "record", "--source", "portal", "--duration", "1", "-o",
             os.path.join(TMP, "root.mkv")])
    check(r.returncode == 1 and "refusing to run as root" in r.stderr,
          "portal as root: exit %d, %r" % (r.returncode, r.stderr.strip()[-300:]))
r = run(["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups", FP_COPY, "record", "--source",
         "portal", "--display", "unix:path=%s/nobus" % TMP, "--duration", "1", "-o",
         os.path.join(TMP, "nobus.mkv")] if os.geteuid() == 0 else
        [FP, "record", "--source", "portal", "--display", "unix:path=%s/nobus" % TMP,
         "--duration", "1", "-o", os.path.join(TMP, "nobus.mkv")])
check(r.returncode == 1 and "no D-Bus session bus at unix:path=" in r.stderr,
      "portal without a bus: exit %d, %r" % (r.returncode, r.stderr.strip()[-300:]))


def bus_of_our_own(d, uid):
    """A bare session bus in d (no activatable services), as uid: (process, address)."""
    conf = os.path.join(d, "bus.conf")
    with open(conf, "w") as f:
        f.write("<busconfig><type>session</type><listen>unix:path=%s/bus</listen>"
                "<auth>EXTERNAL</auth><policy context='default'><allow send_destination='*' eavesdrop='true'/>"
                "<allow eavesdrop='true'/>"
                "<allow own='*'/></policy></busconfig>\n" % d)
    # dbus-daemon wants a passwd entry for its account, as the portal desktop's does.
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("fpt:x:%d:%d::%s:/bin/false\n" % (uid, uid, d))
    with open(os.path.join(d, "group"), "w") as f:
        f.write("fpt:x:%d:\n" % uid)
    env = dict(os.environ, LD_PRELOAD="libnss_wrapper.so",
               NSS_WRAPPER_PASSWD=os.path.join(d, "passwd"),
               NSS_WRAPPER_GROUP=os.path.join(d, "group"))
    p = subprocess.Popen(AS + ["dbus-daemon", "--config-file=" + conf, "--nofork",
                               "--print-address=1"], stdout=subprocess.PIPE, text=True, env=env)
    ready = select.select([p.stdout], [], [], 10)[0]
    return p, (p.stdout.readline().split(",")[0].strip() if ready else "")


def record_on(address):
    return run(AS + [FP_COPY, "record", "--source", "portal", "--display", address, "--duration", "1",
                     "-o", os.path.join(BARE, "x.mkv")])


# A session bus without a portal, then with an xdg-desktop-portal that has no backend: each
# says what is missing.
UID = 4242 if os.geteuid() == 0 else os.geteuid()
AS = ["setpriv", "--reuid=%d" % UID, "--regid=%d" % UID, "--clear-groups"] if os.geteuid() == 0 else []
BARE = tmpdir("fpt-portal-bus-")
os.chmod(BARE, 0o700)
if os.geteuid() == 0:
    os.chown(BARE, UID, UID)
bus, address = bus_of_our_own(BARE, UID)
check(address.startswith("unix:path="), "a bare session bus of our own: %r" % address)
r = record_on(address)
check(r.returncode == 1 and "no xdg-desktop-portal on the session bus" in r.stderr,
      "a bus without a portal: exit %d, %r" % (r.returncode, r.stderr.strip()[-300:]))
empty = os.path.join(BARE, "no-portals")
os.mkdir(empty)
xdp = subprocess.Popen(AS + ["env", "DBUS_SESSION_BUS_ADDRESS=" + address,
                             "XDG_DESKTOP_PORTAL_DIR=" + empty, "XDG_RUNTIME_DIR=" + BARE,
                             "HOME=" + BARE, "/usr/libexec/xdg-desktop-portal"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# Ready when it owns its name (bounded: dbus-send's answer, 50 ms apart, 10 s at most).
deadline = time.monotonic() + 10
while time.monotonic() < deadline and run(AS + [
        "dbus-send", "--bus=" + address, "--print-reply", "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus", "org.freedesktop.DBus.GetNameOwner",
        "string:org.freedesktop.portal.Desktop"]).returncode != 0:
    time.sleep(0.05)
r = record_on(address)
check(r.returncode == 1 and "xdg-desktop-portal offers no ScreenCast interface" in r.stderr,
      "a portal without a ScreenCast backend: exit %d, %r" % (r.returncode,
                                                             r.stderr.strip()[-300:]))
for proc in (xdp, bus):
    proc.terminate()
    proc.wait(10)
finish()
