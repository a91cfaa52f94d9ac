#!/usr/bin/env python3
"""framepush outputs as players and peer tools take them: the RTP SDP file against RFC 4566,
played by ffmpeg from that file.

Each check prints one line; any failure exits 1. Suite cli, FRAMEPUSH_BUILD_ROOT set."""
import os, re, signal, socket, subprocess, threading, time

from fptlib import FP, check, run, stream0, finish, tmpdir

TMP = tmpdir("fpt-out-")

# RFC 4566 section 5: session part v o s i* u* e* p* c* b* (t r*)+ z* k* a*, then media
# sections m i* c* b* k* a*. Upper case: required once; lower case: optional.
SESSION = "VOSiuepcbTrzka"
MEDIA = "Micbka"
REPEATABLE = "epbtrca"


def sdp_problems(data):
    """Everything that keeps data (bytes) from being a strict RFC 4566 description."""
    bad = []
    if not data.endswith(b"\r\n"):
        bad.append("does not end with CRLF")
    lines = re.findall(rb"[^\r\n]*(?:\r\n|\r|\n|$)", data)
    lines = [l for l in lines if l]
    order, prev, seen_m = SESSION, -1, False
    for l in lines:
        if not re.fullmatch(rb"[a-z]=[^\r\n]*\r\n", l):
            bad.append("line %r is not <type>=<value> CRLF" % l)
            continue
        t = chr(l[0])
        if t == "m":
            if not seen_m and prev < SESSION.index("T"):
                bad.append("m= before v= o= s= t=")
            order, prev, seen_m = MEDIA, 0, True
            continue
        i = order.lower().find(t)
        if i < 0:
            bad.append("%s= not allowed %s" % (t, "in a media section" if seen_m else "here"))
        elif i == prev:
            if t not in REPEATABLE:
                bad.append("%s= twice" % t)
        elif t == "t" and prev >= 0 and order[prev] == "r":
            prev = i
        elif i < prev or any(c.isupper() for c in order[prev + 1:i]):
            bad.append("%s= out of order (after %s=)" % (t, order[prev].lower() if prev >= 0 else "nothing"))
        else:
            prev = i
    if not seen_m:
        bad.append("no m= line")
    return bad


# The parser itself: what av_sdp_create's text plus '\n' looked like is refused.
legacy = (b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
          b"a=tool:libavformat\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\n")
check(sdp_problems(legacy) != [] and sdp_problems(legacy[:-1]) == []
      and sdp_problems(legacy.replace(b"t=0 0\r\n", b"")[:-1]) != []
      and sdp_problems(b"o=x\r\n" + legacy[5:-1]) != [],
      "strict SDP parser: refuses a blank line, a missing t=, o= before v=")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def wait_file(path, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (os.path.exists(path) and os.path.getsize(path)):
        time.sleep(0.02)  # no event for "another process wrote a file"; bounded
    return os.path.exists(path)


def ffmpeg_from_sdp(sdp, got):
    """An ffmpeg receiver started from the SDP file, copying the stream into got."""
    return subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-y",
                             "-protocol_whitelist", "file,udp,rtp", "-i", sdp, "-c", "copy", got],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


