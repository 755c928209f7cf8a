#!/usr/bin/env python3
"""A real WebRTC peer (aiortc) for checking Tandem's WebRTC media leg.

How the Swift tests use it
--------------------------
The Swift interop tests spawn this script with the project's venv
interpreter (`.venv/bin/python Tests/Interop/aiortc_peer.py [options]`,
the venv made by `scripts/install-interop.sh`), optionally inside a private
network namespace holding only `lo` (`unshare -n sh -c 'ip link set lo up &&
exec ...'`), and talk to it in line-delimited JSON over its stdin/stdout:

  1. The peer prints  {"type":"offer","sdp":"..."}   -- its local description
     after gathering: one sendrecv audio m-line (opus, G722, PCMU, PCMA), a full ICE
     agent (controlling) with host candidates on --host (127.0.0.1),
     a=setup:actpass, DTLS-SRTP fingerprints.
  2. The test hands the offer to Tandem and writes Tandem's answer back as one
     line:  {"type":"answer","sdp":"..."}   (a=ice-lite answers are fine).
  3. The peer connects (ICE, then DTLS), sends a --frequency Hz tone (440 by
     default), receives the remote audio for --duration seconds and prints
     {"type":"result","connected":bool,"iceState":str,"dtlsState":str,
      "srtpProfile":str|null,"codec":str|null,"framesReceived":int,
      "dominantFrequency":float|null,"rms":float|null,"packetsSent":int,
      "packetsReceived":int,"error":null|str}
     then exits 0; on a timeout or failure it still prints a result line,
     with "error" set, and exits 1.

--timeout counts from start until connected (waiting for the answer
included); the --duration of listening comes after it. "framesReceived" counts
decoded frames (20 ms each); "dominantFrequency" is the FFT peak of the
received audio (first channel, first 100 ms left out); "rms" is the root mean
square of those samples on a 0..1 scale (full-scale s16 = 1.0). The tone sent
has amplitude 0.3, so a PCMU/PCMA leg gives rms ~0.21 and an Opus leg ~0.15
(aiortc's encoder upmixes mono to stereo at -3 dB). "codec" is the first
negotiated codec, e.g. "audio/PCMU/8000". Logs go to stderr only (more with
--verbose).

SRTP profiles: aiortc 1.16 offers SRTP_AEAD_AES_256_GCM,
SRTP_AEAD_AES_128_GCM and SRTP_AES128_CM_SHA1_80. --srtp-profile NAME[,NAME]
restricts the DTLS use_srtp extension to those (by replacing
aiortc.rtcdtlstransport.SRTP_PROFILES before the peer connection is made).
SRTP_AES128_CM_SHA1_32 is not in aiortc's list; this script adds it when asked
for it explicitly (pylibsrtp and OpenSSL both support it).
"""

import argparse
import asyncio
import fractions
import json
import logging
import math
import os
import sys
import time

import numpy as np
from av import AudioFrame

import aioice.ice
import aiortc.rtcdtlstransport as dtls
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from pylibsrtp import Policy
from peer_protocol import emit, read_answer, read_description

log = logging.getLogger("aiortc_peer")

SAMPLE_RATE = 48000
PTIME = 0.020
SAMPLES_PER_FRAME = int(SAMPLE_RATE * PTIME)

# Not in aiortc's own list; same key and salt lengths as the _80 profile
# (RFC 5764 4.1.2), only the SRTP authentication tag is shorter.
SRTP_AES128_CM_SHA1_32 = dtls.SRTPProtectionProfile(
    libsrtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    openssl_profile=b"SRTP_AES128_CM_SHA1_32",
    key_length=16,
    salt_length=14,
)

KNOWN_PROFILES = {
    p.openssl_profile.decode(): p
    for p in list(dtls.SRTP_PROFILES) + [SRTP_AES128_CM_SHA1_32]
}
STOCK_PROFILES = [p.openssl_profile.decode() for p in dtls.SRTP_PROFILES]


def restrict_srtp_profiles(names):
    """Make every DTLS transport created from now on offer/accept only `names`.

    RTCDtlsTransport copies the module-level SRTP_PROFILES list when it is
    constructed, and both the use_srtp extension and the key setup read that
    copy, so replacing the module global before creating the peer connection
    is enough.
    """
    profiles = []
    for name in names:
        if name not in KNOWN_PROFILES:
            raise ValueError(
                f"unknown SRTP profile {name!r}; known: {', '.join(KNOWN_PROFILES)}"
            )
        profiles.append(KNOWN_PROFILES[name])
    dtls.SRTP_PROFILES = profiles


