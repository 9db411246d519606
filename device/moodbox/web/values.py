"""The command values the REST API takes, as JSON: one table gives both the OpenAPI schema of each
command's body and the check of a value. The shared command parser (the MQTT one) is lenient with
hand-typed text ("PLAY", " on "); the API takes exactly what its document says."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moodbox.core import MAX_OVERRIDE_TIMEOUT_S, PLAYER_ACTIONS, POLICIES, THINGS
from moodbox.readings import EMOTIONS


@dataclass(frozen=True)
class ValueRule:
    summary: str
    schema: dict[str, Any] | None  # the "value" key's schema; None: the command takes no value
    check: Callable[[Any], bool]


def _whole(value: Any, low: int, high: int) -> bool:
    """A whole number as JSON Schema counts them (48 and 48.0 alike)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return (isinstance(value, int) or value.is_integer()) and low <= value <= high


def _relative(value: Any) -> bool:
    return isinstance(value, str) and len(value) in (2, 3, 4) and value[0] in "+-" and value[1:].isascii() \
        and value[1:].isdigit()


def _override(value: Any) -> bool:
    if isinstance(value, str):
        return value in ("auto", *EMOTIONS)
    if not isinstance(value, dict) or not set(value) <= {"emotion", "timeout"} or "emotion" not in value:
        return False
    emotion = value["emotion"]
    if "timeout" not in value:
        return emotion is None or emotion in ("auto", *EMOTIONS)
    timeout = value["timeout"]
    return emotion in EMOTIONS and isinstance(timeout, (int, float)) and not isinstance(timeout, bool) \
        and math.isfinite(timeout) and 0 < timeout <= MAX_OVERRIDE_TIMEOUT_S


OVERRIDE_SCHEMA = {"oneOf": [
    {"enum": ["auto", *EMOTIONS]},
    {"type": "object", "required": ["emotion"], "additionalProperties": False,
     "properties": {"emotion": {"enum": list(EMOTIONS)},
                    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_OVERRIDE_TIMEOUT_S}}},
    {"type": "object", "required": ["emotion"], "additionalProperties": False,
     "properties": {"emotion": {"enum": ["auto", None]}}},
]}

RULES: dict[str, ValueRule] = {
    "player": ValueRule("play, pause, toggle, next, previous or stop", {"enum": list(PLAYER_ACTIONS)},
                        lambda v: v in PLAYER_ACTIONS),
    "volume": ValueRule("the volume 0-100 (never above audio.max_volume), or a change like \"+5\" or \"-5\"",
                        {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 100},
                                   {"type": "string", "pattern": "^[+-][0-9]{1,3}$"}]},
                        lambda v: _whole(v, 0, 100) or _relative(v)),
    "policy": ValueRule("how music follows the room: " + ", ".join(POLICIES), {"enum": list(POLICIES)},
                        lambda v: v in POLICIES),
    "override": ValueRule("set the room's mood by hand: an emotion, \"auto\" to read the room again, or "
                          "{\"emotion\": ..., \"timeout\": seconds}", OVERRIDE_SCHEMA, _override),
    "detection": ValueRule("the camera reading on (true) or off (false)", {"type": "boolean"},
                           lambda v: isinstance(v, bool)),
    "refresh": ValueRule("read the room again now", None, lambda v: v is None),
    "like": ValueRule("like the playing track", None, lambda v: v is None),
    "dislike": ValueRule("dislike the playing track (and skip it)", None, lambda v: v is None),
    "rescan": ValueRule("scan the music library again", None, lambda v: v is None),
}
assert set(RULES) == set(THINGS), "every command needs a rule"


def value_problem(thing: str, body: dict[str, Any]) -> str | None:
    """Why a command body is not one the API takes, or None when it is."""
    rule = RULES[thing]
    if not set(body) <= {"value"}:
        return f"{thing}: the body takes only \"value\""
    value = body.get("value")
    if rule.schema is None:
        return None if value is None else f"{thing}: takes no value (send {{}} or no body)"
    if "value" not in body:
        return f"{thing}: send {{\"value\": ...}}: {rule.summary}"
    return None if rule.check(value) else f"{thing}: the value must be {rule.summary}"
