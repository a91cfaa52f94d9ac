#!/usr/bin/env python3
"""framepush's command line as a new user meets it: every usage mistake exits 2 before
anything starts, with one line naming the mistake; nothing a user had is lost; -q is quiet;
the status line fits a terminal. Runs the real binary (and, where a run is needed, the real
test source) and checks exit codes, messages and the files left behind."""
import json, os, pty, re, select, subprocess, time

from fptlib import FP, check, run, stream0, finish, tmpdir

TMP = tmpdir("fpt-cli2-")
SRC = os.environ.get("FRAMEPUSH_SOURCE_ROOT", ".")


def path(name):
    return os.path.join(TMP, name)


def usage_error(args, what, needle=None, env=None, lines=1):
    """args must exit 2 at once, with `lines` line(s) on stderr (containing needle) and
    nothing on stdout."""
    t = time.monotonic()
    try:
        r = subprocess.run([FP, *args], capture_output=True, text=True, errors="replace", timeout=15,
                           env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        check(False, "%s: still running after 15 s (a usage error must exit 2 at once)" % what)
        return subprocess.CompletedProcess(args, None, "", "")
    err = r.stderr.strip().splitlines()
    ok = (r.returncode == 2 and len(err) == lines and not r.stdout and
          (needle is None or needle in r.stderr) and time.monotonic() - t < 5)
    check(ok, "%s: exit %d in %.1f s, %s" % (what, r.returncode, time.monotonic() - t,
                                              err[:2] if err else "no message"))
    return r


def record(args, out, timeout=60, env=None):
    return subprocess.run([FP, "record", "--source", "test", "--size", "64x64", *args, "-o", out],
                          capture_output=True, text=True, errors="replace", timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


# --- 1. any positive duration ends, with at least one frame ---------------------------------
for fps, dur in (("60", "0.005"), ("1", "0.4")):
    st = path("short.json")
    try:
        r = record(["--fps", fps, "--duration", dur, "-y", "--stats-json", st], path("short.y4m"),
                   timeout=20)
        frames = json.load(open(st))["frames_out"] if r.returncode == 0 else None
    except subprocess.TimeoutExpired:
        r, frames = None, None
    check(r is not None and r.returncode == 0 and frames == 1,
          "--fps %s --duration %s ends with one frame (got %s)" % (fps, dur, frames))

# --- 2. two outputs on one path: refused, nothing touched -----------------------------------
keep = path("keep.mkv")
open(keep, "w").write("precious")
usage_error(["record", "--source", "test", "-y", "-o", keep, "--stats-json", keep],
            "--stats-json F -o F", "different files")
usage_error(["record", "--source", "test", "-y", "-o", keep, "--stats-json",
             os.path.join(TMP, ".", "keep.mkv")], "--stats-json ./F -o F", "different files")
usage_error(["stream", "--source", "test", "--to", "rtp://127.0.0.1:5004", "--sdp", keep,
             "--stats-json", keep], "--sdp F --stats-json F", "different files")
check(open(keep, "rb").read() == b"precious", "the file named twice is untouched")

# --- 3. sizes outside what the encoders take exit 2 at once -----------------------------------
for size in ("2x2", "8x8", "321x241", "640X480", "0x0", "15x16"):
    usage_error(["record", "--source", "test", "--size", size, "-o", path("s.mkv")],
                "--size %s" % size, "--size '%s'" % size)
for disp in ("virtual:641x481@60", "virtual:640x480@60junk", "virtual:8x8@60",
             "virtual:640x480@0"):
    usage_error(["record", "--display", disp, "-o", path("s.mkv")], "--display %s" % disp,
                "--display '%s'" % disp)
r = record(["--size", "16x16", "--duration", "0.2", "-y"], path("tiny.mkv"))
s = stream0(path("tiny.mkv"))
check(r.returncode == 0 and s and (s["width"], s["height"]) == (16, 16),
      "--size 16x16 (the documented minimum) records: %s" % r.stderr.strip()[-200:])

# --- 7. an existing file is not overwritten without consent ---------------------------------
old = path("old.mkv")
open(old, "w").write("yesterday")
usage_error(["record", "--source", "test", "--duration", "0.1", "-o", old], "existing -o, no -y",
            "-y")
check(open(old, "rb").read() == b"yesterday", "the existing recording is untouched")


def on_terminal(args, answer):
    """Runs args with stdin and stderr on a terminal, answers the question, returns
    (exit status, what the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(FP, [FP, *args])
    shown, deadline, answered = b"", time.monotonic() + 30, False
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0, deadline - time.monotonic()))[0]:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        shown += data
        if not answered and b"Overwrite? [y/N]" in shown:
            os.write(fd, answer + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


rc, shown = on_terminal(["record", "--source", "test", "--size", "64x64", "--duration", "0.1",
                         "-q", "-o", old], b"n")
check(rc == 2 and "not overwriting" in shown and open(old, "rb").read() == b"yesterday",
      "on a terminal, 'n' keeps the file (exit %d)" % rc)
rc, shown = on_terminal(["record", "--source", "test", "--size", "64x64", "--duration", "0.1",
                         "-q", "-o", old], b"y")
s = stream0(old)
check(rc == 0 and s is not None and s["width"] == 64, "on a terminal, 'y' replaces it (exit %d)" % rc)
r = record(["--duration", "0.1", "-y", "-q"], old)
check(r.returncode == 0 and stream0(old) is not None, "-y replaces it without asking")

# --- what users of the peer tools expect -----------------------------------------------------
r = run([FP, "--version"])
check(r.returncode == 0 and re.match(r"framepush \S+", r.stdout) and "libavcodec" in r.stdout,
      "--version: %s" % r.stdout.strip().splitlines()[:1])
r = run([FP, "record", "--help"])
lines = r.stdout.splitlines()
check(r.returncode == 0 and all(o in r.stdout for o in ("-q, --quiet", "--version", "-y, --overwrite",
                                                          "--crop X,Y,W,H", "--format", "list")),
      "--help documents -q, --version, -y, --crop, --format and list")
check(max(len(line) for line in lines) <= 80, "--help fits 80 columns (widest %d)" %
      max(len(line) for line in lines))

# -o -: only the stream on stdout (the summary goes to stderr)
p = subprocess.run([FP, "record", "--source", "test", "--size", "64x64", "--fps", "10",
                    "--duration", "0.5", "-o", "-"], capture_output=True, timeout=60,
                   stdin=subprocess.DEVNULL)
check(p.returncode == 0 and len(p.stdout) > 0 and len(p.stdout) % 188 == 0 and
      p.stdout[0] == 0x47 and b"frames in" in p.stderr,
      "-o -: MPEG-TS alone on stdout (%d bytes), the summary on stderr" % len(p.stdout))

# -q: nothing at all on success
r = record(["--fps", "10", "--duration", "0.3", "-q", "-y"], path("quiet.mkv"))
check(r.returncode == 0 and r.stdout == "" and r.stderr == "",
      "-q prints nothing on success: %r" % (r.stdout + r.stderr)[:200])
r = subprocess.run([FP, "record", "--display", "virtual:320x240@30", "--duration", "0.5", "-q", "-y",
                    "-o", path("quiet2.mkv")], capture_output=True, text=True, errors="replace", timeout=60,
                   stdin=subprocess.DEVNULL)
check(r.returncode == 0 and r.stdout == "" and r.stderr == "",
      "-q with a virtual display prints nothing: %r" % (r.stdout + r.stderr)[:300])

env = dict(os.environ, FRAMEPUSH_LOG="verbose")
usage_error(["record", "--source", "test", "-o", path("l.mkv")], "FRAMEPUSH_LOG=verbose",
            "FRAMEPUSH_LOG", env=env)
env = dict(os.environ, FRAMEPUSH_PIPELINE_DEPTH="9")
usage_error(["record", "--source", "test", "-o", path("l.mkv")], "FRAMEPUSH_PIPELINE_DEPTH=9",
            "FRAMEPUSH_PIPELINE_DEPTH", env=env)

usage_error(["record", "--frobnicate", "-o", path("u.mkv")], "unknown long option",
            "unknown option '--frobnicate' (see framepush record --help)")
usage_error(["record", "-z", "-o", path("u.mkv")], "unknown short option", "'-z'")
usage_error(["record", "-o"], "a value missing", "'-o'")
usage_error(["record", "--display", "foo", "-o", path("u.mkv")], "--display foo",
            "not an X display")
usage_error(["record", "--source", "test", "-o", path("u.mkv"), "extra"], "stray argument",
            "stray argument 'extra'")
usage_error(["nosuch"], "unknown command", "see framepush --help")

for target in ("x.avi", "x.webm", "x", "http://127.0.0.1/x", "rtmp://127.0.0.1/live",
               "SRT://127.0.0.1:9000", "srt://127.0.0.1:99999", "udp://127.0.0.1:0",
               "udp://127.0.0.1:x"):
    verb, opt = ("record", "-o") if "://" not in target else ("stream", "--to")
    r = usage_error([verb, "--source", "test", opt, target if "://" in target else path(target)],
                    "unsupported target %s" % target, ".mkv")
    check(all(k in r.stderr for k in (".mp4", ".ts", "srt://", "rtsp://")),
          "  ... and the message lists what is supported")

# strict numbers; options that do nothing
for bad in ("0x10", "1e3", "inf", " 2", "2s", "-1"):
    usage_error(["record", "--source", "test", "--duration", bad, "-o", path("n.mkv")],
                "--duration %r" % bad, "--duration")
usage_error(["record", "--display", "virtual:320x240@30", "--size", "640x480", "-o", path("n.mkv")],
            "--size with --display", "--size does nothing")
usage_error(["record", "--source", "test", "--sdp", path("x.sdp"), "-o", path("n.mkv")],
            "--sdp without rtp://", "--sdp does nothing")
usage_error(["record", "--source", "test", "--format", "mkv", "-o", path("n.mkv")],
            "--format with a file", "--format does nothing")
usage_error(["record", "--source", "test", "--codec", "hevc", "-o", path("n.y4m")],
            "--codec with .y4m", "--codec does nothing")
usage_error(["record", "--source", "test", "--display-kind", "sway", "-o", path("n.mkv")],
            "--display-kind without a virtual display", "--display-kind does nothing")
for crop in ("1,2,3", "0,0,15,16", "0,0,17,16", "0,0,16,16,1", "a,0,16,16", "0,0,7681,16"):
    usage_error(["record", "--source", "test", "--crop", crop, "-o", path("n.mkv")],
                "--crop %s" % crop, "--crop")

# --- a failed stream says nothing was delivered ----------------------------------------------
r = subprocess.run([FP, "stream", "--source", "test", "--size", "64x64", "--to",
                    "rtsp://127.0.0.1:9/live"], capture_output=True, text=True, errors="replace", timeout=60,
                   stdin=subprocess.DEVNULL)
check(r.returncode == 1 and "nothing was delivered to rtsp://127.0.0.1:9/live" in r.stdout + r.stderr
      and "frames in" not in r.stdout, "a stream that never connected: 'nothing was delivered' "
      "(exit %d): %s" % (r.returncode, (r.stdout + r.stderr).strip().splitlines()[-2:]))


# --- the status line fits 80 columns; log lines never land on it -----------------------------
def on_terminal_stderr(args, env):
    """Runs args with stderr on a terminal (stdout a pipe); returns what the terminal got."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                         env=env)
    os.close(slave)
    got, deadline = b"", time.monotonic() + 60
    while time.monotonic() < deadline:
        if not select.select([master], [], [], max(0, deadline - time.monotonic()))[0]:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        got += data
    p.wait(30)
    os.close(master)
    return got.decode(errors="replace")


env = dict(os.environ, FRAMEPUSH_LOG="debug")
tty = on_terminal_stderr([FP, "record", "--source", "test:flip-every=40", "--size", "320x240",
                          "--fps", "30", "--duration", "3", "-y", "-o", path("status.mkv")], env)
frames = [f for f in re.split(r"[\r\n]", tty.replace("\x1b[K", "")) if f]
status = [f for f in frames if " fps " in f and "kbit/s" in f and "[" not in f]
check(len(status) >= 3 and max(len(f) for f in status) <= 80,
      "status line drawn %d times, widest %d columns" % (len(status),
                                                         max([len(f) for f in status] or [0])))
# Every log line (host or source) starts at the left edge: after a newline, or after the
# erase that clears a status line.
starts = [m.start() for m in re.finditer(r"framepush(-source)?\[\d+\] ", tty)]
bad = [tty[max(0, i - 40):i + 40] for i in starts
       if i > 0 and not (tty[i - 1] == "\n" or tty[max(0, i - 4):i] == "\r\x1b[K")]
check(len(starts) > 3 and not bad, "%d log lines, none on a status line%s" %
      (len(starts), (": %r" % bad[0]) if bad else ""))

# --- the man page names only pages that exist ---------------------------------------------
man = open(os.path.join(SRC, "doc", "framepush.1")).read()
see = man[man.index(".SH SEE ALSO"):]
names = re.findall(r"\.BR (\S+) \((\d)\)", see)
missing = [n for n, sec in names
           if not os.path.exists("/usr/share/man/man%s/%s.%s.gz" % (sec, n, sec))
           and not os.path.exists(os.path.join(SRC, "doc", "%s.%s" % (n, sec)))]
check(names and not missing, "man SEE ALSO: %s exist (missing: %s)" % ([n for n, _ in names], missing))

finish()