# RTP: the SDP file is strict RFC 4566, and ffmpeg started from it receives the stream.
port = free_udp_port()
sdp = os.path.join(TMP, "stream.sdp")
got = os.path.join(TMP, "rtp.ts")
fp = subprocess.Popen([FP, "stream", "--source", "test", "--size", "320x180", "--fps", "30",
                       "--keyint", "15", "--duration", "4", "-q", "--to",
                       "rtp://127.0.0.1:%d" % port, "--sdp", sdp],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
rx = ffmpeg_from_sdp(sdp, got) if wait_file(sdp, 10) else None
_, fperr = fp.communicate(timeout=60)
data = open(sdp, "rb").read() if os.path.exists(sdp) else b""
problems = sdp_problems(data)
check(fp.returncode == 0 and data and not problems,
      "rtp SDP file is strict RFC 4566: exit %s, %d bytes, %s" %
      (fp.returncode, len(data), problems or "no problems"))
if rx:
    rx.send_signal(signal.SIGINT)  # RTP has no end: the receiver is told to finish its file
    try:
        _, rxerr = rx.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        rx.kill()
        _, rxerr = rx.communicate()
s = stream0(got) if os.path.exists(got) else None
dec = run(["ffmpeg", "-v", "error", "-i", got, "-f", "null", "-"]) if s else None
check(s is not None and s["codec_name"] == "h264" and int(s["nb_read_frames"]) >= 30
      and dec.stderr == "",
      "ffmpeg plays the RTP stream from the SDP file: %s frames, decode errors: %r" %
      (s and s["nb_read_frames"], dec and dec.stderr[:200]))

# Targets: an unsupported one is refused before anything starts, with the one-line message.
for target, part in (("x.avi", ".avi files are not written"), ("SRT://127.0.0.1:9000", "lower case"),
                     ("srt://127.0.0.1:99999", "port '99999'"), ("recording", "no file extension")):
    r = run([FP, "record", "--source", "test", "--duration", "1", "-q", "-o", target], timeout=30)
    last = (r.stderr.strip().splitlines() or [""])[-1]
    check(r.returncode != 0 and "unsupported target '%s': " % target in last and part in last
          and "rtsp://HOST[:PORT]/PATH" in last and not os.path.exists(target),
          "target %s refused: exit %d: %s" % (target, r.returncode, last[:120]))

# "-o -": MPEG-TS on stdout, read live through a pipe by ffmpeg; nothing else reaches stdout.
REC = [FP, "record", "--source", "test", "--size", "320x180", "--fps", "30", "--duration", "2",
       "-o", "-"]
fp = subprocess.Popen(REC, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", "-", "-f", "framemd5", "-"],
                       stdin=fp.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
fp.stdout.close()  # ffmpeg holds the read end alone: its exit is the reader leaving
md5, decerr = dec.communicate(timeout=60)
fperr = fp.communicate(timeout=30)[1].decode(errors="replace")
frames = sum(1 for l in md5.splitlines() if l and not l.startswith("#"))
check(fp.returncode == 0 and dec.returncode == 0 and frames == 60 and decerr == ""
      and "60 frames in" in fperr,
      "-o - | ffmpeg -i -: exit %s/%s, %d frames decoded, errors %r, summary on stderr: %s" %
      (fp.returncode, dec.returncode, frames, decerr[:200], "60 frames in" in fperr))
r = subprocess.run(REC, capture_output=True, timeout=60)
ts = r.stdout
aligned = len(ts) > 0 and len(ts) % 188 == 0 and all(ts[i] == 0x47 for i in range(0, len(ts), 188))
check(r.returncode == 0 and aligned and b"framepush" not in ts,
      "stdout holds only MPEG-TS packets: exit %d, %d bytes, 188-aligned with sync bytes: %s" %
      (r.returncode, len(ts), aligned))

# A reader that closes stdout ends the session with one plain line.
fp = subprocess.Popen([FP, "record", "--source", "test", "--size", "320x180", "--fps", "30",
                       "--duration", "20", "-q", "-o", "-"], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
head = fp.stdout.read(1000)
fp.stdout.close()
try:
    fperr = fp.communicate(timeout=30)[1].decode(errors="replace")
except subprocess.TimeoutExpired:
    fp.kill()
    fperr = fp.communicate()[1].decode(errors="replace")
lines = fperr.strip().splitlines()
# A reader that has seen enough ends the pipe as Ctrl-C ends a session: done, exit 0 (quiet:
# nothing said), never a "Broken pipe" or a failure.
check(fp.returncode == 0 and len(head) == 1000 and not lines,
      "reader closed stdout: exit %s, stderr %s" % (fp.returncode, lines[:3]))

# Network honesty. An SRT peer that never answers: the message states the time waited.
STREAM = [FP, "stream", "--source", "test", "--size", "320x180", "--fps", "30"]
# An SRT listener waits for its player as long as it takes (a player started after the 10 s
# connect bound is as welcome as one started at once): started now, its wait overlaps the
# others', and its player comes at the end.
lport = free_udp_port()
listener_t0 = time.monotonic()
listener = subprocess.Popen(STREAM + ["--to", "srt://127.0.0.1:%d?mode=listener" % lport],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
port = free_udp_port()
while port == lport:
    port = free_udp_port()
t0 = time.monotonic()
r = run(STREAM + ["--duration", "5", "--to", "srt://127.0.0.1:%d" % port], timeout=60)
waited = time.monotonic() - t0
said = [float(x) for x in re.findall(r"no answer in ([0-9.]+) s", r.stderr)]
check(r.returncode == 1 and said and all(x <= waited and x >= waited - 2.5 for x in said)
      and "framepush: cannot open srt://127.0.0.1:%d: no answer in" % port in r.stderr,
      "SRT to nobody: exit %d after %.1f s, the messages say %s s" % (r.returncode, waited, said))


def udp_bound(port, timeout_s):
    deadline = time.monotonic() + timeout_s
    hexport = ":%04X" % port
    while time.monotonic() < deadline:  # no event for "another process bound a port"; bounded
        if any(hexport in l.split()[1] for l in open("/proc/net/udp").readlines()[1:]):
            return True
        time.sleep(0.02)
    return False


def listeners(port, late_s, files):
    """SRT listeners on port, one after another: each starts late_s after the previous one's
    caller left (a receiver that answers late), until the caller is done."""
    def loop():
        n = 0
        while not done.is_set():
            out = os.path.join(TMP, "late%d.ts" % n)
            p = subprocess.Popen(["ffmpeg", "-v", "quiet", "-y", "-i",
                                  "srt://127.0.0.1:%d?mode=listener&listen_timeout=8000000" % port,
                                  "-c", "copy", out])
            files.append(out)
            p.wait()
            n += 1
            done.wait(late_s)  # the late answer itself, not a synchronisation
    done = threading.Event()
    th = threading.Thread(target=loop, daemon=True)
    return done, th


def summary(text):
    m = re.search(r"(\d+) frames in ([0-9.]+) s \(([0-9.]+) fps\)", text)
    return (int(m.group(1)), float(m.group(2)), float(m.group(3))) if m else None


# A listener that answers 2 s late: the session's clock starts when the output is open.
port = free_udp_port()
fp = subprocess.Popen(STREAM + ["--duration", "2", "--to", "srt://127.0.0.1:%d" % port],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
done, th = listeners(port, 0, [])
threading.Timer(2.0, th.start).start()  # the late answer itself
so, se = fp.communicate(timeout=60)
done.set()
sm = summary(so + se)
check(fp.returncode == 0 and sm and 1.9 <= sm[1] <= 2.4 and sm[2] >= 27,
      "SRT listener 2 s late: exit %s, summary (frames, s, fps) %s" % (fp.returncode, sm))

# Reconnects: h264 turns hevc at every HDR flip, a new SRT session each time, and each new
# listener answers 1.5 s late: the rate excludes the time spent reconnecting.
port = free_udp_port()
files = []
done, th = listeners(port, 1.5, files)
th.start()
udp_bound(port, 10)
t0 = time.monotonic()
fp = subprocess.Popen([FP, "stream", "--source", "test:flip-every=60", "--size", "320x180",
                       "--fps", "30", "--duration", "5", "--to", "srt://127.0.0.1:%d" % port],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
so, se = fp.communicate(timeout=90)
wall = time.monotonic() - t0
done.set()
sm = summary(so + se)
recon = [float(x) for x in re.findall(r"reconnected in ([0-9.]+) s", se)]
check(fp.returncode == 0 and sm and len(recon) >= 1 and sm[2] >= 27 and sm[1] < wall - sum(recon) + 0.5,
      "SRT reconnects answered 1.5 s late: exit %s, wall %.1f s, reconnects %s s, summary %s" %
      (fp.returncode, wall, recon, sm))

# .ts across display flips (test:flip-every: size and SDR/HDR alternate). A PMT names one
# stream type: with the default h264 an HDR flip (h264 -> hevc Main10) starts x.1.ts, x.2.ts;
# with --codec hevc every flip (size and SDR/HDR) stays in ONE .ts that decodes across it.
def frames_of(path):
    r = run(["ffprobe", "-v", "error", "-show_entries", "frame=width,height,pix_fmt", "-of",
             "csv=p=0", path])
    return [tuple(l.split(",")[:3]) for l in r.stdout.split()] if r.returncode == 0 else []


for codec, one_file in (("h264", False), ("hevc", True)):
    d = tmpdir("fpt-flip-")
    out = os.path.join(d, "x.ts")
    r = run([FP, "record", "--source", "test:flip-every=30", "--size", "320x180", "--fps", "30",
             "--duration", "3", "-o", out] + (["--codec", codec] if codec != "h264" else []),
            timeout=120)
    files = sorted(os.listdir(d))
    frames = [f for n in files for f in frames_of(os.path.join(d, n))]
    dec = [run(["ffmpeg", "-v", "error", "-i", os.path.join(d, n), "-f", "null", "-"]).stderr
           for n in files]
    sm = summary(r.stdout + r.stderr)
    modes = sorted(set(frames))
    codecs = [stream0(os.path.join(d, n))["codec_name"] for n in files]
    if one_file:
        ok = files == ["x.ts"] and ("320", "180", "yuv420p") in modes \
             and ("240", "134", "yuv420p10le") in modes
    else:
        ok = files[0] == "x.1.ts" and "x.ts" in files and "x.2.ts" in files and "hevc" in codecs \
             and "h264" in codecs
    check(r.returncode == 0 and ok and sm and len(frames) == sm[0] and not any(dec),
          "--codec %s, a display flipping every second into .ts: files %s (%s), %d frames decoded "
          "(summary %s), modes %s, decode errors %r" %
          (codec, files, codecs, len(frames), sm and sm[0], modes, [e[:80] for e in dec if e]))


# The listener started above, past the connect bound: still waiting, and a late player plays.
waiting = udp_bound(lport, 20)
try:
    listener.wait(max(0.0, 11 - (time.monotonic() - listener_t0)))  # the connect bound is 10 s
except subprocess.TimeoutExpired:
    pass
alive = listener.poll() is None
late = time.monotonic() - listener_t0
got = run(["ffmpeg", "-v", "error", "-i", "srt://127.0.0.1:%d" % lport, "-frames:v", "30", "-f",
           "framemd5", "-"], timeout=30) if alive else None
listener.send_signal(signal.SIGINT)
try:
    err = listener.communicate(timeout=20)[1].decode(errors="replace")
except subprocess.TimeoutExpired:
    listener.kill()
    err = listener.communicate()[1].decode(errors="replace")
n = len([l for l in (got.stdout if got else "").splitlines() if l and not l.startswith("#")])
check(waiting and alive and n == 30 and "waiting for a player to call" in err,
      "SRT listener: bound %s, still waiting after %.0f s: %s, a late player got %d frames" %
      (waiting, late, alive, n))

finish()
