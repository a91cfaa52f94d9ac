"""The clock pattern survives a low-bitrate H.264 encode and a downscale: every frame of a
2 s recording at 1280x720 and 500 kbit/s reads back (references, every cell clearly white or
black, check), in sequence, with times inside the recording's wall-clock window. Read at
full size and at 640x360 (a small <video>): cells a tenth of this size fail here."""
import os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clock
from fptlib import FP, check, finish, run, tmpdir

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
    finish()


main()
