"""bench/portal.py: the ScreenCast portal's cost, against framepush's wlr source and GStreamer.

Usage (as root, from the repository, after a build with -Dtest_hooks=true):
  /usr/bin/python3 bench/portal.py [--build build-X] [--size WxH@HZ] [--seconds N] [--json F]
Default 1920x1080@60, 10 s. Needs sway, pipewire, wireplumber, xdg-desktop-portal(-wlr),
python3-gi, GStreamer 1.22 with gstreamer1.0-pipewire and gstreamer1.0-plugins-ugly
(x264enc), ffprobe, setpriv; exits 1 naming what is missing.

One portal desktop (build-*/tests/cli/fpt-portal-desktop WxH@HZ: headless sway, its private
bus, pipewire, wireplumber, xdg-desktop-portal-wlr, xdg-desktop-portal, all as the display's
uid) with wlr-anim-client damaging every frame. Then, one after another, for --seconds each:
  idle        nothing captures: what the desktop costs without a capture;
  fp-portal   framepush record --source portal over the desktop's bus;
  fp-wlr      framepush record --source wlr on the same sway;
  gst-portal  this script as a child: a Gio portal client (CreateSession, SelectSources,
              Start, OpenPipeWireRemote) feeding pipewiresrc fd=FD path=NODE
              do-timestamp=true ! videoconvert ! I420 ! x264enc ! h264parse ! matroskamux.
Every capture runs as the display's uid (its bus admits no other) and encodes H.264 with
framepush record's defaults: libx264 preset veryfast, tune zerolatency, CRF 23 (x264enc
pass=qual quantizer=23), keyint 2 s, no B-frames, x264's automatic thread count.

Per capture:
  fps out     frames in the recording (ffprobe -count_frames) over its duration;
  fps fresh   framepush: frames_fresh of --stats-json over its seconds (the rest are repeats
              of the last frame at the output rate); GStreamer: = fps out (pipewiresrc only
              passes the buffers PipeWire delivers);
  capture ms  user+sys CPU of the capture process and all it reaped (wait4 rusage), whole
              lifetime (start-up and portal negotiation included), per frame out;
  desktop ms  CPU of every other process of the display's uid (sway, pipewire, wireplumber,
              xdg-desktop-portal(-wlr), the Wayland relay, dbus) except the client, from
              /proc/PID/stat over the capture's lifetime, per frame out;
  total ms    capture + desktop per frame out. The idle row gives the desktop's CPU % with
              no capture, to set against theirs;
  other %     the rest of the machine's CPU in the window (the client, anything else
              running): a busy neighbour skews a run, and this column shows it.
"""
import argparse, glob, json, os, re, resource, shutil, signal, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRESET, TUNE, CRF = "veryfast", "zerolatency", 23
READY_S = 60      # the desktop printing its bus
RUN_GRACE_S = 60  # past --seconds before a capture counts as hung
SETTLE_S = 1.0    # the client mapped and drawing before the first window
TICK = os.sysconf("SC_CLK_TCK")
DESKTOP_BINS = ["/usr/bin/sway", "/usr/bin/dbus-daemon", "/usr/bin/pipewire",
                "/usr/bin/wireplumber", "/usr/libexec/xdg-desktop-portal",
                "/usr/libexec/xdg-desktop-portal-wlr", "/usr/bin/setpriv", "/usr/bin/ffprobe"]
GST_ELEMENTS = ["pipewiresrc", "videoconvert", "x264enc", "h264parse", "matroskamux",
                "filesink"]


