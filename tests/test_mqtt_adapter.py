"""MqttAdapter against a real mosquitto broker, with a recording Core."""
from __future__ import annotations

import json
import logging
import socket

import pytest

from moodbox.mqtt.topics import STATE_NAMES
from mqtt.fixtures import BASE, broker, core, make_adapter, make_config, watcher  # noqa: F401
from mqtt.watcher import Watcher

DISCOVERY_COUNT = 26  # entities announced to Home Assistant


def online(w: Watcher, after: int = 0) -> None:
    w.wait_message(f"{BASE}/availability", lambda m: m.payload == b"online", after=after)


def test_states_discovery_and_availability_are_retained(broker, watcher, core, make_config, make_adapter):
    make_adapter(core, make_config())
    online(watcher)
    fresh = Watcher(broker.port)  # a late subscriber sees only what is retained
    try:
        fresh.wait_for(lambda: all(fresh.last(f"{BASE}/{n}") for n in STATE_NAMES), "all retained states")
        configs = fresh.wait_for(
            lambda: (lambda found: found if len(found) == DISCOVERY_COUNT else None)(
                [m for m in fresh.messages if m.topic.startswith("homeassistant/")]),
            "every discovery config")
        assert all(m.retain for m in configs)
        assert fresh.last(f"{BASE}/availability").payload == b"online"
        assert all(fresh.last(f"{BASE}/{n}").retain for n in STATE_NAMES)
        mood = fresh.last(f"{BASE}/mood").json()
        assert mood["emotion"] == "neutral" and mood["faces"] == 0 and mood["age_group"] == "none"
        assert set(mood["probabilities"]) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
        assert fresh.last(f"{BASE}/volume").json() == {"volume": 40, "max": 70}
        assert fresh.last(f"{BASE}/policy").json() == {"policy": "match"}
        assert fresh.last(f"{BASE}/override").json() == {"emotion": "auto", "active": False, "until": None}
        assert fresh.last(f"{BASE}/camera").json() == {"status": "ok", "source": "folder:/test", "error": None,
                                                       "problem": False}
        assert fresh.on(f"{BASE}/diagnostics") == []  # diagnostics are not retained
    finally:
        fresh.close()


def test_state_changes_and_events_are_published(watcher, core, make_config, make_adapter):
    make_adapter(core, make_config())
    online(watcher)
    mark = watcher.mark()
    core.change("mood", {"emotion": "happy", "confidence": 0.8, "faces": 2, "ages": [8.0, 35.0, 41.0],
                         "probs": {"happy": 0.8, "neutral": 0.2}, "source": "camera", "timestamp": 1700000000.5})
    mood = watcher.wait_message(f"{BASE}/mood", after=mark).json()
    assert mood["emotion"] == "happy" and mood["confidence"] == 0.8 and mood["faces"] == 2
    assert mood["age_groups"] == ["child", "young_adult", "adult"] and mood["probabilities"]["happy"] == 0.8
    core.change("player", {"state": "playing", "title": "Song", "artist": "Band", "album": "LP",
                           "track_mood": "happy", "track_id": 7, "position": 3.25, "duration": 200.0})
    player = watcher.wait_message(f"{BASE}/player", after=mark).json()
    assert player["now_playing"] == "Band - Song" and player["track_mood"] == "happy"
    assert player["state"] == "playing" and player["position"] == 3.2 and player["duration"] == 200.0
    core.change("camera", {"status": "error", "message": "no camera found", "retry_in_s": 30})
    camera = watcher.wait_message(f"{BASE}/camera", after=mark).json()
    assert camera["problem"] is True and camera["error"] == "no camera found"
    core.emit("event", {"type": "mood_changed", "emotion": "happy", "previous": "neutral"})
    event = watcher.wait_message(f"{BASE}/event", after=mark)
    assert event.json()["type"] == "mood_changed" and not event.retain
    core.button("hold")
    assert watcher.wait_message(f"{BASE}/button", after=mark).json() == {"event_type": "hold"}
    assert watcher.wait_message(f"{BASE}/event", lambda m: m.json()["type"] == "button", after=mark)


