#!/usr/bin/env python3
"""Self-test of chromium_peer.py without Tandem.

Spawns chromium_peer.py exactly as the Swift tests spawn aiortc_peer.py (JSON
lines over stdin/stdout) and answers Chromium's offer with an aiortc peer in
this process (selftest.Answerer) that sends a 660 Hz tone. Checks that the
script reports a connection, an SRTP profile, packets both ways and a
dominant frequency near 660 Hz, and that this side hears Chromium's fake
microphone (440 Hz). Cases: aiortc's own answer (setup:active), an
a=ice-lite, a=setup:passive PCMU answer (as Tandem answers), a DTLS server
held to each profile Chromium offers (the reported srtpProfile must be that
one), another --frequency, a server held to SRTP_AES128_CM_SHA1_32 (Chromium
does not offer it: must fail), and the timeout path. Also checks
that no Chromium process is left behind.

Needs the chromium Debian package (scripts/install-deps.sh test) and the venv
(scripts/install-interop.sh).
Run: .venv/bin/python Tests/Interop/selftest_chromium.py   (exit status 0 = all passed)
"""

import asyncio
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import aiortc.rtcdtlstransport as dtls  # noqa: E402

import aiortc_peer  # noqa: E402
import selftest  # noqa: E402

PEER = os.path.join(HERE, "chromium_peer.py")
ANSWER_TONE = selftest.ANSWER_TONE
DURATION = 2.0
TOLERANCE_HZ = 15.0


def chromium_processes(marker="tandem-chromium-"):
    """Pids of Chromium processes started by chromium_peer.py (their profile dir)."""
    out = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if marker in line]


