"""A headless Chromium driven over the DevTools protocol (CDP), for the browser tests and the
serve benchmark: no puppeteer, only Debian's chromium and python3-websocket (so this runs
under /usr/bin/python3). One Chromium per object, its own profile and process group, so a
test can kill one viewer and keep another. Every wait is bounded and says what did not
happen."""
import json, os, shutil, signal, subprocess, tempfile, time

try:
    import websocket  # python3-websocket
except ImportError:  # reported by available(); the tests skip or fail on it
    websocket = None

CHROMIUM = os.environ.get("FRAMEPUSH_CHROMIUM", "/usr/bin/chromium")


class CDPError(RuntimeError):
    """A protocol error, or an exception thrown by page script."""


def available():
    """None when a Chromium can be driven here, else why not."""
    if websocket is None:
        return "python3-websocket is missing (run the browser tests with /usr/bin/python3)"
    if not os.access(CHROMIUM, os.X_OK):
        return "%s not found (Debian package chromium)" % CHROMIUM
    return None


# code -> (key, shifted key, windowsVirtualKeyCode). A printable key's text is its key.
_KEYS = {"Space": (" ", " ", 0x20), "Enter": ("Enter", "Enter", 0x0D),
         "Backspace": ("Backspace", "Backspace", 0x08), "Tab": ("Tab", "Tab", 0x09),
         "Escape": ("Escape", "Escape", 0x1B), "ArrowLeft": ("ArrowLeft", "ArrowLeft", 0x25),
         "ArrowUp": ("ArrowUp", "ArrowUp", 0x26), "ArrowRight": ("ArrowRight", "ArrowRight", 0x27),
         "ArrowDown": ("ArrowDown", "ArrowDown", 0x28), "ShiftLeft": ("Shift", "Shift", 0x10),
         "ShiftRight": ("Shift", "Shift", 0x10), "ControlLeft": ("Control", "Control", 0x11),
         "ControlRight": ("Control", "Control", 0x11), "AltLeft": ("Alt", "Alt", 0x12),
         "AltRight": ("Alt", "Alt", 0x12), "MetaLeft": ("Meta", "Meta", 0x5B),
         "Minus": ("-", "_", 0xBD), "Equal": ("=", "+", 0xBB), "BracketLeft": ("[", "{", 0xDB),
         "BracketRight": ("]", "}", 0xDD), "Backslash": ("\\", "|", 0xDC),
         "Semicolon": (";", ":", 0xBA), "Quote": ("'", '"', 0xDE), "Comma": (",", "<", 0xBC),
         "Period": (".", ">", 0xBE), "Slash": ("/", "?", 0xBF), "Backquote": ("`", "~", 0xC0)}
for _c in "abcdefghijklmnopqrstuvwxyz":
    _KEYS["Key" + _c.upper()] = (_c, _c.upper(), ord(_c.upper()))
for _d, _s in zip("0123456789", ")!@#$%^&*("):
    _KEYS["Digit" + _d] = (_d, _s, ord(_d))
_MODIFIER_BITS = {"Alt": 1, "Control": 2, "Meta": 4, "Shift": 8}
# character -> (code, shift): what type_text presses for it (US layout).
_CHARS = {}
for _code, (_k, _ks, _vk) in _KEYS.items():
    if len(_k) == 1:
        _CHARS.setdefault(_k, (_code, False))
    if len(_ks) == 1:
        _CHARS.setdefault(_ks, (_code, True))


