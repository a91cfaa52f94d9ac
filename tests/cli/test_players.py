#!/usr/bin/env python3
"""The player check: what framepush records decodes completely in ffmpeg and in a second,
independent stack (GStreamer's own demuxers and parsers, decoders that are not FFmpeg).

Each file is decoded by both stacks into per-frame MD5s of the planar pictures; H.264,
HEVC and AV1 decoding is bit-exact by specification, so the two lists must be equal and as
long as the frames framepush says it encoded. Counting alone would miss a decoder that
outputs a frame per packet but the wrong pictures (GStreamer 1.22's libde265dec does that
with Main10, see hevc10_plugin_note).

Second stacks: openh264dec (H.264, Cisco's openh264), av1dec (libaom), and for HEVC Main10
GStreamer's demuxer and h265parse feeding libde265's own decoder program (dec265).
Runs under /usr/bin/python3 (Debian's python3-gi); each check prints one line."""
import hashlib, json, os, shutil, signal, struct, subprocess, time

from fptlib import FP, check, run, skip, finish, tmpdir

TMP = tmpdir("fpt-players-")
DEMUX = {"mkv": "matroskademux", "mp4": "qtdemux", "ts": "tsdemux"}
DEC265 = "libde265-dec265"  # Debian's libde265-examples
GST_TIMEOUT_S = 60
PIX = {"I420": "yuv420p", "I420_10LE": "yuv420p10le"}

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstVideo", "1.0")
    from gi.repository import Gst, GstVideo
    Gst.init(None)
except (ImportError, ValueError) as e:
    Gst = None
    GI_ERROR = str(e)


def record(name, spec, *extra, size="640x360", duration="2"):
    """Records with the real binary; (output path, stats dict) or (path, None) on failure."""
    out = os.path.join(TMP, name)
    stats = out + ".json"
    r = run([FP, "record", "--source", spec, "--size", size, "--fps", "30", "--duration",
             duration, "-q", "-o", out, "--stats-json", stats, *extra])
    check(r.returncode == 0, "record %s (%s %s) exits 0 %s" %
          (name, spec, " ".join(extra), r.stderr.strip().splitlines()[-1:]))
    return out, (json.load(open(stats)) if r.returncode == 0 and os.path.exists(stats) else None)


def frame_md5s(data, frame_size):
    return [hashlib.md5(data[i:i + frame_size]).hexdigest()
            for i in range(0, len(data) - frame_size + 1, frame_size)]


