#!/usr/bin/env python3
"""Whole-pipeline benchmark: framepush (x11 source -> ring -> convert -> libx264) against
`ffmpeg -f x11grab` (libx264, same preset, tune, CRF, no B-frames) on the same Xvfb display
with the same animated client. Prints achieved fps and CPU time per frame of each (all
their processes, the X server excluded) and one machine line per comparison:
  bench pipeline <WxH>@<fps> ours_fps=.. ours_cpu_ms=.. peer=x11grab peer_fps=.. peer_cpu_ms=..

The client redraws every --redraw-ms (default 16: new content every frame; 50 shows what
DAMAGE saves when the screen changes less often than the output rate).

usage: bench/pipeline.py BUILD_DIR [--size 1920x1080] [--fps 60] [--seconds 10] [--redraw-ms 16]"""
import argparse, json, os, resource, subprocess, sys, tempfile, time


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def frames(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json",
                        path], capture_output=True, text=True)
    return int(json.loads(r.stdout)["streams"][0]["nb_read_frames"]) if r.returncode == 0 else 0


def measure(cmd, out, seconds):
    c0, t0 = children_cpu(), time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall, cpu = time.monotonic() - t0, children_cpu() - c0
    n = frames(out)
    return n / seconds, cpu / max(n, 1) * 1000, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--fps", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--redraw-ms", type=int, default=16)
    a = ap.parse_args()
    w, h = a.size.split("x")
    tmp = tempfile.mkdtemp(prefix="fp-bench-")
    client = os.path.join(a.build, "tests", "cli", "fpt-x11-client")
    rfd, wfd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0", "%sx%sx24" % (w, h),
                             "-nolisten", "tcp"], pass_fds=(wfd,), stderr=subprocess.DEVNULL)
    os.close(wfd)
    disp = ":" + os.read(rfd, 16).decode().strip()  # Xvfb writes its number when ready
    env = dict(os.environ, DISPLAY=disp)
    app = subprocess.Popen([client, str(a.redraw_ms)], env=env)
    try:
        ours = measure([os.path.join(a.build, "tools", "framepush"), "record", "--display", disp,
                        "--fps", str(a.fps), "--duration", str(a.seconds), "--codec", "h264",
                        "--crf", "23", "-q", "-o", os.path.join(tmp, "ours.mkv")],
                       os.path.join(tmp, "ours.mkv"), a.seconds)
        peer = measure(["ffmpeg", "-v", "error", "-y", "-f", "x11grab", "-framerate", str(a.fps),
                        "-video_size", a.size, "-i", disp, "-t", str(a.seconds), "-c:v", "libx264",
                        "-preset", "veryfast", "-tune", "zerolatency", "-crf", "23", "-bf", "0",
                        "-pix_fmt", "yuv420p", os.path.join(tmp, "peer.mkv")],
                       os.path.join(tmp, "peer.mkv"), a.seconds)
    finally:
        app.kill()
        xvfb.terminate()
        xvfb.wait()
    print("%-10s %10s %14s" % ("", "fps", "CPU ms/frame"))
    print("%-10s %10.1f %14.2f" % ("framepush", ours[0], ours[1]))
    print("%-10s %10.1f %14.2f" % ("x11grab", peer[0], peer[1]))
    print("bench pipeline %s@%d redraw_ms=%d ours_fps=%.1f ours_cpu_ms=%.2f peer=x11grab peer_fps=%.1f "
          "peer_cpu_ms=%.2f" % (a.size, a.fps, a.redraw_ms, ours[0], ours[1], peer[0], peer[1]))


if __name__ == "__main__":
    sys.exit(main())