def use_host_addresses(addresses):
    """aioice leaves out 127.0.0.1 when gathering host candidates; give it ours."""
    v4 = [a for a in addresses if ":" not in a]
    v6 = [a for a in addresses if ":" in a]

    def get_host_addresses(use_ipv4, use_ipv6):
        return (v4 if use_ipv4 else []) + (v6 if use_ipv6 else [])

    aioice.ice.get_host_addresses = get_host_addresses


class ToneTrack(MediaStreamTrack):
    """A sine tone, 20 ms frames of 48 kHz mono s16, paced in real time."""

    kind = "audio"

    def __init__(self, frequency=440.0, amplitude=0.3):
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._pts = None
        self._start = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self._pts is None:
            self._start = time.monotonic()
            self._pts = 0
        else:
            self._pts += SAMPLES_PER_FRAME
            wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (self._pts + np.arange(SAMPLES_PER_FRAME)) / SAMPLE_RATE
        samples = self.amplitude * 32767 * np.sin(2 * math.pi * self.frequency * t)
        frame = AudioFrame.from_ndarray(
            samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


def frame_samples(frame):
    """First channel of a decoded frame, as float in -1..1."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = data[0]
    else:
        mono = data.reshape(-1)[::channels]
    if frame.format.name.startswith("s16"):
        return mono.astype(np.float64) / 32768.0
    if frame.format.name.startswith("s32"):
        return mono.astype(np.float64) / 2147483648.0
    return mono.astype(np.float64)


def analyse(samples, sample_rate):
    """(dominant frequency in Hz, RMS) of the samples, or (None, None)."""
    if sample_rate is None or len(samples) < 256:
        return None, None
    x = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x)))
    x = x - np.mean(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    if spectrum[k] <= 0.0:
        return None, rms
    # Parabolic interpolation on the log magnitude for sub-bin accuracy.
    offset = 0.0
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denominator = a - 2 * b + c
        if denominator != 0:
            offset = 0.5 * (a - c) / denominator
    return float((k + offset) * sample_rate / len(x)), rms


def make_peer_connection():
    # No ICE servers at all: the default would be a public STUN server.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def negotiated_srtp_profile(transceiver):
    try:
        ssl = transceiver.sender.transport._ssl
        profile = ssl.get_selected_srtp_profile() if ssl is not None else None
        return profile.decode() if profile else None
    except Exception:  # aiortc internals; absent in another version
        return None


def dtls_state(transceiver):
    try:
        return transceiver.sender.transport.state
    except Exception:
        return None


def negotiated_codec(transceiver):
    try:
        codecs = transceiver._codecs
        return f"{codecs[0].mimeType}/{codecs[0].clockRate}" if codecs else None
    except Exception:
        return None




async def run(args):
    result = {
        "type": "result",
        "connected": False,
        "iceState": None,
        "dtlsState": None,
        "srtpProfile": None,
        "codec": None,
        "framesReceived": 0,
        "dominantFrequency": None,
        "rms": None,
        "packetsSent": 0,
        "packetsReceived": 0,
        "error": None,
    }
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.timeout

    pc = make_peer_connection()
    if args.answer:
        # Answering a call: the offer comes first, our tone goes on its audio transceiver.
        offer_sdp = await read_description(loop, deadline, log, "offer")
        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        transceiver = next(t for t in pc.getTransceivers() if t.kind == "audio")
        transceiver.direction = "sendrecv"
        transceiver.sender.replaceTrack(ToneTrack(args.frequency))
    else:
        transceiver = pc.addTransceiver(ToneTrack(args.frequency), direction="sendrecv")
    if args.codecs:
        wanted = [name.strip().lower() for name in args.codecs.split(",")]
        capabilities = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences(
            [c for name in wanted for c in capabilities if c.mimeType.lower() == "audio/" + name])
    remote_track = loop.create_future()
    connected = loop.create_future()
    connected.add_done_callback(lambda f: f.cancelled() or f.exception())
    if args.answer:
        remote_track.set_result(transceiver.receiver.track)  # its track event came with the offer

    @pc.on("track")
    def on_track(track):
        log.info("remote %s track", track.kind)
        if track.kind == "audio" and not remote_track.done():
            remote_track.set_result(track)

    @pc.on("connectionstatechange")
    def on_connection_state():
        state = pc.connectionState
        log.info("connectionState %s (ice %s)", state, pc.iceConnectionState)
        if state == "connected" and not connected.done():
            connected.set_result(True)
        elif state in ("failed", "closed") and not connected.done():
            connected.set_exception(RuntimeError(f"connection {state}"))

    def snapshot():
        result["iceState"] = pc.iceConnectionState
        result["dtlsState"] = dtls_state(transceiver)
        result["srtpProfile"] = negotiated_srtp_profile(transceiver)
        if result["connected"]:
            result["codec"] = negotiated_codec(transceiver)

    stage = "gathering"
    try:
        if args.answer:
            await pc.setLocalDescription(await pc.createAnswer())
            emit({"type": "answer", "sdp": pc.localDescription.sdp})
        else:
            await pc.setLocalDescription(await pc.createOffer())
            emit({"type": "offer", "sdp": pc.localDescription.sdp})

            stage = "waiting for the answer"
            answer_sdp = await read_answer(loop, deadline, log)
            await pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

        stage = "connecting"
        await asyncio.wait_for(connected, max(0.0, deadline - time.monotonic()))
        result["connected"] = True
        snapshot()
        log.info("connected; SRTP profile %s", result["srtpProfile"])

        stage = "receiving"
        samples = []
        sample_rate = None
        end = time.monotonic() + args.duration
        track = None
        if remote_track.done():
            track = remote_track.result()
        while time.monotonic() < end:
            remaining = end - time.monotonic()
            try:
                if track is None:
                    track = await asyncio.wait_for(asyncio.shield(remote_track), remaining)
                    continue
                frame = await asyncio.wait_for(track.recv(), remaining)
            except asyncio.TimeoutError:
                break
            except MediaStreamError:
                log.info("remote track ended")
                break
            result["framesReceived"] += 1
            sample_rate = frame.sample_rate
            samples.append(frame_samples(frame))

        if samples:
            # Leave out the first 100 ms: decoder start-up and jitter buffer.
            all_samples = np.concatenate(samples)
            skip = min(len(all_samples) // 4, int(0.1 * sample_rate))
            frequency, rms = analyse(all_samples[skip:], sample_rate)
            result["dominantFrequency"] = (
                round(frequency, 2) if frequency is not None else None
            )
            result["rms"] = round(rms, 5) if rms is not None else None
    except asyncio.TimeoutError:
        result["error"] = f"timed out after {args.timeout:g} s while {stage}"
    except Exception as exc:  # reported in the result line
        log.debug("failure", exc_info=True)
        result["error"] = f"{stage}: {type(exc).__name__}: {exc}"

    snapshot()
    try:
        stats = await asyncio.wait_for(transceiver.sender.getStats(), 2)
        for report in stats.values():
            if report.type == "outbound-rtp":
                result["packetsSent"] = report.packetsSent
        stats = await asyncio.wait_for(transceiver.receiver.getStats(), 2)
        for report in stats.values():
            if report.type == "inbound-rtp":
                result["packetsReceived"] = report.packetsReceived
                result["packetsLost"] = getattr(report, "packetsLost", None)
    except Exception:
        log.debug("stats unavailable", exc_info=True)
    try:
        await asyncio.wait_for(pc.close(), 3)
    except Exception:
        log.debug("close failed", exc_info=True)
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--srtp-profile",
        help="offer/accept only this DTLS-SRTP profile (comma-separated for several); "
        f"known: {', '.join(KNOWN_PROFILES)}",
    )
    parser.add_argument("--answer", action="store_true",
                        help="answer instead of offering: read {\"type\":\"offer\"} first, print the answer")
    parser.add_argument("--codecs",
                        help="offer only these codecs, in this order (comma-separated: opus,PCMU,PCMA,G722)")
    parser.add_argument("--duration", type=float, default=3.0,
                        help="seconds of remote audio to receive (default 3)")
    parser.add_argument("--timeout", type=float, default=15.0,
                        help="seconds allowed from start until connected (default 15)")
    parser.add_argument("--frequency", type=float, default=440.0,
                        help="frequency of the tone sent, in Hz (default 440)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="comma-separated addresses for host candidates (default 127.0.0.1)")
    parser.add_argument("--verbose", action="store_true", help="debug logs on stderr")
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
    try:
        if args.srtp_profile:
            restrict_srtp_profiles([n.strip() for n in args.srtp_profile.split(",") if n.strip()])
        use_host_addresses([a.strip() for a in args.host.split(",") if a.strip()])
        result = asyncio.run(run(args))
    except Exception as exc:
        result = {
            "type": "result", "connected": False, "iceState": None, "dtlsState": None,
            "srtpProfile": None, "codec": None, "framesReceived": 0,
            "dominantFrequency": None, "rms": None, "packetsSent": 0,
            "packetsReceived": 0, "error": f"{type(exc).__name__}: {exc}",
        }
    emit(result)
    sys.stderr.flush()
    # Skip interpreter teardown: nothing is left to flush, and a lingering
    # aiortc task must not keep the test waiting.
    os._exit(0 if result["error"] is None else 1)


if __name__ == "__main__":
    main()
