#!/usr/bin/env python3
"""Drives Tandem's demo web phone in headless Chromium through whole calls.

Run by DaemonTests/DemoPhoneTests with the project's virtual environment, inside the same network
namespace as tandemd (holding only loopback). tandemd is already running with the demo phone on
and a trunk pointing at --trunk-port; this script plays the rest:

  - a UDP socket on --echo-port stands in for the trunk's media: it counts the RTP it receives by
    payload type (PCMU is 0, telephone-event 101, with the RFC 4733 event codes seen) and sends
    every packet back to where it came from, so what the page sends comes back to it;
  - sipp as the trunk's UAS (Scenarios/uas-echo-hold.xml: answers PCMU with --echo-port as its
    media port, checks that the re-INVITEs carry a=sendonly then a=sendrecv, takes the BYE);
  - headless Chromium (fake microphone: a tone) loads http://127.0.0.1:<http-port>/phone/ and is
    driven through window.tandemPhone over the DevTools protocol: a registration with a wrong
    password (refused), a call to an unrouted number (rejected), registration, a call to
    --number, DTMF, hold, resume, hang-up; a screenshot mid-call if --screenshot is given;
  - after that call, every other way a call ends, with the call panel and the state badge read
    from the page: the unrouted number again (404 from Tandem), --busy-number (sipp answers 486,
    Scenarios/uas-busy.xml) and --ringing-number (sipp rings, Scenarios/uas-ring-cancel.xml),
    hung up while it rings: the page's SIP log must show the ACK for the 487;
  - sipp as a UAC (Scenarios/uac-echo.xml) calling the registered user; the page answers by
    itself (autoanswer=1) and sipp hangs up after a few seconds.

Prints one JSON object on stdout with what was seen at every step; the test decides. Logs go to
stderr.
"""

import argparse
import asyncio
import base64
import json
import logging
import os
import struct
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chromium_peer  # noqa: E402  (Chromium launch and DevTools client)
from rtp_counter import RTPCounter  # noqa: E402
from sipp_peer import sipp, wait_process  # noqa: E402

log = logging.getLogger("demo_phone_driver")


class MediaCounter(RTPCounter):
    """The trunk's media: counts RTP by payload type and echoes each packet to its sender."""

    def answer(self, data, payload_type, header, address):
        self.transport.sendto(data, address)


async def until(devtools, expression, timeout):
    """Polls a JavaScript expression until it is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await devtools.evaluate(expression)
        if value:
            return value
        await asyncio.sleep(0.1)
    return value


# The call panel's figures and the state badge, as the page shows them.
PANEL = ("Object.fromEntries(Array.from(document.querySelectorAll('#panel td[id]'), td => [td.id, td.textContent])"
         ".concat([['s-level', document.getElementById('s-level').value]]))")
BADGE = "document.getElementById('state').textContent"


async def shown(devtools):
    """What the page shows about the call: badge, message, panel, and tandemPhone's view."""
    return {"badge": await devtools.evaluate(BADGE), "panel": await devtools.evaluate(PANEL),
            "status": await devtools.evaluate("tandemPhone.status()"), "stats": await devtools.evaluate("tandemPhone.stats()")}


async def sip_log_since(devtools, marker):
    """The page's SIP log (direction and first line, no time) from the last line containing marker."""
    lines = [line.split(" ", 1)[1] for line in (await devtools.evaluate("document.getElementById('log').textContent")).split("\n")
             if " " in line]
    starts = [i for i, line in enumerate(lines) if marker in line]
    return lines[starts[-1]:] if starts else []


async def rejected_call(devtools, number):
    """Calls a number that is refused; what the page shows at once, 1.5 s and 3.5 s after."""
    outcome = await asyncio.wait_for(devtools.evaluate(f"tandemPhone.call({json.dumps(number)})"), 20)
    at_once = await shown(devtools)
    await asyncio.sleep(1.5)
    later = await devtools.evaluate(BADGE)
    await asyncio.sleep(2)
    return {"outcome": outcome, "atOnce": at_once, "badgeLater": later, "badgeAfter": await devtools.evaluate(BADGE),
            "callAfter": (await devtools.evaluate("tandemPhone.status()"))["call"]}


async def open_phone(devtools, url, timeout=15):
    await devtools.call("Page.enable")
    await devtools.call("Page.navigate", {"url": url})
    ready = await until(devtools, "typeof window.tandemPhone === 'object' && location.href === " + json.dumps(url), timeout)
    if not ready:
        raise RuntimeError("the demo phone did not load from " + url)
    await devtools.evaluate("tandemPhone.ready.then(() => true)")


