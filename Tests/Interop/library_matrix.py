#!/usr/bin/env python3
"""Runs one row of the browser-library matrix: one SIP library (JsSIP or SIP.js, from the vendor
directory) in one browser (headless Chromium or Firefox ESR) through whole calls with tandemd.

Run by DaemonTests/LibraryMatrixTests with the project's virtual environment, inside the network
namespace that holds tandemd, which runs with the shipped configuration (config/tandem.yaml and
its profiles, plus a profile adding the trunk `pbx` at --trunk-port for sipp, and, when
--wss-url is given, the shipped WSS listener example turned on with a self-signed certificate).

This script plays everything else:
  - an HTTP server on loopback serving the page (Tests/Interop/library_page) and the library,
    and driving the page: the page long-polls GET /command and POSTs each outcome to /result,
    so both browsers are driven the same way;
  - the trunk's media: a UDP socket on --media-port that counts the RTP it gets by payload type,
    records RFC 4733 events, decodes PCMU to measure the browser's tone, and answers every PCMU
    packet with one of its own carrying a 660 Hz tone;
  - sipp as the trunk (UAS scenarios for calls from the browser, a UAC calling the browser);
  - the browser, with a fake microphone (Chromium: a 440 Hz WAV; Firefox: its built-in tone);
  - tandemctl, to see the calls, registrations and counters from Tandem's side.

Each scenario is a cell of the matrix. Prints one JSON object on stdout:
  {"library": ..., "browser": ..., "cells": {name: {"passed": bool, "checks": [...],
   "seen": {...}}}, "error": null|str}
A check is [what, passed, value]. Logs go to stderr.
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
import traceback

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chromium_peer  # noqa: E402  (find_chromium, write_tone)
from rtp_counter import RTPCounter  # noqa: E402
from sipp_peer import sipp, wait_process  # noqa: E402

log = logging.getLogger("library_matrix")
HERE = os.path.dirname(os.path.abspath(__file__))
PAGE_DIR = os.path.join(HERE, "library_page")
VENDOR_FILES = {"jssip": "jssip-3.10.10.js", "sipjs": "sip-0.20.0.js"}
TRUNK_TONE = 660.0


# ---------------------------------------------------------------------------------------------
# The page's HTTP server and command channel.

class PageServer:
    """Serves the page and the library; hands the page one command at a time."""

    def __init__(self, library_file):
        self.library_file = library_file
        self.commands = asyncio.Queue()
        self.pending = {}
        self.next_id = 0
        self.hello = asyncio.get_running_loop().create_future()
        self.page_log = []

    async def start(self):
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, kind, payload = await self.route(method, target.split("?")[0], body)
                writer.write((f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(payload)}\r\n"
                              "Cache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\n\r\n").encode() + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def route(self, method, path, body):
        if method == "GET" and path in ("/", "/index.html"):
            return "200 OK", "text/html", open(os.path.join(PAGE_DIR, "index.html"), "rb").read()
        if method == "GET" and path in ("/harness.js", "/capture.js"):
            return "200 OK", "text/javascript", open(os.path.join(PAGE_DIR, path[1:]), "rb").read()
        if method == "GET" and path == "/vendor/library.js":
            return "200 OK", "text/javascript", open(self.library_file, "rb").read()
        if method == "GET" and path == "/command":
            command = await self.commands.get()
            return "200 OK", "application/json", json.dumps(command).encode()
        if method == "POST" and path == "/hello":
            if not self.hello.done():
                self.hello.set_result(json.loads(body))
            return "200 OK", "application/json", b"{}"
        if method == "POST" and path == "/result":
            outcome = json.loads(body)
            self.page_log.extend(outcome.get("log") or [])
            del self.page_log[:-20000]
            future = self.pending.pop(outcome["id"], None)
            if future and not future.done():
                future.set_result(outcome)
            return "200 OK", "application/json", b"{}"
        return "404 Not Found", "text/plain", b"not found\n"

    def send(self, body):
        """Hands `body` (an async function body) to the page now, in this order; returns the
        future of its outcome."""
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self.commands.put_nowait({"id": self.next_id, "body": body})
        return future

    async def run(self, body, timeout=60, started=None):
        """Runs `body` in the page (or waits for one `send` began); returns its result or raises."""
        future = started or self.send(body)
        outcome = await asyncio.wait_for(future, timeout)
        if outcome.get("error"):
            raise RuntimeError("in the page: " + outcome["error"])
        return outcome.get("result")

    async def quit(self):
        await self.commands.put({"quit": True})


# ---------------------------------------------------------------------------------------------
# The trunk's media.

ULAW_TABLE = []
for _byte in range(256):
    _u = ~_byte & 0xFF
    _t = ((_u & 0x0F) << 3) + 0x84
    _t <<= (_u & 0x70) >> 4
    ULAW_TABLE.append((0x84 - _t) if (_u & 0x80) else (_t - 0x84))
ULAW = numpy.array(ULAW_TABLE, dtype=numpy.float64) / 32768.0


def ulaw_encode(sample):
    """One linear sample (-1..1) to a u-law byte (G.711)."""
    value = int(max(-1.0, min(1.0, sample)) * 32635)
    sign = 0x80 if value < 0 else 0
    value = min(abs(value) + 0x84, 0x7FFF)
    exponent = 7
    while exponent > 0 and not value & (0x4000 >> (7 - exponent)):
        exponent -= 1
    mantissa = (value >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


class TrunkMedia(RTPCounter):
    """Counts what Tandem sends to the trunk and answers each PCMU packet with a tone packet."""

    def __init__(self):
        self.tone = [bytes(ulaw_encode(0.25 * math.sin(2 * math.pi * TRUNK_TONE * (160 * k + i) / 8000))
                           for i in range(160)) for k in range(100)]
        self.ssrc, self.seq, self.ts, self.k = 0x7A4E0001, 1, 0, 0
        super().__init__()

    def reset(self):
        super().reset()
        self.samples = []

    def answer(self, data, payload_type, header, address):
        if payload_type != 0:
            return
        if len(self.samples) < 8000 * 30:
            self.samples.extend(data[header:])
        packet = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.ts & 0xFFFFFFFF, self.ssrc) + self.tone[self.k]
        self.seq, self.ts, self.k = self.seq + 1, self.ts + 160, (self.k + 1) % len(self.tone)
        self.transport.sendto(packet, address)

    def snapshot(self):
        level, frequency = None, None
        if len(self.samples) >= 8000:
            pcm = ULAW[numpy.frombuffer(bytes(self.samples[-8000 * 3:]), dtype=numpy.uint8)]
            level = float(numpy.sqrt(numpy.mean(pcm ** 2)))
            spectrum = numpy.abs(numpy.fft.rfft(pcm * numpy.hanning(len(pcm))))
            spectrum[:int(100 * len(pcm) / 8000)] = 0  # below 100 Hz: DC and hum
            frequency = float(numpy.argmax(spectrum) * 8000 / len(pcm))
        return dict(super().snapshot(), rms=level, frequency=frequency)


# ---------------------------------------------------------------------------------------------
# The browsers.

class Browser:
    """Headless Chromium or Firefox ESR in its own process group, with a temporary profile."""

    def __init__(self, kind, work, certificate=None):
        self.kind = kind
        self.directory = tempfile.mkdtemp(prefix=f"tandem-{kind}-", dir=work)
        self.certificate = certificate
        self.process = None
        self.tone = None

    def start(self, url):
        profile = os.path.join(self.directory, "profile")
        os.mkdir(profile)
        if self.kind == "chromium":
            tone = os.path.join(self.directory, "tone.wav")
            chromium_peer.write_tone(tone, 440.0)
            self.tone = 440.0
            command = [
                chromium_peer.find_chromium(None),
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--mute-audio", f"--user-data-dir={profile}",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={tone}", "--autoplay-policy=no-user-gesture-required",
                "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
                # The WSS listener's certificate comes from the test's own CA.
                "--ignore-certificate-errors", url,
            ]
        else:
            # Firefox's fake microphone is a 1 kHz sine (media.navigator.streams.fake).
            self.tone = 1000.0
            prefs = {
                "media.navigator.streams.fake": True, "media.navigator.permission.disabled": True,
                "media.autoplay.default": 0, "media.autoplay.blocking_policy": 0,
                "media.autoplay.block-webaudio": False,
                "media.peerconnection.ice.obfuscate_host_addresses": False,
                "network.manage-offline-status": False, "browser.shell.checkDefaultBrowser": False,
                "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.reportingpolicy.firstRun": False,
                "app.update.enabled": False, "browser.startup.homepage_override.mstone": "ignore",
            }
            with open(os.path.join(profile, "user.js"), "w") as out:
                for key, value in prefs.items():
                    out.write(f"user_pref({json.dumps(key)}, {json.dumps(value)});\n")
            if self.certificate:
                # Trust the test's own CA, which signed the WSS listener's certificate, in this
                # profile (certutil: Debian libnss3-tools), as an operator's users trust theirs.
                subprocess.run(["certutil", "-N", "-d", f"sql:{profile}", "--empty-password"], check=True)
                subprocess.run(["certutil", "-A", "-d", f"sql:{profile}", "-n", "tandem-test-ca", "-t", "C,,",
                                "-i", self.certificate], check=True)
            binary = shutil.which("firefox-esr") or shutil.which("firefox")
            if not binary:
                raise RuntimeError("Firefox ESR not found; make test installs the firefox-esr package")
            command = [binary, "--headless", "--no-remote", "--profile", profile, url]
        environment = dict(os.environ, HOME=self.directory, MOZ_HEADLESS="1")
        out = open(os.path.join(self.directory, "browser.log"), "wb")
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                        start_new_session=True, env=environment)

    def stop(self):
        if self.process is None:
            return
        for _ in range(50):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            log.warning("the browser did not exit after SIGKILL")
        shutil.rmtree(self.directory, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Helpers for the scenarios.

class Cell:
    """One scenario's checks and what was seen."""

    def __init__(self, name):
        self.name = name
        self.checks = []
        self.seen = {}
        self.error = None

    def check(self, what, passed, value=None):
        self.checks.append([what, bool(passed), value])
        if not passed:
            log.warning("%s: FAILED %s (%s)", self.name, what, json.dumps(value)[:300])
        return bool(passed)

    def result(self):
        passed = self.error is None and bool(self.checks) and all(c[1] for c in self.checks)
        return {"passed": passed, "checks": self.checks, "seen": self.seen, "error": self.error}