class Chromium:
    def __init__(self, width=1280, height=720, timeout_s=30, log_path=None, extra_args=()):
        why = available()
        if why:
            raise CDPError(why)
        self.profile = tempfile.mkdtemp(prefix="fpt-chromium-")
        self.ws, self.proc, self._id, self.events = None, None, 0, []
        self.reloads = 0  # documents the page started over in (failed connection starts)
        self.log_path = log_path or os.path.join(self.profile, "chromium.log")
        args = ["nice", "-n", "10", CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--remote-debugging-port=0", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (width, height), "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking",
                "--disable-extensions", "--disable-sync", "--mute-audio", *extra_args,
                "about:blank"]
        with open(self.log_path, "wb") as log:
            # Its own session: close() kills the renderer and GPU helpers with it.
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        self.width, self.height = width, height
        try:
            self._attach(timeout_s)
        except BaseException:
            self.close()
            raise

    def _attach(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        while True:
            # Chromium writes the file once it listens; there is no event to wait on.
            if os.path.exists(port_file):
                lines = open(port_file).read().split("\n")
                if len(lines) >= 2 and lines[0].isdigit():
                    break
            if self.proc.poll() is not None:
                raise CDPError("chromium exited with %s before it listened for DevTools (log: %s)"
                               % (self.proc.returncode, self.tail()))
            if time.monotonic() > deadline:
                raise CDPError("chromium wrote no DevToolsActivePort within %d s" % timeout_s)
            time.sleep(0.05)
        browser = websocket.create_connection("ws://127.0.0.1:%s%s" % (lines[0], lines[1]),
                                              timeout=timeout_s, suppress_origin=True)
        self.ws = browser
        targets = self.call("Target.getTargets", timeout_s=timeout_s)["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        if not pages:
            raise CDPError("chromium has no page target: %s" % targets)
        self.session = self.call("Target.attachToTarget", {"targetId": pages[0]["targetId"],
                                                           "flatten": True})["sessionId"]
        self.call("Runtime.enable")
        self.call("Page.enable")
        # Headless windows lose some height to invisible browser UI: the page's viewport is
        # set to exactly width x height CSS pixels instead.
        self.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                         "deviceScaleFactor": 1, "mobile": False})

    def tail(self, n=2000):
        try:
            return open(self.log_path, errors="replace").read()[-n:]
        except OSError:
            return ""

    def call(self, method, params=None, timeout_s=30):
        """One CDP command on the page (the browser before attach); its result, or CDPError."""
        if self.ws is None:
            raise CDPError("%s: chromium is closed" % method)
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if getattr(self, "session", None):
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("%s: no answer from chromium within %g s" % (method, timeout_s))
            self.ws.settimeout(left)
            try:
                reply = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError) as e:
                raise CDPError("%s: DevTools connection lost (%s)" % (method, e))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise CDPError("%s: %s" % (method, reply["error"].get("message")))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)
                del self.events[:-1000]  # a bounded history for failure reports

    def console(self):
        """The page's console lines and uncaught exceptions so far, for a failure message."""
        out = []
        for e in self.events:
            if e["method"] == "Runtime.consoleAPICalled":
                out.append(" ".join(str(a.get("value", a.get("description", "")))
                                    for a in e["params"].get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + _exception_text(e["params"]["exceptionDetails"]))
        return out

    def navigate(self, url, timeout_s=30):
        r = self.call("Page.navigate", {"url": url}, timeout_s)
        if r.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, r["errorText"]))
        self.wait_for("document.readyState === 'complete'", timeout_s, "page %s did not load" % url)

    def evaluate(self, expr, await_promise=False, timeout_s=30):
        """The value of a JS expression in the page (JSON), or CDPError with the page's
        exception."""
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": await_promise,
                                           "userGesture": True}, timeout_s + 5)
        if "exceptionDetails" in r:
            raise CDPError("page script failed: %s\n  in: %s"
                           % (_exception_text(r["exceptionDetails"]), expr[:300]))
        return r["result"].get("value")

    def wait_for(self, cond, timeout_s, message):
        """Waits until the JS expression cond is truthy in the page, polled there (every 20 ms,
        a promise CDP awaits); its value, or TimeoutError(message) after timeout_s."""
        js = """new Promise((resolve) => {
  const end = performance.now() + %d;
  const poll = () => {
    let v, err = null;
    try { v = (%s); } catch (e) { v = false; err = String(e); }
    if (v) resolve({ ok: true, value: v });
    else if (performance.now() > end) resolve({ ok: false, err });
    else setTimeout(poll, 20);
  };
  poll();
})""" % (int(timeout_s * 1000), cond)
        end = time.monotonic() + timeout_s
        while True:
            try:
                r = self.evaluate(js, await_promise=True, timeout_s=timeout_s + 5)
                break
            except CDPError as e:
                # The page starts over after a failed ICE/DTLS start (viewer.js retryOrFail,
                # up to 3 times a minute): the wait goes on in the new document, counted.
                if "navigated or closed" not in str(e) or time.monotonic() >= end:
                    raise
                self.reloads += 1
                print("note: the page reloaded while waiting for %s (a failed connection "
                      "start, retried by the page)" % cond[:80], flush=True)
                time.sleep(0.2)  # the new document's context: no event reaches this client
                js = js.replace("performance.now() + %d" % int(timeout_s * 1000),
                                "performance.now() + %d" % int(max(0, end - time.monotonic()) * 1000))
                timeout_s = max(0.1, end - time.monotonic())
        if not r or not r.get("ok"):
            raise TimeoutError("%s (after %g s waiting for %s%s)"
                               % (message, timeout_s, cond,
                                  "; last error " + r["err"] if r and r.get("err") else ""))
        return r["value"]

    def mouse(self, type, x, y, button="none", buttons=0, click_count=0, dx=0, dy=0, modifiers=0):
        """Input.dispatchMouseEvent: type mouseMoved|mousePressed|mouseReleased|mouseWheel at
        page CSS pixel (x, y)."""
        p = {"type": type, "x": x, "y": y, "button": button, "buttons": buttons,
             "clickCount": click_count, "modifiers": modifiers}
        if type == "mouseWheel":
            p.update(deltaX=dx, deltaY=dy)
        self.call("Input.dispatchMouseEvent", p)

    def click(self, x, y, button="left"):
        mask = {"left": 1, "right": 2, "middle": 4}[button]
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, button, mask, 1)
        self.mouse("mouseReleased", x, y, button, 0, 1)

    def key(self, type, code, modifiers=0, repeat=False):
        """Input.dispatchKeyEvent for a physical key (e.code), type keyDown|keyUp, with the
        key, text and virtual key code a US keyboard gives, so the page's keydown sees
        e.code and e.key as from a real keyboard. modifiers: Alt 1, Ctrl 2, Meta 4, Shift 8."""
        if code not in _KEYS:
            raise CDPError("key %s: not in the driver's table" % code)
        plain, shifted, vk = _KEYS[code]
        key = shifted if modifiers & 8 else plain
        p = {"type": type, "code": code, "key": key, "windowsVirtualKeyCode": vk,
             "nativeVirtualKeyCode": vk, "modifiers": modifiers, "autoRepeat": repeat,
             "location": 2 if code.endswith("Right") and key in _MODIFIER_BITS else
             1 if key in _MODIFIER_BITS else 0}
        text = {"Enter": "\r", "Tab": "\t"}.get(key, key if len(key) == 1 else "")
        if type == "keyDown" and text and not modifiers & (1 | 2 | 4):
            p.update(text=text, unmodifiedText=plain if len(plain) == 1 else text)
        self.call("Input.dispatchKeyEvent", p)

    def press(self, code, modifiers=0):
        self.key("keyDown", code, modifiers)
        self.key("keyUp", code, modifiers)

    def type_text(self, text):
        """Types text key by key on a US layout, pressing Shift around shifted characters."""
        for ch in text:
            if ch not in _CHARS:
                raise CDPError("type_text: no key for %r" % ch)
            code, shift = _CHARS[ch]
            if shift:
                self.key("keyDown", "ShiftLeft", 8)
            self.press(code, 8 if shift else 0)
            if shift:
                self.key("keyUp", "ShiftLeft", 0)

    def kill(self):
        """Ends Chromium at once (SIGKILL to its whole process group), as a crash would."""
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
            self.ws = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def close(self):
        """Kills the process group and removes the profile; safe to call twice."""
        self.kill()
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _exception_text(d):
    ex = d.get("exception") or {}
    return "%s (line %s:%s)" % (ex.get("description") or d.get("text"), d.get("lineNumber"),
                                d.get("columnNumber"))
