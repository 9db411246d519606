"""What survives a restart: the queue, its position, the room's mood and the policy in state_dir/player.json.

Written atomically (temporary file, fsync, rename) at most every PERSIST_INTERVAL_S while something
changes; a file that cannot be read is logged and ignored (the box starts fresh, nothing crashes).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from moodbox.config import EMOTIONS
from moodbox.files import write_json_atomic
from moodbox.readings import MoodState

log = logging.getLogger(__name__)

PLAYER_STATE_FILE = "player.json"
PERSIST_INTERVAL_S = 10.0  # player.json while playing (SD cards do not like much more)


def mood_to_dict(mood: MoodState) -> dict[str, Any]:
    return {
        "emotion": mood.emotion,
        "confidence": round(mood.confidence, 3),
        "probs": {e: round(mood.probs.get(e, 0.0), 3) for e in EMOTIONS},
        "valence": round(mood.valence, 3),
        "arousal": round(mood.arousal, 3),
        "faces": mood.faces,
        "ages": [round(a, 1) for a in mood.ages],
        "age_groups": list(mood.age_groups),
        "source": mood.source,
        "timestamp": round(mood.timestamp, 3),
    }


def mood_from_dict(data: dict[str, Any]) -> MoodState:
    """The inverse of mood_to_dict (for the saved state); raises KeyError/ValueError/TypeError on junk."""
    emotion = str(data["emotion"])
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}")
    probs = {e: float(data["probs"][e]) for e in EMOTIONS}
    source = data.get("source", "camera")
    return MoodState(
        emotion=emotion,
        confidence=float(data["confidence"]),
        probs=probs,
        valence=float(data["valence"]),
        arousal=float(data["arousal"]),
        faces=int(data.get("faces", 0)),
        ages=tuple(float(a) for a in data.get("ages", ())),
        source=source if source in ("camera", "override", "default") else "camera",
        timestamp=float(data.get("timestamp", 0.0)),
    )


class StateFile:
    """player.json: save() skips writes that change nothing; load() returns None for a missing or bad file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved_at = 0.0  # monotonic time of the last save() call
        self._last: dict[str, Any] | None = None

    def due(self, now: float) -> bool:
        return now - self.saved_at >= PERSIST_INTERVAL_S

    def save(self, data: dict[str, Any], force: bool = False) -> None:
        self.saved_at = time.monotonic()
        if not force and data == self._last:
            return
        try:
            write_json_atomic(self.path, {**data, "saved_at": round(time.time())})
            self._last = data
        except OSError as exc:
            log.error("cannot save the player state to %s: %s", self.path, exc)

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            log.warning("ignoring the saved player state %s: %s", self.path, exc)
            return None
        return data
