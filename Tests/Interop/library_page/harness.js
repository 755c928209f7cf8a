// The page side of Tests/Interop/library_matrix.py: one browser SIP library (JsSIP or SIP.js,
// loaded from the vendor directory by index.html) behind one small interface, driven by the test
// over plain HTTP so that Chromium and Firefox are driven the same way (no DevTools needed).
//
// The page asks the driver for work with GET /command (long poll), starts it, and POSTs the
// outcome to /result when it is done; commands run side by side. A command is the body of an async function that can use `phone` (the adapter
// below) and `media` (audio and RTP figures); its return value is the result.
//
// Each adapter uses its library the way the library's own documentation shows, with the
// library's defaults: JsSIP's UA and RTCSession, SIP.js's SimpleUser (and, for RFC 4733 DTMF,
// the SessionDescriptionHandler under it). What each one does by default is cited in
// docs/interop.md from the library's source.
"use strict";

const params = new URLSearchParams(location.search);
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// Resolves with the first of `promise` and a timeout's `{outcome: "timeout", what}`.
function within(ms, what, promise) {
  return Promise.race([promise, sleep(ms).then(() => ({ outcome: "timeout", what }))]);
}

// The first ringing (a 1xx above 100) the current call heard, from the adapter's event log.
async function ringing(state, ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const seen = state.events.slice(state.callStart || 0).find(e => e.what === "progress" && e.status >= 180);
    if (seen) return { outcome: "progress", status: seen.status };
    await sleep(50);
  }
  return { outcome: "timeout", what: "progress" };
}

// A promise with its resolve function: what the adapters settle from library events.
function deferred() {
  const d = { value: undefined };
  d.promise = new Promise(r => { d.resolve = v => { if (d.value === undefined) d.value = v; r(v); }; });
  return d;
}

// ---------------------------------------------------------------------------------------------
// Media: the microphone (the browser's fake device: a tone), the remote audio's level and
// dominant frequency (Web Audio; Firefox has no audioLevel in getStats), and RTP counters.

