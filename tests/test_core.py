"""Core with real parts: folder camera with real pictures, real perception models, a real tagged
library scanned into SQLite, real mpv with null audio."""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from core_testkit import (HAPPY_FACE, NO_FACE, SAD_FACE, Recorder, camera_folder, config_data, make_config,
                          models_ready, show, wait_until)
from moodbox.core import PLAYER_STATE_FILE, STATE_TOPICS, Core

NO_MODELS = models_ready()
needs_models = pytest.mark.skipif(NO_MODELS is not None, reason=NO_MODELS or "")


class Harness:
    """A started Core plus what it told its listeners."""

    def __init__(self, core: Core, recorder: Recorder) -> None:
        self.core = core
        self.events = recorder

    def playing_path(self) -> str | None:
        return self.core.player.mpv_property("path")


@pytest.fixture
def start_core(tmp_path: Path, library: Path) -> Iterator:
    cores: list[Core] = []

    def start(source: str | Path | None = None, state: Path | None = None, **sections: dict) -> Harness:
        if source is None:
            source = camera_folder(tmp_path / "cam", NO_FACE)
        config = make_config(tmp_path, config_data(state or tmp_path / "state", library, str(source), **sections))
        core = Core(config)
        recorder = Recorder()
        core.subscribe(recorder)
        cores.append(core)
        core.start()
        return Harness(core, recorder)

    yield start
    for core in cores:
        core.close()


def first_track_started(h: Harness, since: int = 0) -> dict:
    return h.events.event("track_started", since)


def test_start_reads_the_room_and_plays_a_queue(start_core) -> None:
    h = start_core()
    started = first_track_started(h)
    assert started["index"] == 0 and started["title"]
    wait_until(lambda: h.playing_path() is not None, "mpv playing a file")
    snapshot = h.core.snapshot()
    assert set(snapshot) == set(STATE_TOPICS)
    assert snapshot["player"]["state"] == "playing"
    assert snapshot["volume"] == {"volume": 30, "max": 60}
    assert snapshot["library"]["tracks"] == 12
    assert snapshot["policy"] == {"policy": "match"}
    assert snapshot["detection"] == {"enabled": True}
    diagnostics = snapshot["diagnostics"]
    assert diagnostics["uptime_s"] >= 0 and diagnostics["memory_mb"] > 0
    assert diagnostics["library_tracks"] == 12
    if NO_MODELS is None:
        # a burst looked at the room (no face on the picture: mood stays neutral, 0 faces)
        h.events.event("capture", match=lambda d: d["active"] is True)
        h.events.event("capture", match=lambda d: d["active"] is False)
        assert snapshot["mood"]["emotion"] == "neutral" and snapshot["mood"]["faces"] == 0
        assert set(diagnostics["timings_ms"]) >= {"detector"}
        assert snapshot["camera"]["status"] == "ok"


