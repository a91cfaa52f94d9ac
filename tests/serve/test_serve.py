"""`framepush serve` in a real browser: Debian's Chromium, headless, driven over the DevTools
protocol (cdp.py). Proves: the <video> plays frames of the display's size (each one's clock
stamp read back, in order); a wrong or missing token is refused (page state, server log, no
media, a raw WebSocket gets 403); two viewers both play and a killed one leaves the other
playing; a click lands on the right display pixel, typed text arrives with shift and held
keys (an X11 test client inside a virtual display reports what it receives); Ctrl-C ends
the session with exit 0. Runs under /usr/bin/python3 (python3-websocket)."""
import http.client, os, re, shutil, signal, subprocess, sys, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, HERE)
import cdp
from fptlib import BUILD, FP, Report, check, finish, skip, tmpdir

CLOCK_JS = open(os.path.join(HERE, "clock.js")).read()
# The input test clients (tests/x11, tests/wlr): report each event they receive.
INPUT = {"xvfb": (os.environ.get("FRAMEPUSH_X11_INPUT_CLIENT",
                                 os.path.join(BUILD, "tests", "x11", "x11-input-client")), "Xvfb"),
         "sway": (os.environ.get("FRAMEPUSH_WLR_INPUT_CLIENT",
                                 os.path.join(BUILD, "tests", "wlr", "wlr-input-client")), "sway")}
LIVE = "document.body.dataset.state === 'live'"
# evdev codes the input client reports
BTN_LEFT, BTN_RIGHT, KEY_X, KEY_LEFTSHIFT = 272, 273, 45, 42