const media = {
  context: null,
  analyser: null,
  element: null,

  async microphone() {
    return navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false });
  },

  // Plays the remote stream (Chromium renders and counts inbound audio only when it is played)
  // and analyses it.
  attach(stream) {
    if (!this.element) {
      this.element = document.createElement("audio");
      this.element.autoplay = true;
      document.body.appendChild(this.element);
    }
    this.element.srcObject = stream;
    this.element.play().catch(e => console.warn("play: " + e.message));
    if (!this.context) this.context = new AudioContext();
    this.context.resume().catch(() => {});
    const source = this.context.createMediaStreamSource(stream);
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 8192;
    this.analyser.smoothingTimeConstant = 0;
    source.connect(this.analyser);
  },

  // The mean RMS (-1..1 scale) and the dominant frequency of the remote audio over `ms`.
  async listen(ms) {
    if (!this.analyser) return { rms: 0, frequency: null, reads: 0 };
    if (this.context.state !== "running") return this.record(ms);
    const bins = new Float32Array(this.analyser.frequencyBinCount);
    const power = new Float64Array(bins.length);
    const samples = new Float32Array(this.analyser.fftSize);
    let rmsSum = 0, reads = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      await sleep(100);
      this.analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      rmsSum += Math.sqrt(sum / samples.length);
      this.analyser.getFloatFrequencyData(bins);
      for (let i = 0; i < bins.length; i++) power[i] += Math.pow(10, bins[i] / 10);
      reads++;
    }
    let peak = 1;
    for (let i = 2; i < power.length; i++) if (power[i] > power[peak]) peak = i;
    const rms = reads ? rmsSum / reads : 0;
    const frequency = rms > 0.001 ? peak * this.context.sampleRate / this.analyser.fftSize : null;
    return { rms, frequency, reads, context: this.context.state, clock: Math.round(this.context.currentTime * 1000) / 1000 };
  },

  // The same from a recording, for a browser whose AudioContext cannot run: headless Firefox
  // with no sound server has no output device, and its AudioContext stays "suspended". The
  // remote stream is recorded (MediaRecorder) and decoded offline, which needs no device.
  async record(ms) {
    const recorder = new MediaRecorder(this.element.srcObject);
    const chunks = [];
    recorder.ondataavailable = e => chunks.push(e.data);
    const stopped = new Promise(resolve => { recorder.onstop = resolve; });
    recorder.start();
    await sleep(ms);
    recorder.stop();
    await stopped;
    const encoded = await new Blob(chunks, { type: recorder.mimeType }).arrayBuffer();
    const decoded = await new OfflineAudioContext(1, 48000, 48000).decodeAudioData(encoded);
    const samples = decoded.getChannelData(0);
    const window = samples.subarray(Math.floor(samples.length / 4), Math.floor(samples.length / 4) + Math.min(24000, samples.length));
    let sum = 0;
    for (const s of window) sum += s * s;
    const rms = window.length ? Math.sqrt(sum / window.length) : 0;
    // The strongest frequency from 100 Hz to 4 kHz in 5 Hz steps (Goertzel).
    let frequency = null, best = 0;
    for (let f = 100; rms > 0.001 && f <= 4000; f += 5) {
      const k = 2 * Math.cos(2 * Math.PI * f / decoded.sampleRate);
      let a = 0, b = 0;
      for (const s of window) { const c = s + k * a - b; b = a; a = c; }
      const power = a * a + b * b - k * a * b;
      if (power > best) { best = power; frequency = f; }
    }
    return { rms, frequency, reads: chunks.length, recorded: Math.round(decoded.duration * 1000) / 1000, context: this.context.state };
  },

  // RTP figures of a peer connection: packets each way, the codec of the outbound stream, the
  // SRTP cipher and the selected candidate pair's types.
  async rtp(pc) {
    const out = { packetsSent: 0, packetsReceived: 0, packetsLost: 0, codec: null, inboundCodec: null,
                  srtpCipher: null, iceState: pc ? pc.iceConnectionState : null };
    if (!pc) return out;
    const report = await pc.getStats();
    const codecs = {};
    report.forEach(s => { if (s.type === "codec") codecs[s.id] = s.mimeType; });
    report.forEach(s => {
      if (s.type === "outbound-rtp" && s.kind !== "video") {
        out.packetsSent += s.packetsSent || 0;
        if (s.codecId && codecs[s.codecId]) out.codec = codecs[s.codecId];
      }
      if (s.type === "inbound-rtp" && s.kind !== "video") {
        out.packetsReceived += s.packetsReceived || 0;
        out.packetsLost += s.packetsLost || 0;
        if (s.codecId && codecs[s.codecId]) out.inboundCodec = codecs[s.codecId];
      }
      if (s.type === "transport" && s.srtpCipher) out.srtpCipher = s.srtpCipher;
    });
    return out;
  },
};

// Reduces an SDP offer to Opus and telephone-event: what a page does to force transcoding.
function opusOnly(sdp) {
  const lines = sdp.split("\r\n");
  const keep = new Set();
  for (const line of lines) {
    const m = /^a=rtpmap:(\d+) (opus|telephone-event)\/48000/i.exec(line);
    if (m) keep.add(m[1]);
  }
  return lines.map(line => {
    if (line.startsWith("m=audio ")) {
      const parts = line.split(" ");
      return parts.slice(0, 3).concat(parts.slice(3).filter(pt => keep.has(pt))).join(" ");
    }
    return line;
  }).filter(line => {
    const m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)[ ]/.exec(line);
    return !m || keep.has(m[2]);
  }).join("\r\n");
}

// ---------------------------------------------------------------------------------------------
// JsSIP 3.x: UA + RTCSession, as in its documentation (jssip.net/documentation/3.x).

