// framepush viewer: one WebSocket for signalling (the token rides in the subprotocol list),
// one RTCPeerConnection receiving the video, one data channel "input" sending the pointer
// and keyboard back. No framework, no network beyond the page's own origin.
'use strict';

(function () {
  const video = document.getElementById('screen');
  const overlay = document.getElementById('overlay');
  // dc: the input channel once the server took the token; viewOnly: input is refused.
  const fp = { pc: null, dc: null, state: 'connecting', viewOnly: false };
  window.fp = fp;

  function setState(state, message) {
    // refused, closed and error are final: a later event does not hide why it ended.
    if (fp.state === 'refused' || fp.state === 'error' || fp.state === 'closed') return;
    fp.state = state;
    document.body.dataset.state = state;
    overlay.textContent = message ? state + ': ' + message : state;
  }

  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  if (!/^[0-9a-f]{32,128}$/.test(token)) {
    setState('refused', 'wrong or missing token');
    return;
  }

  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') +
                           location.host + '/ws', ['fp.v1', 'fp-token.' + token]);
  let opened = false, retrying = false;
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  fp.pc = pc;

  function send(obj) {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  // Playout delay: ask the receiver to hold nothing back (names differ across browsers).
  function lowLatency(receiver) {
    if ('playoutDelayHint' in receiver) receiver.playoutDelayHint = 0;
    if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
  }

  pc.ontrack = (e) => {
    lowLatency(e.receiver);
    if (video.srcObject !== e.streams[0])
      video.srcObject = e.streams[0] || new MediaStream([e.track]);
  };
  pc.onicecandidate = (e) => {
    if (e.candidate && e.candidate.candidate && e.candidate.sdpMLineIndex !== null)
      send({ type: 'ice', candidate: e.candidate.candidate,
             sdpMLineIndex: e.candidate.sdpMLineIndex });
  };
  // A connection that fails to come up (ICE or DTLS timing out on a machine too busy to
  // answer in time) gets a fresh start, a few times a minute, before the page gives up.
  function retryOrFail() {
    const now = Date.now();
    const recent = JSON.parse(sessionStorage.getItem('fpRetries') || '[]')
      .filter((t) => now - t < 60000);
    if (recent.length >= 3) return setState('error', 'connection failed');
    recent.push(now);
    sessionStorage.setItem('fpRetries', JSON.stringify(recent));
    retrying = true;
    overlay.textContent = 'connection failed; retrying';
    ws.close();
    setTimeout(() => location.reload(), 1000);
  }
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed') retryOrFail();
  };
  // The input channel: the token first, repeated until the server answers (a message sent
  // the moment a channel opens can be lost); fp.dc is set once it has ("auth-ok", or
  // "view-only": the server will refuse input).
  pc.ondatachannel = (e) => {
    if (e.channel.label !== 'input') return;
    const dc = e.channel;
    let tries = 0, retry = null;
    const auth = () => {
      if (dc.readyState !== 'open' || ++tries > 40) return clearInterval(retry);
      dc.send(JSON.stringify({ t: 'auth', token: token }));
    };
    dc.onopen = () => { auth(); retry = setInterval(auth, 250); };
    dc.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch (err) { return; }
      if (msg.t !== 'auth-ok' && msg.t !== 'view-only') return;
      clearInterval(retry);
      fp.viewOnly = msg.t === 'view-only';
      fp.dc = dc;
    };
    dc.onclose = () => { clearInterval(retry); if (fp.dc === dc) fp.dc = null; };
  };

  // "live" once a frame has been presented, not merely when the track arrived.
  function watchFirstFrame() {
    if ('requestVideoFrameCallback' in video) {
      video.requestVideoFrameCallback(() => setState('live'));
    } else {
      video.addEventListener('timeupdate', function once() {
        if (video.videoWidth > 0) {
          setState('live');
          video.removeEventListener('timeupdate', once);
        }
      });
    }
  }
  watchFirstFrame();

  async function onSignal(msg) {
    if (msg.type === 'offer') {
      await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
      pc.getReceivers().forEach(lowLatency);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      send({ type: 'answer', sdp: pc.localDescription.sdp });
    } else if (msg.type === 'ice') {
      await pc.addIceCandidate({ candidate: msg.candidate, sdpMLineIndex: msg.sdpMLineIndex });
    } else if (msg.type === 'refused') {
      setState('refused', msg.message);
    } else if (msg.type === 'error') {
      setState('error', msg.message);
    }
  }

  // Messages are handled one after the other: a candidate must not overtake its offer.
  let chain = Promise.resolve();
  ws.onopen = () => { opened = true; };
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch (err) { return; }
    chain = chain.then(() => onSignal(msg)).catch((err) => setState('error', String(err)));
  };
  ws.onclose = () => {
    // The server answers a wrong or missing token with 403 before the upgrade: the socket
    // closes without ever opening.
    if (retrying) return;
    if (!opened) setState('refused', 'wrong or missing token');
    // The server drops a viewer whose connection failed before it came up: start again.
    else if (fp.state === 'connecting') return retryOrFail();
    else setState('closed', 'the session ended');
    pc.close();
  };

  // ---- input ----------------------------------------------------------------------------
  function input(obj) {
    const dc = fp.dc;
    // A channel that cannot keep up drops pointer motion rather than queue it for seconds.
    if (dc && dc.readyState === 'open' && (obj.t !== 'move' || dc.bufferedAmount < 65536))
      dc.send(JSON.stringify(obj));
  }

  // The position inside the picture (object-fit: contain letterboxes it), in 1/65536 of
  // its width and height, or null over the bars.
  function position(e) {
    const r = video.getBoundingClientRect();
    const vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) return null;
    const scale = Math.min(r.width / vw, r.height / vh);
    const cw = vw * scale, ch = vh * scale;
    const fx = (e.clientX - r.left - (r.width - cw) / 2) / cw;
    const fy = (e.clientY - r.top - (r.height - ch) / 2) / ch;
    if (fx < 0 || fx >= 1 || fy < 0 || fy >= 1) return null;
    return { x: Math.min(65535, Math.floor(fx * 65536)), y: Math.min(65535, Math.floor(fy * 65536)) };
  }

  function move(e) {
    const p = position(e);
    if (p) input({ t: 'move', x: p.x, y: p.y });
    return p;
  }

  const heldButtons = new Set();
  const heldKeys = new Set();

  video.addEventListener('pointermove', (e) => { move(e); });
  video.addEventListener('pointerdown', (e) => {
    if (e.button < 0 || e.button > 2) return;
    video.focus();
    if (!move(e)) return;
    e.preventDefault();
    video.setPointerCapture(e.pointerId);
    heldButtons.add(e.button);
    input({ t: 'btn', b: e.button, d: 1 });
  });
  video.addEventListener('pointerup', (e) => {
    if (!heldButtons.has(e.button)) return;
    move(e);
    heldButtons.delete(e.button);
    input({ t: 'btn', b: e.button, d: 0 });
  });
  video.addEventListener('contextmenu', (e) => e.preventDefault());

  // Wheel deltas to detents: 100 px (or 3 lines, or a page) is one notch of a mouse wheel.
  const wheelAcc = { x: 0, y: 0 };
  const unit = [100, 3, 1];
  video.addEventListener('wheel', (e) => {
    e.preventDefault();
    const u = unit[e.deltaMode] || 100;
    wheelAcc.x += e.deltaX / u;
    wheelAcc.y += e.deltaY / u;
    const dx = Math.max(-16, Math.min(16, Math.trunc(wheelAcc.x)));
    const dy = Math.max(-16, Math.min(16, Math.trunc(wheelAcc.y)));
    wheelAcc.x -= dx;
    wheelAcc.y -= dy;
    if (dx || dy) input({ t: 'wheel', dx: dx, dy: dy });
  }, { passive: false });

  window.addEventListener('keydown', (e) => {
    e.preventDefault();
    // The display repeats a held key itself: a browser repeat would type it twice.
    if (e.repeat || !e.code) return;
    heldKeys.add(e.code);
    input({ t: 'key', code: e.code, d: 1 });
  });
  window.addEventListener('keyup', (e) => {
    e.preventDefault();
    if (!e.code) return;
    heldKeys.delete(e.code);
    input({ t: 'key', code: e.code, d: 0 });
  });
  // Keys and buttons released while the page had no focus never reach it: release them.
  window.addEventListener('blur', () => {
    heldKeys.forEach((code) => input({ t: 'key', code: code, d: 0 }));
    heldKeys.clear();
    heldButtons.forEach((b) => input({ t: 'btn', b: b, d: 0 }));
    heldButtons.clear();
  });
})();
