#!/usr/bin/env python3
"""A browser WebRTC peer (headless Chromium) for checking Tandem's WebRTC media leg.

Same JSON-lines protocol as aiortc_peer.py, so a test that drives one can
drive the other: run `.venv/bin/python Tests/Interop/chromium_peer.py
[options]` (the venv from scripts/install-interop.sh, which holds websockets;
Chromium itself comes from the Debian package `chromium`,
scripts/install-deps.sh test), then over stdin/stdout:

  1. The peer prints  {"type":"offer","sdp":"..."}   -- Chromium's local
     description after gathering: one sendrecv audio m-line (Chromium's codecs:
     opus, red, G722, PCMU, PCMA, CN, telephone-event), a full ICE agent
     (controlling), a=setup:actpass, DTLS-SRTP fingerprint. Only the host
     candidates on --host addresses (127.0.0.1) are kept in it.
  2. The test writes the answer back as one line: {"type":"answer","sdp":"..."}
  3. The peer connects (ICE, then DTLS), Chromium sends its fake microphone --
     a --frequency Hz tone (440 by default) -- and plays the remote audio,
     which is analysed for --duration seconds; then the peer prints
     {"type":"result","connected":bool,"iceState":str,"dtlsState":str,
      "srtpProfile":str|null,"codec":str|null,"framesReceived":int,
      "dominantFrequency":float|null,"rms":float|null,"packetsSent":int,
      "packetsReceived":int,"error":null|str}
     and exits 0; on a timeout or failure it still prints a result line, with
     "error" set, and exits 1.

--timeout counts from start (Chromium's launch included) until connected; the
--duration of listening comes after it. Stdout carries only these JSON lines;
logs go to stderr (Chromium's own output and the page's console only with
--verbose).

How it works: Chromium runs headless with a temporary profile directory, a
fake microphone fed from a WAV file written there (the tone, amplitude 0.3,
48 kHz mono; Chromium loops it), and DevTools on a free loopback port. A page
written to the same directory does the WebRTC work (getUserMedia with echo
cancellation, noise suppression and gain control off, one RTCPeerConnection
without ICE servers); this script calls into it with Runtime.evaluate over
the DevTools WebSocket. Chromium's whole process group is killed and the
directory removed on every path.

What the fields mean here (they come from the browser, not from decoding in
this script):
  - "dominantFrequency", "rms": the remote stream is attached to an <audio>
    element (Chromium only renders, and counts, inbound audio that is played)
    and to a WebAudio AnalyserNode (fftSize 8192, no smoothing). Its spectrum
    is read every 100 ms after the first 200 ms, averaged in power, and the
    peak bin refined by parabolic interpolation on the dB values; "rms" is the
    mean of the time-domain RMS of those reads, on a -1..1 scale. A 440 Hz
    PCMU tone at 8000/32768 peak (as Tandem's tests send) gives rms ~0.17.
  - "framesReceived": Chromium reports no frame count for audio; this is
    inbound-rtp packetsReceived (one 20 ms frame per packet for the usual
    ptime), so "framesReceived" == "packetsReceived".
  - "packetsSent": outbound-rtp packetsSent.
  - "iceState": pc.iceConnectionState; "dtlsState": the sender's
    RTCDtlsTransport.state.
  - "codec": the codec of the outbound-rtp stream, e.g. "audio/PCMU/8000".
  - "srtpProfile": the transport stats' srtpCipher, in the OpenSSL names
    aiortc_peer.py uses (AEAD_AES_256_GCM -> SRTP_AEAD_AES_256_GCM,
    AES_CM_128_HMAC_SHA1_80 -> SRTP_AES128_CM_SHA1_80, ...).

SRTP profiles: Chromium offers SRTP_AEAD_AES_256_GCM, SRTP_AEAD_AES_128_GCM
and SRTP_AES128_CM_SHA1_80 (not _32) and its list cannot be changed from
outside. --srtp-profile is accepted for compatibility with aiortc_peer.py and
ignored (with a warning on stderr); the DTLS server picks from Chromium's list,
and "srtpProfile" reports what was picked. A server held to
SRTP_AES128_CM_SHA1_32 has no profile in common with Chromium: DTLS then
completes without use_srtp and Chromium reports "connected", but no SRTP
cipher; the result has "connected": true, "srtpProfile": null and an error,
and the exit status is 1.
"""

import argparse
import asyncio
import json
import logging
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import wave

import websockets
from peer_protocol import emit, read_answer

log = logging.getLogger("chromium_peer")

CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
)

