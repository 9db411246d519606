"""State JSON built from the real Core's value shapes (moodbox.core.mood_to_dict and friends)."""
from __future__ import annotations

import pytest

from moodbox.core import cpu_temperature, mood_to_dict
from moodbox.mqtt.payloads import (camera_payload, diagnostics_payload, library_payload,
                                   override_payload, player_payload, state_payload)
from moodbox.readings import MoodState


def test_mood_from_the_core():
    mood = MoodState("sad", 0.61, {"sad": 0.61, "neutral": 0.39, "happy": 0.0, "angry": 0.0, "disgust": 0.0,
                                   "fear": 0.0, "surprise": 0.0}, -0.43, -0.24, 3, (34.0, 71.5, 30.2), "camera",
                     1763700000.25)
    payload = state_payload("mood", mood_to_dict(mood), 70)
    assert payload["emotion"] == "sad" and payload["confidence"] == 0.61 and payload["faces"] == 3
    assert payload["probabilities"]["neutral"] == 0.39 and sum(payload["probabilities"].values()) == 1.0
    assert payload["age_groups"] == ["young_adult", "senior", "young_adult"]
    assert payload["age_group"] == "young_adult"  # the most common one
    assert (payload["valence"], payload["arousal"], payload["source"]) == (-0.43, -0.24, "camera")
    assert payload["timestamp"] == 1763700000.25


def test_player_now_playing_and_defaults():
    assert player_payload({"state": "paused", "title": "Blue", "artist": None})["now_playing"] == "Blue"
    idle = player_payload({})
    assert idle["state"] == "stopped" and idle["now_playing"] == "nothing" and idle["source"] == "library"
    long = player_payload({"state": "playing", "title": "x" * 400, "artist": "y"})
    assert len(long["now_playing"]) == 255


@pytest.mark.parametrize("status, problem", [("idle", False), ("ok", False), ("off", False), ("error", True)])
def test_camera_problem_only_on_error(status, problem):
    payload = camera_payload({"status": status, "message": "no camera" if status == "error" else None})
    assert payload["problem"] is problem and payload["status"] == status


def test_override_and_library():
    assert override_payload({"active": False, "emotion": None, "until": None}) == \
        {"emotion": "auto", "active": False, "until": None}
    assert override_payload({"active": True, "emotion": "happy", "until": 1763700600})["until"] == 1763700600.0
    assert library_payload({"status": "scanning", "tracks": 12})["scanning"] is True
    assert library_payload({"status": "error", "message": "disk gone", "tracks": 0})["error"] == "disk gone"


def test_diagnostics_from_the_core_and_fallbacks(tmp_path):
    core_diagnostics = {"uptime_s": 3600, "cpu_temperature_c": 51.2, "memory_mb": 142.3,
                        "timings_ms": {"detector": 21.4, "emotion": 6.1}, "analysis_fps": 3.75,
                        "perception": "ok", "library_tracks": 12, "player_restarts": 1}
    payload = diagnostics_payload(core_diagnostics, {"status": "ready", "tracks": 12}, 0.0)
    assert payload["inference_ms"] == {"detector": 21.4, "emotion": 6.1, "age": None}
    assert (payload["fps"], payload["cpu_temperature_c"], payload["uptime_s"]) == (3.75, 51.2, 3600)
    assert (payload["library_tracks"], payload["player_restarts"], payload["memory_mb"]) == (12, 1, 142.3)
    empty = diagnostics_payload({}, {}, 0.0)
    assert empty["inference_ms"] == {"detector": None, "emotion": None, "age": None} and empty["uptime_s"] >= 0
    temp = tmp_path / "temp"
    temp.write_text("48312\n")
    assert cpu_temperature(temp) == 48.312
    assert cpu_temperature(tmp_path / "none") is None
