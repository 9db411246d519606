"""What a page that is not logged in may see on a box with a web password.

Anyone in the room hears what plays, so the player, volume, policy, the room's mood (as Home
Assistant shows it), the library and the diagnostics stay open. What tells about the people
(how many faces, their ages and age groups, why a track was chosen for them) is the owner's:
those fields are left out here, and what was played and the mood over time need a login.
"""
from __future__ import annotations

from typing import Any

PERSONAL_MOOD_FIELDS = ("faces", "ages", "age_groups", "reading")
PERSONAL_TRACK_FIELDS = ("reason",)


def _mood(mood: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mood.items() if k not in PERSONAL_MOOD_FIELDS}


def _track(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in PERSONAL_TRACK_FIELDS}


def redact_topic(topic: str, data: dict[str, Any]) -> dict[str, Any]:
    """One live event or state topic, as a logged-out page sees it."""
    if topic == "mood":
        return _mood(data)
    if topic == "player":
        return _track(data)
    if topic == "queue":
        return {**data, "queue": [_track(e) for e in data.get("queue") or []]}
    if topic == "snapshot":
        return redact_state(data)
    return data


def redact_state(state: dict[str, Any]) -> dict[str, Any]:
    out = dict(state)
    if isinstance(out.get("mood"), dict):
        out["mood"] = _mood(out["mood"])
    if isinstance(out.get("player"), dict):
        out["player"] = _track(out["player"])
    if isinstance(out.get("queue"), list):
        out["queue"] = [_track(e) for e in out["queue"]]
    return out
