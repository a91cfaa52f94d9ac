#!/usr/bin/env python3
"""framepush-source --list against real displays: an Xvfb (its screen and RandR output), a
headless sway started by framepush as an unprivileged user (its output's name and mode), and
displays that cannot answer: none there, a stopped X server, a silent Wayland socket (exit 1
with a message within the 5 s bound). A fake compositor sending a million modes and a
hundred outputs must get a capped listing with the rest counted, in bounded memory, and
the names it sends cannot forge records. Suite cli."""
import array, os, resource, select, shlex, signal, socket, struct, subprocess, threading, time

from fptlib import BUILD, FP, Report, check, finish, interrupt, skip, tmpdir, start_xvfb

SRC = os.path.join(BUILD, "tools", "framepush-source")
TMP = tmpdir("fpt-list-")
BOUND_S = 5  # framepush-source's own deadline for a display (listing.h)


def limit_data(n):
    resource.setrlimit(resource.RLIMIT_DATA, (n, n))


def source_list(backend, display, timeout=30, data_limit=None):
    """(returncode, stdout, stderr, seconds) of one framepush-source --list."""
    t0 = time.monotonic()
    p = subprocess.Popen([SRC, "--backend", backend, "--display", display, "--list"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=(lambda: limit_data(data_limit)) if data_limit else None)
    out, err = [], []
    readers = [threading.Thread(target=lambda f, b: b.append(f.read()), args=(p.stdout, out)),
               threading.Thread(target=lambda f, b: b.append(f.read()), args=(p.stderr, err))]
    for t in readers:
        t.start()
    timer = threading.Timer(timeout, p.kill)  # a hung source fails the check, never the suite
    timer.start()
    _, status = os.waitpid(p.pid, 0)
    timer.cancel()
    for t in readers:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    return (p.returncode, out[0].decode(errors="replace"), err[0].decode(errors="replace"),
            time.monotonic() - t0)


def records(text):
    """The listing as (keyword, words) per non-blank line, the way a script reads it."""
    return [(w[0], w[1:]) for w in (shlex.split(l) for l in text.splitlines() if l.strip())]



def free_x_display():
    """A display number with no server (no socket in /tmp/.X11-unix)."""
    n = 400
    while os.path.exists("/tmp/.X11-unix/X%d" % n):
        n += 1
    return ":%d" % n


def check_x(disp):
    rc, out, err, secs = source_list("x11", disp)
    rec = records(out)
    outputs = [w for k, w in rec if k == "output"]
    modes = [w for k, w in rec if k == "mode"]
    check(rc == 0 and rec[:1] == [("X", ["display", disp])],
          "Xvfb %s listed under its heading: exit %d, %r %s" % (disp, rc, rec[:1], err.strip()))
    check(("screen", ["0", "size=1280x720", "depth=24"]) in rec,
          "the screen is 1280x720, depth 24: %r" % [r for r in rec if r[0] == "screen"])
    check(len(outputs) == 1 and outputs[0][:2] == ["screen", "connected"]
          and "current=1280x720" in outputs[0] and "pos=0,0" in outputs[0],
          "Xvfb's RandR output 'screen', connected, current 1280x720 at 0,0: %r" % outputs)
    check(any(m[0] == "1280x720" and "current" in m for m in modes),
          "its modes include 1280x720, marked current: %r" % modes)


def check_x_stopped(xv, disp):
    """A stopped server accepts the connection and never answers the setup."""
    os.kill(xv.pid, signal.SIGSTOP)
    rc, out, err, secs = source_list("x11", disp)
    os.kill(xv.pid, signal.SIGCONT)
    check(rc == 1 and out == "" and "did not answer within 5 s" in err
          and BOUND_S - 0.5 <= secs <= BOUND_S + 3,
          "a stopped X server: exit %d after %.1f s, nothing on stdout, %r" % (rc, secs, err.strip()))


def start_sway():
    """Headless sway at 800x600@60 as framepush starts it (an unprivileged user of its own),
    kept up by a recording; the application inside reports the socket's path."""
    rdir = tmpdir("fpt-list-sway-")
    os.chmod(rdir, 0o777)  # the application runs as sway's user
    rep = Report(os.path.join(rdir, "app.fifo"))
    os.chmod(rep.path, 0o666)
    log = open(os.path.join(TMP, "sway-host.log"), "w")
    host = subprocess.Popen([FP, "record", "--display", "virtual:800x600@60", "--display-kind",
                             "sway", "--fps", "30", "--duration", "300", "-q", "-o",
                             os.path.join(TMP, "sway.mkv"), "--", "sh", "-c",
                             'echo "$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY" > "$0"; exec sleep 1000',
                             rep.path], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    lines = rep.lines(1, 30)
    rep.close()
    if not lines:
        interrupt(host)
        print(open(log.name).read()[-1500:])
        return None, None
    return host, lines[0]


def check_sway(wl):
    rc, out, err, secs = source_list("wlr", wl)
    rec = records(out)
    outputs = [w for k, w in rec if k == "output"]
    modes = [w for k, w in rec if k == "mode"]
    check(rc == 0 and rec[:1] == [("Wayland", ["display", wl])],
          "sway listed under its heading: exit %d, %r %s" % (rc, rec[:1], err.strip()))
    check(len(outputs) == 1 and outputs[0][0] == "HEADLESS-1"
          and "current=800x600@60.00" in outputs[0] and "pos=0,0" in outputs[0]
          and "scale=1" in outputs[0],
          "sway's output HEADLESS-1 at 800x600@60.00, 0,0, scale 1: %r" % outputs)
    check(["800x600@60.00", "current"] in modes or ["800x600@60.00", "current", "preferred"] in modes,
          "its modes include 800x600@60.00, marked current: %r" % modes)


# The backends this framepush-source has ("(built into this binary: test, wlr, x11)").
_help = subprocess.run([SRC, "--help"], capture_output=True, text=True).stdout
BUILT = _help.split("built into this binary:")[1].split(")")[0].replace(",", " ").split()
xv = disp = host = wl = None
if "x11" not in BUILT:
    skip("the x11 backend is not in this build")
elif os.path.exists("/usr/bin/Xvfb"):
    xv, disp = start_xvfb("1280x720")
    check(xv is not None, "Xvfb started")
    if xv:
        check_x(disp)
else:
    skip("Xvfb is not available")
if "wlr" not in BUILT:
    skip("the wlr backend is not in this build")
elif os.path.exists("/usr/bin/sway"):
    host, wl = start_sway()
    check(wl is not None, "sway started inside a framepush session: %s" % wl)
    if wl:
        check_sway(wl)
else:
    skip("sway is not available")

# framepush list, against the same X display and sway socket, both still up.
def fp_list(args, env=(), timeout=30):
    """framepush list with env changes (a value None unsets the variable)."""
    e = dict(os.environ)
    for k, v in dict(env).items():
        e.pop(k, None) if v is None else e.__setitem__(k, v)
    return subprocess.run([FP, "list", *args], capture_output=True, text=True, timeout=timeout, env=e)


if disp:
    r = fp_list(["--display", disp])
    check(r.returncode == 0 and records(r.stdout)[:1] == [("X", ["display", disp])]
          and "current=1280x720" in r.stdout,
          "framepush list --display %s: exit %d, %r" % (disp, r.returncode, r.stdout[:80]))
if disp and wl:
    rundir, name = os.path.split(wl)
    r = fp_list([], {"DISPLAY": disp, "WAYLAND_DISPLAY": name, "XDG_RUNTIME_DIR": rundir})
    heads = [x for x in records(r.stdout) if x[0] in ("X", "Wayland")]
    check(r.returncode == 0 and heads == [("X", ["display", disp]), ("Wayland", ["display", name])]
          and "\n\nWayland display " + name + "\n  output HEADLESS-1 current=800x600@60.00" in r.stdout,
          "framepush list from DISPLAY and WAYLAND_DISPLAY: both, each under its heading: exit %d, %r"
          % (r.returncode, heads))
r = fp_list([], {"DISPLAY": None, "WAYLAND_DISPLAY": None})
check(r.returncode == 2 and r.stdout == "" and "no display found: set DISPLAY or WAYLAND_DISPLAY, "
      "or give --display" in r.stderr, "framepush list without a display: exit %d, %r" %
      (r.returncode, r.stderr.strip()))
nobody = free_x_display()
t0 = time.monotonic()
r = fp_list(["--display", nobody])
check(r.returncode == 1 and r.stdout == "" and "cannot connect to X display " + nobody in r.stderr
      and time.monotonic() - t0 < BOUND_S, "framepush list --display %s (no server): exit %d, %r"
      % (nobody, r.returncode, r.stderr.strip()))
for bad in (["--bogus"], ["--display"], ["stray"], ["--display", "virtual:640x480@60"]):
    r = fp_list(bad)
    check(r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) <= 2,
          "framepush list %s: usage error, exit %d, %r" % (" ".join(bad), r.returncode, r.stderr.strip()))

if host:
    interrupt(host)
if xv:
    check_x_stopped(xv, disp)
    xv.terminate()
    xv.wait(10)

if "x11" in BUILT:
    nobody = free_x_display()
    rc, out, err, secs = source_list("x11", nobody)
    check(rc == 1 and out == "" and "cannot connect to X display " + nobody in err and secs < BOUND_S,
          "no X server at %s: exit %d in %.1f s, %r" % (nobody, rc, secs, err.strip()))

# ---- Wayland: displays that cannot answer, and a fake compositor that sends too much ----
def wl_socket(name):
    path = os.path.join(TMP, name)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    return s, path


if "wlr" not in BUILT:
    finish()
rc, out, err, secs = source_list("wlr", os.path.join(TMP, "no-such-socket"))
check(rc == 1 and out == "" and "cannot connect to Wayland display" in err and secs < BOUND_S,
      "no Wayland socket: exit %d in %.1f s, %r" % (rc, secs, err.strip()))

silent, silent_path = wl_socket("silent")  # listens, accepts (the kernel does), never answers
rc, out, err, secs = source_list("wlr", silent_path)
check(rc == 1 and out == "" and "did not answer within 5 s" in err
      and BOUND_S - 0.5 <= secs <= BOUND_S + 3,
      "a silent Wayland socket: exit %d after %.1f s, %r" % (rc, secs, err.strip()))
silent.close()

N_OUTPUTS, N_MODES, MODE_CAP, OUTPUT_CAP = 100, 1000000, 128, 32
EVIL = 'evil"name\nmode 1x1 current'  # a name that would forge a record if printed raw


def wl_msg(obj, op, payload=b""):
    return struct.pack("=II", obj, (8 + len(payload)) << 16 | op) + payload


def wl_str(s):
    b = s.encode() + b"\0"
    return struct.pack("=I", len(b)) + b + b"\0" * (-len(b) % 4)


def wl_sync_done(c, cb):
    c.sendall(wl_msg(cb, 0, struct.pack("=I", 1)) + wl_msg(1, 1, struct.pack("=I", cb)))


# N_MODES - 1 distinct mode events, made before the source starts (the fake must outrun
# it), as 32-bit words: six per message, the first the object id, set once it is known.
MANY = array.array("I", b"".join(wl_msg(0, 1, struct.pack("=Iiii", 0, 640 + i % 1000,
                                                          480 + i // 1000, 60000))
                                 for i in range(N_MODES - 1)))


def many_modes(oid):
    MANY[0::6] = array.array("I", [oid]) * (N_MODES - 1)
    return MANY.tobytes()



def fake_output_events(c, oid, first):
    """The first output: N_MODES distinct modes, the current one last; others one mode."""
    c.sendall(wl_msg(oid, 0, struct.pack("=iiiii", 10, 20, 300, 200, 0) + wl_str("Fake Co")
                     + wl_str("X 1") + struct.pack("=i", 0)))
    c.sendall(wl_msg(oid, 4, wl_str(EVIL if first else "FAKE-%d" % oid)))
    if first:
        c.sendall(many_modes(oid))
    c.sendall(wl_msg(oid, 1, struct.pack("=Iiii", 3, 1920, 1080, 59940)) + wl_msg(oid, 2))


def fake_compositor(srv):
    """Speaks just enough of the Wayland wire protocol: get_registry, sync, bind."""
    c, _ = srv.accept()
    buf, outputs = b"", []
    try:
        while True:
            data = c.recv(65536)
            if not data:
                return
            buf += data
            while len(buf) >= 8:
                obj, so = struct.unpack_from("=II", buf)
                size, op = so >> 16, so & 0xffff
                if len(buf) < size:
                    break
                msg, buf = buf[8:size], buf[size:]
                if obj == 1 and op == 1:  # wl_display.get_registry(new_id)
                    reg = struct.unpack_from("=I", msg)[0]
                    for n in range(N_OUTPUTS):
                        c.sendall(wl_msg(reg, 0, struct.pack("=I", 100 + n) + wl_str("wl_output")
                                         + struct.pack("=I", 4)))
                elif obj == 1 and op == 0:  # wl_display.sync(new_id)
                    cb = struct.unpack_from("=I", msg)[0]
                    for i, oid in enumerate(outputs):
                        fake_output_events(c, oid, i == 0)
                    outputs = []
                    wl_sync_done(c, cb)
                elif op == 0 and obj == reg:  # wl_registry.bind(name, iface, version, new_id)
                    outputs.append(struct.unpack_from("=I", msg, len(msg) - 4)[0])
    except OSError:
        return
    finally:
        c.close()


srv, srv_path = wl_socket("fake")
t = threading.Thread(target=fake_compositor, args=(srv,), daemon=True)
t.start()
# 8 MiB of data segment: a million modes stored would take 16 MiB and more (ENOMEM).
rc, out, err, secs = source_list("wlr", srv_path, timeout=60, data_limit=8 << 20)
t.join(10)
srv.close()
rec = records(out)
outputs = [w for k, w in rec if k == "output"]
modes = [w for k, w in rec if k == "mode"]
omitted = dict((k, w) for k, w in rec if k.endswith("-omitted"))
check(rc == 0 and len(outputs) == OUTPUT_CAP
      and omitted.get("outputs-omitted") == [str(N_OUTPUTS - OUTPUT_CAP)],
      "%d outputs offered: %d listed, %s counted as omitted (exit %d, %.1f s) %s" %
      (N_OUTPUTS, len(outputs), omitted.get("outputs-omitted"), rc, secs, err.strip()[-300:]))
check(outputs and outputs[0][0] == 'evil"name\\x0amode 1x1 current' and "current=1920x1080@59.94" in outputs[0]
      and "make=Fake Co" in outputs[0] and "model=X 1" in outputs[0]
      and not any(m == ["1x1", "current"] for m in modes),
      "a name with a quote and a newline stays one quoted word, forging nothing: %r" %
      (outputs[:1],))
first = modes[:MODE_CAP]
check(len(modes) == MODE_CAP + (OUTPUT_CAP - 1)
      and omitted.get("modes-omitted") == [str(N_MODES - MODE_CAP)]
      and sum("current" in m for m in first) == 0,
      "%d modes sent: %d listed for the first output, %s counted (the current one, sent last, "
      "among them)" % (N_MODES, len(first), omitted.get("modes-omitted")))

finish()
