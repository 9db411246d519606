"""The player's outgoing events: queued by whoever raises them, delivered in order by one thread."""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from moodbox.player.items import EventCallback

log = logging.getLogger(__name__)


class EventNotifier:
    """Calls on_event(name, data) from its own thread, so a slow listener never holds up mpv."""

    def __init__(self, on_event: EventCallback | None) -> None:
        self.on_event = on_event
        self._events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="player-events", daemon=True)
        self._thread.start()

    def emit(self, name: str, data: dict[str, Any]) -> None:
        self._events.put((name, data))

    def close(self) -> None:
        """Deliver what is queued (e.g. the final track_ended), then end the thread."""
        self._events.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def _loop(self) -> None:
        while True:
            entry = self._events.get()
            if entry is None:
                while True:
                    try:
                        rest = self._events.get_nowait()
                    except queue.Empty:
                        return
                    if rest is not None:
                        self._deliver(*rest)
            self._deliver(*entry)

    def _deliver(self, name: str, data: dict[str, Any]) -> None:
        log.debug("player event %s %s", name, data)
        if self.on_event is None:
            return
        try:
            self.on_event(name, data)
        except Exception:  # noqa: BLE001 - a listener bug must not stop the player
            log.exception("player event listener failed on %s", name)