def test_unchanged_state_is_not_published_again(watcher, core, make_config, make_adapter):
    make_adapter(core, make_config())
    online(watcher)
    mark = watcher.mark()
    core.change("policy", {"policy": "calm"})
    core.change("policy", {"policy": "calm"})
    core.change("policy", {"policy": "lift"})
    watcher.wait_message(f"{BASE}/policy", lambda m: m.json()["policy"] == "lift", after=mark)
    assert [m.json()["policy"] for m in watcher.on(f"{BASE}/policy")[-2:]] == ["calm", "lift"]


# (thing, payload, Core method, its args)
COMMANDS = [
    ("player", "play", "play", ()),
    ("player", "PAUSE", "pause", ()),
    ("player", "toggle", "toggle", ()),
    ("player", "next", "next", ()),
    ("player", "previous", "previous", ()),
    ("player", "stop", "stop", ()),
    ("volume", "55", "set_volume", (55,)),
    ("volume", "+10", "set_volume", (65,)),  # relative to the 55 applied above
    ("volume", "100", "set_volume", (70,)),  # clamped to audio.max_volume
    ("volume", "-80", "set_volume", (0,)),
    ("refresh", "PRESS", "refresh_mood", ("mqtt",)),
    ("policy", "lift", "set_policy", ("lift",)),
    ("override", "sad", "set_mood_override", ("sad", None)),
    ("override", '{"emotion": "happy", "timeout": 600}', "set_mood_override", ("happy", 600.0)),
    ("override", "auto", "set_mood_override", (None, None)),
    ("detection", "OFF", "set_detection", (False,)),
    ("detection", "ON", "set_detection", (True,)),
    ("like", "PRESS", "like", ()),
    ("dislike", "", "dislike", ()),
    ("rescan", "PRESS", "rescan_library", ()),
]


def test_every_command_reaches_the_core_in_order(watcher, core, make_config, make_adapter):
    make_adapter(core, make_config())
    online(watcher)
    for thing, payload, method, args in COMMANDS:
        before = len(core.called(method))
        watcher.publish(f"{BASE}/{thing}/set", payload)
        calls = watcher.wait_for(lambda: (lambda c: c if len(c) > before else None)(core.called(method)),
                                 f"{method} after {thing}/set {payload!r}")
        assert calls[-1] == args, (thing, payload)
    assert watcher.on(f"{BASE}/error") == []
    assert watcher.wait_message(f"{BASE}/volume", lambda m: m.json()["volume"] == 0)


@pytest.mark.parametrize("thing, payload, expected", [
    ("volume", "loud", "expected a number"),
    ("volume", "101", "out of range 0-100"),
    ("volume", "12.5", "whole number"),
    ("player", "rewind", "unknown action"),
    ("policy", "party", "unknown policy"),
    ("override", "bored", "unknown emotion"),
    ("override", '{"emotion": "happy", "timeout": -1}', "out of range"),
    ("override", '{"emotion": "happy", "extra": 1}', "unknown key"),
    ("detection", "maybe", "expected ON or OFF"),
    ("frobnicate", "1", "unknown command topic"),
])
def test_bad_commands_are_answered_on_the_error_topic(watcher, core, make_config, make_adapter,
                                                      thing, payload, expected):
    make_adapter(core, make_config())
    online(watcher)
    watcher.publish(f"{BASE}/{thing}/set", payload)
    error = watcher.wait_message(f"{BASE}/error").json()
    assert expected in error["error"] and error["topic"] == f"{BASE}/{thing}/set"
    assert core.calls == []


def test_oversized_and_binary_payloads_are_rejected(watcher, core, make_config, make_adapter):
    make_adapter(core, make_config())
    online(watcher)
    watcher.publish(f"{BASE}/volume/set", b"5" * 2000)
    assert "too large" in watcher.wait_message(f"{BASE}/error").json()["error"]
    mark = watcher.mark()
    watcher.publish(f"{BASE}/policy/set", b"\xff\xfe\x00calm")
    assert "UTF-8" in watcher.wait_message(f"{BASE}/error", after=mark).json()["error"]
    assert core.calls == []


