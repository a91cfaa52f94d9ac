#!/usr/bin/env python3
"""framepush outputs as players and peer tools take them: the RTP SDP file against RFC 4566,
played by ffmpeg from that file.

Each check prints one line; any failure exits 1. Suite cli, FRAMEPUSH_BUILD_ROOT set."""
import os, re, signal, socket, subprocess, time

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

finish()
