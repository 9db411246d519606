"""MpvPlayer against a real mpv (--ao=null) playing real audio files generated here."""
from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf

from moodbox.config import AudioConfig
from moodbox.player import MpvPlayer, PlayerError, PlayItem, audio_args

from core_testkit import Recorder

WAIT_S = 20.0  # generous: the test machine is a loaded 2-core box


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def process_state(pid: int, thread: str | None = None) -> str:
    """R, S, T (stopped), Z (zombie)... or "gone"; of one thread when given."""
    stat = Path(f"/proc/{pid}/task/{thread}/stat") if thread else Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def write_tone(path: Path, seconds: float, freq: float = 440.0, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return path


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("audio")
    corrupt = folder / "corrupt.mp3"
    corrupt.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + os.urandom(2000))
    return {
        "short1": write_tone(folder / "short1.wav", 1.0, 440),
        "short2": write_tone(folder / "short2.wav", 1.0, 550),
        "long1": write_tone(folder / "long1.wav", 30.0, 330),
        "long2": write_tone(folder / "long2.wav", 30.0, 660),
        "corrupt": corrupt,
    }


@pytest.fixture
def player() -> Any:
    recorder = Recorder()
    config = AudioConfig(output="null", start_volume=30, max_volume=50)
    mpv = MpvPlayer(config, on_event=recorder)
    mpv.start()
    mpv.recorder = recorder  # type: ignore[attr-defined]
    yield mpv
    mpv.close()


def item(path: Path, title: str) -> PlayItem:
    return PlayItem(path=str(path), title=title, artist="Test", mood="happy", track_id=title)


def test_plays_through_the_queue_and_reports_start_end_and_queue_end(player: MpvPlayer, audio: dict[str, Path]) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    player.load([item(audio["short1"], "one"), item(audio["short2"], "two")], play=True)

    started = rec.wait_for("track_started", lambda d: d["index"] == 0)
    assert started["item"]["title"] == "one"
    ended = rec.wait_for("track_ended", lambda d: d["index"] == 0)
    assert ended["skipped"] is False and ended["reason"] == "eof"
    assert ended["duration"] == pytest.approx(1.0, abs=0.1)
    assert ended["position"] == pytest.approx(1.0, abs=0.2)
    rec.wait_for("track_started", lambda d: d["index"] == 1)
    assert rec.wait_for("queue_ended")["count"] == 2
    assert rec.names() == ["track_started", "track_ended", "track_started", "track_ended", "queue_ended"]
    assert player.status().state == "stopped"


def test_next_previous_pause_and_resume(player: MpvPlayer, audio: dict[str, Path]) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    player.load([item(audio["long1"], "one"), item(audio["long2"], "two")], play=True)
    rec.wait_for("track_started", lambda d: d["index"] == 0)
    wait_until(lambda: player.status().position > 0.3, what="playback to advance")

    player.next()
    ended = rec.wait_for("track_ended", lambda d: d["index"] == 0)
    assert ended["skipped"] is True and ended["reason"] == "next"
    assert 0.3 < ended["position"] < 29
    rec.wait_for("track_started", lambda d: d["index"] == 1)
    assert player.status().item.title == "two"  # type: ignore[union-attr]

    wait_until(lambda: player.status().position > 0.2, what="second track to advance")
    player.pause()
    assert player.status().state == "paused"
    assert player.mpv_property("pause") is True
    paused_at = player.mpv_property("time-pos")
    time.sleep(0.5)
    assert player.mpv_property("time-pos") == pytest.approx(paused_at, abs=0.05)

    player.toggle()
    assert player.status().state == "playing"
    wait_until(lambda: player.status().position > paused_at + 0.2, what="playback to resume")

    player.pause()  # frozen position (< 5 s): previous() goes back a track instead of restarting this one
    player.previous()
    rec.wait_for("track_started", lambda d: d["index"] == 0 and d is not rec.of("track_started")[0])
    assert player.status().index == 0 and player.status().state == "playing"
    assert len(rec.of("track_started")) == 3
    assert rec.of("track_ended")[-1]["reason"] == "previous"


def test_volume_starts_at_start_volume_and_is_capped(player: MpvPlayer, audio: dict[str, Path]) -> None:
    assert player.status().volume == 30
    assert player.mpv_property("volume") == pytest.approx(30)
    assert player.mpv_property("volume-max") == pytest.approx(100)
    assert player.set_volume(90) == 50
    assert player.mpv_property("volume") == pytest.approx(50)
    assert player.set_volume(-5) == 0
    assert player.set_volume(42) == 42
    assert player.mpv_property("volume") == pytest.approx(42)
    assert player.recorder.wait_for("volume", lambda d: d["volume"] == 50)  # type: ignore[attr-defined]


