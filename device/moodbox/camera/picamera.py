"""The Raspberry Pi camera module through picamera2 (imported only when used: it exists only on a Pi)."""
from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np

from moodbox.camera.device import DeviceSource
from moodbox.camera.frames import CameraError

log = logging.getLogger(__name__)

# Frames dropped after start while exposure and white balance settle, and the frame time range
# (microseconds): 30 fps in good light, down to 10 fps so a dim room is not too dark.
PICAMERA2_SETTLE_FRAMES = 6
PICAMERA2_FRAME_DURATION_US = (33333, 100000)


def _import_picamera2() -> Any:
    """The Picamera2 class, imported only when needed (it exists only on a Pi)."""
    from picamera2 import Picamera2  # type: ignore[import-not-found]

    return Picamera2


def _describe_picamera2_error(exc: BaseException) -> str:
    text = str(exc)
    if "in use by another process" in text or "Device or resource busy" in text:
        return f"the camera is busy: another program uses it (stop it, e.g. rpicam-hello or a second moodbox). ({text})"
    return text or type(exc).__name__


class Picamera2Source(DeviceSource):
    """The Raspberry Pi camera module through picamera2: the grey (Y) plane of the YUV420 lores stream."""

    name = "picamera2"
    force_release_after_s = 10.0

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        capture_timeout_s: float = 5.0,
        camera_num: int = 0,
        picamera2_class: Any = None,
    ) -> None:
        super().__init__(width, height, capture_timeout_s)
        self.camera_num = camera_num
        self._picamera2_class = picamera2_class
        self._lores_size = (width, height)  # as libcamera configured it (it may align the width)

    def _camera_class(self) -> Any:
        if self._picamera2_class is None:
            try:
                self._picamera2_class = _import_picamera2()
            except ImportError as exc:
                raise CameraError(
                    f"picamera2 is not available ({exc}); on Raspberry Pi OS install python3-picamera2 "
                    "and create the venv with --system-site-packages"
                ) from None
        return self._picamera2_class

    def _open(self) -> Any:
        camera_class = self._camera_class()
        try:
            camera = camera_class(self.camera_num)
        except Exception as exc:  # noqa: BLE001
            raise CameraError(f"picamera2: cannot open camera {self.camera_num}: {_describe_picamera2_error(exc)}") from None
        try:
            size = (self.width, self.height)
            config = camera.create_video_configuration(
                main={"size": size},
                lores={"size": size, "format": "YUV420"},
                controls={"FrameDurationLimits": PICAMERA2_FRAME_DURATION_US},
            )
            camera.configure(config)
            self._lores_size = _configured_lores_size(camera, size)
            camera.start()
            for _ in range(PICAMERA2_SETTLE_FRAMES):
                camera.capture_array("lores")
        except Exception as exc:  # noqa: BLE001
            try:
                camera.close()
            except Exception:  # noqa: BLE001
                pass
            raise CameraError(f"picamera2: cannot start camera {self.camera_num}: {_describe_picamera2_error(exc)}") from None
        log.info("picamera2: camera %d started at %dx%d", self.camera_num, self.width, self.height)
        return camera

    def _grab(self, handle: Any, stale: bool) -> np.ndarray:
        try:
            array = handle.capture_array("lores")
        except Exception as exc:  # noqa: BLE001
            raise CameraError(f"picamera2: capture failed: {_describe_picamera2_error(exc)}") from None
        width, height = self._lores_size
        return lores_to_bgr(np.asarray(array), width, height)

    def _release(self, handle: Any) -> None:
        try:
            handle.stop()
        finally:
            handle.close()


def _configured_lores_size(camera: Any, requested: tuple[int, int]) -> tuple[int, int]:
    """The lores size libcamera settled on after configure() (it may round it); else the requested one."""
    try:
        width, height = camera.camera_configuration()["lores"]["size"]
        return int(width), int(height)
    except Exception:  # noqa: BLE001 - older picamera2 or a partial fake: keep the requested size
        return requested


def lores_to_bgr(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """A picamera2 lores array as BGR: YUV420 (h*3/2 rows, maybe padded) -> its Y plane as grey;
    a 3/4-channel array (RGB888/XBGR8888 on a Pi 5, already BGR in memory) -> its first 3 channels."""
    if array.ndim == 2:
        if array.shape[0] < height or array.shape[1] < width:
            raise CameraError(f"picamera2: lores frame {array.shape} smaller than {width}x{height}")
        grey = np.ascontiguousarray(array[:height, :width])
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return np.ascontiguousarray(array[:height, :width, :3])
    raise CameraError(f"picamera2: unexpected lores frame shape {array.shape}")


def picamera2_cameras() -> list[dict[str, Any]]:
    """Cameras libcamera lists; [] when picamera2 is not installed (not a Pi)."""
    try:
        camera_class = _import_picamera2()
    except ImportError:
        return []
    try:
        return list(camera_class.global_camera_info())
    except Exception as exc:  # noqa: BLE001
        log.warning("picamera2: cannot list cameras: %s", exc)
        return []
