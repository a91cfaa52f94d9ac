#!/usr/bin/env python3
"""framepush record, end to end: the CLI's contract, checked with ffprobe and ffmpeg.

Each check prints one line; any failure exits 1 with the reason. Run by meson (suite cli)
with FRAMEPUSH_BUILD_ROOT set."""
import json, os, subprocess

from fptlib import FP, check, run, stream0 as probe, finish, tmpdir, sigint_when_grown

TMP = tmpdir("fpt-cli-")


def sample(path, pix_fmt, w, h, x, y):
    """(Y, Cb, Cr) at (x, y) of the first frame, decoded by ffmpeg."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", pix_fmt, "-"], capture_output=True, timeout=60).stdout
    bps = 2 if pix_fmt.endswith("10le") else 1
    cw, ch = (w + 1) // 2, (h + 1) // 2
    def at(off):
        return int.from_bytes(raw[off:off + bps], "little")
    ysz, csz = w * h * bps, cw * ch * bps
    return (at((y * w + x) * bps), at(ysz + ((y // 2) * cw + x // 2) * bps),
            at(ysz + csz + ((y // 2) * cw + x // 2) * bps))


def pq(nits):
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    yv = (nits / 10000) ** m1
    return ((c1 + c2 * yv) / (1 + c3 * yv)) ** m2


# --help teaches; bad usage is exit 2 with a message.
r = run([FP, "record", "--help"])
check(r.returncode == 0 and "--source SPEC" in r.stdout and "flip-every" in r.stdout, "record --help")
r = run([FP, "record"])
check(r.returncode == 2 and "-o FILE" in r.stderr, "record without -o exits 2: %s" % r.stderr.strip())
# Numbers are parsed whole: a typo is a usage error, never a silent 30 or 0.
for args in (["--fps", "30x"], ["--fps", ""], ["--duration", "1abc"], ["--duration", "-1"],
             ["--bitrate", "abc"], ["--crf", "-5"], ["--crf", "60"], ["--keyint", "0"],
             ["--pipeline-depth", "9"], ["--threads", "2k"], ["--source", "test:pattern=nosuch"],
             ["--source", "test:bogus=1"], ["--source", "x11:bogus=1"],
             ["--source", "wlr:cursor=yes"], ["--source", "wlr:nosuch=1"]):
    r = run([FP, "record", *args, "-o", os.path.join(TMP, "x.mkv")])
    last = (r.stderr.strip().splitlines() or [""])[-1]
    check(r.returncode == 2 and args[0] in last and "'%s'" % args[1] in last or
          (r.returncode == 2 and args[0] == "--crf" and "out of range" in last),
          "record %s exits 2: %s" % (" ".join(args), last))
r = run([FP, "record", "--source", "nosuch", "-o", os.path.join(TMP, "x.y4m")])
check(r.returncode == 2 and "unknown source" in r.stderr, "unknown source exits 2")
r = run([FP, "record", "--source", "test", "--size", "99999x1", "-o", os.path.join(TMP, "x.y4m")])
check(r.returncode == 2, "out-of-range --size exits 2")

# SDR: pure red through the whole path lands on the BT.709 limited codes.
out, stats = os.path.join(TMP, "red.y4m"), os.path.join(TMP, "red.json")
r = run([FP, "record", "--source", "test:pattern=solid,rgb=1/0/0", "--size", "320x180",
         "--fps", "30", "--duration", "1", "-o", out, "--stats-json", stats])
check(r.returncode == 0, "SDR record exits 0 %s" % r.stderr.strip().splitlines()[-1:])
s = probe(out)
check(s is not None and s["width"] == 320 and s["height"] == 180 and s["pix_fmt"] == "yuv420p"
      and int(s["nb_read_frames"]) == 30, "ffprobe: 320x180 yuv420p, 30 frames (%r)" %
      ((s and (s["width"], s["height"], s["pix_fmt"], s["nb_read_frames"])),))
# The converters site chroma left; the y4m tag must say so (C420mpeg2), not centred (C420jpeg).
check(s is not None and s.get("chroma_location") == "left",
      "y4m chroma siting tagged left (%r)" % (s and s.get("chroma_location")))
yy, cb, cr = sample(out, "yuv420p", 320, 180, 160, 90)
ey = 16 + 219 * 0.2126
ecb = 128 + 224 * (-0.2126 / 1.8556)
ecr = 128 + 224 * 0.5
check(abs(yy - ey) <= 1 and abs(cb - ecb) <= 1 and abs(cr - ecr) <= 1,
      "red = Y %d Cb %d Cr %d (BT.709 limited %.1f %.1f %.1f)" % (yy, cb, cr, ey, ecb, ecr))
st = json.load(open(stats))
keys = ["frames_out", "frames_fresh", "frames_repeated", "frames_dropped", "ticks_skipped",
        "stale_rejected", "busy_skipped", "recreates", "signature_failures", "source_status",
        "codec", "encoder"]
check(all(k in st for k in keys), "stats JSON has %s" % ", ".join(keys))
check(st["frames_out"] == 30 and st["signature_failures"] == 0 and st["source_status"] == "OPENED",
      "stats: 30 frames out, 0 signature failures, OPENED")

# No --source and no --display: the test source, as --help says.
out, stats = os.path.join(TMP, "default.y4m"), os.path.join(TMP, "default.json")
r = run([FP, "record", "--size", "320x180", "--fps", "30", "--duration", "0.5", "-q", "-o", out,
         "--stats-json", stats])
st = json.load(open(stats)) if os.path.exists(stats) else {}
check(r.returncode == 0 and st.get("frames_out") == 15 and st.get("signature_failures") == 0
      and st.get("codec") == "rawvideo",
      "no --source: the signed test source, %s frames, codec %s" % (st.get("frames_out"),
                                                                    st.get("codec")))
# -q: warnings and errors only, from the host and from the source it spawned.
quiet_env = {k: v for k, v in os.environ.items() if k != "FRAMEPUSH_LOG"}
r = subprocess.run([FP, "record", "--size", "320x180", "--fps", "30", "--duration", "0.5", "-q",
                    "-y", "-o", out], capture_output=True, text=True, timeout=60, env=quiet_env)
info = [l for l in r.stderr.splitlines() if " info: " in l]
check(r.returncode == 0 and not info, "-q prints no info line (host or source): %s" % info[:2])
# Stats that cannot be written fail the run.
r = run([FP, "record", "--size", "320x180", "--fps", "30", "--duration", "0.2", "-q", "-y", "-o",
         out, "--stats-json", os.path.join(TMP, "nosuchdir", "s.json")])
check(r.returncode == 1 and "cannot write stats" in r.stderr,
      "unwritable --stats-json exits 1: %s" % r.stderr.strip().splitlines()[-1:])

# HDR: 200-nit scRGB white (2.5) lands on ST 2084's code in 10-bit limited P010.
out = os.path.join(TMP, "white200.y4m")
r = run([FP, "record", "--source", "test:pattern=solid,rgb=2.5/2.5/2.5,hdr=1", "--size", "320x180",
         "--fps", "30", "--duration", "1", "-o", out])
check(r.returncode == 0, "HDR record exits 0")
s = probe(out)
check(s is not None and s["pix_fmt"] == "yuv420p10le" and int(s["nb_read_frames"]) == 30,
      "ffprobe: yuv420p10le, 30 frames")
yy, cb, cr = sample(out, "yuv420p10le", 320, 180, 160, 90)
ey = 64 + 876 * pq(200)
check(abs(yy - ey) <= 1 and abs(cb - 512) <= 1 and abs(cr - 512) <= 1,
      "200-nit white = Y %d Cb %d Cr %d (ST 2084: Y %.1f, C 512)" % (yy, cb, cr, ey))

# A display mode change continues in a new segment; each segment is a valid file.
out, stats = os.path.join(TMP, "flip.y4m"), os.path.join(TMP, "flip.json")
r = run([FP, "record", "--source", "test:flip-every=20", "--size", "320x180", "--fps", "60",
         "--duration", "2", "-o", out, "--stats-json", stats])
st = json.load(open(stats))
seg1 = probe(os.path.join(TMP, "flip.1.y4m"))
check(r.returncode == 0 and st["recreates"] >= 2 and st["signature_failures"] == 0
      and seg1 is not None and seg1["width"] == 240 and seg1["pix_fmt"] == "yuv420p10le",
      "flip-every: %d recreates, segment 1 is 240x134 HDR" % st["recreates"])

# Ctrl-C finishes the file cleanly.
out = os.path.join(TMP, "int.y4m")
rc, so = sigint_when_grown([FP, "record", "--source", "test", "--size", "320x180", "--fps", "30",
                            "--duration", "30", "-o", out], out, 200000, 10, 5)
s = probe(out)
check(rc == 0 and s is not None and int(s["nb_read_frames"]) > 0 and "frames in" in so,
      "SIGINT: exit %s, %s frames readable" % (rc, s and s["nb_read_frames"]))

finish()
