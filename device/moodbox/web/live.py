"""LiveFeed: the core's state/event stream fanned out to the live pages (Server-Sent Events) on the
server's event loop, and the room's mood over the last hours, kept in memory only.

The core calls in on its own threads; each change is turned into SSE text once (the player with its
cover, then the queue) and the same bytes go to every page. A page that falls BUFFER messages behind
is disconnected: its browser reconnects and starts again from a complete snapshot.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger(__name__)

MOOD_HISTORY_S = 6 * 3600
MAX_MOOD_POINTS = 5000
BUFFER = 100  # messages a page may fall behind before it is dropped
MAX_PAGES = 100  # live pages at once; more get 503 and poll instead
HEARTBEAT_S = 15.0
Prepare = Callable[[str, dict[str, Any]], list[tuple[str, dict[str, Any]]]]
Redact = Callable[[str, dict[str, Any]], dict[str, Any]]


class TooManyPages(Exception):
    pass


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode("utf-8")


class Page:
    """One connected page: a bounded queue of ready SSE messages."""

    def __init__(self, private: bool, session: str | None) -> None:
        self.private = private  # gets what only the owner may see (ages, faces, reasons)
        self.session = session  # the session token it was opened with
        self.messages: asyncio.Queue[bytes | None] = asyncio.Queue(BUFFER)
        self.dropped = False

    def put(self, message: bytes) -> None:
        if self.dropped:
            return
        try:
            self.messages.put_nowait(message)
        except asyncio.QueueFull:
            self.end()

    def end(self) -> None:
        """Ends its stream; the browser reconnects and starts from a complete snapshot."""
        self.dropped = True
        while not self.messages.empty():
            self.messages.get_nowait()
        self.messages.put_nowait(None)

    async def stream(self, first: bytes) -> AsyncIterator[bytes]:
        yield first
        while True:
            try:
                message = await asyncio.wait_for(self.messages.get(), HEARTBEAT_S)
            except asyncio.TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if message is None:
                return
            yield message


class LiveFeed:
    def __init__(self, core: Any, prepare: Prepare, redact: Redact | None) -> None:
        """`prepare(topic, data)` -> the SSE events for one change (runs in a worker thread);
        `redact(event, payload)` -> what a page that is not logged in may see (None: everyone sees all)."""
        self._prepare = prepare
        self._redact = redact
        self.max_pages = MAX_PAGES
        self._lock = threading.Lock()
        self._moods: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_MOOD_POINTS)
        self._pages: set[Page] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changes: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
        self._task: asyncio.Task[None] | None = None
        mood = core.snapshot().get("mood") or {}
        if mood:
            self._add_mood(mood)
        self._unsubscribe = core.subscribe(self._on_core)

    # ----- on the server's loop -----

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called on the loop when the server starts (again)."""
        self._loop = loop
        self._changes = asyncio.Queue()
        self._pages = set()
        self._task = loop.create_task(self._fan_out())

    def detach(self) -> None:
        self._loop = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._pages.clear()

    def connect(self, private: bool, session: str | None) -> Page:
        if len(self._pages) >= self.max_pages:
            raise TooManyPages(f"at most {self.max_pages} live pages at once; this page refreshes itself instead")
        page = Page(private or self._redact is None, session)
        self._pages.add(page)
        return page

    def end_private(self, session: str | None = None) -> None:
        """After a logout: the owner's pages of that session (None: of every session) start again."""
        for page in list(self._pages):
            if page.private and self._redact is not None and (session is None or page.session == session):
                page.end()

    def disconnect(self, page: Page) -> None:
        self._pages.discard(page)

    @property
    def page_count(self) -> int:
        return len(self._pages)

    async def _fan_out(self) -> None:
        assert self._changes is not None
        loop = asyncio.get_running_loop()
        while True:
            topic, data = await self._changes.get()
            if not self._pages:
                continue
            try:
                events = await loop.run_in_executor(None, self._prepare, topic, data)
            except Exception:  # noqa: BLE001 - a bad state must not end live updates for everyone
                log.exception("web: preparing the live update %r", topic)
                continue
            for event, payload in events:
                message = sse(event, payload)
                public = sse(event, self._redact(event, payload)) if self._redact is not None else message
                for page in list(self._pages):
                    page.put(message if page.private else public)

    # ----- on the core's threads -----

    def _on_core(self, topic: str, data: dict[str, Any]) -> None:
        """Must not block: hands the change to the loop."""
        if topic == "mood":
            self._add_mood(data)
        loop, changes = self._loop, self._changes
        if loop is None or changes is None:
            return
        try:
            loop.call_soon_threadsafe(changes.put_nowait, (topic, data))
        except RuntimeError:
            pass  # the loop just closed (server restarting or stopping)

    def _add_mood(self, mood: dict[str, Any]) -> None:
        point = {"at": time.time(), "emotion": mood.get("emotion"), "confidence": mood.get("confidence"),
                 "valence": mood.get("valence"), "arousal": mood.get("arousal"), "faces": mood.get("faces"),
                 "source": mood.get("source")}
        with self._lock:
            self._moods.append(point)

    def mood_history(self, seconds: float = MOOD_HISTORY_S) -> list[dict[str, Any]]:
        since = time.time() - min(seconds, MOOD_HISTORY_S)
        with self._lock:
            return [p for p in self._moods if p["at"] >= since]

    def close(self) -> None:
        self._unsubscribe()