def test_unplayable_file_is_skipped_and_the_next_plays(
    player: MpvPlayer, audio: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    missing = tmp_path / "gone.flac"
    player.load([item(audio["corrupt"], "bad"), item(missing, "missing"), item(audio["short1"], "good")], play=True)
    failed = rec.wait_for("track_failed", lambda d: d["index"] == 0)
    assert failed["item"]["title"] == "bad" and failed["error"]
    rec.wait_for("track_failed", lambda d: d["index"] == 1)
    wait_until(lambda: "No such file or directory" in caplog.text, what="mpv's own reason in our log")
    started = rec.wait_for("track_started")
    assert started["index"] == 2 and started["item"]["title"] == "good"
    rec.wait_for("queue_ended")


def test_killed_mpv_is_restarted_and_resumes_the_same_track(player: MpvPlayer, audio: dict[str, Path]) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    player.set_volume(45)
    player.load([item(audio["short1"], "one"), item(audio["long1"], "two")], index=1, play=True)
    rec.wait_for("track_started", lambda d: d["index"] == 1)
    wait_until(lambda: player.status().position > 1.5, what="playback to pass 1.5 s")
    old_pid = player.pid
    before = player.status().position
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)

    restarted = rec.wait_for("player_restarted")
    assert restarted["index"] == 1 and restarted["item"]["title"] == "two"
    assert restarted["position"] >= before - 0.01
    assert player.pid not in (None, old_pid)
    wait_until(lambda: (player.mpv_property("time-pos") or 0) > before, what="resumed playback")
    status = player.status()
    assert status.state == "playing" and status.index == 1 and status.restarts == 1
    assert status.position < before + 10  # resumed near where it was, not from the start of something else
    assert player.mpv_property("volume") == pytest.approx(45)  # the volume survives the restart
    assert rec.of("track_started") and len(rec.of("track_started")) == 1  # a resume is not a new start
    assert not rec.of("track_ended")


def test_next_past_the_end_ends_the_queue_and_play_restarts_it(player: MpvPlayer, audio: dict[str, Path]) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    player.load([item(audio["long1"], "only")], play=True)
    rec.wait_for("track_started")
    player.next()
    rec.wait_for("queue_ended")
    assert rec.wait_for("track_ended")["skipped"] is True
    assert player.status().state == "stopped"
    player.play()
    wait_until(lambda: len(rec.of("track_started")) == 2, what="replay of the last item")


def test_export_state_and_resume_at_position(player: MpvPlayer, audio: dict[str, Path]) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    player.load([item(audio["short1"], "one"), item(audio["long2"], "two")], index=1, position=12.0)
    state = player.export_state()
    assert state["index"] == 1 and state["position"] == 12.0 and state["state"] == "stopped"
    assert [i["title"] for i in state["items"]] == ["one", "two"]

    state["items"].append({"title": "no path"})  # a damaged entry is skipped, the rest resumes
    args = MpvPlayer.restore_args(state)
    assert len(args["items"]) == 2
    player.load(**args)
    player.play()
    rec.wait_for("track_started", lambda d: d["index"] == 1)
    wait_until(lambda: player.status().position > 12.0, what="resume at 12 s")
    assert player.status().position < 25


def test_close_stops_mpv(audio: dict[str, Path]) -> None:
    mpv = MpvPlayer(AudioConfig(output="null"))
    mpv.start()
    pid = mpv.pid
    mpv.load([item(audio["long1"], "one")], play=True)
    mpv.close()
    assert pid is not None and not Path(f"/proc/{pid}").exists()
    assert mpv.pid is None


def test_missing_mpv_gives_a_clear_error() -> None:
    mpv = MpvPlayer(AudioConfig(output="null", mpv_path="/nonexistent/mpv"))
    with pytest.raises(PlayerError, match="mpv not found"):
        mpv.start()


def test_audio_output_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert audio_args("null") == ["--ao=null"]
    assert audio_args("alsa/hw:1,0") == ["--audio-device=alsa/hw:1,0"]
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    if not list(Path("/dev/snd").glob("pcmC*D*p")):
        assert audio_args("auto") == ["--ao=null"]
        assert "no sound card found" in caplog.text
    (tmp_path / "pulse").mkdir()
    (tmp_path / "pulse" / "native").touch()
    assert audio_args("auto") == []


