"""sipp as a test peer: started in the background with its errors in a file, and awaited
without blocking the event loop. Shared by the drivers in Tests/Interop."""

import asyncio
import subprocess
import time


def sipp(arguments, log_path):
    out = open(log_path, "ab")
    return subprocess.Popen(["sipp"] + arguments + ["-nostdin", "-trace_err", "-error_file", log_path + ".errors"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out)


async def wait_process(process, timeout):
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
        return None
    return process.returncode
