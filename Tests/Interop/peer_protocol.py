"""The JSON-lines protocol shared by the interop test peers (aiortc_peer.py, chromium_peer.py):
one JSON object per line on stdout, answers read from stdin without blocking the event loop."""

import asyncio
import json
import os
import sys
import time


async def read_line(reader_queue, deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise asyncio.TimeoutError
    return await asyncio.wait_for(reader_queue.get(), remaining)


def start_stdin_reader(loop):
    """Lines of stdin into an asyncio queue (None at end of input)."""
    queue = asyncio.Queue()
    fd = sys.stdin.fileno()
    pending = bytearray()

    def on_readable():
        chunk = os.read(fd, 65536)
        pending.extend(chunk)
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            queue.put_nowait(line.decode("utf-8", "replace") + "\n")
        if not chunk:
            loop.remove_reader(fd)
            if pending:
                queue.put_nowait(pending.decode("utf-8", "replace"))
                pending.clear()
            queue.put_nowait(None)

    try:
        loop.add_reader(fd, on_readable)
    except (ValueError, OSError, NotImplementedError, PermissionError):
        # Not pollable (a regular file): read it whole now.
        for line in sys.stdin.readlines():
            queue.put_nowait(line)
        queue.put_nowait(None)
    return queue


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def read_description(loop, deadline, log, kind):
    """The SDP of the first {"type": kind} line on stdin ("offer" or "answer"); other messages are
    logged and skipped."""
    lines = start_stdin_reader(loop)
    while True:
        line = await read_line(lines, deadline)
        if line is None:
            raise RuntimeError(f"stdin closed before an {kind} came")
        if not line.strip():
            continue
        message = json.loads(line)
        if message.get("type") == kind:
            return message["sdp"]
        log.warning("ignoring message of type %r", message.get("type"))


async def read_answer(loop, deadline, log):
    """The SDP of the first {"type": "answer"} line on stdin."""
    return await read_description(loop, deadline, log, "answer")