class Serve:
    """A `framepush serve` session in its own process group; stderr collected by a thread
    (so the pipe never fills), the viewer URL taken from it."""

    def __init__(self, args):
        self.p = subprocess.Popen([FP, "serve", "--listen", "127.0.0.1:0", *args],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self.err, self.cond = b"", threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.url = self.wait_log(rb"open (https?://\S+#token=[0-9a-f]+)", 30)

    def _read(self):
        for chunk in iter(lambda: os.read(self.p.stderr.fileno(), 4096), b""):
            with self.cond:
                self.err += chunk
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_log(self, pattern, timeout_s):
        """The first group of pattern's first match in stderr, or None after timeout_s or
        once stderr closed without it."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                m = re.search(pattern, self.err)
                if m:
                    return m.group(1).decode()
                left = deadline - time.monotonic()
                if left <= 0 or not self.reader.is_alive():
                    return None
                self.cond.wait(left)

    def log(self):
        with self.cond:
            return self.err.decode(errors="replace")

    def stop(self):
        """Ctrl-C; the exit status (None if it had to be killed)."""
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGINT)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(10)
            return None
        self.reader.join(10)
        return self.p.returncode


def tail(text, n=600):
    return text.strip()[-n:].replace("\n", " | ")


def open_viewer(url, w=800, h=450, extra_args=()):
    """A Chromium on url, live, reading the stamp of every presented frame."""
    c = cdp.Chromium(w, h, extra_args=extra_args)
    c.navigate(url)
    c.wait_for(LIVE, 30, "the page did not go live at %s" % url.split("#")[0])
    c.evaluate(CLOCK_JS)
    c.evaluate("fpClock.start(document.getElementById('screen'))")
    return c


def waited(c, cond, timeout_s, what):
    """One check: cond became true in the page within timeout_s."""
    try:
        c.wait_for(cond, timeout_s, what)
        check(True, what)
        return True
    except TimeoutError as e:
        check(False, "%s (%s)" % (what, e))
        return False


def frames_grow(c, n, timeout_s, what):
    """Waits for n more stamped frames than the page has now; True if they came, in order."""
    have = c.evaluate("fpClock.frames.length")
    try:
        c.wait_for("fpClock.frames.length >= %d" % (have + n), timeout_s, what)
    except TimeoutError as e:
        check(False, "%s (%s; misreads %s; console %s)" % (what, e, c.evaluate("fpClock.errors.slice(0, 3)"),
                                                          c.console()[-5:]))
        return False
    seqs = c.evaluate("fpClock.frames.slice(%d).map(f => f.seq)" % have)
    # The same number twice is a frame the host repeated (the display missed a tick on a
    # busy machine): allowed; a number going back is a frame shown out of order.
    ordered = all((b - a) % 65536 < 32768 for a, b in zip(seqs, seqs[1:]))
    check(ordered, "%s: in capture order (%s)" % (what, seqs[:20] if ordered else seqs))
    return ordered


def test_plays_and_viewers():
    s = Serve(["--source", "test:pattern=clock", "--size", "640x360", "--fps", "30"])
    check(s.url is not None, "serve prints the viewer URL (%s)" % tail(s.log()))
    if not s.url:
        return s.stop()
    a = b = None
    try:
        a = open_viewer(s.url)
        frames_grow(a, 60, 30, "viewer 1 reads 60 stamped frames")
        size = a.evaluate("(v => [v.videoWidth, v.videoHeight])(document.getElementById('screen'))")
        check(size == [640, 360], "the video is the display's size 640x360 (%s)" % size)
        sizes = a.evaluate("[...new Set(fpClock.frames.map(f => f.w + 'x' + f.h))]")
        check(sizes == ["640x360"], "every frame read was 640x360 (%s)" % sizes)

        b = open_viewer(s.url)
        frames_grow(b, 30, 30, "viewer 2 plays while viewer 1 does")
        frames_grow(a, 30, 30, "viewer 1 still plays with viewer 2 there")
        b.kill()
        frames_grow(a, 60, 30, "viewer 1 plays on after viewer 2's Chromium was killed")
        check(s.p.poll() is None, "the session outlives a killed viewer")
        ended = garbage_viewer(s.url)
        check(ended, "a viewer with the token that sends garbage is dropped by the server")
        frames_grow(a, 30, 30, "viewer 1 plays on after a viewer sent garbage")
        # Ctrl-C with a viewer watching: exit 0, and the page learns the session ended.
        rc = s.stop()
        check(rc == 0, "Ctrl-C ends the session with exit 0 (%s; %s)" % (rc, tail(s.log(), 300)))
        waited(a, "document.body.dataset.state === 'closed'", 15, "the page says the session closed")
    except (cdp.CDPError, TimeoutError) as e:
        check(False, "viewers: %s (log: %s)" % (e, tail(s.log())))
    finally:
        for c in (a, b):
            if c:
                c.close()
        s.stop()


def test_tls():
    """--tls-cert/--tls-key: the page, the signalling and so the token over TLS only."""
    d = tmpdir("fpt-serve-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       capture_output=True, timeout=60)
    check(r.returncode == 0, "openssl makes a self-signed certificate (%s)" % r.stderr[-200:])
    if r.returncode:
        return
    s = Serve(["--source", "test:pattern=clock", "--size", "320x180", "--fps", "30",
               "--tls-cert", cert, "--tls-key", key])
    c = None
    try:
        check(bool(s.url) and s.url.startswith("https://"),
              "with --tls-cert the URL is https (%s)" % s.url)
        if not s.url:
            return
        plain = "http://" + s.url.split("//", 1)[1].split("#")[0]
        try:
            urllib.request.urlopen(plain, timeout=10).read()
            clear = True
        except (OSError, http.client.HTTPException):
            clear = False
        check(not clear, "the port serves nothing in the clear (%s)" % plain)
        c = open_viewer(s.url, 640, 360, extra_args=["--ignore-certificate-errors"])
        frames_grow(c, 30, 30, "a viewer plays over HTTPS and WSS")
    except (cdp.CDPError, TimeoutError) as e:
        check(False, "tls: %s (log: %s)" % (e, tail(s.log())))
    finally:
        if c:
            c.close()
        rc = s.stop()
    check(rc == 0, "Ctrl-C ends the TLS session with exit 0 (%s)" % rc)


def raw_websocket(url, protocols):
    """The HTTP status a WebSocket upgrade to the server's /ws gets (101 when accepted)."""
    try:
        ws = cdp.websocket.create_connection(signalling_url(url), subprotocols=protocols,
                                             timeout=10)
        ws.close()
        return 101
    except cdp.websocket.WebSocketBadStatusException as e:
        return e.status_code


def signalling_url(url):
    """The server's signalling WebSocket for a viewer URL (plain HTTP)."""
    return "ws://" + url.split("//", 1)[1].split("/", 1)[0] + "/ws"


def garbage_viewer(url):
    """A viewer with the token that answers the offer with garbage (not JSON, a binary frame,
    an unknown type): True when the server ends its connection."""
    token = url.split("#token=")[1]
    ws = cdp.websocket.create_connection(signalling_url(url),
                                         subprotocols=["fp.v1", "fp-token." + token], timeout=10)
    try:
        for junk in ("{not json", '{"type":"answer","sdp":1}', '{"type":"x"}'):
            ws.send(junk)
        ws.send_binary(b"\x00\xff" * 512)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            op, _ = ws.recv_data(control_frame=True)
            if op == cdp.websocket.ABNF.OPCODE_CLOSE:
                return True
    except (cdp.websocket.WebSocketConnectionClosedException, ConnectionError):
        return True
    except cdp.websocket.WebSocketTimeoutException:
        return False
    finally:
        ws.close()
    return False


def test_refused():
    s = Serve(["--source", "test", "--size", "640x360", "--fps", "30"])
    check(s.url is not None, "serve prints the viewer URL (%s)" % tail(s.log()))
    if not s.url:
        return s.stop()
    token = s.url.split("#token=")[1]
    wrong = ("0" if token[0] != "0" else "1") + token[1:]
    c = None
    try:
        for what, url in (("a wrong token", s.url.split("#")[0] + "#token=" + wrong),
                          ("no token", s.url.split("#")[0])):
            c = cdp.Chromium(640, 360)
            c.navigate(url)
            state = c.wait_for("['refused', 'live', 'error', 'closed'].includes(document.body.dataset.state)"
                               " && document.body.dataset.state", 20, "the page with %s reached no end state" % what)
            check(state == "refused", "the page with %s is refused (state %s)" % (what, state))
            shown = c.evaluate("(v => v.videoWidth + v.readyState)(document.getElementById('screen'))")
            check(shown == 0, "the page with %s shows no frame (videoWidth + readyState %s)" % (what, shown))
            c.close()
            c = None
        check(s.wait_log(rb"(WebSocket refused[^\n]*)", 10) is not None,
              "the server logs the refused WebSocket (%s)" % tail(s.log()))
        for what, protos in (("no token", ["fp.v1"]), ("a wrong token", ["fp.v1", "fp-token." + wrong])):
            st = raw_websocket(s.url, protos)
            check(st == 403, "a WebSocket with %s gets 403 (%s)" % (what, st))
        st = raw_websocket(s.url, ["fp.v1", "fp-token." + token])
        check(st == 101, "the same WebSocket with the right token is accepted (%s)" % st)
    except (cdp.CDPError, TimeoutError) as e:
        check(False, "refusal: %s (log: %s)" % (e, tail(s.log())))
    finally:
        if c:
            c.close()
    check(s.stop() == 0, "Ctrl-C ends the refusing session with exit 0")


class Reports:
    """The input client's lines, read on demand from its FIFO."""

    def __init__(self, fifo):
        self.r, self.seen = fifo, 0

    def until(self, pred, timeout_s):
        """Lines from the last call on until one satisfies pred: (that line or None, lines)."""
        deadline, got = time.monotonic() + timeout_s, []
        while time.monotonic() < deadline:
            lines = self.r.lines(self.seen + 1, max(0.0, deadline - time.monotonic()))
            if len(lines) <= self.seen:
                break
            line = lines[self.seen]
            self.seen += 1
            got.append(line)
            if pred(line):
                return line, got
        return None, got


def page_point(c, fx, fy):
    """The page position of display pixel centre (fx, fy) as fractions, inside the video's
    displayed (object-fit: contain) picture."""
    return c.evaluate("""((fx, fy) => {
  const v = document.getElementById('screen'), r = v.getBoundingClientRect();
  const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
  const w = v.videoWidth * s, h = v.videoHeight * s;
  return [r.left + (r.width - w) / 2 + fx * w, r.top + (r.height - h) / 2 + fy * h];
})(%r, %r)""" % (fx, fy))


def test_input(kind):
    client, program = INPUT[kind]
    if not os.access(client, os.X_OK):
        return skip("input on %s: %s not built" % (kind, client))
    if not shutil.which(program):
        return skip("input on %s: %s not installed" % (kind, program))
    d = tmpdir("fpt-serve-input-")
    os.chmod(d, 0o755)  # sway runs its clients as its own unprivileged user
    fifo = Report(os.path.join(d, "events"))
    os.chmod(fifo.path, 0o666)
    # sway's user may not traverse the build tree (a CI checkout under a 0700 directory):
    # the client runs from a world-readable copy.
    client = shutil.copy(client, os.path.join(d, os.path.basename(client)))
    os.chmod(client, 0o755)
    s = Serve(["--display", "virtual:640x480@30", "--display-kind", kind, "--fps", "30", "--",
               client, fifo.path])
    c = None
    try:
        check(s.url is not None, "serve with a virtual %s display prints the URL (%s)" % (kind, tail(s.log())))
        ev = Reports(fifo)
        ready, _ = ev.until(lambda l: l.startswith("ready "), 30)
        check(ready == "ready 640 480", "the input client is up on the whole display (%s)" % ready)
        if not s.url or not ready:
            return
        # 1000x600 around a 4:3 picture: 800x600 shown, 100 px bars left and right.
        c = cdp.Chromium(1000, 600)
        c.navigate(s.url)
        c.wait_for(LIVE + " && document.getElementById('screen').videoWidth === 640", 30,
                   "the page did not go live with the 640x480 display")
        # The page takes input once the server has acknowledged the channel's token.
        c.wait_for("!!(window.fp && window.fp.dc)", 15, "the input channel was not accepted")
        x, y = page_point(c, (160 + 0.5) / 640, (360 + 0.5) / 480)
        c.click(x, y)
        line, got = ev.until(lambda l: l.startswith("button %d 1" % BTN_LEFT), 15)
        m = re.fullmatch(r"button 272 1 (\d+) (\d+)", line or "")
        near = m and abs(int(m.group(1)) - 160) <= 1 and abs(int(m.group(2)) - 360) <= 1
        check(bool(near), "a click at page %.0f,%.0f lands at display pixel 160,360 (%s)" % (x, y, got[-5:]))
        line, got = ev.until(lambda l: l.startswith("button %d 0" % BTN_LEFT), 10)
        check(line is not None, "the button is released (%s)" % got[-3:])
        x, y = page_point(c, (600 + 0.5) / 640, (20 + 0.5) / 480)
        c.click(x, y, "right")
        line, got = ev.until(lambda l: l.startswith("button %d 1" % BTN_RIGHT), 10)
        m = re.fullmatch(r"button 273 1 (\d+) (\d+)", line or "")
        near = m and abs(int(m.group(1)) - 600) <= 1 and abs(int(m.group(2)) - 20) <= 1
        check(bool(near), "a right click lands at display pixel 600,20 (%s)" % got[-3:])
        c.mouse("mouseWheel", x, y, dy=120)
        line, got = ev.until(lambda l: l.startswith("wheel "), 10)
        check(line == "wheel 0 1", "a wheel turn down arrives as one detent down (%s)" % got[-3:])
        type_checks(c, ev)
    except (cdp.CDPError, TimeoutError) as e:
        check(False, "input on %s: %s (log: %s)" % (kind, e, tail(s.log())))
    finally:
        if c:
            c.close()
        rc = s.stop()
        fifo.close()
    check(rc == 0, "Ctrl-C ends the %s input session with exit 0 (%s)" % (kind, rc))


def type_checks(c, ev):
    sent = "Hi, A_b!"
    c.type_text(sent)
    texts, deadline = [], time.monotonic() + 20
    while "".join(texts) != sent and time.monotonic() < deadline:
        line, _ = ev.until(lambda l: re.match(r"key \d+ 1 ", l), deadline - time.monotonic())
        if line is None:
            break
        if line.split(" ", 3)[3] != "-":
            texts.append(line.split(" ", 3)[3])
    check("".join(texts) == sent, "typed %r arrives as %r" % (sent, "".join(texts)))
    # The text ends with a shifted key: its release and shift's come after its press.
    ev.until(lambda l: l.startswith("key %d 0" % KEY_LEFTSHIFT), 10)
    # Shift held across three keys: all three shifted, one press and one release of shift.
    c.key("keyDown", "ShiftLeft", 8)
    for code in ("KeyA", "KeyB", "KeyC"):
        c.press(code, 8)
    c.key("keyUp", "ShiftLeft", 0)
    line, got = ev.until(lambda l: l.startswith("key %d 0" % KEY_LEFTSHIFT), 15)
    typed = "".join(l.split(" ", 3)[3] for l in got if re.match(r"key \d+ 1 ", l) and not l.endswith(" -"))
    shift_presses = sum(1 for l in got if l.startswith("key %d 1" % KEY_LEFTSHIFT))
    check(line is not None and typed == "ABC" and shift_presses == 1,
          "shift held over a, b, c gives ABC with one shift press (%s)" % got)
    # A held key the browser repeats: the display sees one press and one release.
    c.key("keyDown", "KeyX")
    for _ in range(5):
        c.key("keyDown", "KeyX", repeat=True)
    c.key("keyUp", "KeyX")
    line, got = ev.until(lambda l: l.startswith("key %d 0" % KEY_X), 15)
    presses = [l for l in got if l.startswith("key %d 1" % KEY_X)]
    check(line is not None and presses == ["key %d 1 x" % KEY_X],
          "a held x with browser repeats arrives as one press, one release (%s)" % got)


def main():
    why = cdp.available()
    if why:
        skip(why)
        return finish()
    if not os.access(FP, os.X_OK):
        check(False, "%s exists" % FP)
        return finish()
    test_refused()
    test_plays_and_viewers()
    test_tls()
    test_input("xvfb")
    test_input("sway")
    finish()


main()