async def run_peer(args, answer=True, ice_lite=False, codec=None, dtls_server=False, profiles=None):
    """Run chromium_peer.py; returns (exit code, result, answerer, offer, stderr, seconds)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, PEER, *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    answerer = None
    offer = None
    timings = {}
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        timings["offer"] = time.monotonic() - started
        offer = json.loads(line)
        assert offer["type"] == "offer", offer
        if answer:
            answerer = selftest.Answerer(ice_lite=ice_lite, codec=codec, dtls_server=dtls_server,
                                         srtp_profiles=profiles)
            sdp = await answerer.answer(offer["sdp"])
            if dtls_server and "a=setup:passive" not in sdp:
                raise AssertionError("the answer lacks a=setup:passive")
            proc.stdin.write((json.dumps({"type": "answer", "sdp": sdp}) + "\n").encode())
            await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        timings["result"] = time.monotonic() - started
        result = json.loads(line) if line else None
        code = await asyncio.wait_for(proc.wait(), 10)
        timings["exit"] = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        stderr = (await proc.stderr.read()).decode(errors="replace")
        if answerer is not None:
            await answerer.close()
    return code, result, answerer, offer, stderr, timings


def check_media(result, answerer, chromium_tone, expected_profile=None):
    problems = []
    if not result["connected"]:
        problems.append("not connected")
    if result["iceState"] not in ("completed", "connected"):
        problems.append(f"iceState {result['iceState']}")
    if result["dtlsState"] not in ("connected", "closed"):
        problems.append(f"dtlsState {result['dtlsState']}")
    if result["srtpProfile"] not in aiortc_peer.KNOWN_PROFILES:
        problems.append(f"srtpProfile {result['srtpProfile']}")
    if expected_profile and result["srtpProfile"] != expected_profile:
        problems.append(f"srtpProfile {result['srtpProfile']} != {expected_profile}")
    if result["framesReceived"] < 0.5 * DURATION / 0.02:
        problems.append(f"only {result['framesReceived']} frames received")
    if result["packetsReceived"] < 0.5 * DURATION / 0.02:
        problems.append(f"packetsReceived {result['packetsReceived']}")
    if result["packetsSent"] < 0.5 * DURATION / 0.02:
        problems.append(f"packetsSent {result['packetsSent']}")
    f = result["dominantFrequency"]
    if f is None or abs(f - ANSWER_TONE) > TOLERANCE_HZ:
        problems.append(f"dominantFrequency {f}, wanted {ANSWER_TONE}")
    if not result["rms"] or result["rms"] < 0.05:
        problems.append(f"rms {result['rms']}")
    heard = answerer.heard() if answerer else None
    if heard is None or abs(heard - chromium_tone) > TOLERANCE_HZ:
        problems.append(f"answerer heard {heard}, wanted {chromium_tone}")
    if answerer is not None and answerer.frames < 0.5 * DURATION / 0.02:
        problems.append(f"answerer decoded only {answerer.frames} frames")
    if result["error"] is not None:
        problems.append(f"error {result['error']}")
    return problems


async def case_media(args, chromium_tone=440.0, ice_lite=False, codec=None, dtls_server=False,
                     profiles=None, expected_profile=None):
    code, result, answerer, offer, stderr, timings = await run_peer(
        ["--duration", str(DURATION), "--timeout", "20"] + args, ice_lite=ice_lite, codec=codec,
        dtls_server=dtls_server, profiles=profiles,
    )
    if result is None:
        return [f"no result line; stderr:\n{stderr}"], None, timings
    problems = check_media(result, answerer, chromium_tone, expected_profile)
    if codec is not None and not (result["codec"] or "").lower().startswith(codec.lower() + "/"):
        problems.append(f"codec {result['codec']}, wanted {codec}")
    if code != 0:
        problems.append(f"exit code {code}")
    if offer and "a=setup:actpass" not in offer["sdp"]:
        problems.append("offer lacks a=setup:actpass")
    if offer and " 127.0.0.1 " not in offer["sdp"]:
        problems.append("offer has no 127.0.0.1 candidate")
    if offer and any(line.startswith("a=candidate:") and " 127.0.0.1 " not in line
                     for line in offer["sdp"].split("\r\n")):
        problems.append("offer has candidates besides 127.0.0.1")
    if problems and stderr:
        problems.append("stderr:\n" + stderr[-3000:])
    return problems, result, timings


async def case_profile_mismatch():
    # Chromium does not offer SHA1_32; a DTLS server held to it must fail.
    code, result, _, _, stderr, timings = await run_peer(
        ["--timeout", "8", "--duration", "1"], ice_lite=True, dtls_server=True,
        profiles=[aiortc_peer.KNOWN_PROFILES["SRTP_AES128_CM_SHA1_32"]],
    )
    if result is None:
        return [f"no result line; stderr:\n{stderr}"], None, timings
    problems = []
    if code != 1:
        problems.append(f"exit code {code}, wanted 1")
    # DTLS completes without use_srtp (Chromium says connected): the error must say so.
    if not result["error"] or "SRTP" not in result["error"] or result["srtpProfile"] is not None:
        problems.append(f"result {result}")
    return problems, result, timings


async def case_timeout():
    code, result, _, _, stderr, timings = await run_peer(["--timeout", "4"], answer=False)
    problems = []
    if result is None:
        return [f"no result line; stderr:\n{stderr}"], None, timings
    if code != 1:
        problems.append(f"exit code {code}, wanted 1")
    if result["connected"] or not result["error"] or "timed out" not in result["error"]:
        problems.append(f"result {result}")
    if timings.get("exit", 99) > 10:
        problems.append(f"took {timings.get('exit')} s")
    return problems, result, timings


async def main():
    dtls.SRTP_PROFILES = list(aiortc_peer.KNOWN_PROFILES.values())
    aiortc_peer.use_host_addresses(["127.0.0.1"])
    before = set(chromium_processes())

    known = aiortc_peer.KNOWN_PROFILES
    cases = [
        ("aiortc's answer (setup:active, Chromium DTLS server)", lambda: case_media([])),
        ("PCMU, a=ice-lite, setup:passive answer, as Tandem answers",
         lambda: case_media([], ice_lite=True, codec="audio/PCMU", dtls_server=True)),
    ]
    for name in ("SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"):
        cases.append((f"DTLS server held to {name}",
                      lambda name=name: case_media([], ice_lite=True, codec="audio/PCMU",
                                                   dtls_server=True, profiles=[known[name]],
                                                   expected_profile=name)))
    cases += [
        ("--frequency 550, --srtp-profile ignored",
         lambda: case_media(["--frequency", "550", "--srtp-profile", "SRTP_AES128_CM_SHA1_80"],
                            chromium_tone=550.0, ice_lite=True, codec="audio/PCMU",
                            dtls_server=True)),
        ("DTLS server held to SRTP_AES128_CM_SHA1_32 fails", case_profile_mismatch),
        ("timeout without an answer", case_timeout),
    ]

    passed = failed = 0
    for title, make in cases:
        try:
            problems, result, timings = await make()
        except Exception as exc:
            problems, result, timings = [f"{type(exc).__name__}: {exc}"], None, {}
        left = set(chromium_processes()) - before
        if left:
            problems.append(f"Chromium processes left behind: {sorted(left)}")
        summary = " " + " ".join(f"{k}@{v:.1f}s" for k, v in timings.items())
        if result:
            summary += (f" profile={result['srtpProfile']} codec={result['codec']} "
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