# Chromium's srtpCipher names (RFC 4568 / RFC 7714 in older versions) to the DTLS-SRTP profile
# names (OpenSSL's, as in aiortc_peer.py and Tandem's SRTPProtectionProfile).
# Chromium 156 already reports OpenSSL-style names, with HMAC in them.
SRTP_CIPHER_NAMES = {
    "SRTP_AES128_CM_HMAC_SHA1_80": "SRTP_AES128_CM_SHA1_80",
    "SRTP_AES128_CM_HMAC_SHA1_32": "SRTP_AES128_CM_SHA1_32",
    "AES_CM_128_HMAC_SHA1_80": "SRTP_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_AES128_CM_SHA1_32",
    "AEAD_AES_128_GCM": "SRTP_AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM": "SRTP_AEAD_AES_256_GCM",
}

PAGE = r"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>tandem interop peer</title></head>
<body><audio id="remote" autoplay></audio>
<script>
"use strict";
let pc = null;
let remoteStream = null;

function gathered() {
  return new Promise(resolve => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

async function makeOffer() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    video: false,
  });
  pc = new RTCPeerConnection({ iceServers: [] });
  pc.addEventListener("track", event => {
    remoteStream = event.streams[0] || new MediaStream([event.track]);
    console.log("remote " + event.track.kind + " track");
  });
  pc.addEventListener("connectionstatechange", () =>
    console.log("connectionState " + pc.connectionState + " (ice " + pc.iceConnectionState + ")"));
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  await pc.setLocalDescription(await pc.createOffer());
  await gathered();
  return pc.localDescription.sdp;
}

async function applyAnswer(sdp) {
  await pc.setRemoteDescription({ type: "answer", sdp: sdp });
  return true;
}