def test_retained_commands_are_ignored(broker, watcher, core, make_config, make_adapter):
    watcher.publish(f"{BASE}/player/set", "next", retain=True)  # left on the broker by a careless client
    make_adapter(core, make_config())
    online(watcher)
    assert "retained" in watcher.wait_message(f"{BASE}/error").json()["error"]
    assert core.called("next") == []
    watcher.publish(f"{BASE}/player/set", "", retain=True)  # clean up


def test_core_refusing_a_command_is_reported(watcher, core, make_config, make_adapter):
    def broken_rescan() -> None:
        raise RuntimeError("library folder is not mounted")
    core.rescan_library = broken_rescan
    make_adapter(core, make_config())
    online(watcher)
    watcher.publish(f"{BASE}/rescan/set", "PRESS")
    assert "not mounted" in watcher.wait_message(f"{BASE}/error").json()["error"]
    watcher.publish(f"{BASE}/like/set", "PRESS")  # and the adapter goes on
    watcher.wait_for(lambda: core.called("like"), "like after a failed command")


def test_home_assistant_birth_republishes_discovery_and_states(watcher, core, make_config, make_adapter):
    make_adapter(core, make_config())
    online(watcher)
    mark = watcher.mark()
    watcher.publish("homeassistant/status", "online")
    watcher.wait_message("homeassistant/sensor/moodbox_testbox/mood/config", after=mark)
    watcher.wait_message(f"{BASE}/mood", after=mark)
    watcher.wait_message(f"{BASE}/diagnostics", after=mark)


def test_discovery_off_publishes_no_configs(watcher, core, make_config, make_adapter):
    make_adapter(core, make_config({"discovery": False}))
    online(watcher)
    watcher.publish("homeassistant/status", "online")
    watcher.wait_message(f"{BASE}/mood")
    assert [m for m in watcher.messages if m.topic.startswith("homeassistant/") and m.topic.endswith("/config")] == []


def test_diagnostics_are_published_periodically(watcher, core, make_config, make_adapter):
    make_adapter(core, make_config({"diagnostics_interval_s": 1}))
    online(watcher)
    watcher.wait_for(lambda: len(watcher.on(f"{BASE}/diagnostics")) >= 3, "three diagnostics messages")
    diagnostics = watcher.on(f"{BASE}/diagnostics")
    assert not any(m.retain for m in diagnostics)
    payload = diagnostics[-1].json()
    assert payload["inference_ms"] == {"detector": 12.5, "emotion": 3.2, "age": 4.0}  # 3.25 rounds to even
    assert payload["fps"] == 2.0 and payload["uptime_s"] == 42 and payload["library_tracks"] == 3
    assert payload["memory_mb"] == 80.2
    assert "cpu_temperature_c" in payload


def test_clean_stop_publishes_offline(watcher, core, make_config, make_adapter):
    adapter = make_adapter(core, make_config())
    online(watcher)
    adapter.stop()
    watcher.wait_message(f"{BASE}/availability", lambda m: m.payload == b"offline")
    mark = watcher.mark()
    core.change("policy", {"policy": "calm"})  # after stop nothing is published
    watcher.publish(f"{BASE}/player/set", "next")
    assert watcher.on(f"{BASE}/policy")[mark:] == [] and core.called("next") == []


def test_dropped_connection_sends_last_will_then_reconnects(watcher, core, make_config, make_adapter):
    adapter = make_adapter(core, make_config())
    online(watcher)
    mark = watcher.mark()
    adapter._client.socket().shutdown(socket.SHUT_RDWR)  # the network goes away under the client
    watcher.wait_message(f"{BASE}/availability", lambda m: m.payload == b"offline", after=mark)
    online(watcher, after=mark)
    # order after reconnecting: discovery, then every state, then `online`
    topics = [m.topic for m in watcher.messages[mark:]]
    online_at = max(i for i, t in enumerate(topics) if t == f"{BASE}/availability")
    for name in ("mood", "player", "volume", "camera", "library"):
        assert topics.index(f"{BASE}/{name}") < online_at, name
    assert topics.index("homeassistant/sensor/moodbox_testbox/mood/config") < topics.index(f"{BASE}/mood")