def test_hung_mpv_is_killed_and_restarted(player: MpvPlayer, audio: dict[str, Path]) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    player.request_timeout_s = 1.0
    player.load([item(audio["long1"], "one")], play=True)
    rec.wait_for("track_started")
    hung_pid = player.pid
    assert hung_pid is not None
    os.kill(hung_pid, signal.SIGSTOP)  # alive but not answering
    try:
        tasks = Path(f"/proc/{hung_pid}/task")
        wait_until(lambda: all(process_state(hung_pid, t.name) == "T" for t in tasks.iterdir()), what="mpv to be stopped")
        assert player.set_volume(20) == 20  # the volume is kept on our side even now
        rec.wait_for("player_restarted")
    finally:
        if Path(f"/proc/{hung_pid}").exists():
            os.kill(hung_pid, signal.SIGKILL)
    assert player.pid not in (None, hung_pid)
    wait_until(lambda: player.mpv_property("volume") == pytest.approx(20), what="volume on the new mpv")
    assert player.status().index == 0 and player.status().state == "playing"


def test_a_file_that_keeps_crashing_mpv_is_skipped(player: MpvPlayer, audio: dict[str, Path]) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    player.restart_backoff_s = (0.0, 0.1)  # the real back-off (up to 30 s) would only slow the test
    player.load([item(audio["long1"], "crasher"), item(audio["long2"], "next")], play=True)
    rec.wait_for("track_started")
    for crash in range(1, 4):
        wait_until(lambda: player.status().restarts == crash - 1 and player.mpv_property("time-pos") is not None, what="mpv playing")
        os.kill(player.pid, signal.SIGKILL)  # type: ignore[arg-type]
        rec.wait_for("player_restarted", lambda d, n=crash: d["restarts"] == n)
    failed = rec.wait_for("track_failed")
    assert failed["index"] == 0 and "crashed" in failed["error"]
    assert rec.wait_for("track_started", lambda d: d["index"] == 1)["item"]["title"] == "next"


def test_no_orphan_mpv_when_the_daemon_is_killed(audio: dict[str, Path]) -> None:
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from moodbox.config import AudioConfig\n"
        "from moodbox.player import MpvPlayer, PlayItem\n"
        "p = MpvPlayer(AudioConfig(output='null'))\n"
        "p.start()\n"
        f"p.load([PlayItem(path={str(audio['long1'])!r})], play=True)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    daemon = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        mpv_pid = int(daemon.stdout.readline())  # type: ignore[union-attr]
        cmdline = Path(f"/proc/{mpv_pid}/cmdline").read_bytes().split(b"\0")
        sock = next(arg for arg in cmdline if arg.startswith(b"--input-ipc-server=")).split(b"=", 1)[1]
    finally:
        daemon.kill()
        daemon.wait()

    wait_until(lambda: process_state(mpv_pid) in ("Z", "gone"), what="mpv to exit with its parent")
    shutil.rmtree(Path(sock.decode()).parent, ignore_errors=True)  # a killed daemon cannot clean up


def test_mpv_that_exits_at_start_gives_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "mpv"
    broken.write_text("#!/bin/sh\necho 'error: no audio' >&2\nexit 3\n")
    broken.chmod(0o755)
    mpv = MpvPlayer(AudioConfig(output="null", mpv_path=str(broken)))
    with pytest.raises(PlayerError, match="mpv exited at start with status 3; try running: .*--ao=null"):
        mpv.start()
    mpv.close()  # harmless after a failed start


def test_commands_from_many_threads_leave_a_consistent_player(player: MpvPlayer, audio: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    rec = player.recorder  # type: ignore[attr-defined]
    items = [item(audio["long1" if n % 2 else "long2"], f"t{n}") for n in range(40)]
    player.load(items, play=True)
    rec.wait_for("track_started")
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(15):
                action = rng.integers(0, 5)
                if action == 0:
                    player.next()
                elif action == 1:
                    player.toggle()
                elif action == 2:
                    assert 0 <= player.set_volume(int(rng.integers(-20, 120))) <= 50
                elif action == 3:
                    player.previous()
                else:
                    player.status()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    player.play()
    status = player.status()
    assert status.state == "playing" and status.index is not None and 0 <= status.index < len(items)
    wait_until(lambda: player.mpv_property("volume") == pytest.approx(player.status().volume), what="volume in sync")
    wait_until(lambda: (player.mpv_property("time-pos") or 0) > 0.2, what="playback after the storm")
    assert player.status().item == items[player.status().index]  # type: ignore[index]
    assert "ERROR" not in [record.levelname for record in caplog.records]