def die(msg):
    print("bench portal: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- the GStreamer child (runs as the display's uid) ----

def gst_child(a):
    """--gst-child: portal negotiation over Gio, then the pipeline for a.seconds from its
    first buffer. Prints one JSON line (node, cursor mode, init CPU) on stdout."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gio, GLib, Gst
    Gst.init(None)
    missing = [e for e in GST_ELEMENTS if Gst.ElementFactory.find(e) is None]
    if missing:
        die("GStreamer elements missing: %s (gstreamer1.0-pipewire, gstreamer1.0-plugins-"
            "ugly, -base, -good, -bad)" % " ".join(missing))
    if a.gst_child == "check":
        return
    conn = Gio.DBusConnection.new_for_address_sync(
        a.bus, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    portal = PortalClient(conn, GLib, Gio)
    node, cursor = portal.start()
    fd = portal.open_remote()
    gst_run(Gst, GLib, a, fd, node)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"node": node, "cursor_mode": cursor, "init_cpu_s": portal.init_cpu,
                      "cpu_s": ru.ru_utime + ru.ru_stime}), flush=True)


class PortalClient:
    """The ScreenCast portal's calls, each Request's Response subscribed before the call."""
    DEST, PATH = "org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop"
    IFACE = "org.freedesktop.portal.ScreenCast"

    def __init__(self, conn, GLib, Gio):
        self.conn, self.GLib, self.Gio, self.n = conn, GLib, Gio, 0
        self.sender = conn.get_unique_name()[1:].replace(".", "_")
        self.init_cpu = 0.0

    def request(self, method, fmt, args_before, options):
        """Calls method with args_before + options (a{sv} with a fresh handle_token) and
        returns the Response's results; a refusal or a 20 s silence ends the child."""
        V = self.GLib.Variant
        self.n += 1
        token = "fpbench%d" % self.n
        handle = "%s/request/%s/%s" % (self.PATH, self.sender, token)
        got, loop = {}, self.GLib.MainLoop()

        def on_response(_c, _s, _p, _i, _m, params):
            got["code"], got["results"] = params.unpack()
            loop.quit()
        sub = self.conn.signal_subscribe(self.DEST, "org.freedesktop.portal.Request",
                                         "Response", handle, None,
                                         self.Gio.DBusSignalFlags.NO_MATCH_RULE, on_response)
        opts = dict(options, handle_token=V("s", token))
        self.conn.call_sync(self.DEST, self.PATH, self.IFACE, method,
                            V(fmt, tuple(args_before) + (opts,)), None,
                            self.Gio.DBusCallFlags.NONE, 20000, None)
        self.GLib.timeout_add_seconds(20, loop.quit)
        if "code" not in got:
            loop.run()
        self.conn.signal_unsubscribe(sub)
        if got.get("code") != 0:
            die("portal %s: response %s (none within 20 s when None)" % (method,
                                                                        got.get("code")))
        return got["results"]

    def start(self):
        V = self.GLib.Variant
        r = self.request("CreateSession", "(a{sv})", [],
                         {"session_handle_token": V("s", "fpbench")})
        self.session = r["session_handle"]
        modes = self.conn.call_sync(self.DEST, self.PATH, "org.freedesktop.DBus.Properties",
                                    "Get", V("(ss)", (self.IFACE, "AvailableCursorModes")),
                                    None, self.Gio.DBusCallFlags.NONE, 20000,
                                    None).unpack()[0]
        # Embedded (2) as framepush asks for it; hidden (1) where the portal has no other.
        cursor = 2 if modes & 2 else 1
        self.request("SelectSources", "(oa{sv})", [self.session],
                     {"types": V("u", 1), "multiple": V("b", False),
                      "cursor_mode": V("u", cursor)})
        r = self.request("Start", "(osa{sv})", [self.session, ""], {})
        streams = r.get("streams") or []
        if not streams:
            die("portal Start: no stream in %r" % r)
        return streams[0][0], cursor

    def open_remote(self):
        V = self.GLib.Variant
        reply, fds = self.conn.call_with_unix_fd_list_sync(
            self.DEST, self.PATH, self.IFACE, "OpenPipeWireRemote",
            V("(oa{sv})", (self.session, {})), self.GLib.VariantType("(h)"),
            self.Gio.DBusCallFlags.NONE, 20000, None, None)
        fd = fds.get(reply.unpack()[0])
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.init_cpu = ru.ru_utime + ru.ru_stime
        return fd


def gst_run(Gst, GLib, a, fd, node):
    """The pipeline from PLAYING to EOS: EOS is sent a.seconds after the first buffer."""
    desc = ("pipewiresrc fd=%d path=%d do-timestamp=true ! videoconvert ! "
            "video/x-raw,format=I420 ! x264enc name=enc %s ! h264parse ! matroskamux ! "
            "filesink location=%s" % (fd, node, x264enc_props(a.fps), a.out))
    pipe = Gst.parse_launch(desc)
    loop, state = GLib.MainLoop(), {}

    def first_buffer(_pad, _info):
        if "t0" not in state:
            state["t0"] = time.monotonic()
            GLib.timeout_add(int(a.seconds * 1000), lambda: pipe.send_event(Gst.Event.new_eos())
                             and False)
        return Gst.PadProbeReturn.OK

    pipe.get_by_name("enc").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, first_buffer)

    def on_msg(_bus, msg):
        if msg.type == Gst.MessageType.EOS:
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            state["error"] = "%s (%s)" % msg.parse_error()
            loop.quit()
        return True
    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_msg)
    GLib.timeout_add_seconds(int(a.seconds) + RUN_GRACE_S // 2, loop.quit)
    pipe.set_state(Gst.State.PLAYING)
    loop.run()
    pipe.set_state(Gst.State.NULL)
    if "error" in state or "t0" not in state:
        die("GStreamer pipeline: %s" % state.get("error", "no buffer or no EOS in time"))


def x264enc_props(fps):
    # pass=qual is x264's CRF, but x264enc also makes its bitrate (default 2048 kbit/s) the
    # VBV cap, which libx264 in framepush does not have: its maximum lifts the cap out of
    # reach (the SEI then reads vbv_maxrate=2000000, x264's own ceiling).
    return ("speed-preset=%s tune=%s pass=qual quantizer=%d bitrate=2048000 key-int-max=%d "
            "bframes=0 threads=0" % (PRESET, TUNE, CRF, 2 * fps))


# ---- the parent (root, or the display's own uid) ----

def cpu_of(pid):
    """utime+stime in seconds of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def machine_busy():
    """CPU seconds the whole machine has spent busy (all but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def uid_procs(uid):
    """{pid: (name, ppid)} of uid's processes; name from argv[0] (comm is cut at 15)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.stat("/proc/" + d).st_uid != uid:
                continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode(errors="replace")
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        out[int(d)] = (os.path.basename(argv0) or "?", ppid)
    return out


def snapshot(uid, skip):
    """CPU seconds by pid of uid's processes not in skip (pids) nor their descendants."""
    procs, snap = uid_procs(uid), {}
    for pid, (name, _) in procs.items():
        p, seen = pid, 0
        while p in procs and p not in skip and seen < 64:
            p, seen = procs[p][1], seen + 1
        if p in skip:
            continue
        c = cpu_of(pid)
        if c is not None:
            snap[pid] = (name, c)
    return snap


def delta(before, after):
    """CPU seconds by service name between two snapshots (new pids count from 0)."""
    by = {}
    for pid, (name, c) in after.items():
        # The Wayland relay is a fork of the desktop helper and keeps its argv.
        name = "wayland-relay" if name == "fpt-portal-desktop" else name
        by[name] = by.get(name, 0.0) + c - before.get(pid, (name, 0.0))[1]
    return by


def busy(by):
    """The services that used CPU, for the table's notes."""
    return ", ".join("%s %.2f s" % (k, v) for k, v in sorted(by.items(), key=lambda kv: -kv[1])
                     if v >= 0.005) or "none"


def world_ok(path):
    """Whether another uid can reach and run path (every directory o+x, the file o+rx)."""
    path = os.path.realpath(path)
    if os.stat(path).st_mode & 0o005 != 0o005:
        return False
    d = os.path.dirname(path)
    while d != "/":
        if not os.stat(d).st_mode & 0o001:
            return False
        d = os.path.dirname(d)
    return True


class Bed:
    def __init__(self, a):
        self.a, self.tmp, self.desk, self.client = a, tempfile.mkdtemp(prefix="fp-bench-portal-"), None, None
        os.chmod(self.tmp, 0o755)

    def tools(self):
        a = self.a
        build = a.build or next(iter(sorted(glob.glob(os.path.join(ROOT, "build*", "tests", "cli",
                                                                   "fpt-portal-desktop")))), "")
        if not a.build:
            build = os.path.dirname(os.path.dirname(os.path.dirname(build))) if build else ""
        need = {"framepush": "tools/framepush", "source": "tools/framepush-source",
                "desktop": "tests/cli/fpt-portal-desktop", "anim": "tests/wlr/wlr-anim-client"}
        self.bin = {k: os.path.join(build, v) for k, v in need.items()}
        missing = [p for p in list(self.bin.values()) + DESKTOP_BINS if not os.path.exists(p)]
        if missing:
            shutil.rmtree(self.tmp, ignore_errors=True)
            die("missing: %s (Debian: sway pipewire wireplumber xdg-desktop-portal "
                "xdg-desktop-portal-wlr ffmpeg util-linux; framepush: meson setup build-X "
                "-Dtest_hooks=true && ninja -C build-X, then --build build-X)" % " ".join(missing))
        # The display's uid runs these: copies where the build tree is closed to it.
        pub = os.path.join(self.tmp, "bin")
        os.makedirs(pub, 0o755)
        for k in ("framepush", "source", "anim"):
            if not world_ok(self.bin[k]):
                dst = os.path.join(pub, os.path.basename(self.bin[k]))
                shutil.copy(self.bin[k], dst)
                os.chmod(dst, 0o755)
                self.bin[k] = dst
        self.script = os.path.abspath(__file__)
        if not world_ok(self.script):
            self.script = shutil.copy(self.script, os.path.join(pub, "portal.py"))
            os.chmod(self.script, 0o644)

    def up(self):
        a = self.a
        log = open(os.path.join(self.tmp, "desktop.log"), "w")
        self.desk = subprocess.Popen([self.bin["desktop"], "%dx%d@%d" % (a.w, a.h, a.fps)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=log, text=True)
        import select
        ready, _, _ = select.select([self.desk.stdout], [], [], READY_S)
        f = self.desk.stdout.readline().split() if ready else []
        if len(f) != 3 or not f[0].startswith("unix:path="):
            die("the portal desktop did not come up within %d s (log %s/desktop.log)" %
                (READY_S, self.tmp))
        self.bus, self.uid, self.dir = f[0], int(f[1]), f[2]
        os.chown(self.tmp, self.uid, self.uid) if os.geteuid() == 0 else None
        self.client = self.spawn([self.bin["anim"]], "anim.log")
        time.sleep(SETTLE_S)  # a warm-up, not a handshake: the client only has to be drawing
        if self.client.poll() is not None:
            die("wlr-anim-client exited %d (log %s/anim.log)" % (self.client.returncode,
                                                                 self.tmp))

    def as_uid(self, argv, extra_env=()):
        env = ["PATH=/usr/bin:/bin", "HOME=" + self.dir, "XDG_RUNTIME_DIR=" + self.dir,
               "WAYLAND_DISPLAY=" + self.dir + "/wayland-1",
               "FRAMEPUSH_SOURCE=" + self.bin["source"]] + list(extra_env)
        pre = []
        if os.geteuid() == 0 and self.uid != 0:
            pre = ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.uid,
                   "--clear-groups"]
        return pre + ["env", "-i"] + env + argv

    def spawn(self, argv, logname, **kw):
        return subprocess.Popen(self.as_uid(argv), stdin=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.tmp, logname), "w"), **kw)

    def down(self):
        for p in (self.client, self.desk):
            if p and p.poll() is None:
                if p is self.desk:
                    try:
                        p.stdin.write("\n")
                        p.stdin.flush()
                        p.wait(30)
                        continue
                    except (OSError, subprocess.TimeoutExpired):
                        pass
                p.kill()
                p.wait()
        if self.a.keep:
            print("bench portal: recordings and logs kept in " + self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def measure(bed, name, argv):
    """Runs argv as the display's uid; returns its rusage CPU, the desktop's CPU by service
    over the same window, wall seconds and stdout."""
    skip = {bed.client.pid}
    before, m0 = snapshot(bed.uid, skip), machine_busy()
    t0 = time.monotonic()
    p = bed.spawn(argv, name + ".log", stdout=subprocess.PIPE)
    skip.add(p.pid)
    deadline, ru, status = t0 + bed.a.seconds + RUN_GRACE_S, None, None
    while ru is None:
        pid, status, r = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            ru = r
        elif time.monotonic() > deadline:
            p.kill()
            die("%s hung past %d s (log %s/%s.log)" % (name, bed.a.seconds + RUN_GRACE_S,
                                                       bed.tmp, name))
        else:
            time.sleep(0.05)  # polling the exit: wait4 is the only way to its rusage here
    p.returncode = os.waitstatus_to_exitcode(status)
    after = snapshot(bed.uid, skip)
    wall = time.monotonic() - t0
    # CPU of anything else on the machine in the window (the client included): a busy
    # neighbour skews the run, and this says so.
    other = machine_busy() - m0 - (ru.ru_utime + ru.ru_stime) - sum(delta(before, after).values())
    out = p.stdout.read().decode(errors="replace")
    if p.returncode != 0:
        with open(os.path.join(bed.tmp, name + ".log")) as f:
            tail = f.read().strip().splitlines()[-3:]
        die("%s exited %d: %s" % (name, p.returncode, " | ".join(tail)))
    return ru.ru_utime + ru.ru_stime, delta(before, after), wall, out, other


def probe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                        "-show_entries", "stream=nb_read_frames:format=duration", "-of",
                        "json", path], capture_output=True, text=True, timeout=300)
    try:
        j = json.loads(r.stdout)
        return int(j["streams"][0]["nb_read_frames"]), float(j["format"]["duration"])
    except (ValueError, KeyError, IndexError):
        die("ffprobe could not read %s: %s" % (path, r.stderr.strip()))