def ffmpeg_frames(path, pix_fmt):
    """(per-frame MD5s, stderr) of ffmpeg's decode. pix_fmt is the decoder's own (checked
    with ffprobe by the caller), so nothing is converted before hashing."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
                        "-fps_mode", "passthrough", "-pix_fmt", pix_fmt, "-f", "framemd5", "-"],
                       capture_output=True, text=True, timeout=120)
    md5s = [ln.rsplit(",", 1)[1].strip() for ln in r.stdout.splitlines()
            if ln and not ln.startswith("#")]
    return md5s, r.stderr.strip() + ("" if r.returncode == 0 else " (exit %d)" % r.returncode)


def picture_md5(sample):
    """MD5 of the picture's visible planes, rows without padding: ffmpeg's layout."""
    info = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
    fmt = info.finfo.name
    if fmt not in PIX:
        return None, fmt
    buf = sample.get_buffer()
    meta = GstVideo.buffer_get_video_meta(buf)
    ok, m = buf.map(Gst.MapFlags.READ)
    if not ok:
        return None, fmt
    bps, h = 2 if fmt.endswith("10LE") else 1, hashlib.md5()
    try:
        for pl in range(3):
            off = meta.offset[pl] if meta else info.offset[pl]
            stride = meta.stride[pl] if meta else info.stride[pl]
            cw = (info.width + 1) // 2 if pl else info.width
            ch = (info.height + 1) // 2 if pl else info.height
            for row in range(ch):
                h.update(m.data[off + row * stride:off + row * stride + cw * bps])
    finally:
        buf.unmap(m)
    return h.hexdigest(), fmt


def gst_pull(path, chain, on_sample):
    """Runs filesrc ! chain ! appsink, calling on_sample for every sample, with a bounded
    wait. Returns (error or "", warnings, the element named dec or None)."""
    p = Gst.parse_launch("filesrc name=src ! %s ! appsink name=sink sync=false" % chain)
    p.get_by_name("src").set_property("location", path)
    sink, bus = p.get_by_name("sink"), p.get_bus()
    err, warnings = "", []
    deadline = time.monotonic() + GST_TIMEOUT_S
    p.set_state(Gst.State.PLAYING)
    while not err:
        s = sink.emit("try-pull-sample", Gst.SECOND // 2)
        if s is not None:
            on_sample(s)
        elif sink.get_property("eos"):
            break
        while (msg := bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.WARNING)):
            e, dbg = msg.parse_error() if msg.type == Gst.MessageType.ERROR else msg.parse_warning()
            text = "%s: %s (%s)" % (msg.src.get_name(), e.message, (dbg or "").splitlines()[:1])
            if msg.type == Gst.MessageType.ERROR:
                err = text
            else:
                warnings.append(text)
        if not err and time.monotonic() > deadline:
            err = "no end of stream after %d s" % GST_TIMEOUT_S
    dec = p.get_by_name("dec")
    p.set_state(Gst.State.NULL)
    return err, warnings, dec


def element_name(el):
    f = el.get_factory()
    pl = f.get_plugin()
    return "%s (%s, plugin %s %s)" % (f.get_name(), f.get_metadata("long-name"),
                                      pl.get_name(), pl.get_version())


def gst_frames(path, chain):
    """GStreamer's decode of path through chain (demuxer ! parser ! decoder name=dec):
    (per-frame MD5s, error text or "", warnings, the decoder that ran, formats seen)."""
    md5s, fmts = [], set()

    def on_sample(s):
        digest, fmt = picture_md5(s)
        fmts.add(fmt)
        md5s.append(digest)
    err, warnings, dec = gst_pull(path, chain, on_sample)
    return md5s, err, warnings, element_name(dec) if dec else "?", fmts


def dec265_frames(path, demux):
    """HEVC through GStreamer's demuxer and h265parse (Annex B out) into libde265's own
    decoder program: (per-frame MD5s, error text or "", the parser's output caps)."""
    es, caps = bytearray(), []

    def on_sample(s):
        if not caps:
            caps.append(s.get_caps().get_structure(0))
        buf = s.get_buffer()
        ok, m = buf.map(Gst.MapFlags.READ)
        es.extend(m.data)
        buf.unmap(m)
    err, warnings, _ = gst_pull(path, "%s ! h265parse ! "
                                "video/x-h265,stream-format=byte-stream,alignment=au" % demux,
                                on_sample)
    if err or warnings or not caps:
        return [], "GStreamer %s ! h265parse: %s" % (demux, err or warnings or "no caps"), None
    bitstream, yuv = path + ".h265", path + ".dec265.yuv"
    with open(bitstream, "wb") as f:
        f.write(es)
    r = run([DEC265, "-q", "-o", yuv, bitstream])
    # Its one line on success is the count ("nFrames decoded: N (WxH @ F fps)"), on stderr.
    said = [ln for ln in r.stderr.replace("\r", "\n").splitlines() if ln.strip()]
    if r.returncode != 0 or len(said) != 1 or not said[0].startswith("nFrames decoded: "):
        return [], "%s exit %d: %s" % (DEC265, r.returncode, r.stderr.strip()[-300:]), caps[0]
    s = caps[0]
    w, h = s.get_value("width"), s.get_value("height")
    bps = 2 if s.get_value("bit-depth-luma") > 8 else 1
    size = (w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)) * bps
    data = open(yuv, "rb").read()
    if len(data) % size:
        return [], "%s wrote %d bytes, not whole %dx%d frames" % (DEC265, len(data), w, h), s
    md5s = frame_md5s(data, size)
    if said[0].split()[2] != str(len(md5s)):
        return md5s, "%s: %s, but wrote %d frames" % (DEC265, said[0], len(md5s)), s
    return md5s, "", s


