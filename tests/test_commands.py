"""The command interface (moodbox.core.commands): payload validation, without a broker."""
from __future__ import annotations

import random
import re

import pytest

from moodbox.core import MAX_PAYLOAD_BYTES, POLICIES, Command, CommandError, parse_command


def parse(thing: str, payload: str | bytes, current: int = 40, maximum: int = 70) -> Command:
    raw = payload.encode() if isinstance(payload, str) else payload
    return parse_command(thing, raw, current, maximum)


@pytest.mark.parametrize("thing, payload, expected", [
    ("player", "play", Command("play")),
    ("player", " Next\n", Command("next")),
    ("volume", "0", Command("set_volume", (0,))),
    ("volume", "70", Command("set_volume", (70,))),
    ("volume", "85", Command("set_volume", (70,))),  # above audio.max_volume: clamped
    ("volume", "55.0", Command("set_volume", (55,))),  # Home Assistant may send a float
    ("volume", "+5", Command("set_volume", (45,))),
    ("volume", "+50", Command("set_volume", (70,))),
    ("volume", "-45", Command("set_volume", (0,))),
    ("refresh", "PRESS", Command("refresh_mood", ("mqtt",))),
    ("refresh", "", Command("refresh_mood", ("mqtt",))),
    ("policy", "Calm", Command("set_policy", ("calm",))),
    ("override", "happy", Command("set_mood_override", ("happy", None))),
    ("override", "AUTO", Command("set_mood_override", (None, None))),
    ("override", '{"emotion": "sad"}', Command("set_mood_override", ("sad", None))),
    ("override", '{"emotion": "fear", "timeout": 90}', Command("set_mood_override", ("fear", 90.0))),
    ("override", '{"emotion": null}', Command("set_mood_override", (None, None))),
    ("detection", "ON", Command("set_detection", (True,))),
    ("detection", "off", Command("set_detection", (False,))),
    ("like", "PRESS", Command("like")),
    ("dislike", "press", Command("dislike")),
    ("rescan", "PRESS", Command("rescan_library")),
])
def test_valid_commands(thing, payload, expected):
    assert parse(thing, payload) == expected


@pytest.mark.parametrize("thing, payload, message", [
    ("nope", "1", "unknown command topic 'nope/set'"),
    ("player", "rewind", "unknown action 'rewind'"),
    ("volume", "", "expected a number"),
    ("volume", "-1", None),  # relative -1 is fine; checked below
    ("volume", "nan", "whole number"),
    ("volume", "inf", "whole number"),
    ("volume", "1e3", "out of range"),
    ("volume", "101", "out of range"),
    ("volume", "true", "expected a number"),
    ("policy", "party", "unknown policy 'party'"),
    ("override", "bored", "unknown emotion 'bored'"),
    ("override", "{", "invalid JSON"),
    ("override", "[1]", "unknown emotion '[1]'"),
    ("override", '{"emotion": 3}', "must be a string"),
    ("override", '{"timeout": 5}', "needs an \"emotion\""),
    ("override", '{"emotion": "sad", "timeout": "5"}', "number of seconds"),
    ("override", '{"emotion": "sad", "timeout": true}', "number of seconds"),
    ("override", '{"emotion": "sad", "timeout": 0}', "out of range"),
    ("override", '{"emotion": "sad", "timeout": 1e9}', "out of range"),
    ("override", '{"emotion": "auto", "timeout": 60}', "makes no sense"),
    ("override", '{"emotion": "sad", "until": 60}', "unknown key"),
    ("detection", "yes please", "expected ON or OFF"),
    ("like", "twice", "expected PRESS"),
])
def test_invalid_commands_say_what_is_wrong(thing, payload, message):
    if message is None:
        assert parse(thing, payload) == Command("set_volume", (39,))
        return
    with pytest.raises(CommandError, match=re.escape(message)):
        parse(thing, payload)


def test_oversized_binary_and_control_payloads():
    with pytest.raises(CommandError, match="too large"):
        parse("policy", "a" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(CommandError, match="UTF-8"):
        parse("policy", b"\xc3\x28")
    with pytest.raises(CommandError, match="control characters"):
        parse("policy", "calm\x00")


def test_error_messages_quote_long_values_briefly():
    with pytest.raises(CommandError) as info:
        parse("player", "x" * 900)
    assert len(str(info.value)) < 150


def test_fuzzed_payloads_only_ever_give_valid_commands_or_command_errors():
    rng = random.Random(1234)
    things = ["player", "volume", "refresh", "policy", "override", "detection", "like", "dislike", "rescan", "zz"]
    alphabet = "0123456789+-.eE{}[]\":, nulltrueONOFFhappyautotimeoutemotion\u00e9\x00\xff"
    accepted = 0
    for _ in range(5000):
        thing = rng.choice(things)
        if rng.random() < 0.5:
            payload = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))).encode()
        else:
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 20)))
        current, maximum = rng.randint(0, 100), rng.randint(0, 100)
        try:
            command = parse_command(thing, payload, min(current, maximum), maximum)
        except CommandError:
            continue
        accepted += 1
        if command.method == "set_volume":
            assert 0 <= command.args[0] <= maximum
        if command.method == "set_policy":
            assert command.args[0] in POLICIES
        if command.method == "set_mood_override" and command.args[1] is not None:
            assert command.args[0] is not None and command.args[1] > 0
    assert accepted > 50  # the fuzzer also reached the accepting paths
