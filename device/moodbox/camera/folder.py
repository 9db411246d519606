"""A folder of images as a camera: for demos, tests and the fallback when there is no camera."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np

from moodbox.camera.frames import CameraError, fit_frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


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
