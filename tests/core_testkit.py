"""Helpers for the core and daemon tests: a real tagged library, a test config, an event recorder."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf
import yaml
from mutagen.flac import FLAC

from moodbox.config import Config, parse_config

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "device" / "moodbox" / "data" / "faces"
HAPPY_FACE = FACES / "astronaut.png"
SAD_FACE = FACES / "camera.png"
NO_FACE = FACES / "no-face" / "rocket.jpg"
WAIT_S = 30.0  # generous: the test machine is shared and loaded

# (mood tag, artist, base frequency): three tracks each, distinct artists.
LIBRARY_PLAN = [("happy", "Sunny Band", 440.0), ("sad", "Blue Trio", 220.0),
                ("calm", "Still Water", 330.0), ("energetic", "Fast Feet", 550.0)]
TRACK_SECONDS = 90.0


def write_library(folder: Path, seconds: float = TRACK_SECONDS) -> list[Path]:
    """FLAC tones with real tags (title, artist, album, date, genre, mood), three per mood."""
    folder.mkdir(parents=True, exist_ok=True)
    rate = 8000
    t = np.arange(int(seconds * rate)) / rate
    paths = []
    for mood, artist, freq in LIBRARY_PLAN:
        for number in range(3):
            path = folder / f"{mood}-{number + 1}.flac"
            tone = 0.1 * np.sin(2 * np.pi * (freq + 20 * number) * t)
            sf.write(str(path), tone.astype(np.float32), rate, subtype="PCM_16")
            tags = FLAC(str(path))
            tags.update({"title": f"{mood.title()} Song {number + 1}", "artist": f"{artist} {number + 1}",
                         "album": f"{mood.title()} Album", "date": str(1990 + number * 10), "genre": "Pop",
                         "mood": mood})
            tags.save()
            paths.append(path)
    return paths


def camera_folder(folder: Path, image: Path) -> Path:
    """A folder camera with one picture, room.png, that a test can swap."""
    folder.mkdir(parents=True, exist_ok=True)
    show(folder, image)
    return folder


def show(folder: Path, image: Path) -> None:
    """Put `image` in front of the folder camera (replaces room.png atomically)."""
    import cv2

    tmp = folder / "next.tmp.png"
    cv2.imwrite(str(tmp), cv2.imread(str(image), cv2.IMREAD_COLOR))
    tmp.replace(folder / "room.png")


def config_data(state: Path, music: Path | None, camera_source: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """A test config: null audio, no MQTT, no GPIO, short bursts, quick camera retries."""
    data: dict[str, Any] = {
        "state_dir": str(state),
        "camera": {"source": camera_source, "burst_seconds": 0.5, "burst_fps": 4, "retry_interval_s": 1,
                   "capture_timeout_s": 5},
        "perception": {"models_dir": str(REPO / "models_tflite")},
        "mood": {"confidence_threshold": 0.3, "hysteresis": 0.1},
        "audio": {"output": "null", "start_volume": 30, "max_volume": 60},
        "library": {"path": [str(music)] if music else [], "demo_path": str(state.parent / "demo")},
        "gpio": {"enabled": "off"},
        "mqtt": {"enabled": False},
        "web": {"enabled": False},
        "recommend": {"queue_length": 4, "seed": 7},
        "logging": {"level": "DEBUG"},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


def make_config(tmp: Path, data: dict[str, Any]) -> Config:
    """The Config that `moodbox run --config tmp/config.yaml` would load (the file is written too)."""
    path = write_config(tmp, data)
    return parse_config(path.read_text(), str(path), tmp)


def write_config(tmp: Path, data: dict[str, Any]) -> Path:
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def models_ready() -> str | None:
    """None when the perception models load, else why not (tests that need them skip with it)."""
    try:
        from moodbox.config import Config as _Config
        from moodbox.perception import Perception

        config = _Config.model_validate({"perception": {"models_dir": str(REPO / "models_tflite")}})
        Perception.from_config(config)
        return None
    except Exception as exc:  # noqa: BLE001
        return f"perception models not usable yet: {exc}"


class Recorder:
    """A listener (core topics or player events) that keeps everything and lets a test wait for one."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()

    def __call__(self, topic: str, data: dict[str, Any]) -> None:
        with self._cond:
            self.items.append((topic, data))
            self._cond.notify_all()

    def mark(self) -> int:
        """The position to wait from (ignore what came before)."""
        with self._cond:
            return len(self.items)

    def wait_for(self, topic: str, match: Callable[[dict[str, Any]], bool] = lambda d: True,
                 since: int = 0, timeout: float = WAIT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for got_topic, data in self.items[since:]:
                    if got_topic == topic and match(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(t, d.get("type") or d.get("status") or d.get("state")) for t, d in self.items[since:]]
                    raise AssertionError(f"no matching {topic} within {timeout} s; got {seen[-30:]}")
                self._cond.wait(left)

    def event(self, event_type: str, since: int = 0, match: Callable[[dict[str, Any]], bool] = lambda d: True,
              timeout: float = WAIT_S) -> dict[str, Any]:
        return self.wait_for("event", lambda d: d.get("type") == event_type and match(d), since, timeout)

    def of(self, topic: str, since: int = 0) -> list[dict[str, Any]]:
        with self._cond:
            return [d for t, d in self.items[since:] if t == topic]

    def names(self, since: int = 0) -> list[str]:
        with self._cond:
            return [t for t, _ in self.items[since:]]


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
