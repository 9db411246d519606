"""RecordingCore: a small object with the Core API (ARCHITECTURE.md) that records commands,
holds a state dict, and tells listeners about changes like the real Core does."""
from __future__ import annotations

import threading
from typing import Any, Callable

from moodbox.core import COMMAND_METHODS, Command, parse_command
from moodbox.readings import MoodState

Listener = Callable[[str, dict], None]


class RecordingCore:
    def __init__(self, max_volume: int = 70) -> None:
        self.max_volume = max_volume
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        mood = MoodState.from_emotion("neutral", source="default")
        self.state: dict[str, Any] = {
            "mood": {"emotion": mood.emotion, "confidence": mood.confidence, "probs": mood.probs,
                     "valence": mood.valence, "arousal": mood.arousal, "faces": 0, "ages": [],
                     "source": "default", "timestamp": 0.0},
            "player": {"state": "stopped", "index": None, "queue_length": 0, "title": None, "artist": None,
                       "album": None, "track_mood": None, "track_id": None, "reason": None, "duration": None,
                       "position": None},
            "volume": {"volume": 40, "max": max_volume},
            "policy": {"policy": "match"},
            "override": {"active": False, "emotion": None, "until": None},
            "detection": {"enabled": True},
            "camera": {"status": "ok", "source": "folder:/test"},
            "diagnostics": {"timings_ms": {"detector": 12.5, "emotion": 3.25, "age": 4.0}, "analysis_fps": 2.0,
                            "uptime_s": 42, "memory_mb": 80.25, "library_tracks": 3},
            "library": {"status": "ready", "tracks": 3},
        }

    # ----- the Core API -----
    def execute(self, command: Command) -> Any:
        if command.method not in COMMAND_METHODS:
            raise ValueError(f"unknown command {command.method!r}")
        return getattr(self, command.method)(*command.args)

    def command(self, thing: str, payload: bytes, source: str) -> Command:
        with self._lock:
            volume = int(self.state["volume"]["volume"])
        command = parse_command(thing, payload, volume, self.max_volume, source)
        self.execute(command)
        return command

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.state.items()}

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def refresh_mood(self, reason: str = "command") -> None:
        self._record("refresh_mood", reason)

    def play(self) -> None:
        self._record("play")
        self.change("player", {"state": "playing"})

    def pause(self) -> None:
        self._record("pause")
        self.change("player", {"state": "paused"})

    def toggle(self) -> None:
        self._record("toggle")

    def next(self) -> None:
        self._record("next")

    def previous(self) -> None:
        self._record("previous")

    def stop(self) -> None:
        self._record("stop")
        self.change("player", {"state": "stopped"})

    def set_volume(self, v: int) -> int:
        self._record("set_volume", v)
        applied = max(0, min(int(v), self.max_volume))
        self.change("volume", {"volume": applied})
        return applied

    def set_policy(self, p: str) -> None:
        if p not in ("match", "lift", "calm"):
            raise ValueError(f"unknown policy {p!r}")
        self._record("set_policy", p)
        self.change("policy", {"policy": p})

    def set_mood_override(self, emotion: str | None, timeout_s: float | None = None) -> None:
        self._record("set_mood_override", emotion, timeout_s)
        self.change("override", {"active": emotion is not None, "emotion": emotion, "until": None})

    def set_detection(self, enabled: bool) -> None:
        self._record("set_detection", enabled)
        self.change("detection", {"enabled": enabled})

    def like(self) -> None:
        self._record("like")

    def dislike(self) -> None:
        self._record("dislike")

    def rescan_library(self) -> None:
        self._record("rescan_library")

    def button(self, kind: str) -> None:
        self._record("button", kind)
        self.emit("event", {"type": "button", "kind": kind, "action": "refresh"})

    # ----- test helpers -----
    def change(self, topic: str, update: dict[str, Any]) -> None:
        """Update a state and tell listeners, like the Core does."""
        with self._lock:
            merged = {**self.state[topic], **update}
            self.state[topic] = merged
        self.emit(topic, merged)

    def emit(self, topic: str, data: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(topic, data)

    def _record(self, name: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((name, args))

    def called(self, name: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [args for n, args in self.calls if n == name]
