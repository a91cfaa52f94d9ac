// The page side of the clock stamp (src/sources/test.c: stamp_clock; tests/serve/clock.py is
// the same reader in Python). Evaluated into a page by the browser tests and
// `framepush-bench serve`: window.fpClock.start(video) reads the stamp of every frame the
// <video> presents (requestVideoFrameCallback), drawing only the stamp's cells, scaled down,
// into a small canvas. The decoding is integer-only; the latency uses the page's clocks.
(() => {
  const COLS = 16, ROWS = 4, S = 8; // S: canvas pixels per cell
  const CORNERS = new Map([[0, 1], [COLS - 1, 0], [COLS * (ROWS - 1), 0], [COLS * ROWS - 1, 1]]);

  function crc16(bytes) {
    let crc = 0xffff;
    for (const b of bytes) {
      crc ^= b << 8;
      for (let k = 0; k < 8; k++)
        crc = (crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1) & 0xffff;
    }
    return crc;
  }

  function check12(ms, seq) {
    return crc16([ms & 255, (ms >>> 8) & 255, (ms >>> 16) & 255, ms >>> 24,
                  seq & 255, seq >>> 8]) & 0xfff;
  }

  // {ms, seq} from 64 cell levels, or {err}: the rules of clock.py's decode_levels.
  function decodeLevels(levels) {
    let white = 255, black = 0;
    for (const [i, on] of CORNERS) {
      if (on) white = Math.min(white, levels[i]);
      else black = Math.max(black, levels[i]);
    }
    if (white - black < 64) return { err: `references white ${white} black ${black}` };
    const mid = (white + black) >> 1, margin = (white - black) >> 2;
    let ms = 0, seq = 0, check = 0, bit = 0;
    for (let i = 0; i < COLS * ROWS; i++) {
      if (CORNERS.has(i)) continue;
      const v = levels[i];
      if (Math.abs(v - mid) <= margin) return { err: `cell ${i} level ${v} (mid ${mid})` };
      if (v > mid) {
        if (bit < 32) ms = (ms | (1 << bit)) >>> 0;
        else if (bit < 48) seq |= 1 << (bit - 32);
        else check |= 1 << (bit - 48);
      }
      bit++;
    }
    if (check !== check12(ms, seq)) return { err: `check ${check} != ${check12(ms, seq)}` };
    return { ms, seq };
  }

  function readVideo(video, ctx) {
    const w = video.videoWidth, h = video.videoHeight;
    const cw = Math.floor(w / COLS), ch = Math.min(cw, Math.floor(h / 8));
    ctx.drawImage(video, 0, 0, cw * COLS, ch * ROWS, 0, 0, COLS * S, ROWS * S);
    const d = ctx.getImageData(0, 0, COLS * S, ROWS * S).data, levels = [];
    for (let i = 0; i < COLS * ROWS; i++) {
      const x0 = (i % COLS) * S, y0 = Math.floor(i / COLS) * S;
      let sum = 0, n = 0;
      for (let y = y0 + S / 4; y < y0 + S - S / 4; y++)
        for (let x = x0 + S / 4; x < x0 + S - S / 4; x++, n++) {
          const p = (y * COLS * S + x) * 4;
          sum += (d[p] * 77 + d[p + 1] * 150 + d[p + 2] * 29) >> 8;
        }
      levels.push(Math.floor(sum / n));
    }
    return decodeLevels(levels);
  }

  // Milliseconds from the stamp (low 32 bits of the wall clock) to an epoch time t.
  function since(ms, t) {
    let d = (Math.floor(t) % 4294967296) - ms;
    if (d > 2147483648) d -= 4294967296;
    if (d < -2147483648) d += 4294967296;
    return d + (t - Math.floor(t));
  }

  const fpClock = {
    frames: [], errors: [], running: false, limit: 100000,
    start(video) {
      const canvas = document.createElement('canvas');
      canvas.width = COLS * S; canvas.height = ROWS * S;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      const t0 = performance.timeOrigin;
      this.running = true;
      const onFrame = (now, meta) => {
        if (!this.running) return;
        const r = readVideo(video, ctx);
        if (r.err) {
          if (this.errors.length < 100) this.errors.push(r.err);
        } else if (this.frames.length < this.limit) {
          this.frames.push({
            seq: r.seq, w: video.videoWidth, h: video.videoHeight,
            // capture -> presented (submitted for composition), and -> on glass: the later
            // of that and the expected display time (WebRTC frames in Chromium report an
            // expected time just before their presentation time: never count short)
            present: since(r.ms, t0 + meta.presentationTime),
            glass: since(r.ms, t0 + Math.max(meta.presentationTime, meta.expectedDisplayTime)),
            // WebRTC only: capture -> last packet received; decode time
            receive: meta.receiveTime !== undefined ? since(r.ms, t0 + meta.receiveTime) : null,
            decode: meta.processingDuration !== undefined ? meta.processingDuration * 1000 : null,
            presented: meta.presentedFrames,
          });
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    },
    stop() { this.running = false; },
    reset() { this.frames = []; this.errors = []; },
    decodeLevels, check12,
  };
  window.fpClock = fpClock;
})();
