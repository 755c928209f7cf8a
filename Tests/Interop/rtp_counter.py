"""The trunk side of a test's media: a UDP endpoint that counts the RTP Tandem sends it by payload
type, records the RFC 4733 event codes (payload type 101) and where packets came from, and lets
a subclass answer each packet. Shared by the drivers in Tests/Interop."""

import asyncio


class RTPCounter(asyncio.DatagramProtocol):
    def __init__(self):
        self.reset()

    def reset(self):
        self.by_type = {}
        self.events = []
        self.sources = set()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, address):
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        payload_type = data[1] & 0x7F
        self.by_type[payload_type] = self.by_type.get(payload_type, 0) + 1
        self.sources.add(f"{address[0]}:{address[1]}")
        header = 12 + 4 * (data[0] & 0x0F)
        if payload_type == 101 and len(data) >= header + 4:
            event = data[header]
            if not self.events or self.events[-1] != event:
                self.events.append(event)
        self.answer(data, payload_type, header, address)

    def answer(self, data, payload_type, header, address):
        """Called for every RTP packet after it is counted; answers nothing by default."""

    def snapshot(self):
        return {"pcmu": self.by_type.get(0, 0), "byType": {str(k): v for k, v in self.by_type.items()},
                "events": list(self.events), "sources": sorted(self.sources)}