function jssipAdapter() {
  JsSIP.debug.enable("JsSIP:*");
  const state = { ua: null, session: null, registered: null, incoming: [], ended: null, events: [] };
  const note = (what, extra) => state.events.push(Object.assign({ t: Math.round(performance.now()), what }, extra || {}));

  function endedPromise(session) {
    const done = deferred();
    session.on("ended", e => { note("ended", { originator: e.originator, cause: e.cause }); done.resolve({ outcome: "ended", originator: e.originator, cause: e.cause, status: e.message && e.message.status_code || null }); });
    session.on("failed", e => { note("failed", { originator: e.originator, cause: e.cause }); done.resolve({ outcome: "failed", originator: e.originator, cause: e.cause, status: e.message && e.message.status_code || null }); });
    return done.promise;
  }

  function watchMedia(session) {
    const hook = pc => pc.addEventListener("track", e => media.attach(e.streams[0] || new MediaStream([e.track])));
    if (session.connection) hook(session.connection);
    else session.on("peerconnection", e => hook(e.peerconnection));
  }

  return {
    name: "JsSIP " + JsSIP.version,

    // Starts a UA that registers (JsSIP's default: register on start).
    start({ ws, user, password, domain }) {
      const socket = new JsSIP.WebSocketInterface(ws);
      const ua = new JsSIP.UA({ sockets: [socket], uri: `sip:${user}@${domain}`, password });
      const registered = deferred();
      ua.on("registered", () => { note("registered"); registered.resolve({ outcome: "registered" }); });
      ua.on("registrationFailed", e => { note("registrationFailed", { cause: e.cause }); registered.resolve({ outcome: "failed", cause: e.cause, status: e.response && e.response.status_code || null }); });
      ua.on("connected", () => note("connected"));
      ua.on("disconnected", () => note("disconnected"));
      ua.on("newRTCSession", e => {
        if (e.originator !== "remote") return;
        note("incoming", { from: e.request.from.uri.toString() });
        state.incoming.push(e.session);
      });
      state.ua = ua;
      ua.start();
      return within(15000, "registration", registered.promise);
    },

    async stop() {
      if (!state.ua) return { outcome: "stopped" };
      const ua = state.ua;
      const gone = deferred();
      ua.once("disconnected", () => gone.resolve());
      ua.stop();
      await within(5000, "stop", gone.promise);
      state.ua = null;
      return { outcome: "stopped" };
    },

    async call(target, { reduceToOpus } = {}) {
      state.callStart = state.events.length;
      const stream = await media.microphone();
      const answered = deferred();
      const session = state.ua.call(target, {
        mediaStream: stream,
        eventHandlers: {
          sdp: e => { if (reduceToOpus && e.originator === "local" && e.type === "offer") e.sdp = opusOnly(e.sdp); },
          progress: e => note("progress", { status: e.response && e.response.status_code }),
          accepted: () => note("accepted"),
          confirmed: () => { note("confirmed"); answered.resolve({ outcome: "answered" }); },
        },
      });
      state.session = session;
      state.ended = endedPromise(session);
      watchMedia(session);
      return within(20000, "answer", Promise.race([answered.promise, state.ended]));
    },

    waitProgress(ms) { return ringing(state, ms); },

    hangup() {
      // Already ended (the other side was first): report how, rather than JsSIP's INVALID_STATE.
      if (!state.session.isEnded()) state.session.terminate();
      return within(10000, "end", state.ended);
    },
    waitEnded(ms) { return within(ms, "end", state.ended); },

    async waitIncomingAndAnswer(ms) {
      const end = performance.now() + ms;
      while (!state.incoming.length && performance.now() < end) await sleep(50);
      const session = state.incoming.shift();
      if (!session) return { outcome: "timeout", what: "incoming call" };
      state.session = session;
      state.ended = endedPromise(session);
      const confirmed = deferred();
      session.on("confirmed", () => { note("confirmed"); confirmed.resolve({ outcome: "answered" }); });
      session.on("peerconnection", e => e.peerconnection.addEventListener("track", t => media.attach(t.streams[0])));
      session.answer({ mediaStream: await media.microphone() });
      return within(15000, "confirmed", Promise.race([confirmed.promise, state.ended]));
    },

    hold() {
      const done = deferred();
      state.session.hold({}, () => done.resolve({ outcome: "held" }));
      return within(10000, "hold", done.promise);
    },
    unhold() {
      const done = deferred();
      state.session.unhold({}, () => done.resolve({ outcome: "resumed" }));
      return within(10000, "unhold", done.promise);
    },

    // JsSIP's default DTMF transport is SIP INFO (RTCSession.sendDTMF: transportType defaults to
    // JsSIP_C.DTMF_TRANSPORT.INFO), each tone an INFO with application/dtmf-relay.
    async dtmf(digits) {
      const sent = [];
      state.session.on("newDTMF", e => { if (e.originator === "local") sent.push(e.dtmf.tone); });
      state.session.sendDTMF(digits);
      const end = performance.now() + 10000;
      while (sent.length < digits.length && performance.now() < end) await sleep(50);
      await sleep(500);  // the last INFO's answer
      return { outcome: "sent", tones: sent.join(""), transport: "INFO" };
    },

    connection() { return state.session ? state.session.connection : null; },
  };
}