def ffprobe_stream(path):
    r = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json",
             path])
    streams = json.loads(r.stdout).get("streams") if r.returncode == 0 else None
    return streams[0] if streams else {}


def compare(label, want, ff, gst, exact_errors=True):
    """The check both stacks pass: want frames each, no error, the same pictures. gst is
    (MD5s, error, the chain as written, the decoder that ran)."""
    (f, ferr), (g, gerr, chain, ran) = ff, gst
    print("     %s: ffmpeg %d frames; GStreamer %s %d frames, decoder %s; expected %s" %
          (label, len(f), chain, len(g), ran, want), flush=True)
    if ferr and not exact_errors:
        print("     %s: ffmpeg reports (%d lines): %s" %
              (label, len(ferr.splitlines()), ferr.splitlines()[-1]), flush=True)
    check(len(f) == want and not (exact_errors and ferr),
          "%s: ffmpeg decodes %d of %d frames%s" %
          (label, len(f), want, ", error: " + ferr[:300] if ferr and exact_errors else ""))
    check(len(g) == want and not gerr, "%s: GStreamer %s decodes %d of %d frames%s" %
          (label, chain, len(g), want, ", error: " + gerr[:300] if gerr else ""))
    check(f == g and None not in g, "%s: ffmpeg's and GStreamer's pictures are bit-identical (%s)"
          % (label, "yes" if f == g else "first difference at frame %d" %
             next((i for i, (a, b) in enumerate(zip(f, g)) if a != b), min(len(f), len(g)))))


def sdr_file(name, spec, ext, codec, size="640x360"):
    """Records an 8-bit file and decodes it with ffmpeg and GStreamer's own decoder."""
    path, st = record(name, spec, "--codec", codec, size=size)
    if st is None:
        return
    want = st["frames_encoded"]
    check(st["codec"] == codec and st["frames_out"] == st["packets"] == want > 0,
          "%s: framepush wrote %s, %d frames out, %d encoded, %d packets" %
          (name, st["codec"], st["frames_out"], want, st["packets"]))
    parse, dec = {"h264": ("h264parse", "openh264dec"), "av1": ("av1parse", "av1dec")}[codec]
    s = ffprobe_stream(path)
    # x264's High profile (CABAC, 8x8 transforms; framepush writes no B-frames): openh264
    # decodes it, which the bit-identical pictures below prove rather than assume.
    check(s.get("pix_fmt") == "yuv420p", "%s: ffprobe says %s, profile %s" %
          (name, s.get("pix_fmt"), s.get("profile")))
    chain = "%s ! %s ! %s" % (DEMUX[ext], parse, dec)
    g, gerr, gwarn, ran, fmts = gst_frames(path, chain + " name=dec")
    gerr = gerr or "; ".join(gwarn)
    if fmts - {"I420"}:
        gerr = gerr or "%s output %s, not I420" % (dec, sorted(fmts))
    compare(name, want, ffmpeg_frames(path, "yuv420p"), (g, gerr, chain, ran))