function states() {
  let dtls = null;
  try {
    const sender = pc.getSenders()[0];
    dtls = sender && sender.transport ? sender.transport.state : null;
  } catch (e) {}
  return { connection: pc.connectionState, ice: pc.iceConnectionState, dtls: dtls };
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function listen(durationMs) {
  if (!remoteStream) {
    const receiver = pc.getReceivers().find(r => r.track && r.track.kind === "audio");
    if (receiver) remoteStream = new MediaStream([receiver.track]);
  }
  if (!remoteStream) return { error: "no remote audio track" };
  const started = performance.now();
  const element = document.getElementById("remote");
  element.srcObject = remoteStream;
  try { await element.play(); } catch (e) { console.log("play(): " + e); }
  const context = new AudioContext();
  try { await context.resume(); } catch (e) { console.log("resume(): " + e); }
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  analyser.minDecibels = -160;
  analyser.maxDecibels = 0;
  context.createMediaStreamSource(remoteStream).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const time = new Float32Array(analyser.fftSize);
  const power = new Float64Array(analyser.frequencyBinCount);
  let reads = 0, rmsSum = 0;
  await sleep(200);  // decoder start-up, jitter buffer, and a first full window
  while (performance.now() - started < durationMs) {
    analyser.getFloatFrequencyData(bins);
    analyser.getFloatTimeDomainData(time);
    for (let i = 0; i < bins.length; i++) {
      if (isFinite(bins[i])) power[i] += Math.pow(10, bins[i] / 10);
    }
    let sum = 0;
    for (let i = 0; i < time.length; i++) sum += time[i] * time[i];
    rmsSum += Math.sqrt(sum / time.length);
    reads++;
    await sleep(100);
  }
  const result = { reads: reads, sampleRate: context.sampleRate, contextState: context.state,
                   dominantFrequency: null, rms: reads ? rmsSum / reads : null };
  let k = 1;
  for (let i = 2; i < power.length; i++) if (power[i] > power[k]) k = i;
  if (reads && power[k] > 0) {
    let offset = 0;
    if (k + 1 < power.length && power[k - 1] > 0 && power[k + 1] > 0) {
      const a = Math.log(power[k - 1]), b = Math.log(power[k]), c = Math.log(power[k + 1]);
      const d = a - 2 * b + c;
      if (d !== 0) offset = 0.5 * (a - c) / d;
    }
    result.dominantFrequency = (k + offset) * context.sampleRate / analyser.fftSize;
  }
  element.pause();
  await context.close();
  return result;
}

async function stats() {
  const out = { packetsSent: 0, packetsReceived: 0, srtpCipher: null, dtlsCipher: null,
                dtlsState: null, iceState: null, codec: null, inboundCodec: null };
  if (!pc) return out;
  const report = await pc.getStats();
  const codecs = {};
  report.forEach(s => { if (s.type === "codec") codecs[s.id] = s; });
  const name = id => {
    const c = codecs[id];
    return c ? c.mimeType + "/" + c.clockRate : null;
  };
  report.forEach(s => {
    if (s.type === "outbound-rtp" && s.kind === "audio") {
      out.packetsSent += s.packetsSent || 0;
      out.codec = name(s.codecId) || out.codec;
    } else if (s.type === "inbound-rtp" && s.kind === "audio") {
      out.packetsReceived += s.packetsReceived || 0;
      out.inboundCodec = name(s.codecId) || out.inboundCodec;
    } else if (s.type === "transport") {
      out.srtpCipher = s.srtpCipher || out.srtpCipher;
      out.dtlsCipher = s.dtlsCipher || out.dtlsCipher;
      out.dtlsState = s.dtlsState || out.dtlsState;
      out.iceState = s.iceState || out.iceState;
    }
  });
  return out;
}

// RFC 4733 events through the browser's own DTMF sender; resolves with the tones played.
function sendDTMF(digits, duration, gap) {
  return new Promise((resolve, reject) => {
    const sender = pc.getSenders().find(s => s.track && s.track.kind === "audio");
    if (!sender || !sender.dtmf || !sender.dtmf.canInsertDTMF) return reject(new Error("DTMF cannot be sent (no telephone-event?)"));
    const played = [];
    sender.dtmf.addEventListener("tonechange", event => {
      if (event.tone === "") resolve(played.join("")); else played.push(event.tone);
    });
    sender.dtmf.insertDTMF(digits, duration, gap);
  });
}

function close() { if (pc) pc.close(); return true; }
</script></body></html>
"""


class PageError(RuntimeError):
    """A JavaScript exception in the page."""


class DevTools:
    """A minimal DevTools protocol client over the browser WebSocket."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0
        self.pending = {}
        self.session = None
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url):
        socket = await websockets.connect(url, max_size=None, open_timeout=10)
        return cls(socket)

    async def _read(self):
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                if "id" in message:
                    future = self.pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        if "error" in message:
                            future.set_exception(RuntimeError(f"DevTools: {message['error']}"))
                        else:
                            future.set_result(message.get("result", {}))
                elif message.get("method") == "Runtime.consoleAPICalled":
                    texts = [str(a.get("value", a.get("description", "")))
                             for a in message["params"].get("args", [])]
                    log.debug("page: %s", " ".join(texts))
                elif message.get("method") == "Runtime.exceptionThrown":
                    log.debug("page exception: %s", message["params"])
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(RuntimeError("DevTools connection closed"))
            self.pending.clear()

    async def call(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session is not None:
            message["sessionId"] = self.session
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.socket.send(json.dumps(message))
        return await future

    async def evaluate(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = await self.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
        })
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise PageError(text)
        return reply.get("result", {}).get("value")

    async def close(self):
        self.reader.cancel()
        try:
            await asyncio.wait_for(self.socket.close(), 2)
        except Exception:
            pass


def find_chromium(explicit):
    for candidate in [explicit, os.environ.get("CHROMIUM")] + list(CHROMIUM_CANDIDATES):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("Chromium not found; install the chromium package "
                       "(scripts/install-deps.sh test) or pass --chromium PATH")


def write_tone(path, frequency, seconds=2.0, amplitude=0.3, rate=48000):
    """A 16-bit mono WAV of a whole number of periods (Chromium loops the file)."""
    periods = max(1, round(frequency * seconds))
    count = round(periods * rate / frequency)
    scale = amplitude * 32767
    frames = b"".join(
        struct.pack("<h", int(round(scale * math.sin(2 * math.pi * frequency * i / rate))))
        for i in range(count)
    )
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def keep_candidates(sdp, addresses):
    """The SDP with only the a=candidate lines on the given addresses."""
    lines = sdp.split("\r\n")
    kept = []
    for line in lines:
        if line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) < 5 or fields[4] not in addresses:
                continue
        kept.append(line)
    return "\r\n".join(kept)


