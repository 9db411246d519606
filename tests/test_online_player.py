"""Online items through the real player: a local "radio station" streamed by real mpv (ao=null).

A dead station fails in mpv, is reported to the fallback and is not offered again.
"""
from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from werkzeug import Request, Response

from moodbox.config import AudioConfig
from moodbox.online import OnlineFallback, to_play_item
from moodbox.player import MpvPlayer
from moodbox.readings import MoodState
from test_online_fixtures import api, api_server, base_url, loopback_only, online_config, station  # noqa: F401

WAIT_S = 30.0  # generous: a loaded 2-core machine


class Events:
    """Player events, and a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()

    def __call__(self, name: str, data: dict[str, Any]) -> None:
        with self._cond:
            self.events.append((name, data))
            self._cond.notify_all()

    def wait_for(self, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        with self._cond:
            while True:
                found = [d for n, d in self.events if n == name]
                if found:
                    return found[0]
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {name} event within {WAIT_S} s; got {[n for n, _ in self.events]}")
                self._cond.wait(0.5)


def _flac_bytes(seconds: float = 20.0, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), rate, format="FLAC")
    return buffer.getvalue()


@pytest.mark.skipif(not Path("/usr/bin/mpv").exists(), reason="mpv is not installed")
def test_station_plays_in_mpv_and_a_dead_one_is_avoided(api, tmp_path: Path) -> None:
    stream = base_url(api, "/stream")
    api.expect_request("/json/stations/search").respond_with_handler(lambda r: Response(json.dumps([
        station("dead-uuid", "Dead FM", "pop", clicks=900, url=f"{stream}/dead"),
        station("live-uuid", "Live FM", "pop", clicks=100, url=f"{stream}/live.flac"),
    ]), content_type="application/json"))
    api.expect_request("/stream/dead").respond_with_data("gone", status=404)
    api.expect_request("/stream/live.flac").respond_with_data(_flac_bytes(), content_type="audio/flac")

    fallback = OnlineFallback(online_config(tmp_path, api))
    happy = MoodState.from_emotion("happy", source="camera")
    items = fallback.items_for(happy, local_matches=0, count=2)
    assert [i.title for i in items] == ["Dead FM", "Live FM"]

    events = Events()
    player = MpvPlayer(AudioConfig(output="null"), on_event=events)
    player.start()
    try:
        player.load([to_play_item(i) for i in items], play=True)
        failed = events.wait_for("track_failed")
        assert failed["item"]["track_id"] == "dead-uuid" and failed["item"]["source"] == "online"
        fallback.report_failed(failed["item"]["track_id"], failed["error"])
        started = events.wait_for("track_started")
        assert started["item"]["title"] == "Live FM" and started["item"]["source"] == "online"
        assert player.status().item is not None and player.status().item.title == "Live FM"
    finally:
        player.close()
    assert [i.title for i in fallback.items_for(happy, local_matches=0, count=2)] == ["Live FM"]
