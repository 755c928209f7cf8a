"use strict";
(function () {
  const $ = id => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  // ---------------------------------------------------------------- helpers
  function token(length) {
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    let out = "";
    for (const b of bytes) out += alphabet[b % alphabet.length];
    return out;
  }
  const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

  // MD5 (RFC 1321) over the UTF-8 bytes of a string; lower-case hex.
  const md5 = (function () {
    const shifts = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    const table = [];
    for (let i = 0; i < 64; i++) table.push(Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) >>> 0);
    return function (text) {
      const input = new TextEncoder().encode(text);
      const n = input.length;
      const total = (((n + 8) >>> 6) + 1) * 64;
      const data = new Uint8Array(total);
      data.set(input);
      data[n] = 0x80;
      const bits = n * 8;
      const view = new DataView(data.buffer);
      view.setUint32(total - 8, bits >>> 0, true);
      view.setUint32(total - 4, Math.floor(bits / 4294967296), true);
      let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
      const words = new Array(16);
      for (let offset = 0; offset < total; offset += 64) {
        for (let j = 0; j < 16; j++) words[j] = view.getUint32(offset + 4 * j, true);
        let a = a0, b = b0, c = c0, d = d0;
        for (let i = 0; i < 64; i++) {
          let f, g;
          if (i < 16) { f = (b & c) | (~b & d); g = i; }
          else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
          else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
          else { f = c ^ (b | ~d); g = (7 * i) % 16; }
          f = (f + a + table[i] + words[g]) | 0;
          a = d; d = c; c = b;
          const s = shifts[(i >> 4) * 4 + (i % 4)];
          b = (b + ((f << s) | (f >>> (32 - s)))) | 0;
        }
        a0 = (a0 + a) | 0; b0 = (b0 + b) | 0; c0 = (c0 + c) | 0; d0 = (d0 + d) | 0;
      }
      let hex = "";
      for (const word of [a0, b0, c0, d0]) {
        for (let k = 0; k < 4; k++) hex += ((word >>> (8 * k)) & 0xff).toString(16).padStart(2, "0");
      }
      return hex;
    };
  })();

  async function sha256(text) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
  }

  // ---------------------------------------------------------------- SIP messages
  const compact = { i: "call-id", m: "contact", e: "content-encoding", l: "content-length", c: "content-type",
                    f: "from", s: "subject", k: "supported", t: "to", v: "via" };

  // Splits a header value on commas outside quotes and angle brackets.
  function splitList(value) {
    const parts = [];
    let depth = 0, quoted = false, start = 0;
    for (let i = 0; i < value.length; i++) {
      const ch = value[i];
      if (ch === '"' && value[i - 1] !== "\\") quoted = !quoted;
      else if (!quoted && ch === "<") depth++;
      else if (!quoted && ch === ">") depth--;
      else if (!quoted && depth === 0 && ch === ",") { parts.push(value.slice(start, i).trim()); start = i + 1; }
    }
    parts.push(value.slice(start).trim());
    return parts.filter(p => p.length > 0);
  }

  function parseMessage(text) {
    const split = text.indexOf("\r\n\r\n");
    const head = split >= 0 ? text.slice(0, split) : text;
    const body = split >= 0 ? text.slice(split + 4) : "";
    const lines = head.split("\r\n");
    const first = lines.shift() || "";
    const message = { headers: {}, body: body };
    let match;
    if ((match = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/i.exec(first))) {
      message.status = parseInt(match[1], 10);
      message.reason = match[2];
    } else if ((match = /^([A-Za-z]+)\s+(\S+)\s+SIP\/2\.0$/i.exec(first))) {
      message.method = match[1].toUpperCase();
      message.uri = match[2];
    } else {
      return null;
    }
    const unfolded = [];
    for (const line of lines) {
      if (/^[ \t]/.test(line) && unfolded.length) unfolded[unfolded.length - 1] += " " + line.trim();
      else unfolded.push(line);
    }
    for (const line of unfolded) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      let name = line.slice(0, colon).trim().toLowerCase();
      name = compact[name] || name;
      const value = line.slice(colon + 1).trim();
      (message.headers[name] = message.headers[name] || []).push(value);
    }
    return message;
  }
  const header = (message, name) => (message.headers[name] || [])[0] || "";
  const headerList = (message, name) => (message.headers[name] || []).flatMap(splitList);

  function uriOf(nameAddr) {
    const open = nameAddr.indexOf("<");
    if (open >= 0) return nameAddr.slice(open + 1, nameAddr.indexOf(">", open));
    return nameAddr.split(";")[0].trim();
  }
  function tagOf(nameAddr) {
    const close = nameAddr.lastIndexOf(">");
    const params = close >= 0 ? nameAddr.slice(close + 1) : nameAddr;
    const match = /;\s*tag=([^;\s]+)/i.exec(params);
    return match ? match[1] : null;
  }
  function userOf(nameAddr) {
    const match = /^(?:sips?|tel):([^@;>]+)/i.exec(uriOf(nameAddr));
    const display = /^\s*"([^"]*)"/.exec(nameAddr);
    return (display && display[1] ? display[1] + " " : "") + (match ? match[1] : uriOf(nameAddr));
  }
  function cseqOf(message) {
    const match = /^(\d+)\s+(\S+)/.exec(header(message, "cseq"));
    return match ? { number: parseInt(match[1], 10), method: match[2].toUpperCase() } : { number: 0, method: "" };
  }
  function branchOf(message) {
    const match = /;\s*branch=([^;,\s]+)/i.exec(header(message, "via"));
    return match ? match[1] : null;
  }
  function authParams(value) {
    const out = {};
    const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
    let match;
    while ((match = re.exec(value))) out[match[1].toLowerCase()] = match[2] !== undefined ? match[2] : match[3];
    return out;
  }

  function serialize(startLine, headers, body) {
    let text = startLine + "\r\n";
    for (const [name, value] of headers) text += name + ": " + value + "\r\n";
    text += "Content-Length: " + new TextEncoder().encode(body || "").length + "\r\n\r\n";
    return text + (body || "");
  }

  // ---------------------------------------------------------------- state
  const phone = {
    ws: null, wsURL: "", user: "", password: "", domain: "",
    viaHost: token(10) + ".invalid", instance: token(8),
    transactions: new Map(),       // branch + " " + method -> { onResponse, timer }
    registration: { state: "unregistered", callId: null, fromTag: null, cseq: 0, expires: 600, refresh: null, waiters: [] },
    call: null,
    callState: "idle",             // what the state badge shows
    idleTimer: null,
    events: [],
    lastError: null,
  };

  function record(event, detail) {
    phone.events.push({ event: event, detail: detail || null, at: Date.now() });
    if (phone.events.length > 200) phone.events.shift();
  }
  function log(direction, text) {
    const pre = $("log");
    const first = text.split("\r\n")[0];
    pre.textContent += new Date().toISOString().slice(11, 23) + " " + direction + " " + first + "\n";
    if (pre.textContent.length > 20000) pre.textContent = pre.textContent.slice(-15000);
    pre.scrollTop = pre.scrollHeight;
    if (params.get("verbose") === "1") console.log(direction + "\n" + text);
  }
  function say(text, bad) {
    const el = $("message");
    el.textContent = text || "";
    el.className = bad ? "bad" : "";
    if (bad) { phone.lastError = text; record("error", text); }
  }
  function badge(el, text, kind) { el.textContent = text; el.className = "badge " + kind; }

  function contactURI() { return "sip:" + phone.user + "@" + phone.viaHost + ";transport=ws"; }
  function aor() { return "sip:" + phone.user + "@" + phone.domain; }
  function viaTransport() { return phone.wsURL.toLowerCase().startsWith("wss:") ? "WSS" : "WS"; }

  // ---------------------------------------------------------------- transport
  function connect() {
    if (phone.ws && phone.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    if (phone.ws && phone.ws.readyState === WebSocket.CONNECTING) {
      return new Promise((resolve, reject) => {
        phone.ws.addEventListener("open", () => resolve(), { once: true });
        phone.ws.addEventListener("close", () => reject(new Error("cannot connect to " + phone.wsURL)), { once: true });
      });
    }
    return new Promise((resolve, reject) => {
      let ws;
      try { ws = new WebSocket(phone.wsURL, "sip"); } catch (e) { reject(new Error("bad WebSocket URL: " + e.message)); return; }
      phone.ws = ws;
      let opened = false;
      ws.onopen = () => {
        if (ws.protocol !== "sip") { ws.close(); reject(new Error("the server did not accept the \"sip\" sub-protocol")); return; }
        opened = true; record("connected", phone.wsURL); resolve();
      };
      ws.onmessage = event => { if (typeof event.data === "string") receive(event.data); };
      ws.onclose = event => {
        if (phone.ws === ws) phone.ws = null;
        if (!opened) { reject(new Error("cannot connect to " + phone.wsURL + " (WebSocket closed, code " + event.code + ")")); return; }
        record("disconnected", event.code);
        for (const [, t] of phone.transactions) { clearTimeout(t.timer); }
        phone.transactions.clear();
        if (phone.registration.state !== "unregistered") setRegistration("failed", "Connection to the server lost");
        if (phone.call) endCall("Connection to the server lost", true);
      };
    });
  }

  function sendRaw(text) {
    if (!phone.ws || phone.ws.readyState !== WebSocket.OPEN) throw new Error("not connected to the server");
    log("\u2192", text);
    phone.ws.send(text);
  }

  // Sends a request in a new client transaction (or the INVITE's own branch for ACK/CANCEL).
  // Responses find their transaction by branch and CSeq method: a CANCEL shares its INVITE's branch.
  function sendRequest(method, uri, headers, body, onResponse, branch) {
    branch = branch || "z9hG4bK" + token(16);
    const all = [["Via", "SIP/2.0/" + viaTransport() + " " + phone.viaHost + ";branch=" + branch], ["Max-Forwards", "70"]]
      .concat(headers, [["User-Agent", "Tandem demo phone"]]);
    if (onResponse) {
      const key = branch + " " + method;
      const entry = { onResponse: onResponse, timer: null };
      if (method !== "INVITE") {
        entry.timer = setTimeout(() => {
          phone.transactions.delete(key);
          onResponse({ status: 408, reason: "Request Timeout (no answer from the server)", headers: {}, body: "" });
        }, 32000);
      }
      phone.transactions.set(key, entry);
    }
    sendRaw(serialize(method + " " + uri + " SIP/2.0", all, body));
    return branch;
  }

  function respond(request, status, reason, extra, body) {
    const headers = [];
    for (const via of headerList(request, "via")) headers.push(["Via", via]);
    if (status >= 180 && status < 300) for (const rr of headerList(request, "record-route")) headers.push(["Record-Route", rr]);
    headers.push(["From", header(request, "from")]);
    let to = header(request, "to");
    if (status !== 100 && !tagOf(to)) to += ";tag=" + (request.localTag || (request.localTag = token(10)));
    headers.push(["To", to]);
    headers.push(["Call-ID", header(request, "call-id")]);
    headers.push(["CSeq", header(request, "cseq")]);
    for (const h of extra || []) headers.push(h);
    headers.push(["User-Agent", "Tandem demo phone"]);
    sendRaw(serialize("SIP/2.0 " + status + " " + reason, headers, body));
  }

  function receive(text) {
    log("\u2190", text);
    const message = parseMessage(text);
    if (!message) return;
    if (message.status) {
      const key = branchOf(message) + " " + cseqOf(message).method;
      const entry = phone.transactions.get(key);
      if (entry) {
        if (message.status >= 200) { phone.transactions.delete(key); clearTimeout(entry.timer); }
        entry.onResponse(message);
      } else if (message.status >= 200 && message.status < 300 && cseqOf(message).method === "INVITE") {
        // A retransmitted 2xx: its ACK got lost or crossed it; acknowledge again.
        const call = phone.call;
        if (call && call.callId === header(message, "call-id") && call.lastAck) sendRaw(call.lastAck);
      }
      return;
    }
    try { handleRequest(message); } catch (e) { console.error(e); }
  }

  // ---------------------------------------------------------------- digest
  async function authorization(response, method, uri) {
    const name = response.status === 407 ? "proxy-authenticate" : "www-authenticate";
    const challenges = (response.headers[name] || []).map(v => ({ scheme: v.split(/\s+/)[0].toLowerCase(), p: authParams(v.replace(/^\S+\s*/, "")) }));
    const usable = challenges.filter(c => c.scheme === "digest").find(c => {
      const algorithm = (c.p.algorithm || "MD5").toUpperCase();
      return algorithm === "MD5" || (algorithm === "SHA-256" && window.crypto && crypto.subtle);
    });
    if (!usable) return null;
    const c = usable.p;
    const algorithm = (c.algorithm || "MD5").toUpperCase();
    const hash = algorithm === "SHA-256" ? sha256 : async text => md5(text);
    const qop = c.qop ? (c.qop.split(",").map(s => s.trim()).includes("auth") ? "auth" : null) : null;
    if (c.qop && !qop) return null;
    const ha1 = await hash(phone.user + ":" + c.realm + ":" + phone.password);
    const ha2 = await hash(method + ":" + uri);
    const cnonce = token(16), nc = "00000001";
    const response_ = qop ? await hash([ha1, c.nonce, nc, cnonce, qop, ha2].join(":")) : await hash([ha1, c.nonce, ha2].join(":"));
    let value = 'Digest username="' + phone.user + '", realm="' + c.realm + '", nonce="' + c.nonce + '", uri="' + uri +
      '", response="' + response_ + '", algorithm=' + algorithm;
    if (qop) value += ", qop=" + qop + ", nc=" + nc + ', cnonce="' + cnonce + '"';
    if (c.opaque !== undefined) value += ', opaque="' + c.opaque + '"';
    return [response.status === 407 ? "Proxy-Authorization" : "Authorization", value];
  }

  // ---------------------------------------------------------------- registration
  function setRegistration(state, detail) {
    const r = phone.registration;
    r.state = state;
    const label = { registered: ["registered as " + phone.user, "ok"], registering: ["registering\u2026", "busy"],
                    unregistered: ["not registered", "off"], failed: ["registration failed", "bad"] }[state];
    badge($("registration"), label[0], label[1]);
    $("register").disabled = state === "registering";
    $("unregister").disabled = state !== "registered";
    $("call").disabled = state !== "registered" || !!phone.call;
    $("testcall").disabled = $("call").disabled;
    if (state === "failed") say(detail, true);
    record(state, detail);
    if (state !== "registering") { const waiters = r.waiters; r.waiters = []; waiters.forEach(w => w(state)); }
  }

  function readForm() {
    phone.wsURL = $("ws").value.trim();
    phone.user = $("user").value.trim();
    phone.password = $("password").value;
    let host = "";
    try { host = new URL(phone.wsURL).hostname; } catch (e) { host = ""; }
    phone.domain = $("domain").value.trim() || host;
  }

  async function register() {
    readForm();
    const r = phone.registration;
    if (!phone.user) { setRegistration("failed", "Registration refused: no user given"); return r.state; }
    setRegistration("registering");
    try { await connect(); } catch (e) { setRegistration("failed", "Registration failed: " + e.message); return r.state; }
    r.callId = r.callId || token(20);
    r.fromTag = r.fromTag || token(10);
    const done = new Promise(resolve => r.waiters.push(resolve));
    sendRegister(r.expires, null, 0);
    return done;
  }

  function sendRegister(expires, auth, attempt) {
    const r = phone.registration;
    const uri = "sip:" + phone.domain;
    const headers = [
      ["From", "<" + aor() + ">;tag=" + r.fromTag], ["To", "<" + aor() + ">"], ["Call-ID", r.callId],
      ["CSeq", ++r.cseq + " REGISTER"],
      ["Contact", "<" + contactURI() + ">;+sip.instance=\"<urn:uuid:" + phone.instance + ">\""],
      ["Expires", String(expires)], ["Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"],
    ];
    if (auth) headers.push(auth);
    sendRequest("REGISTER", uri, headers, "", async response => {
      if (response.status < 200) return;
      if ((response.status === 401 || response.status === 407) && attempt < 2) {
        const stale = /stale\s*=\s*"?true/i.test((response.headers["www-authenticate"] || []).join(" "));
        if (auth && !stale) { failRegistration(response); return; }
        const credentials = await authorization(response, "REGISTER", uri);
        if (!credentials) { setRegistration("failed", "Registration refused: no digest challenge this phone can answer"); return; }
        sendRegister(expires, credentials, attempt + 1);
        return;
      }
      if (response.status >= 200 && response.status < 300) {
        if (expires === 0) { clearTimeout(r.refresh); setRegistration("unregistered"); return; }
        let granted = parseInt(header(response, "expires"), 10);
        for (const contact of headerList(response, "contact")) {
          const match = /;\s*expires=(\d+)/i.exec(contact);
          if (match && uriOf(contact).includes(phone.viaHost)) granted = parseInt(match[1], 10);
        }
        if (!(granted > 0)) granted = expires;
        clearTimeout(r.refresh);
        r.refresh = setTimeout(() => { if (r.state === "registered") sendRegister(r.expires, null, 0); },
                               Math.max(5, granted - Math.min(60, granted / 4)) * 1000);
        setRegistration("registered", granted);
        say("Registered as " + phone.user + " (" + granted + " s)");
        return;
      }
      failRegistration(response);
    });
  }

  function failRegistration(response) {
    clearTimeout(phone.registration.refresh);
    setRegistration("failed", "Registration refused: " + response.status + " " + response.reason);
  }

  async function unregister() {
    const r = phone.registration;
    if (r.state !== "registered") return r.state;
    const done = new Promise(resolve => r.waiters.push(resolve));
    sendRegister(0, null, 0);
    return done;
  }

  // ---------------------------------------------------------------- media
  async function microphone() {
    const raw = params.get("raw") === "1";
    const audio = raw ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("no microphone access: open this page from localhost or over HTTPS");
    }
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: audio, video: false });
    } catch (e) {
      throw new Error("no microphone: " + (e.message || e.name));
    }
  }

  function peerConnection(call) {
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    pc.ontrack = event => {
      const audio = $("remote");
      audio.srcObject = event.streams && event.streams[0] ? event.streams[0] : new MediaStream([event.track]);
      audio.play().catch(e => console.log("play(): " + e));
    };
    pc.onconnectionstatechange = () => {
      record("media-" + pc.connectionState);
      if (pc.connectionState === "failed" && phone.call === call) {
        hangupWith("Media failed: no connection to the gateway (ICE or DTLS failed)", true);
      }
    };
    return pc;
  }

  function gathered(pc, limit) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise(resolve => {
      const timer = setTimeout(resolve, limit || 5000);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  // ---------------------------------------------------------------- calls
  function setCallState(state) {
    const call = phone.call;
    if (call) call.state = state;
    phone.callState = state;
    const kinds = { calling: "busy", ringing: "busy", incoming: "busy", answering: "busy", "in call": "ok", held: "busy", idle: "off", ended: "off" };
    badge($("state"), state, kinds[state] || "off");
    const active = call && ["calling", "ringing", "answering", "in call", "held", "incoming"].includes(state);
    $("hangup").disabled = !active;
    $("mute").disabled = !(call && ["in call", "held"].includes(state));
    $("hold").disabled = !(call && ["in call", "held"].includes(state));
    $("call").disabled = !!active || phone.registration.state !== "registered";
    $("testcall").disabled = $("call").disabled;
    $("incoming").hidden = !(call && state === "incoming");
    $("hold").textContent = state === "held" ? "Resume" : "Hold";
    $("hold").classList.toggle("on", state === "held");
    $("mute").textContent = call && call.muted ? "Unmute" : "Mute";
    $("mute").classList.toggle("on", !!(call && call.muted));
    record("call-" + state);
  }

  // Empties the call panel for a new call: figures appear once it has media.
  function clearPanel(peer) {
    for (const id of ["s-duration", "s-codec", "s-sent", "s-received", "s-lost", "s-jitter", "s-rtt", "s-dtmf"]) $(id).textContent = "-";
    $("s-level").value = 0;
    $("s-peer").textContent = peer;
  }

  function dialogHeaders(call, method, extra) {
    const headers = [];
    for (const route of call.routeSet) headers.push(["Route", route]);
    headers.push(["From", call.localName + ";tag=" + call.localTag]);
    headers.push(["To", call.remoteName + (call.remoteTag ? ";tag=" + call.remoteTag : "")]);
    headers.push(["Call-ID", call.callId]);
    headers.push(["CSeq", (method === "ACK" ? call.inviteSeq : ++call.localSeq) + " " + method]);
    return headers.concat(extra || []);
  }

  async function call(number) {
    number = String(number || $("number").value).trim();
    if (!number) throw new Error("no number to call");
    $("number").value = number;
    if (phone.call) throw new Error("already in a call");
    if (phone.registration.state !== "registered") readForm();
    await connect();
    const target = /^sips?:/i.test(number) ? number : "sip:" + (number.includes("@") ? number : number + "@" + phone.domain);
    const c = {
      direction: "out", callId: token(20), localTag: token(10), remoteTag: null,
      localName: "<" + aor() + ">", remoteName: "<" + target + ">", requestURI: target, remoteTarget: target,
      routeSet: [], localSeq: Math.floor(Math.random() * 1000) + 1, inviteSeq: 0, peer: number,
      pc: null, stream: null, muted: false, held: false, started: null, dtmfSent: "", cancelled: false,
    };
    phone.call = c;
    phone.lastError = null;
    clearPanel(number);
    say("Calling " + number + "\u2026");
    setCallState("calling");
    try {
      c.stream = await microphone();
      c.pc = peerConnection(c);
      for (const track of c.stream.getAudioTracks()) c.pc.addTrack(track, c.stream);
      await c.pc.setLocalDescription(await c.pc.createOffer());
      await gathered(c.pc);
    } catch (e) {
      endCall("Call failed: " + e.message, true);
      return "failed";
    }
    if (c.cancelled) { endCall("Call cancelled"); return "cancelled"; }
    const finished = new Promise(resolve => { c.settle = resolve; });
    sendInvite(c, null, 0);
    return finished;
  }

  function sendInvite(c, auth, attempt) {
    const extra = [["Contact", "<" + contactURI() + ">"], ["Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"],
                   ["Content-Type", "application/sdp"]];
    if (auth) extra.push(auth);
    const headers = dialogHeaders(c, "INVITE", extra);
    c.inviteSeq = c.localSeq;
    c.inviteHeaders = headers.filter(h => ["Route", "From", "To", "Call-ID"].includes(h[0]));
    c.inviteBranch = sendRequest("INVITE", c.requestURI, headers, c.pc.localDescription.sdp, response => onInviteResponse(c, response, attempt));
    c.provisional = false;
  }

  function ackNon2xx(c, response) {
    const headers = c.inviteHeaders.map(h => h[0] === "To" ? ["To", header(response, "to")] : h);
    headers.push(["CSeq", c.inviteSeq + " ACK"]);
    sendRequest("ACK", c.requestURI, headers, "", null, c.inviteBranch);
  }

  async function onInviteResponse(c, response, attempt) {
    if (phone.call !== c) { if (response.status >= 300) ackNon2xx(c, response); return; }
    if (response.status < 200) {
      if (response.status === 100) return;
      c.provisional = true;
      if (c.cancelled) { sendCancel(c); return; }
      c.remoteTag = tagOf(header(response, "to")) || c.remoteTag;
      if (response.status === 180 || response.status === 183) {
        setCallState("ringing");
        say("Ringing " + c.peer + "\u2026");
      }
      if (response.body && response.body.trim() && c.pc.signalingState === "have-local-offer") {
        try { await c.pc.setRemoteDescription({ type: "pranswer", sdp: response.body }); c.earlyMedia = true; } catch (e) { console.log("early media: " + e); }
      }
      return;
    }
    if (response.status < 300) {
      c.remoteTag = tagOf(header(response, "to"));
      const contact = headerList(response, "contact")[0];
      if (contact) c.remoteTarget = uriOf(contact);
      c.routeSet = headerList(response, "record-route").reverse();
      const ack = dialogHeaders(c, "ACK", []);
      const branch = "z9hG4bK" + token(16);
      sendRequest("ACK", c.remoteTarget, ack, "", null, branch);
      c.lastAck = serialize("ACK " + c.remoteTarget + " SIP/2.0",
        [["Via", "SIP/2.0/" + viaTransport() + " " + phone.viaHost + ";branch=" + branch], ["Max-Forwards", "70"]].concat(ack), "");
      if (c.cancelled) { sendBye(c, []); endCall(c.endText, c.endBad); return; }
      try {
        await c.pc.setRemoteDescription({ type: "answer", sdp: response.body });
      } catch (e) {
        hangupWith("Media failed: the gateway's answer was not accepted (" + e.message + ")", true);
        return;
      }
      c.started = Date.now();
      setCallState("in call");
      say("In call with " + c.peer);
      if (c.settle) c.settle("answered");
      return;
    }
    ackNon2xx(c, response);
    if ((response.status === 401 || response.status === 407) && attempt < 1 && !c.cancelled) {
      c.remoteTag = null;
      const credentials = await authorization(response, "INVITE", c.requestURI);
      if (credentials) { sendInvite(c, credentials, attempt + 1); return; }
    }
    if (c.cancelled) { endCall(c.endText, c.endBad); return; }
    let text = "Call rejected: " + response.status + " " + response.reason;
    const why = header(response, "warning") || header(response, "reason");
    if (why) text += " \u2014 " + why;
    endCall(text, true, response.status);
  }

  function sendCancel(c) {
    if (c.cancelSent) return;
    c.cancelSent = true;
    const headers = c.inviteHeaders.slice();
    headers.push(["CSeq", c.inviteSeq + " CANCEL"]);
    sendRequest("CANCEL", c.requestURI, headers, "", () => {}, c.inviteBranch);
  }

  function handleRequest(request) {
    const callId = header(request, "call-id");
    const c = phone.call && phone.call.callId === callId ? phone.call : null;
    switch (request.method) {
    case "INVITE":
      if (c && tagOf(header(request, "to"))) { onReinvite(c, request); return; }
      if (c && c.direction === "in" && c.invite && branchOf(c.invite) === branchOf(request)) return;  // retransmission
      if (phone.call) { respond(request, 486, "Busy Here"); return; }
      onIncoming(request);
      return;
    case "ACK":
      if (c && c.awaitingAck) {
        c.awaitingAck = false;
        if (c.ackAnswerExpected && request.body.trim()) {
          c.ackAnswerExpected = false;
          c.pc.setRemoteDescription({ type: "answer", sdp: request.body }).catch(e => console.log(e));
        }
        record("ack");
      }
      return;
    case "BYE":
      if (!c) { respond(request, 481, "Call/Transaction Does Not Exist"); return; }
      respond(request, 200, "OK");
      {
        const reason = header(request, "reason");
        const text = (/text="([^"]*)"/.exec(reason) || [])[1];
        const cause = parseInt((/cause=(\d+)/.exec(reason) || [])[1], 10);
        if (reason && cause >= 400) endCall("Media failed: " + (text || reason) + " \u2014 call ended by the gateway", true);
        else if (reason && text) endCall("Call ended by the other side: " + text);
        else endCall("Call ended by the other side");
      }
      return;
    case "CANCEL":
      if (c && c.direction === "in" && c.state !== "in call" && c.invite && branchOf(c.invite) === branchOf(request)) {
        respond(request, 200, "OK");
        respond(c.invite, 487, "Request Terminated");
        endCall("Missed call from " + c.peer + " (the caller hung up)");
      } else {
        respond(request, 481, "Call/Transaction Does Not Exist");
      }
      return;
    case "OPTIONS":
      respond(request, 200, "OK", [["Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"], ["Accept", "application/sdp"]]);
      return;
    case "INFO": case "UPDATE": case "NOTIFY": case "MESSAGE":
      respond(request, c || request.method === "MESSAGE" ? 200 : 481, c || request.method === "MESSAGE" ? "OK" : "Call/Transaction Does Not Exist");
      return;
    default:
      respond(request, 501, "Not Implemented");
    }
  }

  function onIncoming(request) {
    const from = header(request, "from");
    const c = {
      direction: "in", callId: header(request, "call-id"), localTag: token(10), remoteTag: tagOf(from),
      localName: "<" + uriOf(header(request, "to")) + ">", remoteName: from.replace(/;\s*tag=[^;\s]+/i, ""),
      remoteTarget: uriOf(headerList(request, "contact")[0] || from), routeSet: headerList(request, "record-route"),
      localSeq: Math.floor(Math.random() * 1000) + 1, inviteSeq: 0, remoteSeq: cseqOf(request).number,
      peer: userOf(from), invite: request, pc: null, stream: null, muted: false, held: false, started: null, dtmfSent: "",
    };
    request.localTag = c.localTag;
    phone.call = c;
    phone.lastError = null;
    respond(request, 180, "Ringing", [["Contact", "<" + contactURI() + ">"]]);
    $("caller").textContent = c.peer;
    clearPanel(c.peer);
    say("Incoming call from " + c.peer);
    setCallState("incoming");
    if ($("autoanswer").checked) answer().catch(e => console.log(e));
  }

  async function answer() {
    const c = phone.call;
    if (!c || c.direction !== "in" || c.state !== "incoming") throw new Error("no incoming call to answer");
    setCallState("answering");
    try {
      c.stream = await microphone();
      c.pc = peerConnection(c);
      await c.pc.setRemoteDescription({ type: "offer", sdp: c.invite.body });
      for (const track of c.stream.getAudioTracks()) c.pc.addTrack(track, c.stream);
      await c.pc.setLocalDescription(await c.pc.createAnswer());
      await gathered(c.pc);
    } catch (e) {
      if (phone.call === c) {
        respond(c.invite, 488, "Not Acceptable Here");
        endCall("Call failed: " + e.message, true);
      }
      return "failed";
    }
    if (phone.call !== c) return "cancelled";
    c.awaitingAck = true;
    respond(c.invite, 200, "OK", [["Contact", "<" + contactURI() + ">"], ["Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"],
                                  ["Content-Type", "application/sdp"]], c.pc.localDescription.sdp);
    c.started = Date.now();
    setCallState("in call");
    say("In call with " + c.peer);
    return "answered";
  }

  function decline() {
    const c = phone.call;
    if (!c || c.direction !== "in" || c.state !== "incoming") return false;
    respond(c.invite, 486, "Busy Here");
    endCall("Call declined");
    return true;
  }

  async function onReinvite(c, request) {
    const cseq = cseqOf(request).number;
    if (cseq <= (c.remoteSeq || 0)) return;
    c.remoteSeq = cseq;
    request.localTag = c.localTag;
    const ok = [["Contact", "<" + contactURI() + ">"], ["Content-Type", "application/sdp"]];
    try {
      if (request.body && request.body.trim()) {
        await c.pc.setRemoteDescription({ type: "offer", sdp: request.body });
        await c.pc.setLocalDescription(await c.pc.createAnswer());
      } else {
        await c.pc.setLocalDescription(await c.pc.createOffer());
        c.ackAnswerExpected = true;
      }
      c.awaitingAck = true;
      respond(request, 200, "OK", ok, c.pc.localDescription.sdp);
      const heldByPeer = /a=(sendonly|inactive)/.test(request.body || "");
      record(heldByPeer ? "held-by-peer" : "reinvite");
    } catch (e) {
      respond(request, 488, "Not Acceptable Here");
    }
  }

  // Hold (sendonly) or resume (sendrecv) with a re-INVITE; resolves when it is answered.
  async function setDirection(direction) {
    const c = phone.call;
    if (!c || !c.pc || !["in call", "held"].includes(c.state)) throw new Error("no call to " + (direction === "sendrecv" ? "resume" : "hold"));
    if (c.pending) throw new Error("a re-INVITE is already under way");
    const transceiver = c.pc.getTransceivers().find(t => t.receiver.track && t.receiver.track.kind === "audio");
    const previous = transceiver.direction;
    transceiver.direction = direction;
    await c.pc.setLocalDescription(await c.pc.createOffer());
    await gathered(c.pc);
    c.pending = true;
    return new Promise(resolve => {
      const headers = dialogHeaders(c, "INVITE", [["Contact", "<" + contactURI() + ">"], ["Content-Type", "application/sdp"]]);
      const seq = c.localSeq;
      sendRequest("INVITE", c.remoteTarget, headers, c.pc.localDescription.sdp, async response => {
        if (response.status < 200) return;
        c.pending = false;
        if (response.status < 300) {
          const ack = dialogHeaders(c, "ACK", []).map(h => h[0] === "CSeq" ? ["CSeq", seq + " ACK"] : h);
          sendRequest("ACK", c.remoteTarget, ack, "", null);
          try {
            await c.pc.setRemoteDescription({ type: "answer", sdp: response.body });
          } catch (e) {
            hangupWith("Media failed: the answer to the re-INVITE was not accepted (" + e.message + ")", true);
            resolve("failed");
            return;
          }
          c.held = direction !== "sendrecv";
          setCallState(c.held ? "held" : "in call");
          say(c.held ? "Call on hold" : "In call with " + c.peer);
          resolve(c.held ? "held" : "resumed");
          return;
        }
        const headersForAck = headers.filter(h => ["Route", "From", "To", "Call-ID"].includes(h[0]));
        headersForAck.push(["CSeq", seq + " ACK"]);
        sendRequest("ACK", c.remoteTarget, headersForAck, "", null, branchOf(response));
        try { await c.pc.setLocalDescription({ type: "rollback" }); } catch (e) { console.log(e); }
        transceiver.direction = previous;
        say((direction === "sendrecv" ? "Resume" : "Hold") + " refused: " + response.status + " " + response.reason, true);
        if (response.status === 408 || response.status === 481) endCall("Call lost: " + response.status + " " + response.reason, true);
        resolve("refused");
      });
    });
  }

  // Ends the call from this side: CANCEL before an answer (the call ends on the INVITE's final
  // response, or after 4 s without one), a 486 for a ringing incoming call, BYE once answered.
  function hangupWith(text, bad) {
    const c = phone.call;
    if (!c) return false;
    if (c.direction === "out" && !c.started) {
      if (c.cancelled) return true;
      c.cancelled = true;
      c.endText = bad ? text : "Call cancelled";
      c.endBad = bad;
      if (c.provisional) sendCancel(c);
      if (!c.inviteBranch) endCall(c.endText, bad);
      else { say("Cancelling\u2026"); setTimeout(() => { if (phone.call === c) endCall(c.endText, bad); }, 4000); }
      return true;
    }
    if (c.direction === "in" && !c.started) {
      if (c.invite) respond(c.invite, 486, "Busy Here");
      endCall(text, bad);
      return true;
    }
    sendBye(c, bad ? [["Reason", 'SIP;cause=500;text="' + text.replace(/"/g, "'") + '"']] : []);
    endCall(text, bad);
    return true;
  }
  function hangup() { return hangupWith("Call ended"); }

  function sendBye(c, extra) {
    try { sendRequest("BYE", c.remoteTarget, dialogHeaders(c, "BYE", extra), "", () => {}); } catch (e) { console.log(e); }
  }

  function endCall(text, bad, status) {
    const c = phone.call;
    if (!c) return;
    phone.call = null;
    if (c.pc) c.pc.close();
    if (c.stream) c.stream.getTracks().forEach(t => t.stop());
    $("remote").srcObject = null;
    say(text, bad);
    setCallState("ended");
    record("ended", { text: text, status: status || null });
    phone.lastCall = { peer: c.peer, text: text, status: status || null, dtmfSent: c.dtmfSent,
                       seconds: c.started ? (Date.now() - c.started) / 1000 : 0 };
    if (c.settle) c.settle(c.cancelled ? "cancelled" : status ? "rejected" : "ended");
    // However the call ended, the badge says "ended" next to the message for 3 s, then "idle".
    clearTimeout(phone.idleTimer);
    phone.idleTimer = setTimeout(() => { if (!phone.call) setCallState("idle"); }, 3000);
  }

  function dtmf(digits) {
    const c = phone.call;
    if (!c || !c.pc || !["in call", "held"].includes(c.state)) throw new Error("no call to send DTMF on");
    const sender = c.pc.getSenders().find(s => s.track && s.track.kind === "audio");
    if (!sender || !sender.dtmf) throw new Error("DTMF is not available in this browser");
    if (!sender.dtmf.canInsertDTMF) throw new Error("DTMF is not available on this call (no telephone-event in the answer)");
    sender.dtmf.ontonechange = event => {
      if (event.tone) { c.dtmfSent += event.tone; $("s-dtmf").textContent = c.dtmfSent; record("dtmf", event.tone); }
    };
    sender.dtmf.insertDTMF(String(digits), 100, 70);
    return sender.dtmf.toneBuffer;
  }

  function setMuted(muted) {
    const c = phone.call;
    if (!c || !c.stream) throw new Error("no call to mute");
    c.muted = muted;
    c.stream.getAudioTracks().forEach(t => { t.enabled = !muted; });
    setCallState(c.state);
    return muted;
  }

  // ---------------------------------------------------------------- statistics
  async function stats() {
    const c = phone.call;
    if (!c || !c.pc) return null;
    const report = await c.pc.getStats();
    const codecs = {};
    report.forEach(s => { if (s.type === "codec") codecs[s.id] = s; });
    const out = { state: c.state, peer: c.peer, codec: null, packetsSent: 0, packetsReceived: 0, packetsLost: 0,
                  jitter: null, roundTripTime: null, audioLevel: 0, muted: c.muted, held: c.held,
                  connection: c.pc.connectionState, dtmfSent: c.dtmfSent, seconds: c.started ? (Date.now() - c.started) / 1000 : 0 };
    report.forEach(s => {
      if (s.type === "outbound-rtp" && s.kind === "audio") {
        out.packetsSent += s.packetsSent || 0;
        const codec = codecs[s.codecId];
        if (codec) out.codec = codec.mimeType.replace(/^audio\//, "") + "/" + codec.clockRate;
      } else if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.packetsReceived += s.packetsReceived || 0;
        out.packetsLost += s.packetsLost || 0;
        if (typeof s.jitter === "number") out.jitter = s.jitter * 1000;
        if (typeof s.audioLevel === "number") out.audioLevel = s.audioLevel;
        const codec = codecs[s.codecId];
        if (!out.codec && codec) out.codec = codec.mimeType.replace(/^audio\//, "") + "/" + codec.clockRate;
      } else if (s.type === "remote-inbound-rtp" && s.kind === "audio") {
        if (typeof s.roundTripTime === "number") out.roundTripTime = s.roundTripTime * 1000;
      } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        if (out.roundTripTime === null && typeof s.currentRoundTripTime === "number") out.roundTripTime = s.currentRoundTripTime * 1000;
      }
    });
    const total = out.packetsReceived + out.packetsLost;
    out.lossPercent = total > 0 ? 100 * out.packetsLost / total : 0;
    // Tandem relays a codec both legs have and otherwise transcodes between Opus and the trunk's
    // G.711, so the browser's codec tells which it does.
    out.path = /^PCM[UA]\//i.test(out.codec || "") ? "relayed" : /^opus\//i.test(out.codec || "") ? "transcoded" : null;
    return out;
  }

  const paths = { relayed: " (relayed by the gateway)", transcoded: " (transcoded to G.711 by the gateway)" };

  async function refreshPanel() {
    const c = phone.call;
    let s = null;
    try { s = await stats(); } catch (e) { s = null; }
    if (!s || !s.codec || phone.call !== c) return;   // no media yet, or another call by now
    const fixed = (v, digits, unit) => v === null || v === undefined ? "-" : v.toFixed(digits) + unit;
    $("s-duration").textContent = s.seconds ? new Date(s.seconds * 1000).toISOString().slice(14, 19) : "-";
    $("s-codec").textContent = s.codec + (paths[s.path] || "");
    $("s-sent").textContent = String(s.packetsSent);
    $("s-received").textContent = String(s.packetsReceived);
    $("s-lost").textContent = s.packetsLost + " (" + s.lossPercent.toFixed(1) + " %)";
    $("s-jitter").textContent = fixed(s.jitter, 1, " ms");
    $("s-rtt").textContent = fixed(s.roundTripTime, 1, " ms");
    $("s-level").value = s.audioLevel || 0;
  }
  setInterval(refreshPanel, 1000);

  // ---------------------------------------------------------------- page wiring
  async function defaults() {
    let ws = params.get("ws") || "";
    if (!ws) {
      try {
        const config = await (await fetch("config.json", { cache: "no-store" })).json();
        const socket = (config.sockets || []).find(s => location.protocol !== "https:" || s.scheme === "wss") || (config.sockets || [])[0];
        if (socket) ws = socket.scheme + "://" + (location.hostname.includes(":") ? "[" + location.hostname + "]" : location.hostname) + ":" + socket.port;
      } catch (e) { console.log("config.json: " + e); }
    }
    $("ws").value = ws || "ws://" + location.hostname + ":8080";
    $("user").value = params.get("user") || localStorage.getItem("tandem.user") || "";
    $("password").value = params.get("password") || "";
    $("domain").value = params.get("domain") || "";
    $("number").value = params.get("number") || "";
    $("autoanswer").checked = params.get("autoanswer") === "1";
  }

  const guard = action => () => Promise.resolve().then(action).catch(e => say(e.message, true));
  $("register").onclick = guard(() => { localStorage.setItem("tandem.user", $("user").value.trim()); return register(); });
  $("unregister").onclick = guard(unregister);
  $("call").onclick = guard(() => call($("number").value));
  $("testcall").onclick = guard(() => call("echo"));
  $("hangup").onclick = guard(hangup);
  $("answer").onclick = guard(answer);
  $("decline").onclick = guard(decline);
  $("mute").onclick = guard(() => setMuted(!(phone.call && phone.call.muted)));
  $("hold").onclick = guard(() => phone.call && phone.call.state === "held" ? setDirection("sendrecv") : setDirection("sendonly"));
  $("number").addEventListener("keydown", e => { if (e.key === "Enter" && !$("call").disabled) $("call").click(); });
  for (const key of $("keypad").querySelectorAll("button")) {
    key.onclick = guard(() => {
      if (phone.call && ["in call", "held"].includes(phone.call.state)) dtmf(key.textContent);
      else $("number").value += key.textContent;
    });
  }
  window.addEventListener("beforeunload", () => { if (phone.call) hangup(); });

  const ready = defaults().then(() => {
    setRegistration("unregistered");
    setCallState("idle");
    if (params.get("register") === "1") return register();
  });

  window.tandemPhone = {
    ready: ready,
    register: register, unregister: unregister,
    call: call, answer: answer, decline: decline, hangup: hangup,
    dtmf: dtmf, hold: () => setDirection("sendonly"), resume: () => setDirection("sendrecv"),
    mute: () => setMuted(true), unmute: () => setMuted(false),
    stats: stats,
    status: () => ({ registration: phone.registration.state, call: phone.callState,
                     message: $("message").textContent, lastError: phone.lastError, lastCall: phone.lastCall || null,
                     events: phone.events.slice() }),
    md5: md5,
  };
})();
