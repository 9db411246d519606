"""open_camera(): the frame source camera.source names, or with `auto` the first that works."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from moodbox.camera.device import DeviceSource
from moodbox.camera.folder import ImageFolderSource, image_files
from moodbox.camera.frames import CameraError, FrameSource
from moodbox.camera.opencv import STREAM_PREFIXES, OpenCVSource
from moodbox.camera.picamera import Picamera2Source, picamera2_cameras
from moodbox.config import CameraConfig

log = logging.getLogger(__name__)

HOW_TO_CONFIGURE = (
    "set camera.source in config.yaml: picamera2 (Pi camera module), 0 or /dev/video0 (USB webcam), "
    "rtsp://... (IP camera) or a folder of images"
)


def open_camera(config: CameraConfig, fallback_dir: Path | None) -> FrameSource:
    """The frame source camera.source asks for; `auto` picks the first that works and logs its choice."""
    source = config.source.strip()
    size = (config.width, config.height)
    if source == "auto":
        return _open_auto(config, fallback_dir)
    if source == "picamera2":
        camera = Picamera2Source(*size, config.capture_timeout_s)
        camera.open()
        return camera
    if source.isdigit() or source.startswith("/dev/"):
        target: str | int = int(source) if source.isdigit() else source
        device = OpenCVSource(target, *size, config.capture_timeout_s)
        device.open()
        return device
    if source.startswith(STREAM_PREFIXES):
        return OpenCVSource(source, *size, config.capture_timeout_s)
    path = Path(os.path.expanduser(source))
    if path.is_dir():
        return ImageFolderSource(path, *size)
    if path.is_file():
        video = OpenCVSource(str(path), *size, config.capture_timeout_s)
        video.open()
        return video
    raise CameraError(f"camera.source: no such file or folder: {source} ({HOW_TO_CONFIGURE})")


def _open_auto(config: CameraConfig, fallback_dir: Path | None) -> FrameSource:
    size = (config.width, config.height)
    tried: list[str] = []
    cameras = picamera2_cameras()
    if cameras:
        model = cameras[0].get("Model", "camera 0")
        camera = _first_frame(Picamera2Source(*size, config.capture_timeout_s), f"the Pi camera (picamera2: {model})",
                              "Pi camera listed but not usable", tried)
        if camera is not None:
            return camera
    else:
        tried.append("no Pi camera (picamera2 not installed or no camera listed)")
    if os.path.exists("/dev/video0"):
        device = _first_frame(OpenCVSource("/dev/video0", *size, config.capture_timeout_s), "/dev/video0",
                              "/dev/video0 exists but gave no frame", tried)
        if device is not None:
            return device
    else:
        tried.append("no /dev/video0")
    if fallback_dir is not None and fallback_dir.is_dir() and image_files(fallback_dir):
        folder = ImageFolderSource(fallback_dir, *size)
        log.warning(
            "camera: no camera found (%s); using the sample images in %s. To use a real camera %s",
            "; ".join(tried),
            fallback_dir,
            HOW_TO_CONFIGURE,
        )
        return folder
    raise CameraError(f"no camera found ({'; '.join(tried)}) and no fallback images; {HOW_TO_CONFIGURE}")


def _first_frame(source: DeviceSource, chosen: str, unusable: str, tried: list[str]) -> DeviceSource | None:
    """The source if it gives a frame (logged as auto's choice); else it is closed and why goes to `tried`."""
    try:
        source.read()
    except CameraError as exc:
        source.close()
        tried.append(str(exc))
        log.warning("camera: %s: %s", unusable, exc)
        return None
    log.info("camera: auto chose %s", chosen)
    return source