// ---------------------------------------------------------------------------------------------
// SIP.js 0.20: SimpleUser (SIP.Web.SimpleUser), its documented quick start.

function sipjsAdapter() {
  const state = { user: null, registered: null, ended: null, answered: null, incoming: false, events: [], heldAnswer: null };
  const note = (what, extra) => state.events.push(Object.assign({ t: Math.round(performance.now()), what }, extra || {}));
  let endedNow = deferred();

  function make({ ws, user, password, domain }) {
    const delegate = {
      onCallAnswered: () => { note("answered"); if (state.answered) state.answered.resolve({ outcome: "answered" }); },
      onCallHangup: () => { note("hangup"); endedNow.resolve({ outcome: "ended" }); },
      onCallReceived: () => { note("incoming"); state.incoming = true; },
      onCallHold: held => { note("hold", { held }); if (state.heldAnswer) state.heldAnswer.resolve({ outcome: held ? "held" : "resumed" }); },
      onRegistered: () => note("registered"),
      onUnregistered: () => note("unregistered"),
      onServerConnect: () => note("connected"),
      onServerDisconnect: e => note("disconnected", { error: e ? String(e) : null }),
    };
    return new SIP.Web.SimpleUser(ws, {
      aor: `sip:${user}@${domain}`,
      delegate,
      media: { remote: { audio: media.element || (media.element = document.body.appendChild(document.createElement("audio"))) } },
      userAgentOptions: { authorizationUsername: user, authorizationPassword: password },
    });
  }

  // SimpleUser plays the remote audio into the element itself; the analyser listens to the same
  // remote tracks.
  function watchMedia() {
    const sdh = state.user.session && state.user.session.sessionDescriptionHandler;
    const pc = sdh && sdh.peerConnection;
    if (!pc) return false;
    const tracks = pc.getReceivers().map(r => r.track).filter(t => t && t.kind === "audio");
    if (tracks.length) media.attach(new MediaStream(tracks));
    return true;
  }

  function watchEnd() {
    endedNow = deferred();
    state.ended = endedNow.promise;
    const session = state.user.session;
    if (session) session.stateChange.addListener(s => { note("session " + s); if (s === "Terminated") endedNow.resolve({ outcome: "ended" }); });
  }

  function requestDelegate(settle) {
    return {
      onProgress: r => note("progress", { status: r.message.statusCode }),
      onReject: r => { note("rejected", { status: r.message.statusCode }); settle({ outcome: "failed", status: r.message.statusCode, reason: r.message.reasonPhrase, cause: r.message.getHeader("Reason") || null }); },
    };
  }

  return {
    name: "SIP.js " + SIP.version,

    async start(options) {
      state.user = make(options);
      await state.user.connect();
      const done = deferred();
      state.user.register(undefined, { requestDelegate: {
        onAccept: () => done.resolve({ outcome: "registered" }),
        onReject: r => done.resolve({ outcome: "failed", status: r.message.statusCode, cause: r.message.reasonPhrase }),
      } }).catch(e => done.resolve({ outcome: "failed", cause: String(e) }));
      return within(15000, "registration", done.promise);
    },

    async stop() {
      if (!state.user) return { outcome: "stopped" };
      try { await state.user.unregister(); } catch (e) { console.warn("unregister: " + e); }
      try { await state.user.disconnect(); } catch (e) { console.warn("disconnect: " + e); }
      state.user = null;
      return { outcome: "stopped" };
    },

    async call(target, { reduceToOpus } = {}) {
      state.callStart = state.events.length;
      const done = deferred();
      state.answered = done;
      const modifiers = reduceToOpus ? [d => Promise.resolve({ type: d.type, sdp: d.type === "offer" ? opusOnly(d.sdp) : d.sdp })] : [];
      const options = {
        sessionDescriptionHandlerOptions: { constraints: { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false } },
        sessionDescriptionHandlerModifiers: modifiers,
      };
      const sending = state.user.call(target, options, { requestDelegate: requestDelegate(r => done.resolve(r)) });
      await sending.catch(e => done.resolve({ outcome: "failed", cause: String(e) }));
      watchEnd();
      // A rejected INVITE ends the session too; the rejection (status, reason) is the outcome.
      const ended = state.ended.then(async e => { await sleep(300); return done.value || e; });
      const outcome = await within(20000, "answer", Promise.race([done.promise, ended]));
      if (outcome.outcome === "answered") watchMedia();
      return outcome;
    },

    waitProgress(ms) { return ringing(state, ms); },

    async hangup() { await state.user.hangup(); return within(10000, "end", state.ended); },
    waitEnded(ms) { return within(ms, "end", state.ended); },

    async waitIncomingAndAnswer(ms) {
      const end = performance.now() + ms;
      while (!state.incoming && performance.now() < end) await sleep(50);
      if (!state.incoming) return { outcome: "timeout", what: "incoming call" };
      state.incoming = false;
      const done = deferred();
      state.answered = done;
      watchEnd();
      await state.user.answer({ sessionDescriptionHandlerOptions: { constraints: { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false } } });
      const outcome = await within(15000, "answered", Promise.race([done.promise, state.ended]));
      if (outcome.outcome === "answered") watchMedia();
      return outcome;
    },

    async hold() { state.heldAnswer = deferred(); await state.user.hold(); return within(10000, "hold", state.heldAnswer.promise); },
    async unhold() { state.heldAnswer = deferred(); await state.user.unhold(); return within(10000, "unhold", state.heldAnswer.promise); },

    // SimpleUser.sendDTMF sends each tone as a SIP INFO with application/dtmf-relay; the
    // SessionDescriptionHandler's sendDtmf sends RFC 4733 events in the media (RTCDTMFSender).
    async dtmf(digits, { rfc4733 } = {}) {
      if (rfc4733) {
        const ok = state.user.session.sessionDescriptionHandler.sendDtmf(digits, { duration: 100, interToneGap: 70 });
        await sleep(digits.length * 200 + 800);
        return { outcome: ok ? "sent" : "refused", tones: ok ? digits : "", transport: "RFC 4733" };
      }
      for (const tone of digits) await state.user.sendDTMF(tone);
      await sleep(500);
      return { outcome: "sent", tones: digits, transport: "INFO" };
    },

    connection() {
      const sdh = state.user && state.user.session && state.user.session.sessionDescriptionHandler;
      return sdh ? sdh.peerConnection : null;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The command loop.

const phone = params.get("lib") === "sipjs" ? sipjsAdapter() : jssipAdapter();
window.phone = phone;
window.media = media;

async function post(path, body) {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      return;
    } catch (e) { await sleep(200); }
  }
}

async function loop() {
  await post("/hello", { library: phone.name, userAgent: navigator.userAgent });
  for (;;) {
    let command;
    try {
      command = await (await fetch("/command")).json();
    } catch (e) { await sleep(200); continue; }
    if (command.quit) return;
    run(command);  // not awaited: a command may wait for something another one brings about
  }
}

async function run(command) {
  let result, error = null;
  try {
    result = await (new Function("phone", "media", "sleep", `return (async () => { ${command.body} })();`))(phone, media, sleep);
  } catch (e) {
    error = e ? `${e.name || "Error"}: ${e.message || e}\n${e.stack || ""}` : String(e);
  }
  await post("/result", { id: command.id, result: result === undefined ? null : result, error, log: window.pageLog.splice(0) });
}

loop();