def hdr_caps(name, path, caps):
    """GStreamer's view of the HDR stream agrees with the file: Main10, 10 bits, PQ BT.2100,
    and the HDR10 metadata ffprobe reads from the same file."""
    text = caps.to_string() if caps else ""
    print("     %s: GStreamer caps %s" % (name, text[:400]), flush=True)
    check(caps is not None and caps.get_value("profile") == "main-10" and
          caps.get_value("bit-depth-luma") == 10 and caps.get_value("bit-depth-chroma") == 10,
          "%s: GStreamer sees HEVC Main10, 10-bit luma and chroma" % name)
    check(caps is not None and caps.get_value("colorimetry") == "bt2100-pq",
          "%s: GStreamer colorimetry bt2100-pq" % name)
    r = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_frames", "-read_intervals",
             "%+#1", "-show_entries", "frame=side_data_list", "-of", "json", path])
    sd = {d.get("side_data_type"): d for fr in json.loads(r.stdout or "{}").get("frames", [])
          for d in fr.get("side_data_list", [])}
    md, cll = sd.get("Mastering display metadata"), sd.get("Content light level metadata")
    keys = ("red_x", "red_y", "green_x", "green_y", "blue_x", "blue_y", "white_point_x",
            "white_point_y", "max_luminance", "min_luminance")
    want = [int(md[k].split("/")[0]) for k in keys] if md else None
    got = caps.get_value("mastering-display-info") if caps else None
    got = [int(v) for v in got.split(":")] if got else None
    # Matroska stores the chromaticities as floats: GStreamer's round trip may be 1 unit off.
    check(want and got and len(got) == 10 and all(abs(a - b) <= 1 for a, b in zip(want, got)),
          "%s: GStreamer mastering display %s = ffprobe's %s (+-1)" % (name, got, want))
    cl = "%s:%s" % (cll["max_content"], cll["max_average"]) if cll else None
    check(cl is not None and caps is not None and caps.get_value("content-light-level") == cl,
          "%s: GStreamer content light level %s = ffprobe's %s" %
          (name, caps and caps.get_value("content-light-level"), cl))


def hevc10_plugin_note(path, demux, f):
    """Says (without failing) what GStreamer 1.22's libde265dec does with Main10: it
    announces I420 (8-bit) and its pictures differ, which is why dec265 is the second stack."""
    g, gerr, _, stack, fmts = gst_frames(path, "%s ! h265parse ! libde265dec name=dec" % demux)
    print("     note: %s on Main10: %d frames, format %s, pictures %s ffmpeg's%s" %
          (stack, len(g), sorted(f for f in fmts if f), "equal to" if g == f else "differ from",
           ", error: " + gerr if gerr else ""), flush=True)


def hdr_file(name, ext):
    path, st = record(name, "test:hdr=1", "--codec", "hevc")
    if st is None:
        return
    want = st["frames_encoded"]
    check(st["codec"] == "hevc" and st["frames_out"] == st["packets"] == want > 0,
          "%s: framepush wrote %s, %d frames out, %d encoded, %d packets" %
          (name, st["codec"], st["frames_out"], want, st["packets"]))
    s = ffprobe_stream(path)
    check(s.get("profile") == "Main 10" and s.get("pix_fmt") == "yuv420p10le" and
          s.get("color_transfer") == "smpte2084" and s.get("color_primaries") == "bt2020",
          "%s: ffprobe says %s %s %s %s" % (name, s.get("profile"), s.get("pix_fmt"),
                                            s.get("color_transfer"), s.get("color_primaries")))
    f = ffmpeg_frames(path, "yuv420p10le")
    g, gerr, caps = dec265_frames(path, DEMUX[ext])
    hdr_caps(name, path, caps)
    compare(name, want, f, (g, gerr, "%s ! h265parse > %s" % (DEMUX[ext], DEC265),
                            "libde265 %s's own, not GStreamer's libde265dec" % DEC265))
    if ext == "mkv" and Gst.ElementFactory.find("libde265dec"):
        hevc10_plugin_note(path, DEMUX[ext], f[0])


def mp4_boxes(d, start, end):
    """(type, offset, size) of the boxes in d[start:end]; one cut short ends the list with
    its declared size (so it reaches past end)."""
    off, out = start, []
    while off + 8 <= end:
        size, typ = struct.unpack(">I4s", d[off:off + 8])
        if size == 1 and off + 16 <= end:
            size = struct.unpack(">Q", d[off + 8:off + 16])[0]
        if size < 8:
            break
        out.append((typ, off, size))
        off += size
    return out