class Matrix:
    def __init__(self, args, page, trunk):
        self.args = args
        self.page = page
        self.trunk = trunk
        self.cells = {}
        self.browser_tone = None

    def cell(self, name):
        self.cells[name] = Cell(name)
        return self.cells[name]

    def ctl(self, *arguments):
        run = subprocess.run([self.args.tandemctl, *arguments, "--json", "--socket", self.args.control_socket],
                             capture_output=True, text=True, timeout=10)
        if run.returncode != 0:
            return {"error": run.stderr.strip()}
        return json.loads(run.stdout)

    def calls(self):
        listed = self.ctl("calls")
        return listed if isinstance(listed, list) else listed.get("calls", listed)

    async def no_calls(self, timeout=10):
        deadline = time.monotonic() + timeout
        calls = None
        while time.monotonic() < deadline:
            calls = self.calls()
            if calls == []:
                return True, calls
            await asyncio.sleep(0.2)
        return False, calls

    def start_options(self, url=None, password=None):
        return json.dumps({"ws": url or self.args.ws_url, "user": self.args.user,
                           "password": password or self.args.password, "domain": self.args.domain})

    def uas(self, scenario, name):
        return sipp(["-sf", os.path.join(self.args.scenarios, scenario), "-i", "127.0.0.1", "-p", str(self.args.trunk_port),
                     "-m", "1", "-key", "echo_port", str(self.args.media_port), "-mi", "127.0.0.1",
                     "-mp", str(self.args.sipp_media_port)],
                    os.path.join(self.args.work, f"sipp-{name}.log"))

    async def place_call(self, cell, scenario, name, options=""):
        """Starts sipp as the trunk with `scenario` and calls it from the library; returns sipp's
        process once the call is answered, or None (sipp stopped) when it is not."""
        uas = self.uas(scenario, name)
        await asyncio.sleep(0.3)
        target = f"'sip:{self.args.number}@{self.args.domain}'" + (f", {options}" if options else "")
        outcome = await self.page.run(f"return phone.call({target});", timeout=40)
        cell.seen["library"] = outcome
        if not cell.check("the library reports answered", outcome.get("outcome") == "answered", outcome):
            uas.kill()
            return None
        await asyncio.sleep(1.0)
        return uas

    async def hang_up(self, cell, uas):
        """The library hangs up: its session ends, sipp (the trunk) gets the BYE and completes its
        scenario, and Tandem has no call left. Returns sipp's exit status."""
        ended = await self.page.run("return phone.hangup();", timeout=20)
        cell.seen["hangup"] = ended
        cell.check("the library reports the call ended", ended.get("outcome") == "ended", ended)
        code = await wait_process(uas, 10)
        cell.seen["sippExit"] = code
        cell.check("sipp got the BYE and its scenario completed", code == 0, code)
        gone, calls = await self.no_calls()
        cell.check("Tandem has no call left", gone, calls)
        return code

    async def media_check(self, cell, seconds=4.0, codec=None, tone=None):
        """Audio both ways: the page hears the trunk's 660 Hz tone, the trunk hears the browser's."""
        # Media may still be starting (ICE, DTLS) when the library reports the answer.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            now = await self.page.run("return media.rtp(phone.connection());")
            if now["packetsReceived"] > 10 and now["packetsSent"] > 10:
                break
            await asyncio.sleep(0.2)
        self.trunk.reset()
        before = await self.page.run("return media.rtp(phone.connection());")
        heard = await self.page.run(f"return media.listen({int(seconds * 1000)});", timeout=seconds + 30)
        after = await self.page.run("return media.rtp(phone.connection());")
        at_trunk = self.trunk.snapshot()
        cell.seen.update({"page": after, "pageHeard": heard, "trunk": at_trunk})
        sent = after["packetsSent"] - before["packetsSent"]
        received = after["packetsReceived"] - before["packetsReceived"]
        expected = seconds * 50
        cell.check("the browser sent RTP (packets in the window)", sent >= 0.8 * expected, sent)
        cell.check("the browser received RTP (packets in the window)", received >= 0.8 * expected, received)
        cell.check("the trunk got PCMU (packets in the window)", at_trunk["pcmu"] >= 0.8 * expected, at_trunk["pcmu"])
        cell.check("the browser hears the trunk's 660 Hz tone", heard["rms"] > 0.02 and heard["frequency"] is not None
                   and abs(heard["frequency"] - TRUNK_TONE) < 30, heard)
        tone = tone or self.browser_tone
        cell.check(f"the trunk hears the browser's {tone:.0f} Hz tone", (at_trunk["rms"] or 0) > 0.02
                   and at_trunk["frequency"] is not None and abs(at_trunk["frequency"] - tone) < 30,
                   {"rms": at_trunk["rms"], "frequency": at_trunk["frequency"]})
        if codec:
            cell.check(f"the browser's codec is {codec}", (after.get("codec") or "").lower() == codec.lower(), after.get("codec"))

    def tandem_call(self, cell, mode):
        calls = self.calls()
        cell.seen["tandemCalls"] = calls
        cell.check("Tandem lists one call", isinstance(calls, list) and len(calls) == 1, calls)
        if isinstance(calls, list) and len(calls) == 1:
            text = json.dumps(calls[0]).lower()
            cell.check(f"Tandem says the call is {mode}", mode in text, calls[0])

    # -----------------------------------------------------------------------------------------
    # The scenarios, in the order they run.

    async def register(self):
        wrong = self.cell("register-wrong-password")
        outcome = await self.page.run(f"return phone.start({self.start_options(password='not-the-password')});")
        wrong.seen["library"] = outcome
        wrong.check("the library reports the registration refused", outcome.get("outcome") == "failed", outcome)
        wrong.check("with 403", outcome.get("status") == 403, outcome)
        await self.page.run("return phone.stop();")
        registrations = self.ctl("registrations")
        wrong.seen["tandemRegistrations"] = registrations
        wrong.check("Tandem holds no registration", registrations == [] or registrations.get("registrations") == [], registrations)

        cell = self.cell("register")
        outcome = await self.page.run(f"return phone.start({self.start_options()});")
        cell.seen["library"] = outcome
        cell.check("the library reports registered", outcome.get("outcome") == "registered", outcome)
        registrations = self.ctl("registrations")
        cell.seen["tandemRegistrations"] = registrations
        listed = registrations if isinstance(registrations, list) else registrations.get("registrations", [])
        cell.check(f"Tandem lists user {self.args.user} with a ws contact",
                   any(r.get("user") == self.args.user and "transport=ws" in r.get("contact", "") for r in listed), registrations)

    async def outbound_relayed(self):
        """A call to the trunk with the browser's own offer; then DTMF, hold and resume, and the
        browser hangs up: four cells on one call."""
        cell = self.cell("outbound-relayed")
        uas = await self.place_call(cell, "uas-echo-hold.xml", "relayed")
        if not uas:
            return
        await self.media_check(cell, codec="audio/PCMU")
        self.tandem_call(cell, "relay")

        dtmf = self.cell("dtmf")
        self.trunk.reset()
        sent = await self.page.run("return phone.dtmf('1234#');", timeout=30)
        await asyncio.sleep(1.0)
        dtmf.seen.update({"library": sent, "trunk": self.trunk.snapshot()})
        dtmf.check("the library sent 1234#", sent.get("tones") == "1234#", sent)
        dtmf.check(f"the trunk got RFC 4733 events 1 2 3 4 11 (library sent {sent.get('transport')})",
                   self.trunk.events == [1, 2, 3, 4, 11], self.trunk.events)
        if self.args.library == "sipjs":
            # SIP.js has a second way: RFC 4733 from the browser's RTCDTMFSender.
            self.trunk.reset()
            sent = await self.page.run("return phone.dtmf('56', {rfc4733: true});", timeout=30)
            await asyncio.sleep(1.0)
            dtmf.seen["rfc4733"] = {"library": sent, "trunk": self.trunk.snapshot()}
            dtmf.check("SessionDescriptionHandler.sendDtmf: the trunk got events 5 6", self.trunk.events == [5, 6], self.trunk.events)

        hold = self.cell("hold-resume")
        held = await self.page.run("return phone.hold();", timeout=20)
        hold.seen["hold"] = held
        hold.check("the library reports held", held.get("outcome") == "held", held)
        await asyncio.sleep(1.0)
        self.trunk.reset()
        await asyncio.sleep(2.0)
        during = self.trunk.snapshot()
        hold.seen["trunkWhileHeld"] = during
        # Both libraries mute the microphone on hold (JsSIP: RTCSession._setLocalMediaStatus;
        # SIP.js: SimpleUser.enableSenderTracks(false)); the packets go on.
        hold.check("the trunk hears silence while held", (during["rms"] or 0) < 0.01, during)
        resumed = await self.page.run("return phone.unhold();", timeout=20)
        hold.seen["resume"] = resumed
        hold.check("the library reports resumed", resumed.get("outcome") == "resumed", resumed)
        await asyncio.sleep(1.0)
        await self.media_check(hold, seconds=3.0)
        calls = self.calls()
        if isinstance(calls, list) and calls:
            hold.seen["tandemCall"] = self.ctl("call", calls[0]["id"])
        hold.seen["transceivers"] = await self.page.run(
            "const pc = phone.connection(); const r = await pc.getStats(); const inbound = [];"
            "r.forEach(s => { if (s.type === 'inbound-rtp') inbound.push({id: s.id, ssrc: s.ssrc, packets: s.packetsReceived, discarded: s.packetsDiscarded, bytes: s.bytesReceived}); });"
            "return {inbound, transceivers: pc.getTransceivers().map(t => ({mid: t.mid, direction: t.direction, current: t.currentDirection,"
            " muted: t.receiver.track.muted, state: t.receiver.track.readyState}))};")

        bye = self.cell("hangup-from-browser")
        code = await self.hang_up(bye, uas)
        hold.check("sipp saw the hold re-INVITE (a=sendonly) and the resume (a=sendrecv)", code == 0, code)

    async def outbound_transcoded(self):
        cell = self.cell("outbound-transcoded")
        uas = await self.place_call(cell, "lib-uas-answer.xml", "transcoded", options="{reduceToOpus: true}")
        if not uas:
            return
        await self.media_check(cell, codec="audio/opus")
        self.tandem_call(cell, "transcod")
        await self.hang_up(cell, uas)

    async def inbound(self):
        """sipp calls the registered user; the library answers; sipp hangs up after 8 s."""
        cell = self.cell("inbound")
        bye = self.cell("hangup-from-trunk")
        uac = sipp(["-sf", os.path.join(self.args.scenarios, "lib-uac-call.xml"), f"127.0.0.1:{self.args.sip_port}",
                    "-i", "127.0.0.1", "-p", str(self.args.uac_port), "-s", self.args.user, "-m", "1", "-d", "8000",
                    "-key", "echo_port", str(self.args.media_port), "-mi", "127.0.0.1", "-mp", str(self.args.sipp_media_port)],
                   os.path.join(self.args.work, "sipp-inbound.log"))
        answered = await self.page.run("return phone.waitIncomingAndAnswer(15000);", timeout=40)
        cell.seen["library"] = answered
        if not cell.check("the library got the call and answered", answered.get("outcome") == "answered", answered):
            uac.kill()
            return
        await asyncio.sleep(0.5)
        await self.media_check(cell, seconds=3.0)
        ended = await self.page.run("return phone.waitEnded(15000);", timeout=30)
        bye.seen["library"] = ended
        bye.check("the library reports the call ended by the other side", ended.get("outcome") == "ended"
                  and ended.get("originator", "remote") == "remote", ended)
        code = await wait_process(uac, 10)
        bye.seen["sippExit"] = code
        bye.check("sipp's BYE was answered 200 (scenario complete)", code == 0, code)
        gone, calls = await self.no_calls()
        bye.check("Tandem has no call left", gone, calls)

    async def busy_and_no_answer(self):
        busy = self.cell("busy")
        outcome = await self.page.run(f"return phone.call('sip:busy@{self.args.domain}');", timeout=40)
        busy.seen["library"] = outcome
        busy.check("the call fails with 486", outcome.get("outcome") == "failed" and outcome.get("status") == 486, outcome)
        if self.args.library == "jssip":
            busy.check("JsSIP's cause is Busy", outcome.get("cause") == "Busy", outcome)
        gone, calls = await self.no_calls()
        busy.check("Tandem has no call left", gone, calls)

        none = self.cell("no-answer")
        uas = self.uas("lib-uas-noanswer.xml", "noanswer")
        await asyncio.sleep(0.3)
        outcome = await self.page.run(f"return phone.call('sip:{self.args.number}@{self.args.domain}');", timeout=40)
        none.seen["library"] = outcome
        none.check("the call fails with 480", outcome.get("outcome") == "failed" and outcome.get("status") == 480, outcome)
        if self.args.library == "jssip":
            none.check("JsSIP's cause is Unavailable", outcome.get("cause") == "Unavailable", outcome)
        code = await wait_process(uas, 10)
        none.check("sipp got the ACK for its 480", code == 0, code)
        gone, calls = await self.no_calls()
        none.check("Tandem has no call left", gone, calls)

        cancel = self.cell("cancel-while-ringing")
        calling = self.page.send(f"return phone.call('sip:noanswer@{self.args.domain}');")
        ringing = await self.page.run("return phone.waitProgress(10000);", timeout=20)
        cancel.seen["ringing"] = ringing
        cancel.check("the library hears ringing (180)", ringing.get("outcome") == "progress", ringing)
        started = time.monotonic()
        ended = await self.page.run("return phone.hangup();", timeout=20)
        cancel.seen["library"] = ended
        cancel.seen["endSeconds"] = round(time.monotonic() - started, 2)
        cancel.check("the library reports the call ended", ended.get("outcome") in ("ended", "failed"), ended)
        if self.args.library == "jssip":
            cancel.check("JsSIP's cause is Canceled", ended.get("cause") == "Canceled", ended)
        cancel.check("within 2 s", cancel.seen["endSeconds"] < 2.0, cancel.seen["endSeconds"])
        cancel.seen["callOutcome"] = await self.page.run(None, timeout=40, started=calling)
        gone, calls = await self.no_calls()
        cancel.check("Tandem has no call left", gone, calls)

    async def wss(self):
        cell = self.cell("wss")
        if not self.args.wss_url:
            cell.error = "no --wss-url"
            return
        await self.page.run("return phone.stop();")
        outcome = await self.page.run(f"return phone.start({self.start_options(url=self.args.wss_url)});")
        cell.seen["register"] = outcome
        cell.check(f"the library registers over {self.args.wss_url}", outcome.get("outcome") == "registered", outcome)
        registrations = self.ctl("registrations")
        listed = registrations if isinstance(registrations, list) else registrations.get("registrations", [])
        cell.check(f"Tandem lists user {self.args.user}", any(r.get("user") == self.args.user for r in listed), registrations)
        uas = await self.place_call(cell, "lib-uas-answer.xml", "wss")
        if not uas:
            return
        await self.media_check(cell, seconds=3.0)
        await self.hang_up(cell, uas)

    async def websocket_drop(self):
        """The WebSocket is cut mid-call (both ends' sockets destroyed, as a network drop or a
        proxy restart does): Tandem ends the call toward the trunk, the library reconnects and
        registers again, and its session ends."""
        cell = self.cell("websocket-drop")
        uas = await self.place_call(cell, "lib-uas-answer.xml", "drop")
        if not uas:
            return
        await asyncio.sleep(1.0)
        port = self.args.wss_port if self.args.wss_url and self.args.wss_url in self.current_url else self.args.ws_port
        kill = subprocess.run(["ss", "-K", "-t", "state", "established", f"( sport = :{port} or dport = :{port} )"],
                              capture_output=True, text=True)
        cell.seen["ss"] = {"status": kill.returncode, "killed": kill.stdout.count("\n"), "stderr": kill.stderr.strip()}
        cell.check("the WebSocket connection was cut", kill.returncode == 0 and kill.stdout.count("\n") >= 2, cell.seen["ss"])
        code = await wait_process(uas, 10)
        cell.seen["sippExit"] = code
        cell.check("the trunk gets a BYE (sipp's scenario completed)", code == 0, code)
        # The old connection's binding went with it; the library's REGISTER over its new
        # connection brings one back (JsSIP fires no second "registered" event for it).
        deadline = time.monotonic() + 20
        listed = []
        while time.monotonic() < deadline:
            registrations = self.ctl("registrations")
            listed = registrations if isinstance(registrations, list) else registrations.get("registrations", [])
            if any(r.get("user") == self.args.user for r in listed):
                break
            await asyncio.sleep(0.3)
        cell.seen["reregistered"] = listed
        cell.check("the library registers again over a new connection", any(r.get("user") == self.args.user for r in listed), listed)
        ended = await self.page.run("return phone.waitEnded(20000);", timeout=30)
        cell.seen["libraryEnded"] = ended
        cell.check("the library's session ends", ended.get("outcome") in ("ended", "failed"), ended)
        gone, calls = await self.no_calls()
        cell.check("Tandem has no call left", gone, calls)
        status = self.ctl("status")
        cell.seen["tandemStatus"] = {k: status.get(k) for k in ("active_calls", "registrations", "media")}
        cell.check("Tandem: one registration (the new connection's)", status.get("registrations") == 1, status.get("registrations"))
        cell.check("Tandem: every media port back in the pool", (status.get("media") or {}).get("ports_in_use") == 0, status.get("media"))

    async def run(self):
        self.current_url = self.args.ws_url
        for step in (self.register, self.outbound_relayed, self.outbound_transcoded, self.inbound,
                     self.busy_and_no_answer, self.websocket_drop, self.wss):
            name = step.__name__
            if self.args.only and name not in self.args.only.split(",") and step != self.register:
                continue
            log.info("scenario %s", name)
            if step == self.wss:
                self.current_url = self.args.wss_url
            try:
                await step()
            except Exception as error:  # noqa: BLE001  (reported in the cell, the row goes on)
                log.error("scenario %s: %s", name, traceback.format_exc())
                open_cells = [c for c in self.cells.values() if c.error is None and not c.checks] or list(self.cells.values())[-1:]
                target = open_cells[-1] if open_cells else self.cell(name)
                target.error = f"{type(error).__name__}: {error}"
                try:
                    await self.page.run("try { await phone.hangup(); } catch (e) {} return null;", timeout=15)
                except Exception:  # noqa: BLE001
                    pass
            await asyncio.sleep(0.5)


