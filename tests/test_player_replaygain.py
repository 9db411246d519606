"""ReplayGain: a real mpv (--ao=null) applies the tags' gain, the fallback and the clip guard.

The evidence is mpv's own verbose log, read by a second client on the player's IPC socket
(`request_log_messages v`): mpv 0.35 logs "Applying replay-gain: <factor>" for a tagged file,
"...with clipping prevention: <factor>" when the tagged peak limits it, and
"Applying fallback gain: <factor>" for an untagged one.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC

from core_testkit import Recorder
from moodbox.config import AudioConfig, ConfigError, parse_config
from moodbox.player import MpvPlayer, PlayItem, replaygain_args

WAIT_S = 20.0  # the test machine is a loaded 2-core box


def db(gain_db: float) -> float:
    return float(10 ** (gain_db / 20))


def write_track(path: Path, gain: str | None = None, peak: str | None = None) -> Path:
    """A 1 s FLAC tone, with REPLAYGAIN_TRACK_GAIN/PEAK tags when given (mutagen, as taggers write them)."""
    rate = 22050
    t = np.arange(rate) / rate
    sf.write(str(path), (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    if gain is not None:
        tags = FLAC(str(path))
        tags["REPLAYGAIN_TRACK_GAIN"] = gain
        if peak is not None:
            tags["REPLAYGAIN_TRACK_PEAK"] = peak
        tags.save()
    return path


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rg")
    return {
        # mpv 0.35 + FFmpeg 5.1 read the gain only together with a peak (taggers always write both).
        "loud": write_track(folder / "loud.flac", "-9.00 dB", "0.200000"),
        "plain": write_track(folder / "plain.flac"),
        "hot": write_track(folder / "hot.flac", "+6.00 dB", "0.900000"),
    }


class MpvLog:
    """A second IPC client on the player's mpv that keeps mpv's verbose log lines of the player core."""

    def __init__(self, sock_path: Path) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(sock_path))
        self._sock.sendall(json.dumps({"command": ["request_log_messages", "v"]}).encode() + b"\n")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message: dict[str, Any] = json.loads(line)
                if message.get("event") == "log-message" and message.get("prefix") == "cplayer":
                    with self._cond:
                        self.lines.append(str(message["text"]).strip())
                        self._cond.notify_all()

    def wait_for(self, pattern: str, since: int = 0) -> re.Match[str]:
        deadline = time.monotonic() + WAIT_S
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    match = re.fullmatch(pattern, line)
                    if match:
                        return match
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"mpv never logged {pattern!r}; it logged {self.lines[-20:]}")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def gains(self, since: int = 0) -> list[str]:
        with self._cond:
            return [line for line in self.lines[since:] if "gain" in line]

    def close(self) -> None:
        self._sock.close()


def start_player(**audio: Any) -> MpvPlayer:
    recorder = Recorder()
    player = MpvPlayer(AudioConfig(output="null", **audio), on_event=recorder)
    player.start()
    player.recorder = recorder  # type: ignore[attr-defined]
    return player


def play(player: MpvPlayer, path: Path) -> None:
    """Play one file to its end (a 1 s track), so mpv has set up its audio for it."""
    rec: Recorder = player.recorder  # type: ignore[attr-defined]
    since = len(rec.items)
    player.load([PlayItem(path=str(path), title=path.stem)], play=True)
    rec.wait_for("track_ended", lambda d: d["item"]["path"] == str(path), since=since)


def factor(match: re.Match[str]) -> float:
    return float(match.group(1))


class LoggedPlayer:
    """A started player with an MpvLog on its socket, both closed on exit; reconnect() after a restart."""

    def __init__(self, **audio: Any) -> None:
        self.player = start_player(**audio)
        self.log = MpvLog(self.player.ipc_path)  # type: ignore[arg-type]

    def reconnect(self) -> None:
        self.log.close()
        self.log = MpvLog(self.player.ipc_path)  # type: ignore[arg-type]

    def __enter__(self) -> "LoggedPlayer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.log.close()
        self.player.close()


def test_tagged_gain_fallback_and_clip_guard_are_applied_also_after_a_crash(tracks: dict[str, Path]) -> None:
    with LoggedPlayer(replaygain="track", replaygain_preamp_db=1.0, replaygain_fallback_db=-6.0) as lp:
        player = lp.player
        assert player.mpv_property("replaygain") == "track"
        assert player.mpv_property("replaygain-clip") is False

        play(player, tracks["loud"])  # -9 dB tag + 1 dB preamp
        assert factor(lp.log.wait_for(r"Applying replay-gain: ([0-9.]+)")) == pytest.approx(db(-8.0), abs=1e-5)

        since = lp.log.mark()
        play(player, tracks["plain"])  # no tags: the fallback, without the preamp
        fallback = lp.log.wait_for(r"Applying fallback gain: ([0-9.]+)", since)
        assert factor(fallback) == pytest.approx(db(-6.0), abs=1e-5)

        since = lp.log.mark()
        play(player, tracks["hot"])  # +7 dB would push the 0.9 peak to 2.0: held at 1 / 0.9
        assert factor(lp.log.wait_for(r"Applying replay-gain: ([0-9.]+)", since)) == pytest.approx(db(7.0), abs=1e-5)
        guarded = lp.log.wait_for(r"\.\.\.with clipping prevention: ([0-9.]+)", since)
        assert factor(guarded) == pytest.approx(1 / 0.9, abs=1e-5)

        # A crashed mpv is started again with the same options.
        old_pid = player.pid
        assert old_pid is not None
        lp.log.close()
        os.kill(old_pid, signal.SIGKILL)
        player.recorder.wait_for("player_restarted")  # type: ignore[attr-defined]
        assert player.pid not in (None, old_pid)
        lp.reconnect()
        assert player.mpv_property("replaygain-fallback") == pytest.approx(-6.0)
        play(player, tracks["loud"])
        assert factor(lp.log.wait_for(r"Applying replay-gain: ([0-9.]+)")) == pytest.approx(db(-8.0), abs=1e-5)


def test_album_mode_uses_the_track_gain_when_there_is_no_album_gain(tracks: dict[str, Path]) -> None:
    with LoggedPlayer(replaygain="album") as lp:
        play(lp.player, tracks["loud"])
        assert factor(lp.log.wait_for(r"Applying replay-gain: ([0-9.]+)")) == pytest.approx(db(-9.0), abs=1e-5)


def test_replaygain_off_applies_no_gain_at_all(tracks: dict[str, Path]) -> None:
    with LoggedPlayer(replaygain="off", replaygain_fallback_db=-12.0) as lp:
        assert lp.player.mpv_property("replaygain") in (False, "no")  # mpv reports "no" as false
        assert lp.player.mpv_property("replaygain-fallback") == pytest.approx(0.0)
        play(lp.player, tracks["loud"])
        play(lp.player, tracks["plain"])
        lp.log.wait_for(r"Opening done: .*plain\.flac")  # the log works and reached the second file
        assert lp.log.gains() == []  # neither "Applying replay-gain" nor "Applying fallback gain"


def test_replaygain_arguments_and_config() -> None:
    assert replaygain_args(AudioConfig()) == [
        "--replaygain=track", "--replaygain-preamp=0", "--replaygain-fallback=-6", "--replaygain-clip=no"]
    assert replaygain_args(AudioConfig(replaygain="off", replaygain_fallback_db=-9)) == ["--replaygain=no"]
    # A bare YAML `off` is a boolean; it still means off.
    assert parse_config("audio:\n  replaygain: off\n").audio.replaygain == "off"
    album = parse_config("audio:\n  replaygain: album\n  replaygain_preamp_db: -2.5\n").audio
    assert (album.replaygain, album.replaygain_preamp_db) == ("album", -2.5)
    for bad in ("replaygain: loud", "replaygain: true", "replaygain_fallback_db: 3", "replaygain_preamp_db: 20"):
        with pytest.raises(ConfigError) as info:
            parse_config(f"audio:\n  {bad}\n", "x.yaml")
        assert info.value.line == 2 and info.value.key == "audio." + bad.split(":")[0]
