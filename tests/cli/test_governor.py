#!/usr/bin/env python3
"""The encoder governor and the session profiles through the real program: an encoder that
cannot keep up is stepped to faster presets in the same file, which decodes whole; pinned
with --governor off it is not; --preset / --tune are checked against the encoder's own
names before anything starts; stream defaults to the live profile (pipeline depth 1).

Each check prints one line; any failure exits 1. Suite cli, FRAMEPUSH_BUILD_ROOT set."""
import json, os, re

from fptlib import FP, check, run, finish, probe, stream0, tmpdir

TMP = tmpdir("fpt-gov-")
X264 = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
        "veryslow", "placebo"]


def record(name, *extra, quiet=True):
    out = os.path.join(TMP, name)
    stats = out + ".json"
    r = run([FP, "record", "--source", "test:pattern=moving", "--duration", "3",
             *(["-q"] if quiet else []), "-o", out, "--stats-json", stats, *extra])
    st = json.load(open(stats)) if os.path.exists(stats) else {}
    if r.returncode != 0:
        print(r.stderr[-2000:])
    return r, out, st


def decoded_frames(path):
    """Frames ffmpeg decodes with -xerror (any decode error fails), or -1."""
    r = run(["ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-"])
    if r.returncode != 0:
        print(r.stderr[-1000:])
        return -1
    s = stream0(path)
    return int(s["nb_read_frames"]) if s else -1


def frames(path):
    """(width, height, key_frame) of each decoded frame of the video stream."""
    p = probe(path, ("-select_streams", "v:0", "-show_frames", "-show_entries",
                     "frame=width,height,key_frame"))
    return [(f["width"], f["height"], f["key_frame"]) for f in (p or {}).get("frames", [])]


# Usage errors name the option and list the encoder's own names, before any source starts.
for args, opt, name in ((["--preset", "fastest"], "preset", "ultrafast"),
                        (["--codec", "av1", "--preset", "14"], "preset", "13"),
                        (["--tune", "cinema"], "tune", "film"),
                        (["--codec", "hevc", "--tune", "film"], "tune", "no tune"),
                        (["--governor", "auto"], "governor", "on or off"),
                        (["--profile", "fast"], "profile", "live or record")):
    r = run([FP, "record", *args, "-o", os.path.join(TMP, "never.mkv")])
    check(r.returncode == 2 and "--%s" % opt in r.stderr and name in r.stderr
          and not os.path.exists(os.path.join(TMP, "never.mkv")),
          "%s: exit %d, %r" % (" ".join(args), r.returncode, r.stderr.strip()[:160]))

# 1080p at 240 fps with x264 medium: no machine encodes a frame in 4.2 ms, so the governor
# must step faster, in the same file (one segment), each step starting on a keyframe.
for ext in ("mkv", "mp4", "ts"):
    r, out, st = record("steps." + ext, "--size", "1920x1080", "--fps", "240", "--preset", "medium")
    last = st.get("last_preset", "")
    n = decoded_frames(out)
    check(r.returncode == 0 and st.get("preset") == "medium" and st.get("preset_steps_faster", 0) >= 1
          and last in X264 and X264.index(last) < X264.index("medium") and st.get("segments") == 1,
          "%s: governor stepped medium -> %s (%s steps faster), %s segment(s), %s frames" %
          (ext, last, st.get("preset_steps_faster"), st.get("segments"), st.get("frames_encoded")))
    check(n == st.get("frames_encoded") and n > 0,
          "%s: decodes whole across the steps: %d of %s frames" % (ext, n, st.get("frames_encoded")))
    k = sum(key for _, _, key in frames(out))
    check(k >= 1 + st.get("preset_steps_faster", 0),
          "%s: %d keyframes for %s steps (each step starts on one)" % (ext, k, st.get("preset_steps_faster")))

# Live into MPEG-TS, already at the fastest preset and still behind: the last resort encodes
# at a reduced size, in the same stream (the new size comes in-band), which decodes whole.
out = os.path.join(TMP, "scaled.ts")
r = run([FP, "stream", "--source", "test:pattern=moving", "--size", "3840x2160", "--fps", "240",
         "--preset", "ultrafast", "--duration", "3", "-q", "--to", out, "--stats-json", out + ".json"])
st = json.load(open(out + ".json")) if os.path.exists(out + ".json") else {}
sizes = {(w, h) for w, h, _ in frames(out)}
check(r.returncode == 0 and st.get("preset_steps_faster", 0) >= 1 and (3840, 2160) in sizes
      and any(w < 3840 and h < 2160 for w, h in sizes) and st.get("segments") == 1,
      "4K@240 live, ultrafast: scaled in-band to %s (%s steps)" %
      (sorted(sizes), st.get("preset_steps_faster")))
n = decoded_frames(out)
check(n == st.get("frames_encoded") and n > 0,
      "scaled stream decodes whole: %d of %s frames" % (n, st.get("frames_encoded")))

# Pinned: the same overload keeps its preset.
r, out, st = record("pinned.mkv", "--size", "1920x1080", "--fps", "240", "--preset", "medium",
                    "--governor", "off")
check(r.returncode == 0 and st.get("preset") == "medium" and st.get("last_preset") == "medium"
      and st.get("preset_steps_faster") == 0,
      "--governor off: preset stays %s, %s steps" % (st.get("last_preset"), st.get("preset_steps_faster")))

# A light mode keeps the codec's default (quality first when recording) and never steps.
r, out, st = record("light.mkv", "--size", "320x180", "--fps", "30")
check(r.returncode == 0 and st.get("preset") == "veryfast" and st.get("preset_steps_faster") == 0,
      "320x180@30: preset %s, %s steps faster" % (st.get("preset"), st.get("preset_steps_faster")))

# Profiles: record has depth 2, live (stream's default, or --profile live) depth 1.
for args, depth in (([], 2), (["--profile", "live"], 1), (["--profile", "live", "--pipeline-depth", "2"], 2)):
    r, out, st = record("profile%d.mkv" % len(args), "--size", "320x180", "--duration", "0.5",
                        *args, quiet=False)
    m = re.search(r"pipeline depth (\d)", r.stderr)
    check(r.returncode == 0 and m and int(m.group(1)) == depth,
          "record %s: pipeline depth %s (want %d)" % (" ".join(args) or "(default)",
                                                     m and m.group(1), depth))
r = run([FP, "stream", "--source", "test", "--size", "320x180", "--duration", "0.5",
         "--to", os.path.join(TMP, "live.ts")])
m = re.search(r"pipeline depth (\d)", r.stderr)
check(r.returncode == 0 and m and m.group(1) == "1",
      "stream: live profile, pipeline depth %s" % (m and m.group(1)))

finish()
