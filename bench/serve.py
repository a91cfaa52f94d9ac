"""framepush-bench serve: glass-to-glass latency of `framepush serve` in headless Chromium.

framepush serves the test source's clock pattern (each frame stamped with its wall-clock
capture time and number, src/sources/test.c); Chromium plays it over WebRTC, and the page
reads the stamp back from every presented frame (tests/serve/clock.js:
requestVideoFrameCallback, the stamp's cells drawn into a small canvas). Latency per frame =
the frame's display time (the later of rVFC's presentationTime and expectedDisplayTime) -
its capture time, both on this machine's wall clock;
lost = frames missing from the sequence the page presented.

Run through `framepush-bench serve [--size WxH] [--fps N] [--seconds N]` (which passes
--framepush), or directly with /usr/bin/python3 (python3-websocket) and --framepush PATH.
Prints per size:
  bench serve <WxH>@<fps> p50_ms= p99_ms= max_ms= frames= lost=
  bench serve <WxH>@<fps> breakdown: ... (where the time goes, medians, ms)
"""
import argparse, json, os, re, signal, subprocess, sys, tempfile, threading

HERE = os.path.dirname(os.path.abspath(__file__))
SERVE_TESTS = os.path.join(HERE, "..", "tests", "serve")
sys.path.insert(0, SERVE_TESTS)
import cdp  # noqa: E402

WARMUP_FRAMES = 60  # the join keyframe and the first jitter-buffer settling are not steady state


def pct(values, p):
    """The p-th percentile by nearest rank (p in 0..100) of a non-empty list."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, (len(v) * p + 99) // 100 - 1))]


class Drain:
    """framepush's stderr copied to its log by a thread (a full pipe would stall it), and the
    viewer URL it prints ("framepush: open http://...#token=...") taken from it."""

    def __init__(self, proc, log):
        self.proc, self.log, self.buf, self.url = proc, log, b"", None
        self.found = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for chunk in iter(lambda: os.read(self.proc.stderr.fileno(), 4096), b""):
            self.log.write(chunk)
            self.log.flush()
            if self.url is None:
                self.buf += chunk
                m = re.search(rb"open (https?://\S+#token=[0-9a-fA-F]+)", self.buf)
                if m:
                    self.url = m.group(1).decode()
                    self.found.set()
        self.found.set()  # stderr closed: no URL will come

    def wait_url(self, timeout_s):
        self.found.wait(timeout_s)
        return self.url


STATS_JS = """(async () => {
  const out = {};
  if (!window.fp || !fp.pc) return out;
  (await fp.pc.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') Object.assign(out, {
      jb: s.jitterBufferDelay, jbn: s.jitterBufferEmittedCount, dec: s.totalDecodeTime,
      decn: s.framesDecoded, drop: s.framesDropped, recv: s.framesReceived,
      lostp: s.packetsLost, proc: s.totalProcessingDelay });
    if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.currentRoundTripTime !== undefined)
      out.rtt = s.currentRoundTripTime;
  });
  return out;
})()"""


def delta_ms(a, b, total, count):
    n = b.get(count, 0) - a.get(count, 0)
    return 1000.0 * (b.get(total, 0) - a.get(total, 0)) / n if n > 0 else float("nan")


def measure_page(browser, seconds):
    """On a live page: the stamps of the frames presented over seconds after a warm-up, the
    misreads, and the receiver's stats before and after the window."""
    browser.evaluate(open(os.path.join(SERVE_TESTS, "clock.js")).read())
    browser.evaluate("fpClock.start(document.getElementById('screen'))")
    browser.wait_for("fpClock.frames.length >= %d" % WARMUP_FRAMES, 20,
                     "the page read no %d stamped frames (misreads: fpClock.errors)" % WARMUP_FRAMES)
    before = browser.evaluate(STATS_JS, await_promise=True)
    browser.evaluate("fpClock.reset()")
    # The measuring window is a duration, not a synchronisation.
    browser.evaluate("new Promise(r => setTimeout(r, %d))" % (seconds * 1000),
                     await_promise=True, timeout_s=seconds + 10)
    browser.evaluate("fpClock.stop()")
    after = browser.evaluate(STATS_JS, await_promise=True)
    return browser.evaluate("fpClock.frames"), browser.evaluate("fpClock.errors"), before, after


