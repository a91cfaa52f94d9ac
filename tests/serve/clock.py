"""Reader of the test source's clock stamp (pattern=clock, src/sources/test.c: stamp_clock),
float-free: the grid geometry, the check, and a frame's (ms, seq) from its luma plane."""
import subprocess

COLS, ROWS = 16, 4
CORNERS = {0: 1, COLS - 1: 0, COLS * (ROWS - 1): 0, COLS * ROWS - 1: 1}


def geometry(w, h):
    """(cell width, cell height) of the stamp on a w x h frame, as the source draws it."""
    cw = w // COLS
    return cw, min(cw, h // 8)


def crc16(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def check12(ms, seq):
    return crc16(ms.to_bytes(4, "little") + seq.to_bytes(2, "little")) & 0xFFF


def cell_levels(gray, w, h):
    """The mean luma of the central half of each cell, row-major (integers)."""
    cw, ch = geometry(w, h)
    out = []
    for i in range(COLS * ROWS):
        x0, y0 = i % COLS * cw, i // COLS * ch
        xa, xb = x0 + cw // 4, x0 + cw - cw // 4
        ya, yb = y0 + ch // 4, y0 + ch - ch // 4
        total = sum(sum(gray[y * w + xa:y * w + xb]) for y in range(ya, yb))
        out.append(total // ((xb - xa) * (yb - ya)))
    return out


def decode_levels(levels):
    """(ms, seq) from the 64 cell levels, or (None, why): references without contrast, a cell
    neither clearly white nor clearly black, or a check that does not match."""
    white = min(levels[i] for i, on in CORNERS.items() if on)
    black = max(levels[i] for i, on in CORNERS.items() if not on)
    if white - black < 64:
        return None, "references white %d black %d: no contrast" % (white, black)
    mid, margin = (white + black) // 2, (white - black) // 4
    word, bit = 0, 0
    for i, v in enumerate(levels):
        if i in CORNERS:
            continue
        if abs(v - mid) <= margin:
            return None, "cell %d level %d is neither white nor black (mid %d)" % (i, v, mid)
        word |= (v > mid) << bit
        bit += 1
    ms, seq, check = word & 0xFFFFFFFF, word >> 32 & 0xFFFF, word >> 48
    if check != check12(ms, seq):
        return None, "check %03x != %03x" % (check, check12(ms, seq))
    return (ms, seq), None


def read_frame(gray, w, h):
    return decode_levels(cell_levels(gray, w, h))


def frames(path, w, h, timeout=120):
    """Every frame of the video at path decoded by ffmpeg to w x h luma, in order."""
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray",
                        "-s", "%dx%d" % (w, h), "-"], capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("ffmpeg could not decode %s: %s" % (path, r.stderr.decode(errors="replace")))
    n = w * h
    return [r.stdout[i:i + n] for i in range(0, len(r.stdout) - n + 1, n)]
