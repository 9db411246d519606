"""Frame sources: the Pi camera (picamera2), anything OpenCV can open, or a folder of images.

Every source returns BGR uint8 frames no larger than camera.width x camera.height, raises
CameraError with a plain message when something is wrong, and never writes a frame to disk.
Device sources capture in a worker thread with a timeout (a stuck camera cannot hang the daemon),
reopen the device after a failure, and release it on close(); a later read() opens it again.

The parts: frames (FrameSource, CameraError, fit_frame), device (the shared timed open/capture/
release of live sources), one module per backend (picamera, opencv, folder), and probe
(open_camera: camera.source, or `auto` trying them in turn).
"""
from moodbox.camera.device import STALE_AFTER_S, DeviceSource
from moodbox.camera.folder import IMAGE_SUFFIXES, ImageFolderSource, image_files
from moodbox.camera.frames import CameraError, FrameSource, fit_frame
from moodbox.camera.opencv import STREAM_PREFIXES, OpenCVSource, redact_url
from moodbox.camera.picamera import PICAMERA2_SETTLE_FRAMES, Picamera2Source, lores_to_bgr, picamera2_cameras
from moodbox.camera.probe import HOW_TO_CONFIGURE, open_camera

__all__ = ["HOW_TO_CONFIGURE", "IMAGE_SUFFIXES", "PICAMERA2_SETTLE_FRAMES", "STALE_AFTER_S", "STREAM_PREFIXES",
           "CameraError", "DeviceSource", "FrameSource", "ImageFolderSource", "OpenCVSource", "Picamera2Source",
           "fit_frame", "image_files", "lores_to_bgr", "open_camera", "picamera2_cameras", "redact_url"]
