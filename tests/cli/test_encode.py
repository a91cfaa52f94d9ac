#!/usr/bin/env python3
"""framepush record/stream with real encoders, checked with ffprobe and ffmpeg.

Each check prints one line; any failure exits 1. Suite cli, FRAMEPUSH_BUILD_ROOT set."""
import json, os, re, signal, socket, subprocess, time

from fptlib import FP, check, run, probe, stream0, finish, tmpdir, sigint_when_grown

TMP = tmpdir("fpt-enc-")


def record(name, spec, *extra, size="320x180", fps="30", duration="2"):
    out = os.path.join(TMP, name)
    stats = out + ".json"
    r = run([FP, "record", "--source", spec, "--size", size, "--fps", fps, "--duration", duration,
             "-q", "-o", out, "--stats-json", stats, *extra])
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    if r.returncode != 0:
        print(r.stderr[-2000:])
    return r, out, st


def psnr(a, b):
    r = run(["ffmpeg", "-v", "info", "-i", a, "-i", b, "-lavfi", "psnr", "-f", "null", "-"])
    m = re.search(r"average:([0-9.]+|inf)", r.stderr)
    return float("inf") if m and m.group(1) == "inf" else float(m.group(1)) if m else 0.0


# Each codec: container, codec, profile, pixel format, size, frame count (+-2), rate.
for codec, ext, want_codec, want_prof in (("h264", "mkv", "h264", None),
                                          ("hevc", "mp4", "hevc", "Main"),
                                          ("av1", "mkv", "av1", None)):
    r, out, st = record("sdr-%s.%s" % (codec, ext), "test:pattern=bars", "--codec", codec)
    s = stream0(out)
    ok = (r.returncode == 0 and s is not None and s["codec_name"] == want_codec
          and s["pix_fmt"] == "yuv420p" and s["width"] == 320 and s["height"] == 180
          and abs(int(s["nb_read_frames"]) - 60) <= 2 and s["r_frame_rate"] == "30/1"
          and (want_prof is None or s.get("profile") == want_prof))
    check(ok, "%s -> %s: %s" % (codec, ext, s and (s["codec_name"], s.get("profile"), s["pix_fmt"],
                                                  s["nb_read_frames"], s["r_frame_rate"])))
    check("latency_p50_ms" in st and st.get("latency_p99_ms", 0) > 0,
          "%s: capture->encoded latency p50 %.1f ms p99 %.1f ms" %
          (codec, st.get("latency_p50_ms", -1), st.get("latency_p99_ms", -1)))

# Quality: the encoded bars against the raw (unencoded) capture of the same bars.
_, raw, _ = record("bars.y4m", "test:pattern=bars", duration="0.5")
_, enc, _ = record("bars.mkv", "test:pattern=bars", "--codec", "h264", duration="0.5")
v = psnr(enc, raw)
check(v >= 35, "SDR PSNR encoded vs raw capture: %.1f dB (>= 35)" % v)

# HDR: HEVC Main10, BT.2020/PQ tags and both HDR10 side-data records.
r, out, st = record("hdr.mkv", "test:pattern=bars,hdr=1", "--codec", "hevc")
s = stream0(out)
check(r.returncode == 0 and s is not None and s.get("profile") == "Main 10"
      and s["pix_fmt"] == "yuv420p10le" and s.get("color_primaries") == "bt2020"
      and s.get("color_transfer") == "smpte2084" and s.get("color_space") == "bt2020nc"
      and s.get("color_range") == "tv",
      "HDR hevc: %s" % (s and (s.get("profile"), s["pix_fmt"], s.get("color_primaries"),
                               s.get("color_transfer"), s.get("color_space"), s.get("color_range")),))
fr = probe(out, ("-show_frames", "-read_intervals", "%+#1"))
sides = [d.get("side_data_type", "") for f in (fr or {}).get("frames", [])
         for d in f.get("side_data_list", [])]
check(any("Mastering display" in x for x in sides) and any("Content light" in x for x in sides),
      "HDR10 side data: %s" % sides)


