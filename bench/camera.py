"""Camera benchmark: time per read() of the folder and video-file sources, and of the frame fitting.

    nice .venv/bin/python bench/camera.py [--reads 200] [--width 640] [--height 480]

Sources read generated 1280x720 frames (JPEG images in a folder, an MJPG .avi), fitted to the
configured size as in the daemon. No camera hardware is needed (nor measured: a Pi camera or webcam
delivers at its own frame rate; the daemon asks for only a few frames per second).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from moodbox.camera import ImageFolderSource, OpenCVSource, fit_frame
from benchlib import machine


def timed(fn: Callable[[], object], count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="moodbox-bench-camera-"))
    rng = np.random.default_rng(1)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (720, 1280, 3), np.uint8), (15, 15), 0) for _ in range(10)]
    for number, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{number:02d}.jpg"), frame)
    video = folder / "room.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (1280, 720))
    for frame in frames * 3:
        writer.write(frame)
    writer.release()

    results = {}
    images = ImageFolderSource(folder, args.width, args.height)
    results["folder read (jpg 1280x720)"] = timed(images.read, args.reads)
    clip = OpenCVSource(str(video), args.width, args.height)
    clip.read()  # open
    results["video read (MJPG 1280x720)"] = timed(clip.read, args.reads)
    clip.close()
    results["fit_frame 1280x720 -> size"] = timed(lambda: fit_frame(frames[0], args.width, args.height), args.reads)
    grey = frames[0][:, :, 0].copy()
    results["fit_frame grey -> BGR"] = timed(lambda: fit_frame(grey, args.width, args.height), args.reads)
    shutil.rmtree(folder)

    print(f"machine: {machine()}")
    print(f"frame size {args.width}x{args.height}; {args.reads} reads each")
    print(f"{'measure':<30} {'median ms':>10} {'p95 ms':>8}")
    for name, values in results.items():
        values.sort()
        print(f"{name:<30} {statistics.median(values) * 1000:>10.2f} {values[int(len(values) * 0.95) - 1] * 1000:>8.2f}")


if __name__ == "__main__":
    main()
