#!/usr/bin/env python3
"""The toy, except that 0000 first sends packets that once ended the run
(the parser's RecursionError escaped the loop) and others that must each be
counted as one invalid packet with its reason; nothing else changes.

Every packet stays under the classic generation's 16384-byte read, and none
is forwarded: under UDP a packet for a replica that has not said hello yet
would kill it.  tests/test_bad_packets.py says what each one counts as.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402

HEAD = b'{"src":"0000","dst":"0001","leader":"0000",'

BAD_PACKETS = [
    b"[" * 16000,                                    # RecursionError in json.loads
    b"[" * 16000 + b'"hello"',                       # ... also in the UDP hello check
    HEAD + b'"type":"append","n":' + b"9" * 5000 + b"}",   # int beyond 4300 digits
    HEAD + b'"type":"append","n":NaN}',
    b"\xff\xfe\x00 not utf-8",
    HEAD + b'"type":"app\x00end"}',                  # a raw NUL in a string
    b"\x00" * 64,
    b"null",
    b"[1, 2]",
    b'"hello"',
    b'{"src":"0000","dst":1e999,"leader":"0000","type":"append"}',
    b'{"src":"0000","dst":["0001"],"leader":"0000","type":"append"}',
    HEAD + b'"type":{"t":1}}',
]

class BadPackets(fakelib.ToyReplica):
    def on_start(self) -> None:
        if self.id == fakelib.LEADER:
            for packet in BAD_PACKETS:
                self.t.send_raw(packet)


if __name__ == "__main__":
    fakelib.main(BadPackets)