def traf_samples(d, moof, traf_off, traf_size):
    """(start, end) byte ranges of one track fragment's samples (ISO 14496-12 tfhd/trun)."""
    base, default_size, ranges = moof, 0, []
    for typ, off, size in mp4_boxes(d, traf_off + 8, traf_off + traf_size):
        flags, p = struct.unpack(">I", d[off + 8:off + 12])[0] & 0xffffff, off + 12
        if typ == b"tfhd":
            p += 4  # track_ID
            if flags & 0x1:
                base = struct.unpack(">Q", d[p:p + 8])[0]
                p += 8
            p += 4 * bool(flags & 0x2) + 4 * bool(flags & 0x8)
            if flags & 0x10:
                default_size = struct.unpack(">I", d[p:p + 4])[0]
        elif typ == b"trun":
            count, p = struct.unpack(">I", d[p:p + 4])[0], p + 4
            pos = base
            if flags & 0x1:
                pos, p = base + struct.unpack(">i", d[p:p + 4])[0], p + 4
            p += 4 * bool(flags & 0x4)
            for _ in range(count):
                p += 4 * bool(flags & 0x100)
                sz = default_size
                if flags & 0x200:
                    sz, p = struct.unpack(">I", d[p:p + 4])[0], p + 4
                p += 4 * bool(flags & 0x400) + 4 * bool(flags & 0x800)
                ranges.append((pos, pos + sz))
                pos += sz
    return ranges


def mp4_fragments(path):
    """What a fragmented MP4 holds: (complete moof+mdat pairs, the byte ranges of every
    sample a complete moof describes, whether the file ends at a box boundary)."""
    d = open(path, "rb").read()
    boxes = mp4_boxes(d, 0, len(d))
    ranges, complete = [], 0
    for i, (typ, off, size) in enumerate(boxes):
        if typ != b"moof" or off + size > len(d):
            continue
        for t2, o2, s2 in mp4_boxes(d, off + 8, off + size):
            if t2 == b"traf":
                ranges += traf_samples(d, off, o2, s2)
        nxt = boxes[i + 1] if i + 1 < len(boxes) else None
        complete += bool(nxt and nxt[0] == b"mdat" and nxt[1] + nxt[2] <= len(d))
    at_boundary = not boxes or boxes[-1][1] + boxes[-1][2] == len(d)
    return complete, ranges, at_boundary, len(d)


def proc_stat(pid):
    """(comm, state, ppid) of pid, or None once it is gone."""
    try:
        s = open("/proc/%d/stat" % pid).read()
    except OSError:
        return None
    comm, rest = s[s.index("(") + 1:s.rindex(")")], s[s.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[1])


def source_of(pid):
    for e in os.listdir("/proc"):
        st = proc_stat(int(e)) if e.isdigit() else None
        if st and st[2] == pid and st[0].startswith("framepush-sourc"):
            return int(e)
    return None


