"""The one command interface: every adapter turns what it receives into a Command for Core.execute().

parse_command() validates a (thing, raw payload) pair, as MQTT's <base>/<thing>/set and the web's
/api/v1/commands/<thing> receive them, into a Command naming the Core method to call, or raises
CommandError with a message fit for the log and the sender (MQTT's <base>/error topic, HTTP 400).
A button is Command("button", ("press",)) or ("hold",).

  player     play | pause | toggle | next | previous | stop
  volume     0-100 (clamped to audio.max_volume), or relative "+N" / "-N"
  refresh    PRESS (or empty): read the room again
  policy     one of POLICIES
  override   an emotion or "auto"; or JSON {"emotion": "happy", "timeout": 600} (seconds)
  detection  ON | OFF
  like, dislike, rescan   PRESS (or empty)
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, get_args

from moodbox.config import RecommendConfig
from moodbox.readings import EMOTIONS

MAX_PAYLOAD_BYTES = 1024
MAX_OVERRIDE_TIMEOUT_S = 7 * 24 * 3600.0
PLAYER_ACTIONS: tuple[str, ...] = ("play", "pause", "toggle", "next", "previous", "stop")
POLICIES: tuple[str, ...] = get_args(RecommendConfig.model_fields["policy"].annotation)
PRESS_PAYLOADS: tuple[str, ...] = ("", "press")
ON_PAYLOADS = ("on", "true", "1")
OFF_PAYLOADS = ("off", "false", "0")
# Things that take a button press, and the Core method each calls.
PRESS_THINGS: dict[str, str] = {"refresh": "refresh_mood", "like": "like", "dislike": "dislike",
                                "rescan": "rescan_library"}
THINGS: tuple[str, ...] = ("player", "volume", "policy", "override", "detection", *PRESS_THINGS)

_RELATIVE_RE = re.compile(r"^[+-]\d{1,3}$")


class CommandError(ValueError):
    """A rejected command payload; str() says what is wrong and what is allowed."""


# The Core methods a Command may name.
COMMAND_METHODS: frozenset[str] = frozenset({
    *PLAYER_ACTIONS, "set_volume", "set_policy", "set_mood_override", "set_detection", "button",
    *PRESS_THINGS.values()})


@dataclass(frozen=True)
class Command:
    method: str  # the Core method to call, one of COMMAND_METHODS
    args: tuple[Any, ...] = ()


def decode_payload(payload: bytes) -> str:
    """The payload as stripped text, or CommandError if it is too big or not UTF-8."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CommandError(f"payload too large ({len(payload)} bytes, at most {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("payload is not valid UTF-8 text") from None
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        raise CommandError("payload contains control characters")
    return text.strip()


def parse_command(thing: str, payload: bytes, current_volume: int, max_volume: int, source: str = "mqtt") -> Command:
    """Validate one command. current_volume is needed for relative volume changes; source names the
    adapter (the refresh's reason in the log)."""
    if thing not in THINGS:
        raise CommandError(f"unknown command topic '{thing}/set'; known: {', '.join(THINGS)}")
    text = decode_payload(payload)
    if thing == "player":
        return _parse_player(text)
    if thing == "volume":
        return Command("set_volume", (_parse_volume(text, current_volume, max_volume),))
    if thing == "policy":
        return _parse_policy(text)
    if thing == "override":
        return _parse_override(text)
    if thing == "detection":
        return _parse_detection(text)
    if text.lower() not in PRESS_PAYLOADS:
        raise CommandError(f"{thing}: expected PRESS or an empty payload, got {_preview(text)}")
    if thing == "refresh":
        return Command("refresh_mood", (source,))  # the reason, for the Core's log
    return Command(PRESS_THINGS[thing])


def _parse_player(text: str) -> Command:
    action = text.lower()
    if action not in PLAYER_ACTIONS:
        raise CommandError(f"player: unknown action {_preview(text)}; one of {', '.join(PLAYER_ACTIONS)}")
    return Command(action)


def _parse_volume(text: str, current_volume: int, max_volume: int) -> int:
    if _RELATIVE_RE.match(text):
        return min(max(current_volume + int(text), 0), max_volume)
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"volume: expected a number 0-100 or +N/-N, got {_preview(text)}") from None
    if not math.isfinite(value) or value != int(value):
        raise CommandError(f"volume: expected a whole number 0-100, got {_preview(text)}")
    if not 0 <= value <= 100:
        raise CommandError(f"volume: {int(value)} is out of range 0-100")
    return min(int(value), max_volume)


def _parse_policy(text: str) -> Command:
    policy = text.lower()
    if policy not in POLICIES:
        raise CommandError(f"policy: unknown policy {_preview(text)}; one of {', '.join(POLICIES)}")
    return Command("set_policy", (policy,))


def _parse_override(text: str) -> Command:
    if not text.startswith("{"):
        return Command("set_mood_override", (_override_emotion(text), None))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"override: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise CommandError("override: JSON must be an object like {\"emotion\": \"happy\", \"timeout\": 600}")
    unknown = sorted(set(data) - {"emotion", "timeout"})
    if unknown:
        raise CommandError(f"override: unknown key(s) {', '.join(map(repr, unknown))}; allowed: emotion, timeout")
    if "emotion" not in data:
        raise CommandError("override: JSON needs an \"emotion\" (an emotion or \"auto\")")
    raw_emotion = data["emotion"]
    if raw_emotion is not None and not isinstance(raw_emotion, str):
        raise CommandError("override: \"emotion\" must be a string")
    emotion = _override_emotion(raw_emotion or "auto")
    timeout = data.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout):
            raise CommandError("override: \"timeout\" must be a number of seconds")
        if not 0 < timeout <= MAX_OVERRIDE_TIMEOUT_S:
            raise CommandError(f"override: timeout {timeout} out of range (0, {int(MAX_OVERRIDE_TIMEOUT_S)}] seconds")
        if emotion is None:
            raise CommandError("override: a timeout makes no sense with \"auto\"")
        timeout = float(timeout)
    return Command("set_mood_override", (emotion, timeout))


def _override_emotion(text: str) -> str | None:
    value = text.strip().lower()
    if value == "auto":
        return None
    if value not in EMOTIONS:
        raise CommandError(f"override: unknown emotion {_preview(text)}; one of auto, {', '.join(EMOTIONS)}")
    return value


def _parse_detection(text: str) -> Command:
    value = text.lower()
    if value in ON_PAYLOADS:
        return Command("set_detection", (True,))
    if value in OFF_PAYLOADS:
        return Command("set_detection", (False,))
    raise CommandError(f"detection: expected ON or OFF, got {_preview(text)}")


def _preview(text: str, limit: int = 40) -> str:
    """A short, quoted, printable rendering of a bad value for messages."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
