"""End to end: the real Core (real mpv with null audio, a real tagged FLAC library, folder camera,
the perception models when present) driven over a real mosquitto by MqttAdapter."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core_testkit import NO_FACE, camera_folder, config_data, make_config as make_core_config, models_ready, \
    write_library
from moodbox.core import Core
from mqtt.fixtures import BASE, broker, make_adapter, watcher  # noqa: F401
from mqtt.watcher import Watcher


@pytest.fixture
def real_core(tmp_path: Path, broker):
    library = tmp_path / "music"
    write_library(library, seconds=60.0)
    data = config_data(tmp_path / "state", library, str(camera_folder(tmp_path / "cam", NO_FACE)),
                       mqtt={"enabled": True, "host": "127.0.0.1", "port": broker.port, "device_id": "testbox"})
    config = make_core_config(tmp_path, data)
    core = Core(config)
    yield core, config
    core.close()


def state(w: Watcher, name: str, match, after: int) -> dict:
    return w.wait_message(f"{BASE}/{name}", lambda m: match(m.json()), after=after).json()


def command(w: Watcher, thing: str, payload: str) -> int:
    mark = w.mark()
    w.publish(f"{BASE}/{thing}/set", payload)
    return mark


def test_real_core_over_mqtt(real_core, watcher, make_adapter):
    core, config = real_core
    make_adapter(core, config)  # subscribe before start: every state change goes out
    core.start()
    w = watcher
    w.wait_message(f"{BASE}/availability", lambda m: m.payload == b"online")
    playing = state(w, "player", lambda p: p["state"] == "playing" and p["title"], 0)
    assert playing["now_playing"] != "nothing" and playing["track_mood"]
    state(w, "library", lambda p: p["status"] == "ready" and p["tracks"] == 12, 0)

    mark = command(w, "volume", "100")  # max_volume is 60 in this config
    assert state(w, "volume", lambda p: p["volume"] == 60, mark) == {"volume": 60, "max": 60}
    mark = command(w, "volume", "-20")
    state(w, "volume", lambda p: p["volume"] == 40, mark)

    mark = command(w, "policy", "calm")
    state(w, "policy", lambda p: p["policy"] == "calm", mark)

    mark = command(w, "override", json.dumps({"emotion": "happy", "timeout": 600}))
    override = state(w, "override", lambda p: p["active"], mark)
    assert override["emotion"] == "happy" and override["until"] is not None
    mood = state(w, "mood", lambda p: p["source"] == "override", mark)
    assert mood["emotion"] == "happy" and mood["confidence"] == 1.0
    changed = w.wait_message(f"{BASE}/event", lambda m: m.json()["type"] == "mood_changed", after=mark).json()
    assert changed["emotion"] == "happy"
    mark = command(w, "override", "auto")
    assert state(w, "override", lambda p: not p["active"], mark)["emotion"] == "auto"

    mark = command(w, "detection", "OFF")
    state(w, "detection", lambda p: p["enabled"] is False, mark)
    assert state(w, "camera", lambda p: p["status"] == "off", mark)["problem"] is False
    mark = command(w, "detection", "ON")
    state(w, "detection", lambda p: p["enabled"] is True, mark)

    mark = command(w, "player", "pause")
    state(w, "player", lambda p: p["state"] == "paused", mark)
    mark = command(w, "player", "play")
    current = state(w, "player", lambda p: p["state"] == "playing", mark)

    emotion = core.snapshot()["mood"]["emotion"]
    track_id = core.snapshot()["player"]["track_id"]
    command(w, "like", "PRESS")
    w.wait_for(lambda: (core.history.feedback(emotion).get(track_id) or None) and
               core.history.feedback(emotion)[track_id].likes == 1, "the like in the history")

    mark = command(w, "player", "next")
    state(w, "player", lambda p: p["title"] != current["title"] and p["state"] == "playing", mark)

    if models_ready() is None:
        mark = command(w, "refresh", "PRESS")
        w.wait_message(f"{BASE}/event", lambda m: m.json()["type"] == "capture" and m.json()["active"], after=mark)

    mark = command(w, "rescan", "PRESS")
    state(w, "library", lambda p: p["status"] == "ready" and p["tracks"] == 12, mark)

    mark = w.mark()
    core.button("hold")  # what the GPIO adapter does; hold_action is `next`
    assert w.wait_message(f"{BASE}/button", after=mark).json() == {"event_type": "hold"}

    mark = command(w, "volume", "loud")
    assert "expected a number" in w.wait_message(f"{BASE}/error", after=mark).json()["error"]
    assert core.alive() and core.snapshot()["volume"]["volume"] == 40