def test_broker_restart_reconnects_and_republishes_once_logged(broker, core, make_config, make_adapter, caplog):
    caplog.set_level(logging.INFO, logger="moodbox.mqtt")
    adapter = make_adapter(core, make_config())
    first = Watcher(broker.port)
    first.wait_for(lambda: adapter.connected, "the first connection")
    first.close()
    broker.stop()  # no persistence: every retained message is gone with it
    first.wait_for(lambda: not adapter.connected, "the adapter to notice the outage")
    core.change("volume", {"volume": 33})  # the Core goes on while the broker is away
    first.wait_for(lambda: sum("connection refused" in r.getMessage() for r in caplog.records) >= 1,
                   "the outage in the log")
    # several reconnect attempts fail meanwhile (backoff 0.2 .. 1 s)
    first.wait_for(lambda: adapter._client._reconnect_delay and adapter._client._reconnect_delay >= 0.8,
                   "a few failed attempts")
    broker.start()
    fresh = Watcher(broker.port)
    try:
        online(fresh)
        assert fresh.wait_message(f"{BASE}/volume").json()["volume"] == 33
        fresh.wait_message("homeassistant/number/moodbox_testbox/volume/config")
    finally:
        fresh.close()
    outage_lines = [r for r in caplog.records if "retrying in the background" in r.getMessage()]
    assert [r.levelno for r in outage_lines] == [logging.WARNING, logging.WARNING]  # lost + refused, once each
    assert any("connected to" in r.getMessage() and "again after" in r.getMessage() for r in caplog.records)


def test_long_broker_outage_is_over_within_10_s_of_its_return(broker, core, make_config):
    """With the daemon's own back-off (MqttAdapter(core, config)). The old 1..120 s back-off tried at
    1, 3, 7, 15 and 31 s after the drop: a broker back after 17 s waited 14 s for the box."""
    import time

    from moodbox.mqtt import MqttAdapter

    adapter = MqttAdapter(core, make_config())
    assert adapter.start()
    try:
        first = Watcher(broker.port)
        online(first)
        first.close()
        broker.stop()  # no persistence: every retained message is gone with it
        first.wait_for(lambda: not adapter.connected, "the adapter to notice the outage")
        time.sleep(17)
        broker.start()  # returns once the port is open again
        back = time.monotonic()
        fresh = Watcher(broker.port)
        try:
            wanted = {f"{BASE}/{name}" for name in STATE_NAMES}
            fresh.wait_for(lambda: wanted <= {m.topic for m in fresh.messages} and
                           (fresh.last(f"{BASE}/availability") or None) and
                           fresh.last(f"{BASE}/availability").payload == b"online" and
                           len({m.topic for m in fresh.messages if m.topic.startswith("homeassistant/")})
                           == DISCOVERY_COUNT, "online, every state and every discovery config")
            took = time.monotonic() - back
        finally:
            fresh.close()
        assert took <= 10.0, f"online {took:.1f} s after the broker came back"
        late = Watcher(broker.port)  # and it is all retained again
        try:
            late.wait_for(lambda: all((late.last(f"{BASE}/{n}") or None) and late.last(f"{BASE}/{n}").retain
                                      for n in (*STATE_NAMES, "availability")), "the retained states")
        finally:
            late.close()
    finally:
        adapter.stop()


def test_broker_down_at_start_then_up(tmp_path, core, make_adapter):
    from moodbox.config import Config
    from mqtt.broker import Mosquitto

    server = Mosquitto(tmp_path / "late")
    config = Config.model_validate({"mqtt": {"host": "127.0.0.1", "port": server.port, "device_id": "testbox"}})
    adapter = make_adapter(core, config)
    assert not adapter.connected
    core.change("player", {"state": "playing"})  # must not block or fail while offline
    server.start()
    try:
        w = Watcher(server.port)
        online(w)
        assert w.wait_message(f"{BASE}/player").json()["state"] == "playing"
        w.close()
    finally:
        adapter.stop()
        server.stop()