async def run(args, result):
    loop = asyncio.get_running_loop()
    counter = MediaCounter()
    transport, _ = await loop.create_datagram_endpoint(lambda: counter, local_addr=("127.0.0.1", args.echo_port))
    browser = chromium_peer.Browser(types.SimpleNamespace(frequency=args.frequency, chromium=None, verbose=args.verbose))
    devtools = None
    uas = None
    try:
        uas = sipp(["-sf", os.path.join(args.scenarios, "uas-echo-hold.xml"), "-i", "127.0.0.1", "-p", str(args.trunk_port),
                    "-mp", str(args.sipp_media_port), "-key", "echo_port", str(args.echo_port), "-m", "1", "-timeout", "120s"],
                   os.path.join(args.work, "sipp-uas.log"))
        deadline = time.monotonic() + 30
        devtools_url, first_page = await browser.start(deadline)
        devtools = await chromium_peer.DevTools.connect(devtools_url)
        await chromium_peer.attach(devtools, first_page, deadline)
        base = f"http://127.0.0.1:{args.http_port}/phone/"

        # 1. A wrong password: the page says the registration was refused, with the status.
        await open_phone(devtools, base + f"?user={args.user}&password=wrong-{args.password}&raw=1")
        result["wrongPassword"] = {"outcome": await devtools.evaluate("tandemPhone.register()"),
                                   "status": await devtools.evaluate("tandemPhone.status()")}

        # 2. The right one (the WebSocket URL comes from config.json), then an unrouted number.
        await open_phone(devtools, base + f"?user={args.user}&password={args.password}&raw=1&autoanswer=1")
        result["wsURL"] = await devtools.evaluate("document.getElementById('ws').value")
        result["register"] = await devtools.evaluate("tandemPhone.register()")
        result["rejected"] = {"outcome": await devtools.evaluate(f"tandemPhone.call({json.dumps(args.unrouted)})"),
                              "status": await devtools.evaluate("tandemPhone.status()")}
        await asyncio.sleep(0.5)

        # 3. A call through the trunk: audio both ways, DTMF, hold, resume, hang-up.
        counter.reset()
        result["outcome"] = await asyncio.wait_for(devtools.evaluate(f"tandemPhone.call({json.dumps(args.number)})"), 20)
        await asyncio.sleep(4)
        result["inCall"] = await devtools.evaluate("tandemPhone.stats()")
        result["inCallPanel"] = await devtools.evaluate(PANEL)
        result["trunkInCall"] = counter.snapshot()
        if args.screenshot:
            await devtools.call("Emulation.setDeviceMetricsOverride",
                                {"width": 960, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            await asyncio.sleep(1.2)  # a panel refresh at the new size
            shot = await devtools.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            with open(args.screenshot, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
        result["dtmfQueued"] = await devtools.evaluate("tandemPhone.dtmf('1234#')")
        await asyncio.sleep(2)
        result["afterDTMF"] = {"page": await devtools.evaluate("tandemPhone.stats()"), "trunk": counter.snapshot()}
        result["hold"] = await asyncio.wait_for(devtools.evaluate("tandemPhone.hold()"), 15)
        await asyncio.sleep(1.5)
        result["held"] = await devtools.evaluate("tandemPhone.stats()")
        result["resume"] = await asyncio.wait_for(devtools.evaluate("tandemPhone.resume()"), 15)
        await asyncio.sleep(2.5)
        result["resumed"] = await devtools.evaluate("tandemPhone.stats()")
        hung_up_at = time.monotonic()
        result["hangup"] = await devtools.evaluate("tandemPhone.hangup()")
        result["afterHangup"] = await devtools.evaluate("tandemPhone.status()")
        result["afterHangupShown"] = await shown(devtools)
        result["uasExit"] = await wait_process(uas, 15)

        # 3b. Every other ending, after that answered call. The unrouted number (404 from Tandem),
        # 2 s after the hang-up, so the ended call's own return to idle falls within what is read.
        await asyncio.sleep(max(0, hung_up_at + 2 - time.monotonic()))
        result["rejectedAfterCall"] = await rejected_call(devtools, args.unrouted)
        # A trunk that is busy (486).
        uas = sipp(["-sf", os.path.join(args.scenarios, "uas-busy.xml"), "-i", "127.0.0.1", "-p", str(args.trunk_port),
                    "-m", "1", "-timeout", "30s"], os.path.join(args.work, "sipp-uas-busy.log"))
        await asyncio.sleep(0.3)
        result["busy"] = await rejected_call(devtools, args.busy_number)
        result["busyUasExit"] = await wait_process(uas, 10)
        # A trunk that rings; the page hangs up while it rings: CANCEL, 487 (ACKed), ended at once.
        uas = sipp(["-sf", os.path.join(args.scenarios, "uas-ring-cancel.xml"), "-i", "127.0.0.1", "-p", str(args.trunk_port),
                    "-m", "1", "-timeout", "30s"], os.path.join(args.work, "sipp-uas-ring.log"))
        await asyncio.sleep(0.3)
        await devtools.evaluate("window.ringOutcome = null; "
                                f"tandemPhone.call({json.dumps(args.ringing_number)}).then(o => {{ window.ringOutcome = o; }}); true")
        result["ringing"] = bool(await until(devtools, "tandemPhone.status().call === 'ringing'", 15))
        await asyncio.sleep(0.5)
        cancelled_at = time.monotonic()
        result["cancelHangup"] = await devtools.evaluate("tandemPhone.hangup()")
        result["cancelOutcome"] = await until(devtools, "window.ringOutcome", 8)
        result["cancelSeconds"] = round(time.monotonic() - cancelled_at, 2)
        result["afterCancel"] = await shown(devtools)
        result["cancelLog"] = await sip_log_since(devtools, f"INVITE sip:{args.ringing_number}@")
        result["ringUasExit"] = await wait_process(uas, 10)

        # 4. The trunk calls the page, which answers by itself; sipp hangs up after a while.
        counter.reset()
        uac = sipp(["-sf", os.path.join(args.scenarios, "uac-echo.xml"), "-s", args.user, f"127.0.0.1:{args.sip_port}",
                    "-i", "127.0.0.1", "-p", str(args.uac_port), "-mp", str(args.sipp_media_port),
                    "-key", "echo_port", str(args.echo_port), "-m", "1", "-timeout", "60s"],
                   os.path.join(args.work, "sipp-uac.log"))
        answered = await until(devtools, "tandemPhone.status().call === 'in call'", 20)
        result["incomingAnswered"] = bool(answered)
        # Seconds from the page's 200 OK to the first packet heard (see docs/interop.md).
        answered_at = time.monotonic()
        await until(devtools, "tandemPhone.stats().then(s => s && s.packetsReceived > 0)", 10)
        result["incomingMediaDelay"] = round(time.monotonic() - answered_at, 2)
        await asyncio.sleep(4)
        result["incoming"] = await devtools.evaluate("tandemPhone.stats()")
        result["trunkIncoming"] = counter.snapshot()
        result["uacExit"] = await wait_process(uac, 25)
        await asyncio.sleep(0.5)
        result["afterIncoming"] = await devtools.evaluate("tandemPhone.status()")
    finally:
        if uas is not None and uas.poll() is None:
            uas.kill()
            uas.wait()
        if devtools is not None:
            await devtools.close()
        browser.stop()
        transport.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--sip-port", type=int, required=True, help="tandemd's UDP SIP listener")
    parser.add_argument("--trunk-port", type=int, required=True, help="where the trunk (sipp UAS) listens")
    parser.add_argument("--uac-port", type=int, required=True)
    parser.add_argument("--echo-port", type=int, required=True)
    parser.add_argument("--sipp-media-port", type=int, required=True)
    parser.add_argument("--scenarios", required=True)
    parser.add_argument("--work", required=True, help="a directory for sipp's logs")
    parser.add_argument("--user", default="1001")
    parser.add_argument("--password", required=True)
    parser.add_argument("--number", default="2000")
    parser.add_argument("--unrouted", default="555")
    parser.add_argument("--busy-number", default="2001", help="a number routed to the trunk, for the busy trunk")
    parser.add_argument("--ringing-number", default="2002", help="a number routed to the trunk, for the ringing trunk")
    parser.add_argument("--frequency", type=int, default=660)
    parser.add_argument("--screenshot")
    parser.add_argument("--timeout", type=float, default=150)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    result = {"error": None}
    try:
        asyncio.run(asyncio.wait_for(run(args, result), args.timeout))
    except BaseException as error:  # the result line is printed on every path
        result["error"] = f"{type(error).__name__}: {error}"
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
