#!/usr/bin/env python3
"""Self-test of aiortc_peer.py without Tandem.

Spawns aiortc_peer.py exactly as the Swift tests do (JSON lines over
stdin/stdout) and answers its offer with a second aiortc peer in this process
that sends a 660 Hz tone. Checks that the script reports a connection, the
negotiated SRTP profile, received frames and a dominant frequency near 660 Hz,
and that this side hears the script's 440 Hz tone. Also checks each
--srtp-profile restriction, an answer marked a=ice-lite, a PCMU answer, that
no SRTP profile in common fails, and the timeout path.

Run: .venv/bin/python Tests/Interop/selftest.py   (exit status 0 = all passed)
"""

import asyncio
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import numpy as np  # noqa: E402
import aiortc.rtcdtlstransport as dtls  # noqa: E402
from aiortc import RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

import aiortc_peer  # noqa: E402

PEER = os.path.join(HERE, "aiortc_peer.py")
SCRIPT_TONE = 440.0
ANSWER_TONE = 660.0
DURATION = 2.0
TOLERANCE_HZ = 15.0


class Answerer:
    """The in-process aiortc peer standing in for Tandem."""

    def __init__(self, ice_lite=False, srtp_profiles=None, codec=None, dtls_server=False):
        self.ice_lite = ice_lite
        self.dtls_server = dtls_server
        self.codec = codec
        self.srtp_profiles = srtp_profiles
        self.pc = aiortc_peer.make_peer_connection()
        self.frames = 0
        self.samples = []
        self.sample_rate = None
        self.task = None

        @self.pc.on("track")
        def on_track(track):
            if track.kind == "audio":
                self.task = asyncio.ensure_future(self._collect(track))

    async def _collect(self, track):
        try:
            while True:
                frame = await track.recv()
                self.frames += 1
                self.sample_rate = frame.sample_rate
                self.samples.append(aiortc_peer.frame_samples(frame))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def answer(self, offer_sdp):
        # The DTLS transport copies the module's profile list when it is made,
        # which for an answerer is while the offer is applied.
        saved = dtls.SRTP_PROFILES
        if self.srtp_profiles is not None:
            dtls.SRTP_PROFILES = self.srtp_profiles
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        finally:
            dtls.SRTP_PROFILES = saved
        if self.dtls_server:
            # Answer a=setup:passive, as Tandem does: aiortc keeps a role set
            # before the answer is made (its default for an answer is active).
            for transceiver in self.pc.getTransceivers():
                transceiver.receiver.transport._set_role("server")
        self.pc.addTrack(aiortc_peer.ToneTrack(ANSWER_TONE))
        if self.codec is not None:
            # Preferences only count when the offer is applied, and the
            # transceiver only exists from then on: narrow the common list.
            for transceiver in self.pc.getTransceivers():
                transceiver._codecs = [c for c in transceiver._codecs
                                       if c.mimeType.lower() == self.codec.lower()]
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        sdp = self.pc.localDescription.sdp
        if self.ice_lite:
            # Session-level attribute, as Tandem puts it: right after t=.
            sdp = sdp.replace("t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n", 1)
        return sdp

    async def close(self):
        if self.task is not None:
            self.task.cancel()
        await self.pc.close()

    def heard(self):
        if not self.samples:
            return None
        return aiortc_peer.analyse(np.concatenate(self.samples)[4800:], self.sample_rate)[0]