def framepush_argv(bed, source, display, out, stats):
    a = bed.a
    return [bed.bin["framepush"], "record", "--source", source, "--display", display,
            "--fps", str(a.fps), "--duration", str(a.seconds), "--codec", "h264",
            "--preset", PRESET, "--tune", TUNE, "--crf", str(CRF), "--keyint", str(2 * a.fps),
            "--governor", "off", "--stats-json", stats, "-q", "-y", "-o", out]


def row(bed, name, argv, out, stats=None):
    cap, desk, wall, stdout, other = measure(bed, name, argv)
    frames, dur = probe(out)
    if frames == 0 or dur <= 0:
        die("%s: empty recording %s" % (name, out))
    r = {"name": name, "frames": frames, "duration_s": dur, "wall_s": wall,
         "fps_out": frames / dur, "capture_cpu_s": cap, "desktop_cpu_s": sum(desk.values()),
         "desktop_by_service_s": {k: round(v, 3) for k, v in sorted(desk.items())},
         "other_cpu_pct": 100 * other / wall}
    if stats:
        with open(stats) as f:
            s = json.load(f)
        r["frames_fresh"] = s["frames_fresh"]
        r["fps_fresh"] = s["frames_fresh"] / s["seconds"]
        r["latency_p50_ms"] = s.get("latency_p50_ms")
    else:
        r["frames_fresh"], r["fps_fresh"] = frames, frames / dur
        if stdout.strip():
            r["child"] = json.loads(stdout.strip().splitlines()[-1])
    r["capture_ms_per_frame"] = 1000 * cap / frames
    r["desktop_ms_per_frame"] = 1000 * r["desktop_cpu_s"] / frames
    r["total_ms_per_frame"] = r["capture_ms_per_frame"] + r["desktop_ms_per_frame"]
    r["total_cpu_pct"] = 100 * (cap + r["desktop_cpu_s"]) / wall
    return r