# Where the HDR10 values come from: the generic baseline (BT.2020, 1000 / 0.0001 nits, MaxCLL
# 1000, MaxFALL 400) unless the source reports its own record (the test source's: P3-D65);
# an invalid record falls back to the baseline without failing. Checked in the first frame's
# side data (the codec's SEI / metadata OBU) and in the container's stream side data.
GENERIC = {"red_x": "0.708", "white_point_y": "0.329", "max_luminance": "1000",
           "min_luminance": "0.0001", "max_content": 1000, "max_average": 400}
OWN = {"red_x": "0.68", "white_point_y": "0.329", "max_luminance": "4000",
       "min_luminance": "0.005", "max_content": 1200, "max_average": 350}
OWN_SPEC = "test:hdr=1,max-cll=1200,max-fall=350,mastering-max=4000,mastering-min=0.005"


def hdr10_values(path):
    """{field: value} of the first frame's and of the stream's HDR10 side data."""
    j = probe(path, ("-show_frames", "-read_intervals", "%+#1")) or {}
    lists = {"frame": [d for f in j.get("frames", [])[:1] for d in f.get("side_data_list", [])],
             "stream": [d for s in j.get("streams", [])[:1] for d in s.get("side_data_list", [])]}
    return {k: {f: v for d in l for f, v in d.items() if f != "side_data_type"}
            for k, l in lists.items()}


def hdr10_match(got, want, tol):
    """Fields off by more than tol (a fraction of the value; AV1 rounds to fixed point)."""
    from fractions import Fraction
    bad = []
    for f, w in want.items():
        g = got.get(f)
        try:
            ok = g is not None and abs(Fraction(g) - Fraction(w)) <= tol * Fraction(w)
        except (ValueError, ZeroDivisionError):
            ok = False
        if not ok:
            bad.append("%s=%s (want %s)" % (f, g, w))
    return bad


for name, spec, codec, want in (("hdr.mkv", None, "hevc", GENERIC),
                                ("hdr-own.mkv", OWN_SPEC, "hevc", OWN),
                                ("hdr-own-av1.mkv", OWN_SPEC, "av1", OWN),
                                ("hdr-bad.mkv", "test:hdr=1,hdr-meta=bad", "hevc", GENERIC)):
    if spec:
        r, path, _ = record(name, spec, "--codec", codec, duration="0.5")
    else:
        r, path = None, out  # the HDR recording above
    vals = hdr10_values(path)
    # HEVC's SEI is exact; AV1's metadata OBU holds 0.16 chromaticity, 24.8 / 18.14 luminance.
    tol = 0 if codec == "hevc" else 0.005
    # The container stores doubles (Matroska) that ffprobe prints back as fractions.
    bad = {k: hdr10_match(v, want, tol if k == "frame" else 1e-6) for k, v in vals.items()}
    check((r is None or r.returncode == 0) and not bad["frame"] and not bad["stream"],
          "HDR10 values %s %s: %s" % (codec, spec or "(generic)",
                                      "as wanted" if not any(bad.values()) else bad))
_, rawh, st = record("hdrbars.y4m", "test:pattern=bars,hdr=1", duration="0.5")
check(st.get("codec") == "rawvideo", "stats codec of a .y4m: %s" % st.get("codec"))
_, ench, _ = record("hdrbars.mkv", "test:pattern=bars,hdr=1", "--codec", "hevc", duration="0.5")
v = psnr(ench, rawh)
# Asked for h264, given an HDR display: the stats say what was really written.
r, out, st = record("hdr264.mkv", "test:hdr=1", duration="0.3")
s = stream0(out)
check(r.returncode == 0 and st.get("codec") == "hevc" and st.get("encoder") == "libx265"
      and s is not None and s["codec_name"] == "hevc",
      "HDR with --codec h264: stats codec %s encoder %s, file %s" %
      (st.get("codec"), st.get("encoder"), s and s["codec_name"]))
check(v >= 35, "HDR PSNR encoded vs raw capture: %.1f dB (>= 35)" % v)

# An idle display still gives a constant-rate stream, with regular timestamps.
r, out, st = record("idle.mkv", "test:idle=1", "--codec", "h264")
fr = probe(out, ("-show_frames", "-show_entries", "frame=pts_time"))
ts = [float(f["pts_time"]) for f in (fr or {}).get("frames", []) if "pts_time" in f]
gaps = [b - a for a, b in zip(ts, ts[1:])]
check(r.returncode == 0 and abs(len(ts) - 60) <= 2 and st.get("frames_repeated", 0) >= 55
      and gaps and max(abs(g - 1 / 30) for g in gaps) < 0.002,
      "idle: %d frames, %d repeats, pts steps %.4f..%.4f s" %
      (len(ts), st.get("frames_repeated", 0), min(gaps or [0]), max(gaps or [0])))

