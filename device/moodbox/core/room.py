"""The room reading: camera -> faces -> readings -> mood, with the owner's override and the privacy switch.

The worker thread captures (capture_burst, probe_camera, close_camera: it owns the camera); the loop
thread owns the rest and publishes the mood, override, detection and camera states.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from moodbox.config import Config
from moodbox.core.persistence import mood_to_dict
from moodbox.core.state import StateBoard
from moodbox.mood import MoodAggregator, MoodUpdate, describe_reading
from moodbox.readings import FaceReading, MoodState

log = logging.getLogger(__name__)

FACES_DIR = Path(__file__).resolve().parent.parent / "data" / "faces"
DEBUG_FRAMES_KEPT = 200


@dataclass
class BurstResult:
    """What a camera burst brought back to the loop."""

    frames: list[list[FaceReading]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    analysis_seconds: float = 0.0
    camera_name: str = ""

    @property
    def analysis_fps(self) -> float:
        return len(self.frames) / self.analysis_seconds if self.analysis_seconds > 0 else 0.0


class Room:
    def __init__(self, config: Config, board: StateBoard, fallback_faces_dir: Path | None = FACES_DIR) -> None:
        self.config = config
        self.board = board
        self.fallback_faces_dir = fallback_faces_dir
        self.aggregator = MoodAggregator.from_config(config.mood)
        self.perception: Any = None
        self.perception_error: str | None = None
        self.last_burst: BurstResult | None = None
        self.burst_in_flight = False
        self._abort = threading.Event()
        self._camera: Any = None  # worker thread only
        # Loop thread only:
        self._camera_mood = MoodState.from_emotion("neutral", source="default")
        self._override: MoodState | None = None
        self._override_until: float | None = None  # monotonic
        self._reading: dict[str, Any] | None = None  # the last reading and what was made of it (mood.describe_reading)
        self._detection = True
        self._camera_status: dict[str, Any] = {"status": "idle"}
        self._camera_retry_at: float | None = None

    # ----- perception -----

    def load_perception(self) -> None:
        try:
            from moodbox.perception import Perception

            self.perception = Perception.from_config(self.config)
        except Exception as exc:  # noqa: BLE001 - the music plays on without eyes
            self.perception = None
            self.perception_error = f"{type(exc).__name__}: {exc}"
            log.error("perception unavailable, the mood stays %s: %s (check perception.models_dir: %s)",
                      self._camera_mood.emotion, self.perception_error, self.config.models_path)

    def perception_status(self) -> str:
        return "ok" if self.perception is not None else f"unavailable: {self.perception_error}"

    def timings_ms(self) -> dict[str, float]:
        if self.perception is None:
            return {}
        try:
            return dict(self.perception.timings_ms())
        except Exception:  # noqa: BLE001
            log.debug("perception timings unavailable", exc_info=True)
            return {}

    def cannot_look(self) -> str | None:
        """Why no burst can run now (detection off, no perception), or None."""
        if not self._detection:
            return "detection is off"
        if self.perception is None:
            return f"perception unavailable ({self.perception_error})"
        return None

    # ----- mood (loop) -----

    @property
    def camera_mood(self) -> MoodState:
        return self._camera_mood

    def restore_mood(self, mood: MoodState) -> None:
        self._camera_mood = mood

    def mood(self) -> MoodState:
        """The override when one is set (with who is in the room now), else what the camera saw."""
        if self._override is None:
            return self._camera_mood
        return replace(self._override, faces=self._camera_mood.faces, ages=self._camera_mood.ages)

    def apply_burst(self, frames: list[list[FaceReading]]) -> MoodUpdate:
        before = self.mood().emotion
        update = self.aggregator.update(self._camera_mood, frames, now=time.time())
        self._camera_mood = update.mood
        self._reading = describe_reading(update, before, self.aggregator.confidence_threshold,
                                         self.aggregator.hysteresis)
        self.publish_mood()
        return update

    def set_override(self, emotion: str | None, timeout_s: float | None) -> bool:
        """Set (emotion) or clear (None) the override; False when there was nothing to clear."""
        if emotion is None:
            if self._override is None:
                return False
            self._override, self._override_until = None, None
            log.info("mood override cleared")
        else:
            self._override = MoodState.from_emotion(emotion, "override", self._camera_mood.ages, time.time())
            self._override_until = time.monotonic() + timeout_s if timeout_s else None
            log.info("mood override: %s%s", emotion, f" for {timeout_s:.0f} s" if timeout_s else "")
        self.publish_override()
        self.publish_mood()
        return True

    def override_expired(self, now: float) -> bool:
        if self._override_until is None or now < self._override_until:
            return False
        log.info("mood override %s timed out", self._override.emotion if self._override else "?")
        return True

    # ----- detection and camera status (loop) -----

    @property
    def detection(self) -> bool:
        return self._detection

    def set_detection(self, enabled: bool) -> bool:
        """The privacy switch; False when it was already so. Off: the caller closes the camera on the worker."""
        if enabled == self._detection:
            return False
        self._detection = enabled
        log.info("detection %s", "on" if enabled else "off (camera closed, no frames read)")
        self.board.set("detection", {"enabled": enabled})
        if enabled:
            self._set_camera_status({"status": "idle"})
        else:
            self._camera_retry_at = None
            self._set_camera_status({"status": "off"})
        return True

    def camera_ok(self, name: str) -> None:
        self._set_camera_status({"status": "ok", "source": name})

    def camera_failed(self, error: str) -> None:
        """The camera went away: say why and look again every camera.retry_interval_s."""
        retry = self.config.camera.retry_interval_s
        self._camera_retry_at = time.monotonic() + retry
        self._set_camera_status({"status": "error", "message": error, "retry_in_s": retry})

    def camera_retry_due(self, now: float) -> bool:
        if not (self._detection and self._camera_retry_at is not None and now >= self._camera_retry_at
                and not self.burst_in_flight):
            return False
        self._camera_retry_at = None
        return True

    # ----- publishing (loop) -----

    def publish_all(self) -> None:
        self.publish_mood()
        self.publish_override()
        self.board.set("detection", {"enabled": self._detection})
        self._set_camera_status(self._camera_status)

    def publish_mood(self) -> None:
        """The effective mood, with the last reading as it was and what was made of it."""
        self.board.set("mood", {**mood_to_dict(self.mood()), "reading": self._reading})

    def publish_override(self) -> None:
        if self._override is None:
            self.board.set("override", {"active": False, "emotion": None, "until": None})
        else:
            until = None
            if self._override_until is not None:
                until = round(time.time() + self._override_until - time.monotonic())
            self.board.set("override", {"active": True, "emotion": self._override.emotion, "until": until})

    def _set_camera_status(self, status: dict[str, Any]) -> None:
        self._camera_status = status
        self.board.set("camera", status)

    # ----- capture (worker) -----

    def begin_burst(self) -> None:
        """Loop: a burst is about to be submitted to the worker."""
        self.burst_in_flight = True
        self._abort.clear()

    def end_burst(self, result: BurstResult) -> None:
        """Loop: the burst's result is back."""
        self.burst_in_flight = False
        self.last_burst = result

    def abort_burst(self) -> None:
        """Any thread: a running burst stops at its next frame (the privacy switch, shutdown)."""
        self._abort.set()

    def capture_burst(self) -> BurstResult:
        from moodbox.camera import CameraError

        cfg = self.config.camera
        result = BurstResult()
        count = max(1, round(cfg.burst_seconds * cfg.burst_fps))
        interval = 1.0 / cfg.burst_fps
        began = time.monotonic()
        try:
            camera = self._open_camera()
            result.camera_name = camera.name
            self.board.event("capture", active=True)
            try:
                for number in range(count):
                    # Frames are taken on a fixed schedule; waiting also watches for the privacy switch.
                    if self._abort.wait(max(0.0, began + number * interval - time.monotonic())):
                        break
                    frame = camera.read(timeout=cfg.capture_timeout_s)
                    if self._abort.is_set():
                        break
                    start = time.monotonic()
                    faces = self.perception.analyze(frame)
                    result.analysis_seconds += time.monotonic() - start
                    result.frames.append(faces)
                    if cfg.save_frames:
                        self._save_debug_frame(frame, faces)
                    self.board.show_frame(frame, faces)
            finally:
                self.board.event("capture", active=False)
        except CameraError as exc:
            result.error = str(exc) or type(exc).__name__
            self.close_camera()
        except Exception as exc:  # noqa: BLE001 - a failed analysis must not end the daemon
            log.exception("burst failed")
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.monotonic() - began
        return result

    def probe_camera(self) -> tuple[str | None, str]:
        """Open the camera and read one frame (dropped at once): (None, its name) or (the error, "")."""
        from moodbox.camera import CameraError

        try:
            camera = self._open_camera()
            camera.read(timeout=self.config.camera.capture_timeout_s)
            return None, camera.name
        except CameraError as exc:
            self.close_camera()
            return str(exc) or type(exc).__name__, ""

    @property
    def camera_open(self) -> bool:
        return self._camera is not None

    def close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
                log.info("camera closed")
            except Exception:  # noqa: BLE001
                log.exception("closing the camera failed")

    def _open_camera(self) -> Any:
        from moodbox.camera import open_camera

        if self._camera is None:
            self._camera = open_camera(self.config.camera, self.fallback_faces_dir)
            log.info("camera opened: %s", self._camera.name)
        return self._camera

    def _save_debug_frame(self, frame: np.ndarray, faces: list[FaceReading]) -> None:
        """camera.save_frames (debug only): the frame with its faces drawn, under state_dir/debug-frames."""
        import cv2

        folder = self.config.state_path / "debug-frames"
        folder.mkdir(parents=True, exist_ok=True)
        image = frame.copy()
        for face in faces:
            x, y, w, h = face.box
            cv2.rectangle(image, (x, y), (x + w, y + h), (0, 255, 0), 2)
            cv2.putText(image, f"{face.emotion_label} {face.age_years:.0f}", (x, max(12, y - 4)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
        cv2.imwrite(str(folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6:06d}.jpg"), image)
        for old in sorted(folder.glob("*.jpg"))[:-DEBUG_FRAMES_KEPT]:
            old.unlink(missing_ok=True)