def killed_recording(path, fragments):
    """Starts a long recording, SIGKILLs framepush and its source once path holds fragments
    complete fragments (polled, bounded: no event says a file grew); True if both died."""
    p = subprocess.Popen([FP, "record", "--source", "test", "--size", "640x360", "--fps", "30",
                          "--duration", "60", "-q", "-o", path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    src, deadline = None, time.monotonic() + 30
    while time.monotonic() < deadline and p.poll() is None:
        src = src or source_of(p.pid)
        if os.path.exists(path) and mp4_fragments(path)[0] >= fragments:
            break
        time.sleep(0.05)
    p.kill()
    if src:
        try:
            os.kill(src, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it saw its host die first (death signal, hang-up) and is gone: fine

    err = p.communicate(timeout=30)[1]
    deadline = time.monotonic() + 10
    while src and time.monotonic() < deadline and (proc_stat(src) or "xZ")[1] != "Z":
        time.sleep(0.02)  # reaped by whoever inherited it; bounded
    src_gone = src is not None and (proc_stat(src) or "xZ")[1] == "Z"
    check(p.returncode == -signal.SIGKILL and src_gone,
          "framepush (exit %s) and its source (pid %s) killed with SIGKILL mid-recording%s" %
          (p.returncode, src, (": " + err.strip()[-300:]) if p.returncode != -9 else ""))
    return p.returncode == -signal.SIGKILL


def killed_mp4():
    """A recording killed without warning plays: every sample whose bytes reached the file
    decodes, in both stacks, to the same pictures; a file cut inside a fragment (a kill
    during the fragment's write) loses only the frames from the cut on."""
    path = os.path.join(TMP, "killed.mp4")
    if not killed_recording(path, 2):
        return
    complete, ranges, at_boundary, size = mp4_fragments(path)
    whole = sum(1 for a, b in ranges if b <= size)
    check(complete >= 2 and whole > 0, "killed.mp4: %d complete fragments, %d whole samples, "
          "%s" % (complete, whole, "ends at a box boundary" if at_boundary else "a tail cut short"))
    if complete < 1 or whole < 1:
        return
    f = ffmpeg_frames(path, "yuv420p")
    chain = "qtdemux ! h264parse ! openh264dec"
    g, gerr, gwarn, ran, _ = gst_frames(path, chain + " name=dec")
    # A kill lands between fragment writes nearly always: then nothing is damaged and both
    # stacks must be silent. Inside a write, the cut tail's errors are expected.
    compare("killed.mp4", whole, f, (g, gerr or (at_boundary and "; ".join(gwarn)), chain, ran),
            exact_errors=at_boundary)
    # The same file cut inside the last complete fragment, in the middle of a sample.
    last = [r for r in ranges if r[1] <= size][-(len(ranges) // complete // 2 or 1)]
    cut = os.path.join(TMP, "killed-cut.mp4")
    shutil.copyfile(path, cut)
    os.truncate(cut, (last[0] + last[1]) // 2)
    keep = sum(1 for a, b in ranges if b <= (last[0] + last[1]) // 2)
    fc = ffmpeg_frames(cut, "yuv420p")
    gc, gerr, _, ran, _ = gst_frames(cut, chain + " name=dec")
    print("     killed-cut.mp4: cut at byte %d of %d, inside sample %d" %
          ((last[0] + last[1]) // 2, size, keep + 1), flush=True)
    compare("killed-cut.mp4", keep, fc, (gc, gerr, chain, ran), exact_errors=False)
    check(fc[0] == f[0][:keep], "killed-cut.mp4: the %d frames before the cut are the uncut "
          "file's first %d" % (len(fc[0]), keep))


def main():
    if Gst is None:
        skip("GStreamer's Python bindings (python3-gi, gir1.2-gstreamer-1.0): " + GI_ERROR)
        finish()
    missing = [e for e in ("matroskademux", "qtdemux", "tsdemux", "h264parse", "h265parse",
                           "av1parse", "openh264dec", "av1dec")
               if Gst.ElementFactory.find(e) is None]
    missing += [p for p in ("ffmpeg", "ffprobe", DEC265) if shutil.which(p) is None]
    if missing:
        skip("player stacks missing: %s (scripts/deps.sh installs them)" % ", ".join(missing))
        finish()
    t0 = time.monotonic()
    sdr_file("h264.mkv", "test", "mkv", "h264", size="1280x720")
    sdr_file("h264.mp4", "test", "mp4", "h264")
    sdr_file("h264.ts", "test", "ts", "h264")
    sdr_file("av1.mkv", "test", "mkv", "av1")
    hdr_file("hdr.mp4", "mp4")
    hdr_file("hdr.mkv", "mkv")
    killed_mp4()
    print("     %.1f s" % (time.monotonic() - t0))
    finish()


if __name__ == "__main__":
    main()
