"""Online items through the real player: a local "radio station" streamed by real mpv (ao=null).

A dead station fails in mpv, is reported to the fallback and is not offered again.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from werkzeug import Response

from moodbox.config import AudioConfig
from moodbox.online import OnlineFallback, to_play_item
from moodbox.player import MpvPlayer
from moodbox.readings import MoodState
from core_testkit import Recorder
from test_online_fixtures import api, api_server, base_url, loopback_only, online_config, station  # noqa: F401


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

    events = Recorder()
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