# A killed recording leaves a playable prefix (fragmented MP4, and MKV), with the default
# GOP (2 s): fragments and clusters close at least every second, so SIGKILL 3.5 s after the
# output opened leaves at least 2.5 s that decode without an error.
for ext in ("mp4", "mkv"):
    out = os.path.join(TMP, "killed." + ext)
    p = subprocess.Popen([FP, "record", "--source", "test", "--size", "320x180", "--fps", "30",
                          "--duration", "60", "-q", "-o", out], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, FRAMEPUSH_LOG="info"))
    opened = False
    for line in p.stderr:  # frames are flowing into the output
        if "first frame written to " + out in line:
            opened = True
            break
    if opened:
        time.sleep(3.5)  # the recording's length is what is under test
    p.send_signal(signal.SIGKILL)
    p.wait()
    p.stderr.close()
    fr = probe(out, ("-show_frames", "-show_entries", "frame=pts_time"))
    ts = [float(f["pts_time"]) for f in (fr or {}).get("frames", []) if "pts_time" in f]
    dec = run(["ffmpeg", "-v", "error", "-i", out, "-f", "null", "-"])
    check(opened and len(ts) >= 60 and ts[-1] - ts[0] >= 2.5 and dec.returncode == 0
          and dec.stderr == "",
          "SIGKILL 3.5 s in: %s prefix has %d frames, %.2f s, decode errors %r" %
          (ext, len(ts), ts[-1] - ts[0] if ts else 0, dec.stderr[:200]))

# Ctrl-C finishes an encoded file cleanly: trailer written, every frame readable.
out = os.path.join(TMP, "int.mkv")
rc, so = sigint_when_grown([FP, "record", "--source", "test", "--size", "320x180", "--fps", "30",
                            "--duration", "60", "-o", out], out, 20000, 15, 10)
s = stream0(out)
m = re.search(r"(\d+) frames in", so or "")
check(rc == 0 and s is not None and m and int(s["nb_read_frames"]) == int(m.group(1)),
      "SIGINT: exit %s, %s frames in the file, summary says %s" %
      (rc, s and s["nb_read_frames"], m and m.group(1)))

# Live: an SRT stream received by an ffmpeg listener on loopback decodes without errors.
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sk:
    sk.bind(("127.0.0.1", 0))
    port = sk.getsockname()[1]
got = os.path.join(TMP, "srt.ts")
lst = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-i",
                        "srt://127.0.0.1:%d?mode=listener&timeout=20000000" % port, "-c", "copy",
                        got], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
deadline = time.monotonic() + 10
hexport = ":%04X" % port
while time.monotonic() < deadline:  # wait until the listener's UDP socket is bound
    if any(hexport in l.split()[1] for l in open("/proc/net/udp").readlines()[1:]):
        break
    time.sleep(0.02)
r = run([FP, "stream", "--source", "test", "--size", "320x180", "--fps", "30", "--duration", "2",
         "-q", "--to", "srt://127.0.0.1:%d" % port])
try:
    _, lerr = lst.communicate(timeout=15)
except subprocess.TimeoutExpired:
    lst.kill()
    _, lerr = lst.communicate()
dec = run(["ffmpeg", "-v", "error", "-i", got, "-f", "null", "-"])
s = stream0(got) if os.path.exists(got) else None
check(r.returncode == 0 and s is not None and int(s["nb_read_frames"]) >= 50 and dec.stderr == "",
      "SRT to an ffmpeg listener: exit %d, %s frames, decode errors: %r" %
      (r.returncode, s and s["nb_read_frames"], dec.stderr[:200]))

# A network error ends the session with a clear message, never a hang.
t0 = time.monotonic()
r = run([FP, "stream", "--source", "test", "--size", "320x180", "--fps", "30", "--duration", "30",
         "-q", "--to", "rtsp://127.0.0.1:9/nothing"], timeout=60)