def idle_row(bed):
    skip = {bed.client.pid}
    before, t0, m0 = snapshot(bed.uid, skip), time.monotonic(), machine_busy()
    time.sleep(bed.a.seconds)  # the window itself: nothing to wait for
    desk, wall = delta(before, snapshot(bed.uid, skip)), time.monotonic() - t0
    other = machine_busy() - m0 - sum(desk.values())
    return {"name": "idle", "wall_s": wall, "desktop_cpu_s": sum(desk.values()),
            "desktop_cpu_pct": 100 * sum(desk.values()) / wall,
            "other_cpu_pct": 100 * other / wall,
            "desktop_by_service_s": {k: round(v, 3) for k, v in sorted(desk.items())}}


def run_all(bed):
    a, t = bed.a, bed.tmp
    chk = bed.as_uid(["/usr/bin/python3", bed.script, "--gst-child", "check"])
    r = subprocess.run(chk, capture_output=True, text=True, timeout=120)  # also warms the registry
    if r.returncode != 0:
        die("as the display's uid: %s" % (r.stderr.strip() or "python3-gi / GStreamer fails"))
    rows = [idle_row(bed)]
    rows.append(row(bed, "fp-portal", framepush_argv(bed, "portal", bed.bus, t + "/portal.mkv",
                                                     t + "/portal.json"),
                    t + "/portal.mkv", t + "/portal.json"))
    rows.append(row(bed, "fp-wlr", framepush_argv(bed, "wlr", bed.dir + "/wayland-1",
                                                  t + "/wlr.mkv", t + "/wlr.json"),
                    t + "/wlr.mkv", t + "/wlr.json"))
    gst = ["/usr/bin/python3", bed.script, "--gst-child", "run", "--bus", bed.bus,
           "--seconds", str(a.seconds), "--size", "%dx%d@%d" % (a.w, a.h, a.fps),
           "--out", t + "/gst.mkv"]
    rows.append(row(bed, "gst-portal", gst, t + "/gst.mkv"))
    return rows


