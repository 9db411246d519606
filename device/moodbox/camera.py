"""Frame sources: the Pi camera (picamera2), anything OpenCV can open, or a folder of images.

Every source returns BGR uint8 frames no larger than camera.width x camera.height, raises
CameraError with a plain message when something is wrong, and never writes a frame to disk.
Device sources capture in a worker thread with a timeout (a stuck camera cannot hang the daemon),
reopen the device after a failure, and release it on close(); a later read() opens it again.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import cv2
import numpy as np

from moodbox.config import CameraConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://")
# A live device or stream idle longer than this holds stale frames: flush (device) or reconnect (stream).
STALE_AFTER_S = 2.0
DEVICE_FLUSH_GRABS = 2
RELEASE_TIMEOUT_S = 3.0
# Pi camera: frames dropped after start while exposure and white balance settle, and the frame
# time range (microseconds): 30 fps in good light, down to 10 fps so a dim room is not too dark.
PICAMERA2_SETTLE_FRAMES = 6
PICAMERA2_FRAME_DURATION_US = (33333, 100000)
HOW_TO_CONFIGURE = (
    "set camera.source in config.yaml: picamera2 (Pi camera module), 0 or /dev/video0 (USB webcam), "
    "rtsp://... (IP camera) or a folder of images"
)


class CameraError(Exception):
    """The camera cannot give a frame; the message says why and what to check."""


class FrameSource(Protocol):
    name: str

    def read(self, timeout: float | None = None) -> np.ndarray: ...

    def close(self) -> None: ...


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """As BGR uint8 (3 channels), scaled down (never up, aspect kept) to fit width x height."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[:, :, :3]
    elif frame.ndim != 3 or frame.shape[2] != 3:
        raise CameraError(f"unexpected frame shape {frame.shape}")
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame)


class _Timeout(Exception):
    """A call that did not return in time; `box` gets its late result ("value" or "error")."""

    def __init__(self, thread: threading.Thread, box: dict[str, Any]) -> None:
        super().__init__("timed out")
        self.thread = thread
        self.box = box


def _call_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run fn in a daemon thread; raise _Timeout (holding that thread) if it does not finish in time."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"camera-{what}", daemon=True)
    thread.start()
    if not done.wait(max(0.0, timeout)):
        raise _Timeout(thread, box)
    if "error" in box:
        raise box["error"]
    return box["value"]