@needs_models
def test_button_press_reads_new_mood_and_plays_a_new_queue(start_core, tmp_path: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    from moodbox.config import GpioConfig
    from moodbox.gpio import ButtonAdapter

    cam = camera_folder(tmp_path / "cam", NO_FACE)
    h = start_core(source=cam)
    factory = MockFactory()
    button = ButtonAdapter(h.core, GpioConfig(enabled="on", button_pin=17, led_pin=27), pin_factory=factory)
    assert button.start()
    try:
        first_track_started(h)
        show(cam, HAPPY_FACE)  # someone smiling walks in
        mark = h.events.mark()
        led_states: list[bool] = []
        h.core.subscribe(lambda topic, data: led_states.append(bool(factory.pin(27).state))
                         if data.get("type") == "capture" else None)
        pin = factory.pin(17)
        pin.drive_low()  # pressed (button to GND, pull-up)
        wait_until(lambda: button.button.is_pressed, "gpiozero seeing the press")
        time.sleep(0.1)  # held a moment, well below hold_seconds
        pin.drive_high()
        assert h.events.event("button", mark) == {"type": "button", "kind": "press", "action": "refresh"}
        h.events.event("capture", mark, lambda d: d["active"] is True)
        changed = h.events.event("mood_changed", mark)
        assert changed["emotion"] == "happy" and changed["previous"] == "neutral"
        mood = h.events.wait_for("mood", lambda d: d["emotion"] == "happy", mark)
        assert mood["source"] == "camera" and mood["faces"] == 1 and len(mood["ages"]) == 1
        started = first_track_started(h, mark)
        assert started["index"] == 0
        assert started["mood"] in ("happy", "energetic")  # the library's tracks nearest to a happy room
        new_first = h.core.player.queue()[0].path
        wait_until(lambda: h.playing_path() == new_first, "mpv playing the first track of the new queue")
        assert True in led_states and not factory.pin(27).state  # the LED lit while looking, off after
    finally:
        button.close()


@needs_models
def test_same_mood_keeps_the_queue(start_core) -> None:
    h = start_core()
    first_track_started(h)
    queue_before = [item.path for item in h.core.player.queue()]
    mark = h.events.mark()
    h.core.refresh_mood()
    h.events.event("capture", mark, lambda d: d["active"] is False)
    h.events.wait_for("diagnostics", lambda d: True, mark)  # published after the burst was applied
    assert [item.path for item in h.core.player.queue()] == queue_before
    assert not [e for e in h.events.of("event", mark) if e["type"] == "mood_changed"]


def test_killed_mpv_is_recovered_and_playback_resumes(start_core) -> None:
    h = start_core()
    first_track_started(h)
    wait_until(lambda: h.playing_path() is not None, "mpv playing")
    path, pid = h.playing_path(), h.core.player.pid
    os.kill(pid, signal.SIGKILL)
    h.events.wait_for("diagnostics", lambda d: d["player_restarts"] == 1)
    wait_until(lambda: h.core.player.pid not in (None, pid), "a new mpv")
    wait_until(lambda: h.playing_path() == path, "the same track playing again")
    assert h.core.snapshot()["player"]["state"] == "playing"


def test_missing_camera_gives_error_state_and_music_plays_on(start_core, tmp_path: Path) -> None:
    cam = tmp_path / "not-yet-plugged"
    h = start_core(source=cam)
    error = h.events.wait_for("camera", lambda d: d["status"] == "error")
    assert str(cam) in error["message"] and error["retry_in_s"] == 1
    first_track_started(h)
    wait_until(lambda: h.playing_path() is not None, "music despite the camera")
    # the camera shows up: the periodic retry finds it
    camera_folder(cam, NO_FACE)
    h.events.wait_for("camera", lambda d: d["status"] == "ok")
    assert h.core.snapshot()["player"]["state"] == "playing"


def test_detection_off_reads_no_frames_and_a_refresh_keeps_the_music(start_core) -> None:
    h = start_core()
    playing = first_track_started(h)
    h.events.event("capture", match=lambda d: d["active"] is False)
    mark = h.events.mark()
    h.core.set_detection(False)
    h.events.wait_for("camera", lambda d: d["status"] == "off", mark)
    assert h.events.wait_for("detection", since=mark) == {"enabled": False}
    h.core.refresh_mood("test")
    skipped = h.events.event("refresh_skipped", mark)  # nothing to read: said, and the track plays on
    assert "detection" in skipped["why"] or "off" in skipped["why"], skipped
    assert h.core.snapshot()["player"]["title"] == playing["title"]
    assert not [e for e in h.events.of("event", mark) if e["type"] in ("capture", "track_started")]
    wait_until(lambda: not h.core.room.camera_open, "the camera closed (the worker thread owns it)")
    mark = h.events.mark()
    h.core.set_detection(True)
    h.events.event("capture", mark, lambda d: d["active"] is True)


def test_override_replaces_the_mood_until_it_times_out(start_core) -> None:
    h = start_core()
    first_track_started(h)
    mark = h.events.mark()
    h.core.set_mood_override("sad", timeout_s=1.5)
    assert h.events.event("mood_changed", mark)["emotion"] == "sad"
    assert h.events.wait_for("override", lambda d: d["active"], mark)["emotion"] == "sad"
    assert h.events.wait_for("mood", lambda d: d["emotion"] == "sad", mark)["source"] == "override"
    started = first_track_started(h, mark)
    assert started["mood"] in ("sad", "calm")
    h.events.wait_for("override", lambda d: not d["active"], mark)
    h.events.wait_for("mood", lambda d: d["source"] != "override", mark)
    with pytest.raises(ValueError, match="unknown emotion"):
        h.core.set_mood_override("grumpy")
    with pytest.raises(ValueError, match="unknown policy"):
        h.core.set_policy("loud")


def test_volume_is_capped_and_reaches_mpv(start_core) -> None:
    h = start_core()
    first_track_started(h)
    assert h.core.set_volume(95) == 60
    h.events.wait_for("volume", lambda d: d["volume"] == 60)
    wait_until(lambda: h.core.player.mpv_property("volume") == 60, "mpv volume 60")


def test_dislike_is_recorded_and_skips(start_core) -> None:
    h = start_core()
    started = first_track_started(h)
    mark = h.events.mark()
    h.core.dislike()
    assert first_track_started(h, mark)["index"] == 1
    emotion = h.core.snapshot()["mood"]["emotion"]
    wait_until(lambda: h.core.history.feedback(emotion).get(started["track_id"]) is not None, "feedback saved")
    assert h.core.history.feedback(emotion)[started["track_id"]].dislikes == 1


def test_queue_end_reads_the_room_again_and_plays_on(start_core) -> None:
    h = start_core(recommend={"queue_length": 1})
    first_track_started(h)
    mark = h.events.mark()
    h.core.next()  # past the last track: the queue ends
    if NO_MODELS is None:
        h.events.event("capture", mark, lambda d: d["active"] is True)
    first_track_started(h, mark)


def test_a_broken_listener_does_not_break_the_core(start_core) -> None:
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            errors.append(record.getMessage() + (str(record.exc_info[1]) if record.exc_info else ""))

    def broken(topic: str, data: dict) -> None:
        raise RuntimeError("adapter bug")

    handler = Collect(level=logging.ERROR)
    logging.getLogger("moodbox.core").addHandler(handler)
    try:
        h = start_core()
        h.core.subscribe(broken)
        after = Recorder()
        h.core.subscribe(after)  # a listener after the broken one still hears everything
        h.core.set_volume(20)
        after.wait_for("volume", lambda d: d["volume"] == 20)
        h.core.set_volume(25)
        after.wait_for("volume", lambda d: d["volume"] == 25)
        assert any("adapter bug" in e and "topic volume" in e for e in errors)
    finally:
        logging.getLogger("moodbox.core").removeHandler(handler)


def test_queue_and_position_are_saved_and_resumed(start_core, tmp_path: Path) -> None:
    state = tmp_path / "state"
    h = start_core(state=state)
    first_track_started(h)
    h.core.next()
    wait_until(lambda: h.core.player.status().index == 1 and h.core.player.status().position > 0.3, "playing #2")
    queue = [item.path for item in h.core.player.queue()]
    h.core.close()
    saved = json.loads((state / PLAYER_STATE_FILE).read_text())
    assert [item["path"] for item in saved["player"]["items"]] == queue
    assert saved["player"]["index"] == 1 and saved["player"]["position"] > 0.3
    assert "volume" not in json.dumps(saved["player"])  # volume always starts at start_volume

    again = start_core(state=state)
    assert [item.path for item in again.core.player.queue()] == queue
    status = again.core.player.status()
    assert status.index == 1 and status.position >= saved["player"]["position"] - 0.5
    assert again.core.snapshot()["volume"]["volume"] == 30
    wait_until(lambda: again.playing_path() == queue[1], "the saved track playing again")


def test_a_damaged_state_file_is_ignored(start_core, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / PLAYER_STATE_FILE).write_text('{"player": {"items": [{"title": "no path"}], "index": "x"')
    h = start_core(state=state)
    first_track_started(h)  # a fresh queue instead


@needs_models
def test_frames_are_saved_only_with_the_debug_option(start_core, tmp_path: Path) -> None:
    h = start_core(source=camera_folder(tmp_path / "cam", SAD_FACE), state=tmp_path / "quiet")
    h.events.event("capture", match=lambda d: d["active"] is False)
    first_track_started(h)
    images = [p for p in (tmp_path / "quiet").rglob("*") if p.suffix in (".jpg", ".png")]
    assert images == []
    h.core.close()
    debug = start_core(source=tmp_path / "cam", state=tmp_path / "debug", camera={"save_frames": True})
    debug.events.event("capture", match=lambda d: d["active"] is False)
    wait_until(lambda: len(list((tmp_path / "debug" / "debug-frames").glob("*.jpg"))) >= 2, "debug frames")


@needs_models
def test_recheck_interval_reads_the_room_again_while_playing(start_core) -> None:
    h = start_core(mood={"recheck_interval_s": 1})
    first_track_started(h)
    mark = h.events.mark()
    h.events.event("capture", mark, lambda d: d["active"] is True)
    mark = h.events.mark()
    h.events.event("capture", mark, lambda d: d["active"] is True)  # and again


def test_alive_turns_false_while_the_loop_hangs(start_core, monkeypatch: pytest.MonkeyPatch) -> None:
    import moodbox.core.runner

    monkeypatch.setattr(moodbox.core.runner, "HEARTBEAT_STALE_S", 1.0)
    h = start_core()
    first_track_started(h)
    assert h.core.alive()
    release = threading.Event()
    h.core.runner.post(release.wait, 60)  # a command that hangs the loop
    try:
        wait_until(lambda: not h.core.alive(), "alive() to notice the hang")
    finally:
        release.set()
    wait_until(h.core.alive, "alive() again")


def test_alive_turns_false_when_a_job_is_stuck(start_core, monkeypatch: pytest.MonkeyPatch) -> None:
    import moodbox.core.runner

    monkeypatch.setattr(moodbox.core.runner, "JOB_STUCK_S", 1.0)
    h = start_core()
    first_track_started(h)
    release = threading.Event()
    h.core.runner.submit("stuck", lambda: release.wait(60))  # e.g. a camera driver that never returns
    try:
        wait_until(lambda: not h.core.alive(), "alive() to notice the stuck job")
    finally:
        release.set()
    wait_until(h.core.alive, "alive() again")


def test_camera_error_at_queue_end_still_plays_a_new_queue(start_core, tmp_path: Path) -> None:
    h = start_core(source=tmp_path / "no-camera", recommend={"queue_length": 1})
    h.events.wait_for("camera", lambda d: d["status"] == "error")
    first_track_started(h)
    mark = h.events.mark()
    h.core.next()  # the queue ends; the room cannot be read; music must go on anyway
    first_track_started(h, mark)


def test_damaged_library_index_is_rebuilt_and_music_plays(start_core, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "library.db").write_bytes(b"this is not a database" * 100)
    h = start_core(state=state)
    first_track_started(h)
    assert h.core.snapshot()["library"]["tracks"] == 12
    assert list(state.glob("library.db.damaged-*"))  # kept aside for a look, not deleted


@needs_models
def test_a_paused_box_stays_quiet_after_a_restart_even_when_the_mood_changes(start_core, tmp_path: Path) -> None:
    state, cam = tmp_path / "state", camera_folder(tmp_path / "cam", NO_FACE)
    h = start_core(source=cam, state=state)
    first_track_started(h)
    h.core.pause()
    wait_until(lambda: h.core.player.status().state == "paused", "paused")
    h.core.close()

    show(cam, HAPPY_FACE)
    again = start_core(source=cam, state=state)
    again.events.event("mood_changed")  # the room looks different now: a new queue is made...
    assert again.core.wait_ready(30)
    assert again.core.player.status().state != "playing"  # ...but it waits for someone to press play
    assert not [e for e in again.events.of("event") if e["type"] == "track_started"]
    mark = again.events.mark()
    again.core.play()
    first_track_started(again, mark)


def test_online_fallback_fills_the_queue_when_the_library_cannot(start_core, httpserver, tmp_path: Path) -> None:
    """A local stand-in for Radio Browser; its "station" is a FLAC stream that mpv really plays."""
    import io

    import numpy as np
    import soundfile

    from test_online_fixtures import station

    buffer = io.BytesIO()
    tone = 0.1 * np.sin(2 * np.pi * 300 * np.arange(8000 * 30) / 8000)
    soundfile.write(buffer, tone.astype(np.float32), 8000, format="FLAC")
    httpserver.expect_request("/stream/blue.flac").respond_with_data(buffer.getvalue(), content_type="audio/flac")
    stream = httpserver.url_for("/stream/blue.flac")
    httpserver.expect_request("/json/stations/search").respond_with_json([station("blue-1", "Blue Radio", "blues",
                                                                                 url=stream)])
    online = {"enabled": True, "min_local_matches": 10, "timeout_s": 5,
              "radio_browser": {"enabled": True, "base_url": httpserver.url_for("/").rstrip("/")}}
    h = start_core(online=online)
    first_track_started(h)
    queue = h.core.player.queue()
    online_at = [i for i, item in enumerate(queue) if item.source == "online"]
    assert online_at and queue[online_at[0]].path == stream and queue[online_at[0]].title == "Blue Radio"
    assert all(item.source == "library" for item in queue[:online_at[0]])  # the library first
    for _ in range(online_at[0]):
        h.core.next()
    wait_until(lambda: h.playing_path() == stream, "mpv playing the online station")
    assert h.core.snapshot()["diagnostics"]["online"]["state"] == "ok"


def test_a_child_coming_in_gets_a_new_queue_without_explicit_tracks(start_core) -> None:
    """Perception's output is made up here (no photo of a child ships): one happy adult, then a child too."""
    from moodbox.core import BurstResult
    from moodbox.readings import EMOTIONS, FaceReading

    h = start_core()
    first_track_started(h)
    neutral = {e: (0.9 if e == "neutral" else 0.1 / 6) for e in EMOTIONS}
    adult = FaceReading(box=(10, 10, 100, 100), score=0.9, emotion=neutral, age_years=35.0)
    child = FaceReading(box=(300, 50, 80, 80), score=0.9, emotion=neutral, age_years=7.0)
    mark = h.events.mark()
    h.core.runner.post(h.core.conductor.on_burst_done, "test", BurstResult(frames=[[adult]] * 2))
    h.events.wait_for("mood", lambda d: d["faces"] == 1, mark)
    h.core.runner.post(h.core.conductor.on_burst_done, "test", BurstResult(frames=[[adult, child]] * 2))
    mood = h.events.wait_for("mood", lambda d: d["faces"] == 2, mark)
    assert "child" in mood["age_groups"] and mood["emotion"] == "neutral"  # the same mood...
    first_track_started(h, mark)  # ...but a new queue, made knowing a child is there


def test_a_folder_of_unreadable_files_falls_back_to_the_demo_library(start_core, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Audio files that the scanner cannot read count as no music: the demo library plays, and says why.
    It stays in while the folder holds nothing playable, and leaves once a real track is there."""
    import numpy as np
    import soundfile as sf

    caplog.set_level(logging.INFO, logger="moodbox")
    broken, demo = tmp_path / "broken-music", tmp_path / "demo"
    broken.mkdir()
    for number in range(3):
        (broken / f"song{number}.mp3").write_bytes(os.urandom(4096))
    h = start_core(library={"path": [str(broken)]})
    first_track_started(h)
    assert Path(h.playing_path() or "").is_relative_to(demo)
    library = h.core.snapshot()["library"]
    assert library["demo"] is True and library["tracks"] >= 10 and library["failed"] == 3
    assert library["roots"] == [str(broken), str(demo)]
    assert (f"no playable track in library.path ({broken}): 3 audio files skipped as unreadable" in caplog.text
            and f"playing the demo library {demo} instead" in caplog.text)
    assert f"library: skipped {broken / 'song0.mp3'}" in caplog.text

    # A rescan keeps the demo indexed throughout: nothing is dropped and added again.
    since = h.events.mark()
    h.core.rescan_library()
    again = h.events.wait_for("library", lambda d: d.get("status") == "ready", since)
    assert again["demo"] is True and again["tracks"] == library["tracks"]
    assert (again["added"], again["removed"], again["failed"]) == (0, 0, 3)

    # One readable track: the folder is used again and the demo is left out.
    t = np.arange(8000) / 8000
    sf.write(str(broken / "good.flac"), (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    since = h.events.mark()
    h.core.rescan_library()
    fixed = h.events.wait_for("library", lambda d: d.get("status") == "ready", since)
    assert fixed["demo"] is False and fixed["roots"] == [str(broken)] and fixed["tracks"] == 1
    assert "library.path has playable music again" in caplog.text