class Browser:
    """Headless Chromium in its own process group, with a temporary profile."""

    def __init__(self, args):
        self.args = args
        self.directory = tempfile.mkdtemp(prefix="tandem-chromium-")
        self.process = None

    async def start(self, deadline):
        tone = os.path.join(self.directory, "tone.wav")
        write_tone(tone, self.args.frequency)
        page = os.path.join(self.directory, "peer.html")
        with open(page, "w") as out:
            out.write(PAGE)
        profile = os.path.join(self.directory, "profile")
        os.mkdir(profile)
        command = [
            find_chromium(self.args.chromium),
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--metrics-recording-only", "--mute-audio",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}",
            "--autoplay-policy=no-user-gesture-required",
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "file://" + page,
        ]
        log.debug("starting %s", " ".join(command))
        chatter = None if self.args.verbose else subprocess.DEVNULL
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sys.stderr if self.args.verbose else subprocess.DEVNULL,
            stderr=chatter, start_new_session=True,
        )
        port_file = os.path.join(profile, "DevToolsActivePort")
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"Chromium exited with status {self.process.returncode} at start")
            try:
                with open(port_file) as f:
                    port, path = f.read().split("\n")[:2]
                if port and path:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError
            await asyncio.sleep(0.05)
        return f"ws://127.0.0.1:{port.strip()}{path.strip()}", "file://" + page

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                log.warning("Chromium did not exit after SIGKILL")
        # Helpers (zygote, renderers) share the process group; give them a moment.
        if self.process is not None:
            for _ in range(50):
                try:
                    os.killpg(self.process.pid, 0)
                except ProcessLookupError:
                    break
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
        # A helper killed mid-write can leave a file behind the first pass.
        for _ in range(10):
            shutil.rmtree(self.directory, ignore_errors=True)
            if not os.path.exists(self.directory):
                break
            time.sleep(0.1)


async def attach(devtools, url, deadline):
    """Attach to the tab showing our page once its functions are defined."""
    while True:
        targets = (await devtools.call("Target.getTargets", session=False))["targetInfos"]
        page = next((t for t in targets if t["type"] == "page" and t["url"] == url), None)
        if page is not None:
            break
        if time.monotonic() > deadline:
            raise asyncio.TimeoutError
        await asyncio.sleep(0.05)
    reply = await devtools.call("Target.attachToTarget",
                                {"targetId": page["targetId"], "flatten": True}, session=False)
    devtools.session = reply["sessionId"]
    await devtools.call("Runtime.enable")
    while await devtools.evaluate("typeof makeOffer") != "function":
        if time.monotonic() > deadline:
            raise asyncio.TimeoutError
        await asyncio.sleep(0.05)




def empty_result(error=None):
    return {
        "type": "result", "connected": False, "iceState": None, "dtlsState": None,
        "srtpProfile": None, "codec": None, "framesReceived": 0,
        "dominantFrequency": None, "rms": None, "packetsSent": 0,
        "packetsReceived": 0, "error": error,
    }