async def run_peer(args, answer=True, ice_lite=False, answer_profiles=None, codec=None):
    """Run aiortc_peer.py with args; returns (exit code, result, answerer, offer)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, PEER, *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    answerer = None
    offer = None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        offer = json.loads(line)
        assert offer["type"] == "offer", offer
        if answer:
            answerer = Answerer(ice_lite=ice_lite, srtp_profiles=answer_profiles, codec=codec)
            sdp = await answerer.answer(offer["sdp"])
            proc.stdin.write((json.dumps({"type": "answer", "sdp": sdp}) + "\n").encode())
            await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), 40)
        result = json.loads(line) if line else None
        code = await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        stderr = (await proc.stderr.read()).decode(errors="replace")
        if answerer is not None:
            await answerer.close()
    return code, result, answerer, offer, stderr


def check_media(result, answerer, expected_profile):
    problems = []
    if not result["connected"]:
        problems.append("not connected")
    if result["iceState"] not in ("completed", "connected"):
        problems.append(f"iceState {result['iceState']}")
    if result["dtlsState"] not in ("connected", "closed"):
        problems.append(f"dtlsState {result['dtlsState']}")
    if expected_profile and result["srtpProfile"] != expected_profile:
        problems.append(f"srtpProfile {result['srtpProfile']} != {expected_profile}")
    if result["framesReceived"] < 0.5 * DURATION / 0.02:
        problems.append(f"only {result['framesReceived']} frames received")
    f = result["dominantFrequency"]
    if f is None or abs(f - ANSWER_TONE) > TOLERANCE_HZ:
        problems.append(f"dominantFrequency {f}, wanted {ANSWER_TONE}")
    if not result["rms"] or result["rms"] < 0.05:
        problems.append(f"rms {result['rms']}")
    if result["packetsSent"] < 0.5 * DURATION / 0.02:
        problems.append(f"packetsSent {result['packetsSent']}")
    heard = answerer.heard() if answerer else None
    if heard is None or abs(heard - SCRIPT_TONE) > TOLERANCE_HZ:
        problems.append(f"answerer heard {heard}, wanted {SCRIPT_TONE}")
    if result["error"] is not None:
        problems.append(f"error {result['error']}")
    return problems


async def case_media(name, args, expected_profile=None, ice_lite=False, codec=None):
    code, result, answerer, offer, stderr = await run_peer(
        ["--duration", str(DURATION), "--timeout", "15"] + args, ice_lite=ice_lite, codec=codec
    )
    if result is None:
        return [f"no result line; stderr:\n{stderr}"], None
    problems = check_media(result, answerer, expected_profile)
    if codec is not None and not (result["codec"] or "").lower().startswith(codec.lower() + "/"):
        problems.append(f"codec {result['codec']}, wanted {codec}")
    if code != 0:
        problems.append(f"exit code {code}")
    if offer and "a=setup:actpass" not in offer["sdp"]:
        problems.append("offer lacks a=setup:actpass")
    if offer and " 127.0.0.1 " not in offer["sdp"]:
        problems.append("offer has no 127.0.0.1 candidate")
    if problems and stderr:
        problems.append("stderr:\n" + stderr[-2000:])
    return problems, result


async def case_timeout():
    started = time.monotonic()
    code, result, _, _, stderr = await run_peer(["--timeout", "2"], answer=False)
    elapsed = time.monotonic() - started
    problems = []
    if result is None:
        return [f"no result line; stderr:\n{stderr}"], None
    if code != 1:
        problems.append(f"exit code {code}, wanted 1")
    if result["connected"] or not result["error"] or "timed out" not in result["error"]:
        problems.append(f"result {result}")
    if elapsed > 10:
        problems.append(f"took {elapsed:.1f} s")
    return problems, result


async def case_profile_mismatch():
    # The script offers only SHA1_32; this side accepts only AES-GCM: DTLS must fail.
    gcm = [p for p in aiortc_peer.KNOWN_PROFILES.values() if b"GCM" in p.openssl_profile]
    code, result, _, _, stderr = await run_peer(
        ["--srtp-profile", "SRTP_AES128_CM_SHA1_32", "--timeout", "10", "--duration", "1"],
        answer_profiles=gcm,
    )
    if result is None:
        return [f"no result line; stderr:\n{stderr}"], None
    problems = []
    if code != 1:
        problems.append(f"exit code {code}, wanted 1")
    if result["connected"] or not result["error"] or result["srtpProfile"] is not None:
        problems.append(f"result {result}")
    return problems, result


async def main():
    # This side accepts every profile the script may be restricted to.
    dtls.SRTP_PROFILES = list(aiortc_peer.KNOWN_PROFILES.values())
    aiortc_peer.use_host_addresses(["127.0.0.1"])

    cases = [("default profiles", case_media("default", [], aiortc_peer.STOCK_PROFILES[0]))]
    for name in aiortc_peer.KNOWN_PROFILES:
        cases.append((f"--srtp-profile {name}",
                      case_media(name, ["--srtp-profile", name], name)))
    cases.append(("answer with a=ice-lite",
                  case_media("ice-lite", [], aiortc_peer.STOCK_PROFILES[0], ice_lite=True)))
    cases.append(("PCMU answer, as a SIP trunk would pick",
                  case_media("pcmu", [], aiortc_peer.STOCK_PROFILES[0], ice_lite=True,
                             codec="audio/PCMU")))
    cases.append(("no SRTP profile in common fails", case_profile_mismatch()))
    cases.append(("timeout without an answer", case_timeout()))

    passed = failed = 0
    for title, coro in cases:
        try:
            problems, result = await coro
        except Exception as exc:
            problems, result = [f"{type(exc).__name__}: {exc}"], None
        summary = ""
        if result:
            summary = (f" profile={result['srtpProfile']} codec={result['codec']} "
                       f"frames={result['framesReceived']} f={result['dominantFrequency']} "
                       f"rms={result['rms']} sent={result['packetsSent']} "
                       f"error={result['error']}")
        if problems:
            failed += 1
            print(f"FAIL {title}:{summary}")
            for problem in problems:
                print(f"     {problem}")
        else:
            passed += 1
            print(f"ok   {title}:{summary}")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return failed == 0


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main()) else 1)
