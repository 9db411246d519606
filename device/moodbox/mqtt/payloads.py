"""The JSON published on each state topic, built from what the Core reports.

The Core's snapshot()/listener values are turned into a fixed, documented shape here, so Home
Assistant templates keep working whatever the Core adds. Missing values become null.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from typing import Any

from moodbox.core import cpu_temperature
from moodbox.readings import EMOTIONS, age_group

NOW_PLAYING_MAX = 255  # Home Assistant's limit for a sensor state


def as_dict(value: Any, key: str) -> dict[str, Any]:
    """A dict view of a Core value: dicts as they are, dataclasses as dicts, scalars as {key: value}."""
    if isinstance(value, dict):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if value is None:
        return {}
    return {key: value}


def _number(value: Any, digits: int = 3) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def mood_payload(value: Any) -> dict[str, Any]:
    data = as_dict(value, "emotion")
    probs_in = data.get("probs") or {}
    probabilities = {e: _number(probs_in.get(e, 0.0)) or 0.0 for e in EMOTIONS}
    ages = [a for a in (_number(a, 1) for a in data.get("ages") or ()) if a is not None]
    groups = [age_group(a) for a in ages]
    faces = data.get("faces")
    return {
        "emotion": _text(data.get("emotion")),
        "confidence": _number(data.get("confidence")),
        "probabilities": probabilities,
        "valence": _number(data.get("valence")),
        "arousal": _number(data.get("arousal")),
        "faces": faces if isinstance(faces, int) and not isinstance(faces, bool) else len(ages),
        "ages": ages,
        "age_groups": groups,
        # The most common group in the room ("none" when nobody is seen), for one HA sensor.
        "age_group": Counter(groups).most_common(1)[0][0] if groups else "none",
        "source": _text(data.get("source")),
        "timestamp": _number(data.get("timestamp"), 3),
    }


def player_payload(value: Any) -> dict[str, Any]:
    data = as_dict(value, "state")
    title, artist = _text(data.get("title")), _text(data.get("artist"))
    track_id = data.get("track_id")  # the library's id (covers, the REST API); None for online tracks
    now_playing = " - ".join(p for p in (artist, title) if p) or "nothing"
    return {
        "state": (_text(data.get("state")) or "stopped").lower(),
        "track_id": track_id if isinstance(track_id, int) and not isinstance(track_id, bool) else None,
        "title": title,
        "artist": artist,
        "album": _text(data.get("album")),
        "track_mood": _text(data.get("track_mood")),
        "position": _number(data.get("position"), 1),
        "duration": _number(data.get("duration"), 1),
        "source": _text(data.get("source")) or "library",
        "reason": _text(data.get("reason")),
        "now_playing": now_playing[:NOW_PLAYING_MAX],
    }


def volume_payload(value: Any, max_volume: int) -> dict[str, Any]:
    data = as_dict(value, "volume")
    volume = data.get("volume")
    return {"volume": int(volume) if _number(volume) is not None else None, "max": int(data.get("max", max_volume))}


def policy_payload(value: Any) -> dict[str, Any]:
    return {"policy": _text(as_dict(value, "policy").get("policy"))}


def override_payload(value: Any) -> dict[str, Any]:
    data = as_dict(value, "emotion")
    emotion = _text(data.get("emotion"))
    until = data.get("until")
    return {"emotion": emotion or "auto", "active": emotion is not None, "until": _number(until, 1)}


def detection_payload(value: Any) -> dict[str, Any]:
    return {"enabled": bool(as_dict(value, "enabled").get("enabled"))}


def camera_payload(value: Any) -> dict[str, Any]:
    """The Core reports status idle | ok | off | error (with a message)."""
    data = as_dict(value, "status")
    status = (_text(data.get("status")) or "unknown").lower()
    error = _text(data.get("message") or data.get("error"))
    problem = data.get("problem")
    if not isinstance(problem, bool):
        problem = status == "error"
    return {"status": status, "source": _text(data.get("source")), "error": error, "problem": problem}


def library_payload(value: Any) -> dict[str, Any]:
    """The Core reports status opening | scanning | ready | empty | error, and the track count."""
    data = as_dict(value, "tracks")
    tracks = data.get("tracks")
    status = _text(data.get("status")) or "unknown"
    return {"status": status, "tracks": int(tracks) if _number(tracks) is not None else None,
            "scanning": status == "scanning",
            "demo": bool(data.get("demo", False)), "error": _text(data.get("message"))}


def state_payload(name: str, value: Any, max_volume: int) -> dict[str, Any]:
    """The JSON dict for state topic `name` (one of topics.STATE_NAMES)."""
    if name == "volume":
        return volume_payload(value, max_volume)
    builders = {"mood": mood_payload, "player": player_payload, "policy": policy_payload,
                "override": override_payload, "detection": detection_payload,
                "camera": camera_payload, "library": library_payload}
    return builders[name](value)


def diagnostics_payload(diagnostics: Any, library: Any, started_monotonic: float) -> dict[str, Any]:
    """Diagnostics: the Core's figures, plus uptime, CPU temperature and library size where it lacks them."""
    data = as_dict(diagnostics, "value")
    timings = as_dict(data.get("timings_ms"), "value")
    temperature = _number(data.get("cpu_temperature_c"), 1)
    uptime = _number(data.get("uptime_s"), 0)
    return {
        "inference_ms": {model: _number(timings.get(model), 1) for model in ("detector", "emotion", "age")},
        "fps": _number(data.get("analysis_fps"), 2),
        "cpu_temperature_c": temperature if temperature is not None else _number(cpu_temperature(), 1),
        "uptime_s": int(uptime if uptime is not None else time.monotonic() - started_monotonic),
        "library_tracks": library_payload(library)["tracks"],
        "memory_mb": _number(data.get("memory_mb"), 1),
        "player_restarts": data.get("player_restarts") if isinstance(data.get("player_restarts"), int) else None,
        "perception": _text(data.get("perception")),
    }