async def run(args, browser):
    result = empty_result()
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    deadline = started + args.timeout
    hosts = [a.strip() for a in args.host.split(",") if a.strip()]
    devtools = None

    stage = "starting Chromium"
    try:
        url, page = await browser.start(deadline)
        devtools = await asyncio.wait_for(DevTools.connect(url), max(0.1, deadline - time.monotonic()))
        await asyncio.wait_for(attach(devtools, page, deadline), max(0.1, deadline - time.monotonic()))
        log.debug("Chromium ready after %.2f s", time.monotonic() - started)

        stage = "gathering"
        sdp = await asyncio.wait_for(devtools.evaluate("makeOffer()"),
                                     max(0.1, deadline - time.monotonic()))
        offered = keep_candidates(sdp, hosts)
        if "a=candidate:" not in offered:
            raise RuntimeError(f"Chromium gathered no candidate on {', '.join(hosts)}")
        emit({"type": "offer", "sdp": offered})
        log.debug("offer after %.2f s", time.monotonic() - started)

        stage = "waiting for the answer"
        answer_sdp = await read_answer(loop, deadline, log)
        await asyncio.wait_for(devtools.evaluate(f"applyAnswer({json.dumps(answer_sdp)})"),
                               max(0.1, deadline - time.monotonic()))

        stage = "connecting"
        while True:
            states = await devtools.evaluate("states()")
            result["iceState"], result["dtlsState"] = states["ice"], states["dtls"]
            if states["connection"] == "connected":
                break
            if states["connection"] in ("failed", "closed"):
                raise RuntimeError(f"connection {states['connection']} "
                                   f"(ice {states['ice']}, dtls {states['dtls']})")
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError
            await asyncio.sleep(0.05)
        result["connected"] = True
        log.info("connected after %.2f s", time.monotonic() - started)
        # With no SRTP profile in common, DTLS still completes (use_srtp left
        # out of the handshake) and Chromium says "connected", but no media
        # flows: report that as the failure it is.
        stage = "checking the SRTP profile"
        settle = time.monotonic() + 1.0
        while not (await devtools.evaluate("stats()")).get("srtpCipher"):
            if time.monotonic() > settle:
                raise RuntimeError("DTLS completed without an SRTP profile (none in common?)")
            await asyncio.sleep(0.05)

        if args.dtmf:
            stage = "sending DTMF"
            played = await asyncio.wait_for(
                devtools.evaluate(f"sendDTMF({json.dumps(args.dtmf)}, {args.dtmf_duration}, {args.dtmf_gap})"), 15)
            result["dtmfPlayed"] = played
            log.info("DTMF played: %s", played)

        stage = "receiving"
        heard = await asyncio.wait_for(devtools.evaluate(f"listen({args.duration * 1000:.0f})"),
                                       args.duration + 10)
        log.debug("analysis: %s", heard)
        if heard.get("error"):
            raise RuntimeError(heard["error"])
        if heard.get("dominantFrequency") is not None:
            result["dominantFrequency"] = round(heard["dominantFrequency"], 2)
        if heard.get("rms") is not None:
            result["rms"] = round(heard["rms"], 5)
    except asyncio.TimeoutError:
        result["error"] = f"timed out after {args.timeout:g} s while {stage}"
    except Exception as exc:  # reported in the result line
        log.debug("failure", exc_info=True)
        result["error"] = f"{stage}: {type(exc).__name__}: {exc}"

    if devtools is not None and devtools.session is not None:
        try:
            states = await asyncio.wait_for(devtools.evaluate("pc ? states() : null"), 2)
            if states:
                result["iceState"], result["dtlsState"] = states["ice"], states["dtls"]
            stats = await asyncio.wait_for(devtools.evaluate("stats()"), 3)
            log.debug("stats: %s", stats)
            result["packetsSent"] = stats["packetsSent"]
            result["packetsReceived"] = stats["packetsReceived"]
            result["framesReceived"] = stats["packetsReceived"]
            cipher = stats.get("srtpCipher")
            result["srtpProfile"] = SRTP_CIPHER_NAMES.get(cipher, cipher) if cipher else None
            if result["connected"]:
                result["codec"] = stats.get("codec") or stats.get("inboundCodec")
            if result["connected"]:
                log.info("SRTP %s, DTLS cipher %s, codec %s", cipher, stats.get("dtlsCipher"),
                         result["codec"])
        except Exception:
            log.debug("stats unavailable", exc_info=True)
        try:
            await asyncio.wait_for(devtools.evaluate("close()"), 2)
        except Exception:
            pass
    if devtools is not None:
        await devtools.close()
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--srtp-profile", default=None,
                        help="accepted for compatibility with aiortc_peer.py and ignored: "
                             "Chromium's SRTP profile list cannot be restricted")
    parser.add_argument("--dtmf", default=None,
                        help="once connected, send these digits as RFC 4733 events (insertDTMF)")
    parser.add_argument("--dtmf-duration", type=int, default=100, help="ms per tone")
    parser.add_argument("--dtmf-gap", type=int, default=70, help="ms between tones")
    parser.add_argument("--duration", type=float, default=3.0,
                        help="seconds of remote audio to analyse (default 3)")
    parser.add_argument("--timeout", type=float, default=15.0,
                        help="seconds allowed from start until connected (default 15)")
    parser.add_argument("--frequency", type=float, default=440.0,
                        help="frequency of the fake microphone's tone, in Hz (default 440)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="comma-separated addresses whose host candidates are kept "
                             "in the offer (default 127.0.0.1)")
    parser.add_argument("--chromium", default=None,
                        help="Chromium binary (default: $CHROMIUM, then /usr/lib/chromium/chromium, ...)")
    parser.add_argument("--verbose", action="store_true",
                        help="debug logs, Chromium's output and the page's console on stderr")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if not args.verbose:
        log.setLevel(logging.INFO)
    if args.srtp_profile:
        log.warning("--srtp-profile %s ignored: Chromium's SRTP profiles cannot be restricted",
                    args.srtp_profile)
    browser = Browser(args)
    # SIGTERM (Process.terminate() in the Swift tests) must still take Chromium down.
    signal.signal(signal.SIGTERM, lambda *_: (browser.stop(), os._exit(1)))
    try:
        result = asyncio.run(run(args, browser))
    except BaseException as exc:
        result = empty_result(f"{type(exc).__name__}: {exc}")
    finally:
        browser.stop()
    emit(result)
    sys.stderr.flush()
    os._exit(0 if result["error"] is None else 1)


if __name__ == "__main__":
    main()
