"""The box's state and its event stream: the one place every adapter listens to.

States are (topic, dict) pairs kept for snapshot(); a listener hears a state only when it changed,
and every event ("event" topic, not kept). Listeners run on the core's threads and must not block;
one that raises is logged and the others still hear everything.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

import numpy as np

from moodbox.readings import FaceReading

log = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]
# Called with each analysed camera frame and its faces, during a burst; frames stay in memory.
FrameListener = Callable[[np.ndarray, list[FaceReading]], None]
STATE_TOPICS = ("mood", "player", "volume", "policy", "override", "detection", "camera", "diagnostics", "library")


class StateBoard:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._frame_listeners: list[FrameListener] = []
        self._listeners_lock = threading.RLock()
        self._states_lock = threading.Lock()
        self._states: dict[str, dict[str, Any]] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener(topic, data) on every state change and event; returns the function that stops it."""
        with self._listeners_lock:
            self._listeners.append(listener)
        return lambda: self._remove(self._listeners, listener)

    def watch_frames(self, listener: FrameListener) -> Callable[[], None]:
        """Call listener(frame, faces) for every analysed frame; returns the function that stops it."""
        with self._listeners_lock:
            self._frame_listeners.append(listener)
        return lambda: self._remove(self._frame_listeners, listener)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._states_lock:
            return {topic: dict(self._states.get(topic, {})) for topic in STATE_TOPICS}

    def get(self, topic: str) -> dict[str, Any]:
        with self._states_lock:
            return dict(self._states.get(topic, {}))

    def set(self, topic: str, data: dict[str, Any], emit: bool = True, ignore: tuple[str, ...] = ()) -> None:
        """Keep a state; tell the listeners when it changed in a key not in `ignore` (e.g. the position)."""
        with self._states_lock:
            before = self._states.get(topic)
            changed = before is None or _without(before, ignore) != _without(data, ignore)
            self._states[topic] = data
        if changed and emit:
            self.emit(topic, data)

    def event(self, event_type: str, **data: Any) -> None:
        self.emit("event", {"type": event_type, **data})

    def emit(self, topic: str, data: dict[str, Any]) -> None:
        with self._listeners_lock:
            for listener in list(self._listeners):
                try:
                    listener(topic, data)
                except Exception:  # noqa: BLE001 - a broken adapter must not break the core
                    log.exception("listener %r failed on topic %s", listener, topic)

    def show_frame(self, frame: np.ndarray, faces: list[FaceReading]) -> None:
        with self._listeners_lock:
            listeners = list(self._frame_listeners)
        for listener in listeners:
            try:
                listener(frame, faces)
            except Exception:  # noqa: BLE001 - a viewer must not break the burst
                log.exception("frame listener failed")

    def _remove(self, listeners: list[Any], listener: Any) -> None:
        with self._listeners_lock:
            if listener in listeners:
                listeners.remove(listener)


def _without(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys} if keys else data