def test_fuzzed_commands_leave_the_adapter_working(watcher, core, make_config, make_adapter):
    import random

    make_adapter(core, make_config())
    online(watcher)
    rng = random.Random(20261121)
    things = ["player", "volume", "refresh", "policy", "override", "detection", "like", "dislike", "rescan", "x"]
    words = ["play", "next", "ON", "off", "auto", "happy", "calm", "+5", "-3", "70", "1e3", "nan", "PRESS", "{",
             '{"emotion": 3}', '{"emotion": "sad", "timeout": 1e309}', "[]", "null", "\u00e9\u00e9", "-0", "+999"]

    def answered() -> int:  # every command is either carried out or answered on the error topic
        return len(watcher.on(f"{BASE}/error")) + len(core.calls)

    for sent in range(2000):
        kind = rng.random()
        if kind < 0.4:
            payload = rng.choice(words).encode()
        elif kind < 0.7:
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
        elif kind < 0.9:
            key = rng.choice(["emotion", "timeout", "v"])
            payload = json.dumps({key: rng.choice([1, -1, "happy", None, 1e9])}).encode()
        else:
            payload = rng.choice(words).encode() * rng.randint(1, 300)
        watcher.client.publish(f"{BASE}/{rng.choice(things)}/set", payload, qos=1)
        if sent % 100 == 99:  # in bursts the adapter's queue can take, so no command is dropped
            watcher.wait_for(lambda: answered() > sent, f"answers to the first {sent + 1} commands", timeout=60)
    watcher.publish(f"{BASE}/policy/set", "calm")  # a last valid command after the storm
    # wait for its answer first: a fuzzed "calm" may already have set the policy
    watcher.wait_for(lambda: answered() >= 2001, "an answer to all 2001 commands", timeout=60)
    watcher.wait_for(lambda: core.snapshot()["policy"]["policy"] == "calm" and
                     core.called("set_policy")[-1] == ("calm",), "the final command", timeout=60)
    assert all(args[0] <= 70 for args in core.called("set_volume"))
    assert all(args[0] in ("match", "lift", "calm") for args in core.called("set_policy"))
    watcher.wait_for(lambda: watcher.last(f"{BASE}/policy").json() == {"policy": "calm"}, "published policy")
    assert core.snapshot()["volume"]["volume"] <= 70
    assert answered() >= 2001, answered()


def test_a_stuck_adapter_never_blocks_the_core_and_catches_up(watcher, core, make_config, make_adapter,
                                                              monkeypatch, caplog):
    import threading

    import moodbox.mqtt.adapter as adapter_module

    monkeypatch.setattr(adapter_module, "QUEUE_SIZE", 5)
    stuck, release = threading.Event(), threading.Event()
    real_snapshot = core.snapshot
    core.snapshot = lambda: (stuck.set(), release.wait(30), real_snapshot())[2]  # the worker hangs in here
    make_adapter(core, make_config())
    watcher.wait_for(stuck.is_set, "the worker to hang in snapshot() after connecting")
    for volume in range(50):  # far more than the queue holds: must return at once, dropping updates
        core.change("volume", {"volume": volume})
    assert "dropping updates" in caplog.text
    release.set()
    online(watcher)
    watcher.wait_for(lambda: (watcher.last(f"{BASE}/volume") or None) and
                     watcher.last(f"{BASE}/volume").json()["volume"] == 49, "the latest volume after catching up")


def test_mqtt_enabled_false_starts_nothing(watcher, core, make_config, make_adapter):
    adapter = make_adapter(core, make_config({"enabled": False}), start=False)
    assert adapter.start() is False
    watcher.publish(f"{BASE}/player/set", "next")
    watcher.publish("test/marker", "end")
    watcher.wait_message("test/marker")
    assert not adapter.connected and watcher.on(f"{BASE}/availability") == [] and core.calls == []