def measure(args, w, h, work):
    """One size: (main line, breakdown line), or raises RuntimeError with what failed."""
    tag = "%dx%d@%d" % (w, h, args.fps)
    stats_path = os.path.join(work, "stats-%s.json" % tag)
    log_path = os.path.join(work, "framepush-%s.log" % tag)
    cmd = [args.framepush, "serve", "--source", "test:pattern=clock", "--size", "%dx%d" % (w, h),
           "--fps", str(args.fps), "--listen", "127.0.0.1:0",
           "--stats-json", stats_path]
    if args.bitrate:
        cmd += ["--bitrate", str(args.bitrate)]
    browser = drain = None
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            drain = Drain(proc, log)
            url = drain.wait_url(20)
            if not url:
                said = open(log_path, errors="replace").read().strip().split("\n")[-1]
                try:
                    how = "exited with %d" % proc.wait(2)
                except subprocess.TimeoutExpired:
                    how = "printed no URL within 20 s"
                raise RuntimeError("framepush serve %s (last line: %s)" % (how, said))
            browser = cdp.Chromium(min(w, 1920), min(h, 1080))
            browser.navigate(url)
            browser.wait_for("document.body.dataset.state === 'live'", 20,
                             "the page did not go live (state stayed connecting or failed)")
            frames, misreads, before, after = measure_page(browser, args.seconds)
        except (cdp.CDPError, TimeoutError) as e:
            if proc.poll() is not None:
                e = "%s; framepush exited with %d: %s" % (e, proc.returncode, open(
                    log_path, errors="replace").read().strip().split("\n")[-1])
            raise RuntimeError("%s (framepush log %s)" % (e, log_path))
        finally:
            if browser:
                browser.close()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            if drain:
                drain.thread.join(10)  # before the log closes
    if not frames:
        raise RuntimeError("no frame read in the window (misreads: %s)" % misreads[:3])
    return lines(tag, frames, misreads, before, after, stats_path)


def lines(tag, frames, misreads, before, after, stats_path):
    glass = [f["glass"] for f in frames]
    lost = sum(max(0, (b["seq"] - a["seq"]) % 65536 - 1) for a, b in zip(frames, frames[1:]))
    main = "bench serve %s p50_ms=%.1f p99_ms=%.1f max_ms=%.1f frames=%d lost=%d" % (
        tag, pct(glass, 50), pct(glass, 99), max(glass), len(frames), lost)
    enc = "?"
    try:
        s = json.load(open(stats_path))
        enc = "%.1f" % s["latency_p50_ms"]
    except (OSError, ValueError, KeyError):
        pass
    recv = [f["receive"] for f in frames if f["receive"] is not None]
    present = [f["present"] for f in frames]
    parts = ["capture_to_encoded_p50_ms=%s" % enc,
             "capture_to_received_p50_ms=%s" % ("%.1f" % pct(recv, 50) if recv else "?"),
             "jitter_buffer_ms=%.1f" % delta_ms(before, after, "jb", "jbn"),
             "decode_ms=%.1f" % delta_ms(before, after, "dec", "decn"),
             "capture_to_presented_p50_ms=%.1f" % pct(present, 50),
             "rtt_ms=%s" % ("%.1f" % (after["rtt"] * 1000) if "rtt" in after else "?"),
             # lost splits into never decoded (network, decoder) and decoded, never shown
             "decoded=%d" % (after.get("decn", 0) - before.get("decn", 0)),
             "dropped_in_browser=%d" % (after.get("drop", 0) - before.get("drop", 0)),
             "misreads=%d" % len(misreads)]
    return main, "bench serve %s breakdown: %s" % (tag, " ".join(parts))


def parse_size(s):
    m = re.fullmatch(r"([1-9][0-9]{2,4})x([1-9][0-9]{2,4})", s)
    if not m:
        raise argparse.ArgumentTypeError("want WxH, e.g. 1280x720")
    return int(m.group(1)), int(m.group(2))


def main():
    ap = argparse.ArgumentParser(prog="framepush-bench serve")
    ap.add_argument("--framepush", default=os.path.join(
        os.environ.get("FRAMEPUSH_BUILD_ROOT", "build-rel"), "tools", "framepush"))
    ap.add_argument("--size", type=parse_size, action="append")
    ap.add_argument("--fps", type=int, default=60)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--bitrate", type=int, default=0, help="kbit/s; 0: framepush's default")
    ap.add_argument("--keep", action="store_true", help="keep the logs (kept after a failure)")
    args = ap.parse_args()
    sizes = args.size or [(1280, 720), (1920, 1080)]
    why = cdp.available()
    if why:
        print("bench serve: skipped, %s" % why)
        return 1
    if not os.access(args.framepush, os.X_OK):
        print("bench serve: %s not found (--framepush or FRAMEPUSH_BUILD_ROOT)" % args.framepush)
        return 1
    work, failed = tempfile.mkdtemp(prefix="fpb-serve-"), 0
    for w, h in sizes:
        try:
            for line in measure(args, w, h, work):
                print(line, flush=True)
        except RuntimeError as e:
            print("bench serve %dx%d@%d: failed, %s" % (w, h, args.fps, e), flush=True)
            failed = 1
    if failed or args.keep:
        print("bench serve: logs in %s" % work)
    else:
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)
    return failed


if __name__ == "__main__":
    sys.exit(main())