class _DeviceSource:
    """Shared logic of live sources: timed open/capture, reopen after a failure, release on close."""

    name = "device"
    # After a hung capture, release the device anyway after this long (None: wait for the capture
    # to return). picamera2 can hang for good ("Dequeue timer expired"); closing it frees the camera.
    force_release_after_s: float | None = None
    # Streams buffer old frames while nobody reads: reconnect after an idle pause instead.
    reopen_after_idle = False

    def __init__(self, width: int, height: int, capture_timeout_s: float) -> None:
        self.width = width
        self.height = height
        self.capture_timeout_s = capture_timeout_s
        self._handle: Any = None
        self._releasing: threading.Thread | None = None  # releases the device after a hung call
        self._last_read = 0.0
        self._lock = threading.Lock()

    # Subclasses: open the device (raise CameraError), grab one frame (raise CameraError), release.
    def _open(self) -> Any:
        raise NotImplementedError

    def _grab(self, handle: Any, idle_s: float) -> np.ndarray:
        raise NotImplementedError

    def _release(self, handle: Any) -> None:
        raise NotImplementedError

    def open(self, timeout: float | None = None) -> None:
        """Open the device now (read() also opens it when needed)."""
        with self._lock:
            self._ensure_open(time.monotonic() + (timeout or self.capture_timeout_s))

    def read(self, timeout: float | None = None) -> np.ndarray:
        timeout = timeout or self.capture_timeout_s
        deadline = time.monotonic() + timeout
        with self._lock:
            if self.reopen_after_idle and self._last_read and time.monotonic() - self._last_read > STALE_AFTER_S:
                log.debug("%s: idle, reconnecting for a live frame", self.name)
                self._discard()
            for attempt in (1, 2):
                self._ensure_open(deadline)
                handle = self._handle
                idle_s = time.monotonic() - self._last_read if self._last_read else 0.0
                try:
                    frame = self._timed(lambda: self._grab(handle, idle_s), deadline, "capture")
                except _Timeout as exc:
                    self._abandon(exc.thread)
                    raise CameraError(f"{self.name}: no frame within {timeout:g} s; the camera will be reopened") from None
                except CameraError as exc:
                    self._discard()
                    if attempt == 2 or time.monotonic() >= deadline:
                        raise
                    log.warning("%s: %s; reopening the camera", self.name, exc)
                    continue
                self._last_read = time.monotonic()
                return fit_frame(frame, self.width, self.height)
        raise CameraError(f"{self.name}: no frame")  # not reached

    def close(self) -> None:
        """Release the device (a later read() opens it again)."""
        with self._lock:
            self._discard()

    def _ensure_open(self, deadline: float) -> None:
        if self._handle is not None:
            return
        if self._releasing is not None:
            self._releasing.join(max(0.0, deadline - time.monotonic()))  # a hung call may still return
            if self._releasing.is_alive():
                raise CameraError(f"{self.name}: the camera is still stuck in an earlier capture; retrying later")
            self._releasing = None
        try:
            self._handle = self._timed(self._open, deadline, "open")
        except _Timeout as exc:
            self._abandon(exc.thread, late_open=exc.box)
            raise CameraError(f"{self.name}: the camera did not open in time (is another program using it?)") from None
        self._last_read = 0.0

    def _timed(self, fn: Callable[[], T], deadline: float, what: str) -> T:
        try:
            return _call_with_timeout(fn, deadline - time.monotonic(), what)
        except (CameraError, _Timeout):
            raise
        except Exception as exc:  # noqa: BLE001 - library errors become CameraError
            raise CameraError(f"{self.name}: {what} failed: {exc}") from exc

    def _discard(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                _call_with_timeout(lambda: self._release(handle), RELEASE_TIMEOUT_S, "release")
            except _Timeout:
                log.warning("%s: releasing the camera hung; leaving it behind", self.name)
            except Exception as exc:  # noqa: BLE001
                log.warning("%s: release failed: %s", self.name, exc)

    def _abandon(self, stuck: threading.Thread, late_open: dict[str, Any] | None = None) -> None:
        """An open or capture hung: release the device once that call returns (not under its feet),
        or after force_release_after_s. An open that returns late has its camera released too."""
        handle, self._handle = self._handle, None

        def release_later() -> None:
            stuck.join(self.force_release_after_s)
            if stuck.is_alive():
                log.warning("%s: the camera call is still hung; releasing the camera anyway", self.name)
            late = late_open.get("value") if late_open is not None else None
            for device in (handle, late):
                if device is not None:
                    try:
                        self._release(device)
                    except Exception as exc:  # noqa: BLE001
                        log.warning("%s: release after a hang failed: %s", self.name, exc)

        self._releasing = threading.Thread(target=release_later, name="camera-release", daemon=True)
        self._releasing.start()


def _import_picamera2() -> Any:
    """The Picamera2 class, imported only when needed (it exists only on a Pi)."""
    from picamera2 import Picamera2  # type: ignore[import-not-found]

    return Picamera2


def _describe_picamera2_error(exc: BaseException) -> str:
    text = str(exc)
    if "in use by another process" in text or "Device or resource busy" in text:
        return f"the camera is busy: another program uses it (stop it, e.g. rpicam-hello or a second moodbox). ({text})"
    return text or type(exc).__name__


class Picamera2Source(_DeviceSource):
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

    def _grab(self, handle: Any, idle_s: float) -> np.ndarray:
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


class OpenCVSource(_DeviceSource):
    """cv2.VideoCapture on a V4L2 device (index or /dev/videoN), a video file (looped) or a stream URL."""

    def __init__(self, target: str | int, width: int = 640, height: int = 480, capture_timeout_s: float = 5.0) -> None:
        super().__init__(width, height, capture_timeout_s)
        self.target = target
        text = str(target)
        self.kind = "stream" if text.startswith(STREAM_PREFIXES) else "device" if _is_device(target) else "file"
        self.name = f"opencv:{'/dev/video' + text if isinstance(target, int) else redact_url(text)}"
        self.reopen_after_idle = self.kind == "stream"
        if self.kind == "file" and not Path(text).is_file():
            raise CameraError(f"camera.source: no such file: {text}")

    def _open(self) -> cv2.VideoCapture:
        if self.kind == "device":
            capture = cv2.VideoCapture(self.target, cv2.CAP_V4L2)
        elif self.kind == "stream":
            # ffmpeg gives up by itself too, so a dead camera does not leave a hung thread behind
            timeout_ms = int(self.capture_timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            capture = cv2.VideoCapture(str(self.target), cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(str(self.target))
        if not capture.isOpened():
            capture.release()
            raise CameraError(self._why_not_open())
        if self.kind == "device":
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        log.info("%s: opened", self.name)
        return capture

    def _why_not_open(self) -> str:
        if self.kind == "device":
            path = f"/dev/video{self.target}" if isinstance(self.target, int) else str(self.target)
            if not os.path.exists(path):
                return f"{self.name}: no such device {path}"
            if not os.access(path, os.R_OK | os.W_OK):
                return f"{self.name}: no permission for {path} (add the user to the 'video' group)"
            return f"{self.name}: cannot open {path} (device busy or not a capture device?)"
        if self.kind == "stream":
            return f"{self.name}: cannot connect to the stream (check the URL, user/password and network)"
        return f"{self.name}: cannot open the video file (not a video, or a codec OpenCV lacks)"

    def _grab(self, handle: cv2.VideoCapture, idle_s: float) -> np.ndarray:
        if idle_s > STALE_AFTER_S and self.kind == "device":
            for _ in range(DEVICE_FLUSH_GRABS):  # drop frames that waited in the driver's buffer
                handle.grab()
        ok, frame = handle.read()
        if not ok or frame is None:
            if self.kind != "file":
                raise CameraError(f"{self.name}: the camera gave no frame")
            handle.set(cv2.CAP_PROP_POS_FRAMES, 0)  # end of the video: loop
            ok, frame = handle.read()
            if not ok or frame is None:
                raise CameraError(f"{self.name}: the video file has no readable frames")
        return frame

    def _release(self, handle: cv2.VideoCapture) -> None:
        handle.release()


def redact_url(url: str) -> str:
    """The URL without its password (names end up in logs and MQTT)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    credentials, host = rest.split("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _is_device(target: str | int) -> bool:
    return isinstance(target, int) or str(target).startswith("/dev/")


class ImageFolderSource:
    """Images of a folder (recursive), one per read, cycled in sorted order. For demos and tests."""

    def __init__(self, folder: str | Path, width: int = 640, height: int = 480) -> None:
        self.folder = Path(folder)
        self.name = f"folder:{self.folder}"
        self.width = width
        self.height = height
        if not self.folder.is_dir():
            raise CameraError(f"camera.source: no such folder: {self.folder}")
        self._files = image_files(self.folder)
        if not self._files:
            raise CameraError(f"{self.name}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder")
        self._next = 0
        self._lock = threading.Lock()

    def read(self, timeout: float | None = None) -> np.ndarray:
        with self._lock:
            while self._files:
                path = self._files[self._next % len(self._files)]
                frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if frame is None:
                    log.warning("%s: cannot read image %s; skipping it", self.name, path)
                    self._files.remove(path)
                    continue
                self._next = (self._next % len(self._files)) + 1
                return fit_frame(frame, self.width, self.height)
            raise CameraError(f"{self.name}: none of the images can be read")

    def close(self) -> None:
        pass


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


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
        camera = Picamera2Source(*size, config.capture_timeout_s)
        try:
            camera.read()
            log.info("camera: auto chose the Pi camera (picamera2: %s)", cameras[0].get("Model", "camera 0"))
            return camera
        except CameraError as exc:
            camera.close()
            tried.append(str(exc))
            log.warning("camera: Pi camera listed but not usable: %s", exc)
    else:
        tried.append("no Pi camera (picamera2 not installed or no camera listed)")
    if os.path.exists("/dev/video0"):
        device = OpenCVSource("/dev/video0", *size, config.capture_timeout_s)
        try:
            device.read()
            log.info("camera: auto chose /dev/video0")
            return device
        except CameraError as exc:
            device.close()
            tried.append(str(exc))
            log.warning("camera: /dev/video0 exists but gave no frame: %s", exc)
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
