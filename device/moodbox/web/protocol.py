"""uvicorn's HTTP/1.1 protocol (h11) with the limits a LAN appliance needs against slow and hostile
clients: connections per address and in all, a deadline for the request headers (dripping one
byte at a time does not extend it), no reading of a body after the answer was sent, and errors
for unparsable requests as JSON like every other error."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("moodbox.web.server")

MAX_PER_ADDRESS = 32  # a browser opens at most 6 per host; the rest is a misbehaving client
MAX_CONNECTIONS = 400  # below the daemon's 1024 open files
HEADER_TIMEOUT_S = 10.0  # from connecting (or the previous answer) to the end of the request headers
WRITE_STALL_S = 30.0  # a client that reads nothing of our answer for this long is cut off


@dataclass
class ConnectionLimits:
    per_address: int = MAX_PER_ADDRESS
    total: int = MAX_CONNECTIONS
    header_timeout_s: float = HEADER_TIMEOUT_S
    write_stall_s: float = WRITE_STALL_S
    open: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    timed_out: int = 0
    stalled: int = 0
    not_http: int = 0

    @property
    def total_open(self) -> int:
        return sum(self.open.values())


class _NoInvalidRequestLines(logging.Filter):
    """uvicorn logs every unparsable request; moodbox logs them counted (a flood stays a few lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Invalid HTTP request received."


logging.getLogger("uvicorn.error").addFilter(_NoInvalidRequestLines())


def _worth_a_line(count: int) -> bool:
    return count in (1, 10, 100) or count % 1000 == 0


def _refusal(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n").encode() + body


class GuardedH11Protocol(H11Protocol):
    limits: ConnectionLimits  # set on the subclass made for each server (see protocol_class)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else "?"
        self._counted = False
        self._deadline: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self._waiting_cycle: Any = None
        limits = self.limits
        if limits.open.get(self._address, 0) >= limits.per_address or limits.total_open >= limits.total:
            limits.refused += 1
            if _worth_a_line(limits.refused):
                log.warning("web: refused a connection from %s (%d open from it, %d in all; %d refused so far)",
                            self._address, limits.open.get(self._address, 0), limits.total_open, limits.refused)
            transport.write(_refusal(503, "Service Unavailable", "too many connections from your address"))
            transport.close()
            return
        limits.open[self._address] = limits.open.get(self._address, 0) + 1
        self._counted = True
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self._counted = False
            left = self.limits.open.get(self._address, 1) - 1
            if left > 0:
                self.limits.open[self._address] = left
            else:
                self.limits.open.pop(self._address, None)
        self._disarm_deadline()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._counted:
            return
        super().data_received(data)
        if self._deadline is not None and self.cycle is not None and self.cycle is not self._waiting_cycle:
            self._disarm_deadline()  # the headers of a new request are in

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.SEND_BODY:  # answered before the body was read (e.g. 413): stop here
            self.transport.close()
            return
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_deadline()  # idle until the next request (a pipelined one is already running)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(self.limits.write_stall_s, self._reader_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _reader_stalled(self) -> None:
        """The client stopped reading (a stalled live page): cut it off; its browser reconnects."""
        self._stall = None
        self.limits.stalled += 1
        self.transport.abort()

    def send_400_response(self, msg: str) -> None:
        self.limits.not_http += 1
        if _worth_a_line(self.limits.not_http):
            log.warning("web: %d request(s) that are not HTTP so far, the last from %s", self.limits.not_http,
                        self._address)
        self.transport.write(_refusal(400, "Bad Request", "this is not an HTTP/1.1 request the box can read"))
        self.transport.close()

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._waiting_cycle = self.cycle
        self._deadline = self.loop.call_later(self.limits.header_timeout_s, self._headers_too_slow)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if self.cycle is self._waiting_cycle and not self.transport.is_closing():
            self.limits.timed_out += 1
            self.transport.close()


def protocol_class(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """A protocol class bound to one server's limits (uvicorn makes one instance per connection)."""
    return type("MoodboxH11Protocol", (GuardedH11Protocol,), {"limits": limits})
