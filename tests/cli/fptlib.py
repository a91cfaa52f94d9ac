"""Shared helpers of the CLI tests: paths, one-line checks, subprocesses, ffprobe."""
import json, os, select, signal, subprocess, sys, tempfile, time

BUILD = os.environ.get("FRAMEPUSH_BUILD_ROOT", "build")
FP = os.path.join(BUILD, "tools", "framepush")
CI = os.environ.get("CI") == "true"
_failures = 0
_skips = 0


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def check(cond, what):
    """Prints one ok/FAIL line; failures are counted for finish()."""
    global _failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        _failures += 1


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def probe(path, extra=()):
    """ffprobe's JSON for path (streams, frames with extra args), or None if unreadable."""
    r = run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", *extra, path])
    return json.loads(r.stdout) if r.returncode == 0 else None


def stream0(path):
    p = probe(path)
    return p["streams"][0] if p and p.get("streams") else None


def skip(why):
    """A part that cannot run here: in CI (where scripts/deps.sh installed everything) a
    failure; elsewhere a skip, and finish() then exits 77 (meson's skip), never a pass."""
    global _skips
    if CI:
        check(False, why + " (in CI every backend is installed: a failure, not a skip)")
    else:
        print("SKIP " + why, flush=True)
        _skips += 1


def gone(pid):
    """True once pid no longer exists (a pidfd cannot be opened for it)."""
    try:
        os.close(os.pidfd_open(pid))
        return False
    except ProcessLookupError:
        return True


class Report:
    """A FIFO that programs inside a session write lines to, read with a bounded wait on
    the event (never a sleep). The reader holds a writer end of its own, so the FIFO never
    reads as end-of-file between two programs' writes."""

    def __init__(self, path):
        os.mkfifo(path)
        self.path = path
        self.rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.wfd = os.open(path, os.O_WRONLY)
        self.buf = b""

    def lines(self, n, timeout_s):
        """The first n complete lines, or fewer when timeout_s passes first."""
        deadline = time.monotonic() + timeout_s
        while self.buf.count(b"\n") < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                break
            self.buf += os.read(self.rfd, 4096)
        return self.buf.decode(errors="replace").split("\n")[:min(n, self.buf.count(b"\n"))]

    def close(self):
        os.close(self.rfd)
        os.close(self.wfd)


def wait_line(p, needle, timeout_s):
    """Reads p's stderr until a line holds needle (True) or timeout_s passes (False); returns
    that and the lines read."""
    deadline, seen = time.monotonic() + timeout_s, []
    while time.monotonic() < deadline:
        if not select.select([p.stderr], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        line = p.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return True, seen
    return False, seen


def interrupt(p, timeout_s=20):
    """Ctrl-C as a terminal sends it, to p's whole process group; waits (bounded) and
    returns the rest of p's stderr. A session that does not end is killed, so a failing
    check never hangs the suite."""
    os.killpg(p.pid, signal.SIGINT)
    try:
        return p.communicate(timeout=timeout_s)[1] or ""
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)
        return ""


def sigint_when_grown(args, out, size, wait_s, timeout_s):
    """Starts args (a program writing the file out), sends it SIGINT once out holds size
    bytes (or wait_s passed) and returns (returncode, stdout) after it ended; one that is
    still running timeout_s later is killed, so a failing check never hangs the suite."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and (not os.path.exists(out) or os.path.getsize(out) < size):
        time.sleep(0.05)  # no event for "a file grew"; bounded
    p.send_signal(signal.SIGINT)
    try:
        so, _ = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        p.kill()
        so, _ = p.communicate()
    return p.returncode, so


def start_xvfb(size):
    """An Xvfb of our own: ready when it writes its display number (-displayfd), within 10 s."""
    rfd, wfd = os.pipe()
    xv = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0", size + "x24",
                           "-nolisten", "tcp", "-noreset"], pass_fds=(wfd,),
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    os.close(wfd)
    buf = b""
    while not buf.endswith(b"\n"):
        if not select.select([rfd], [], [], 10)[0]:
            break
        chunk = os.read(rfd, 32)
        if not chunk:
            break
        buf += chunk
    os.close(rfd)
    if not buf.endswith(b"\n"):
        xv.kill()
        xv.wait()
        return None, None
    return xv, ":" + buf.decode().strip()


def finish():
    print("%d checks failed, %d parts skipped" % (_failures, _skips))
    sys.exit(1 if _failures else 77 if _skips else 0)