async def main_async(args):
    library_file = os.path.join(args.vendor, VENDOR_FILES[args.library])
    if not os.path.isfile(library_file):
        raise RuntimeError(f"{library_file} not found (the vendor directory: TANDEM_VENDOR_DIR)")
    page = PageServer(library_file)
    await page.start()
    loop = asyncio.get_running_loop()
    trunk = TrunkMedia()
    transport, _ = await loop.create_datagram_endpoint(lambda: trunk, local_addr=("127.0.0.1", args.media_port))
    browser = Browser(args.browser, args.work, certificate=args.certificate)
    result = {"library": args.library, "browser": args.browser, "cells": {}, "error": None}
    matrix = Matrix(args, page, trunk)
    try:
        browser.start(f"http://127.0.0.1:{page.port}/?lib={args.library}")
        matrix.browser_tone = browser.tone
        hello = await asyncio.wait_for(page.hello, 60)
        result["versions"] = hello
        log.info("page up: %s", hello)
        await asyncio.wait_for(matrix.run(), args.timeout)
    except Exception as error:  # noqa: BLE001
        result["error"] = f"{type(error).__name__}: {error}"
        log.error("%s", traceback.format_exc())
    finally:
        result["cells"] = {name: cell.result() for name, cell in matrix.cells.items()}
        result["pageLog"] = page.page_log[-2000:]
        try:
            await asyncio.wait_for(page.quit(), 1)
        except Exception:  # noqa: BLE001
            pass
        browser.stop()
        transport.close()
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", choices=sorted(VENDOR_FILES), required=True)
    parser.add_argument("--browser", choices=["chromium", "firefox"], required=True)
    parser.add_argument("--vendor", required=True, help="the directory holding the libraries' builds")
    parser.add_argument("--ws-url", required=True)
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--wss-url")
    parser.add_argument("--wss-port", type=int)
    parser.add_argument("--certificate", help="the CA certificate (PEM) that signed the WSS listener's")
    parser.add_argument("--domain", default="127.0.0.1")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--number", required=True, help="a number the dial plan routes to the sipp trunk")
    parser.add_argument("--sip-port", type=int, required=True, help="Tandem's UDP SIP port (for sipp's UAC)")
    parser.add_argument("--trunk-port", type=int, required=True, help="sipp's UAS port: the trunk pbx")
    parser.add_argument("--uac-port", type=int, required=True)
    parser.add_argument("--media-port", type=int, required=True, help="the trunk's media socket")
    parser.add_argument("--sipp-media-port", type=int, required=True)
    parser.add_argument("--scenarios", required=True)
    parser.add_argument("--tandemctl", required=True)
    parser.add_argument("--control-socket", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--timeout", type=float, default=420)
    parser.add_argument("--only", help="run only these scenarios (comma-separated step names; register always runs)")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    result = asyncio.run(main_async(args))
    print(json.dumps(result), flush=True)
    return 0 if result["error"] is None and all(c["passed"] for c in result["cells"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
