"""The clock pattern survives a low-bitrate H.264 encode and a downscale: every frame of a
2 s recording at 1280x720 and 500 kbit/s reads back (references, every cell clearly white or
black, check), in sequence, with times inside the recording's wall-clock window. Read at
full size and at 640x360 (a small <video>): cells a tenth of this size fail here. Then the
page's reader (clock.js) plays the same file in headless Chromium and must read the stamps
the Python reader read, and nothing else."""
import functools, http.server, os, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clock
import cdp
from fptlib import FP, check, finish, run, skip, tmpdir

W, H = 1280, 720


def read_all(path, w, h):
    stamps, bad = [], []
    for i, gray in enumerate(clock.frames(path, w, h)):
        got, why = clock.read_frame(gray, w, h)
        if got is None:
            bad.append("frame %d: %s" % (i, why))
        else:
            stamps.append(got)
    return stamps, bad


def in_window(ms, t0, t1):
    """ms (low 32 bits of a wall-clock time) lies in [t0, t1]."""
    return (ms - t0) % (1 << 32) <= t1 - t0


def check_sequence(stamps, t0, t1, what):
    # A repeat (the host's frame when the display missed a tick) is the same frame twice:
    # same sequence, same time. Anything else must move forward.
    def forward(a, b):
        step = (b[1] - a[1]) % 65536
        return b == a if step == 0 else step < 32768
    backwards = [(a, b) for a, b in zip(stamps, stamps[1:]) if not forward(a, b)]
    check(not backwards, "%s: sequence strictly increasing, repeats exact (%s)" % (what, backwards[:3]))
    outside = [s for s in stamps if not in_window(s[0], t0, t1)]
    check(not outside, "%s: every time within the recording's wall window %d..%d (%s)"
          % (what, t0 & 0xFFFFFFFF, t1 & 0xFFFFFFFF, outside[:3]))


PAGE = """<!doctype html><html><body style="margin:0;background:#000">
<video id="screen" autoplay muted playsinline src="clock.mp4"
 style="position:fixed;inset:0;width:100%;height:100%;object-fit:contain"></video></body></html>"""


def check_page_reader(d, truth):
    """clock.js in Chromium, on the recording shown in a 960x540 element, reads stamps the
    Python reader also read."""
    why = cdp.available()
    if why:
        return skip("the page reader: " + why)
    open(os.path.join(d, "index.html"), "w").write(PAGE)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    handler = functools.partial(Quiet, directory=d)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with cdp.Chromium(960, 540) as c:
            c.navigate("http://127.0.0.1:%d/index.html" % httpd.server_address[1])
            c.evaluate(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "clock.js")).read())
            c.evaluate("fpClock.start(document.getElementById('screen'))")
            c.wait_for("fpClock.frames.length >= 60 || fpClock.errors.length", 30,
                       "the page read 60 frames of the recording")
            got = c.evaluate("fpClock.frames.map(f => [f.seq, f.w, f.h])")
            errors = c.evaluate("fpClock.errors")
    except (cdp.CDPError, TimeoutError) as e:
        return check(False, "the page reader: %s" % e)
    finally:
        httpd.shutdown()
        httpd.server_close()
    seqs = {seq for _, seq in truth}
    check(not errors and len(got) >= 60, "the page reads 60 frames without a misread (%d, %s)"
          % (len(got), errors[:3]))
    check(all(g[0] in seqs and g[1:] == [W, H] for g in got),
          "every stamp the page read is one the Python reader read (%s)"
          % [g for g in got if g[0] not in seqs][:3])


def main():
    d = tmpdir("fpt-clock-")
    out = os.path.join(d, "clock.mp4")
    t0 = time.time_ns() // 1000000
    r = run([FP, "record", "--source", "test:pattern=clock", "--size", "%dx%d" % (W, H),
             "--fps", "60", "--duration", "2", "--codec", "h264", "--bitrate", "500", "-q",
             "-o", out])
    t1 = time.time_ns() // 1000000
    check(r.returncode == 0, "record of the clock pattern exits 0 (%s)" % r.stderr.strip()[-300:])
    if r.returncode != 0:
        return finish()
    for w, h in ((W, H), (640, 360)):
        stamps, bad = read_all(out, w, h)
        what = "read at %dx%d" % (w, h)
        check(len(stamps) + len(bad) >= 100, "%s: >= 100 frames decoded (%d)" % (what, len(stamps) + len(bad)))
        check(not bad, "%s: every frame's stamp reads with a valid check (%d bad: %s)"
              % (what, len(bad), bad[:3]))
        check_sequence(stamps, t0, t1, what)
        if (w, h) == (W, H):
            truth = stamps
    check_page_reader(d, truth)
    finish()


main()