check(r.returncode == 1 and "127.0.0.1:9" in r.stderr and time.monotonic() - t0 < 20,
      "unreachable RTSP server: exit %d in %.1f s: %s" % (r.returncode, time.monotonic() - t0,
                                                          r.stderr.strip().splitlines()[-1:]))

# Hardware encoders: absent, a clear error naming the software fallback; present, it either
# works or fails naming the same fallback (a GPU without an encoder engine, a driver refusing).
for hw, present in (("nvenc", os.path.exists("/dev/nvidiactl")),
                    ("vaapi", os.path.isdir("/dev/dri") and
                     any(n.startswith("renderD") for n in os.listdir("/dev/dri")))):
    r, out, st = record("hw-%s.mkv" % hw, "test", "--hw", hw, duration="0.5")
    last = (r.stderr.strip().splitlines() or [""])[-1]
    named = "without --hw for libx264" in last
    check(r.returncode == 1 and named if not present else
          (r.returncode == 0 and st.get("encoder", "").endswith(hw)) or (r.returncode == 1 and named),
          "--hw %s (device %s): exit %d: %s" % (hw, "present" if present else "absent",
                                                r.returncode, last))

# Ctrl-C while a stream is still connecting ends it at once, not after the connect timeout:
# an RTSP "server" that accepts the TCP connection and never answers the ANNOUNCE.
with socket.socket() as mute:
    mute.bind(("127.0.0.1", 0))
    mute.listen(4)
    p = subprocess.Popen([FP, "stream", "--size", "320x180", "--fps", "30", "-q", "--to",
                          "rtsp://127.0.0.1:%d/mute" % mute.getsockname()[1]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, FRAMEPUSH_LOG="info"))
    lines = []
    for line in p.stderr:  # logged just before the output is opened
        lines.append(line)
        if "session: encoding" in line:
            break
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    spent = time.monotonic() - t0
    last = (err.strip().splitlines() or [""])[-1]
    # The connect timeout is 10 s: ending well before it means the signal ended the wait.
    check(p.returncode == 1 and "interrupted while connecting" in last and spent < 5,
          "SIGINT while connecting: exit %s after %.1f s: %s" % (p.returncode, spent, last))

# SDR <-> HDR mid-session: MPEG-TS keeps one stream (new keyframe, new parameters) that
# plays through; MKV splits into segments, each valid with its own mode.
r, out, st = record("flip.ts", "test:flip-every=20", "--codec", "hevc", fps="30", duration="3")
dec = run(["ffmpeg", "-v", "error", "-i", out, "-f", "null", "-"])
s = stream0(out)
check(r.returncode == 0 and st.get("recreates", 0) >= 2 and st.get("segments") == 1 and s is not None
      and int(s["nb_read_frames"]) >= 80 and dec.returncode == 0,
      "SDR<->HDR in one .ts: %s recreates, %s frames, segments %s, decode %r" %
      (st.get("recreates"), s and s["nb_read_frames"], st.get("segments"), dec.stderr[:120]))
r, out, st = record("flip.mkv", "test:flip-every=20", "--codec", "hevc", fps="30", duration="3")
s0, s1 = stream0(out), stream0(os.path.join(TMP, "flip.1.mkv"))
check(r.returncode == 0 and st.get("segments", 0) >= 2 and s0 and s1 and s0["pix_fmt"] == "yuv420p"
      and s1["pix_fmt"] == "yuv420p10le" and s1.get("color_transfer") == "smpte2084",
      "SDR<->HDR in .mkv: %s segments, segment 1 %s" % (st.get("segments"),
                                                        s1 and (s1["pix_fmt"], s1.get("color_transfer"))))
# The source's own HDR10 record after a mid-session change too: HDR, SDR, HDR again; the
# third segment's encoder is opened with the record the new ring's descriptor carried.
r, out, st = record("flip-own.mkv", OWN_SPEC + ",flip-every=20", "--codec", "hevc", fps="30",
                    duration="3")
third = os.path.join(TMP, "flip-own.2.mkv")
bad = [b for v in (hdr10_values(third) if os.path.exists(third) else {"": {}}).values()
       for b in hdr10_match(v, OWN, 1e-6)]
check(r.returncode == 0 and st.get("segments", 0) >= 3 and not bad,
      "own HDR10 record after SDR<->HDR: %s segments, segment 2 %s" %
      (st.get("segments"), bad or "as wanted"))

finish()