def print_table(a, rows):
    print("bench portal %dx%d@%d, %g s each, wlr-anim-client drawing; libx264 %s/%s crf %d "
          "keyint %d bframes 0 threads auto" % (a.w, a.h, a.fps, a.seconds, PRESET, TUNE, CRF,
                                                2 * a.fps))
    idle = rows[0]
    print("idle desktop (no capture): %.1f%% CPU: %s; rest of the machine %.0f%%" % (
        idle["desktop_cpu_pct"], busy(idle["desktop_by_service_s"]), idle["other_cpu_pct"]))
    print("%-11s %7s %9s %10s %10s %10s %7s %7s" % ("capture", "fps out", "fps fresh",
                                                     "capture", "desktop", "total", "CPU %",
                                                     "other %"))
    print("%-11s %7s %9s %10s %10s %10s" % ("", "", "", "ms/frame", "ms/frame", "ms/frame"))
    for r in rows[1:]:
        print("%-11s %7.1f %9.1f %10.2f %10.2f %10.2f %7.1f %7.0f" % (
            r["name"], r["fps_out"], r["fps_fresh"], r["capture_ms_per_frame"],
            r["desktop_ms_per_frame"], r["total_ms_per_frame"], r["total_cpu_pct"],
            r["other_cpu_pct"]))
    for r in rows[1:]:
        print("  %s desktop: %s" % (r["name"], busy(r["desktop_by_service_s"])))


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="1920x1080@60", help="WxH[@HZ] (HZ default 60)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--json", help="write the rows as JSON here")
    ap.add_argument("--build", help="the build directory (default: the first build*/ with "
                    "tests/cli/fpt-portal-desktop)")
    ap.add_argument("--keep", action="store_true", help="keep the recordings and logs")
    ap.add_argument("--gst-child", choices=["check", "run"], help=argparse.SUPPRESS)
    ap.add_argument("--bus", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    m = re.fullmatch(r"(\d+)x(\d+)(?:@(\d+))?", a.size)
    if not m or int(m.group(1)) % 2 or int(m.group(2)) % 2 or not 1 <= int(m.group(3) or 60) <= 240:
        ap.error("--size wants WxH[@HZ], W and H even, HZ 1..240: %r" % a.size)
    if not 1 <= a.seconds <= 600:
        ap.error("--seconds wants 1..600")
    a.w, a.h, a.fps = int(m.group(1)), int(m.group(2)), int(m.group(3) or 60)
    return a


def main():
    a = parse(sys.argv[1:])
    if a.gst_child:
        return gst_child(a)
    try:
        import gi  # noqa: F401  (checked here too: a clear message before any desktop)
    except ImportError:
        die("python3-gi is missing (run with /usr/bin/python3; Debian python3-gi)")
    bed = Bed(a)
    bed.tools()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        bed.up()
        rows = run_all(bed)
    except BaseException:
        a.keep = True  # the logs a failure message points to
        raise
    finally:
        bed.down()
    print_table(a, rows)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": "%dx%d@%d" % (a.w, a.h, a.fps), "seconds": a.seconds,
                       "encoder": {"codec": "libx264", "preset": PRESET, "tune": TUNE,
                                   "crf": CRF, "keyint": 2 * a.fps, "bframes": 0,
                                   "threads": "auto", "x264enc": x264enc_props(a.fps)},
                       "rows": rows}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
