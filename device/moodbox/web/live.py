"""LiveFeed: the core's state/event stream fanned out to Server-Sent-Events clients, and the room's
mood over the last hours, kept in memory only (no frames, nothing on disk)."""
from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Any

MOOD_HISTORY_S = 6 * 3600
MAX_MOOD_POINTS = 5000
CLIENT_BUFFER = 200  # messages a slow client may fall behind before it misses some
MAX_CLIENTS = 4


class TooManyClients(Exception):
    pass


class LiveFeed:
    def __init__(self, core: Any) -> None:
        self._lock = threading.Lock()
        self._clients: list[queue.Queue[tuple[str, dict[str, Any]]]] = []
        self._moods: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_MOOD_POINTS)
        mood = core.snapshot().get("mood") or {}
        if mood:
            self._add_mood(mood)
        core.subscribe(self._on_core)

    def _on_core(self, topic: str, data: dict[str, Any]) -> None:
        """Called on the core's threads: must not block."""
        if topic == "mood":
            self._add_mood(data)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.put_nowait((topic, data))
            except queue.Full:
                pass  # a stalled browser misses updates; the next snapshot it asks for is complete

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

    def connect(self) -> queue.Queue[tuple[str, dict[str, Any]]]:
        with self._lock:
            if len(self._clients) >= MAX_CLIENTS:
                raise TooManyClients(f"at most {MAX_CLIENTS} live pages at once")
            client: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(CLIENT_BUFFER)
            self._clients.append(client)
            return client

    def disconnect(self, client: queue.Queue[tuple[str, dict[str, Any]]]) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)
