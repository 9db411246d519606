"""Per-frame perception cost on this machine, one thread, on frames composed from the bundled faces.

    .venv/bin/python bench/perception.py [--repeat 50] [--detector full_range] [--tiles 2] [--fer-venv /tmp/fer-venv]
                                         [--runtimes litert,tflite-runtime]

Frames: 320x240 and 640x480 with 0, 1 and 3 faces (the astronaut portrait pasted on the rocket photo).
Prints one table row per frame: faces found, wall time of Perception.analyze() per frame (median),
and the mean inference time of each model (detector once per frame, emotion and age once per face).
--runtimes: each TFLite runtime installed of those named runs the same frames in its own process
(one runtime per process), and a side-by-side table of frame times ends the output.
--fer-venv runs the same frames through the `fer` package (Haar cascade + its own TFLite emotion
model) in that virtual environment, as a reference.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import moodbox
from moodbox.config import REPO_ROOT, Config
from moodbox.perception import Perception
from moodbox.perception.model import RUNTIME_ENV, RUNTIMES, runtime_module, runtime_name
from benchlib import machine

FACES = Path(moodbox.__file__).parent / "data" / "faces"
SIZES = [(320, 240), (640, 480)]
FACE_COUNTS = [0, 1, 3]

# Runs inside the fer virtual environment: argv = folder of PNGs, repeat. Prints JSON per frame.
FER_SCRIPT = r"""
import json, os, sys, time, statistics
import cv2
cv2.setNumThreads(1)
from fer.fer import FER
folder, repeat = sys.argv[1], int(sys.argv[2])
detector = FER()  # defaults: Haar cascade, quantized TFLite emotion model
results = {}
for name in sorted(os.listdir(folder)):
    frame = cv2.imread(os.path.join(folder, name))
    for _ in range(3):
        faces = detector.detect_emotions(frame)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        faces = detector.detect_emotions(frame)
        times.append((time.perf_counter() - start) * 1000)
    labels = [max(f["emotions"], key=f["emotions"].get) for f in faces]
    results[name] = {"ms": statistics.median(times), "min": min(times), "faces": len(faces), "labels": labels}
print(json.dumps(results))
"""


def face_patch(width: int) -> np.ndarray:
    """The astronaut's head and shoulders, `width` px wide (the face is about 55% of that)."""
    patch = cv2.imread(str(FACES / "astronaut.png"))[20:250, 130:320]
    return cv2.resize(patch, (width, round(width * patch.shape[0] / patch.shape[1])), interpolation=cv2.INTER_AREA)


def compose(size: tuple[int, int], faces: int) -> np.ndarray:
    """A frame of `size` with `faces` faces side by side (every other one mirrored) on the rocket photo."""
    width, height = size
    frame = cv2.resize(cv2.imread(str(FACES / "no-face" / "rocket.jpg")), size, interpolation=cv2.INTER_AREA)
    if faces == 0:
        return frame
    slot = width // faces
    patch = face_patch(min(int(slot * 0.9), int(height * 0.8 / 1.21)))
    for index in range(faces):
        face = cv2.flip(patch, 1) if index % 2 else patch
        x = index * slot + (slot - face.shape[1]) // 2
        y = (height - face.shape[0]) // 2 + (index % 2) * height // 10
        frame[y:y + face.shape[0], x:x + face.shape[1]] = face
    return frame


def frames() -> dict[str, np.ndarray]:
    return {f"{w}x{h}_{n}faces": compose((w, h), n) for w, h in SIZES for n in FACE_COUNTS}


def bench_moodbox(named: dict[str, np.ndarray], detector: str, tiles: int, repeat: int) -> dict[str, dict]:
    results = {}
    for name, frame in named.items():
        defaults = Config().perception  # the emotion and age models the box runs by default
        perception = Perception(REPO_ROOT / "models_tflite", detector=detector, threads=1, tiles=tiles,
                                emotion_model=defaults.emotion_model, age_model=defaults.age_model)
        for _ in range(3):
            readings = perception.analyze(frame)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            readings = perception.analyze(frame)
            times.append((time.perf_counter() - start) * 1000)
        results[name] = {"ms": statistics.median(times), "min": min(times), "faces": len(readings),
                         "labels": [r.emotion_label for r in readings], **perception.timings_ms()}
    return results


def bench_fer(named: dict[str, np.ndarray], venv: Path, repeat: int) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as folder:
        for name, frame in named.items():
            cv2.imwrite(os.path.join(folder, f"{name}.png"), frame)
        env = dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1",
                   TF_CPP_MIN_LOG_LEVEL="2")
        done = subprocess.run([str(venv / "bin" / "python"), "-c", FER_SCRIPT, folder, str(repeat)],
                              capture_output=True, text=True, env=env, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"fer run failed: {done.stderr.strip()[-2000:]}")
        raw = json.loads(done.stdout.strip().splitlines()[-1])
    return {name.removesuffix(".png"): value for name, value in raw.items()}


def installed_runtimes(names: list[str]) -> list[str]:
    """The named runtimes that import here (each probed in its own process)."""
    found = []
    for name in names:
        probe = subprocess.run([sys.executable, "-c", f"import {RUNTIMES[name]}"], capture_output=True)
        if probe.returncode == 0:
            found.append(name)
        else:
            print(f"runtime {name}: not installed here, left out")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per frame (after 3 warm-up runs)")
    parser.add_argument("--detector", choices=["full_range", "short_range", "both"], default="both")
    parser.add_argument("--tiles", type=int, default=1, help="perception.tiles (detector runs: 1 or tiles^2 + 1)")
    parser.add_argument("--fer-venv", type=Path, help="a virtual environment with fer 25.10.3 and tensorflow")
    parser.add_argument("--runtimes", default="litert,tflite-runtime",
                        help="comma-separated TFLite runtimes to compare (default: %(default)s)")
    parser.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)  # a child run's results
    args = parser.parse_args()
    names = [n.strip() for n in args.runtimes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNTIMES]
    if unknown:
        parser.error(f"unknown runtime {unknown[0]!r}; one of {', '.join(RUNTIMES)}")
    if args.json_out is None and len(names) > 1:
        return compare_runtimes(installed_runtimes(names), args)
    if len(names) == 1:
        os.environ[RUNTIME_ENV] = names[0]
    cv2.setNumThreads(1)
    named = frames()
    runtime = runtime_name(runtime_module())
    print(f"machine: {machine()}")
    print(f"repeat: {args.repeat} timed runs per frame, 1 thread; frame ms = median (min) wall time of one "
          "frame, model columns = mean inference per call")
    defaults = Config().perception
    detectors = ["full_range", "short_range"] if args.detector == "both" else [args.detector]
    every: dict[str, dict[str, dict]] = {}
    for detector in detectors:
        results = bench_moodbox(named, detector, args.tiles, args.repeat)
        every[detector] = results
        print(f"\nmoodbox perception, detector {detector}, tiles {args.tiles} ({runtime}, int8 {defaults.emotion_model} + {defaults.age_model})")
        print(f"{'frame':<20}{'found':>6}{'frame ms (min)':>17}{'detector':>10}{'emotion':>9}{'age':>7}  labels")
        for name, r in results.items():
            print(f"{name:<20}{r['faces']:>6}{r['ms']:>9.2f} ({r['min']:>5.1f}){r['detector']:>10.2f}"
                  f"{r['emotion']:>9.2f}{r['age']:>7.2f}  {','.join(r['labels'])}")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps({"runtime": runtime, "results": every}))
    if args.fer_venv:
        results = bench_fer(named, args.fer_venv, args.repeat)
        print("\nfer 25.10.3 reference (Haar cascade + fer's quantized TFLite emotion model, no age)")
        print(f"{'frame':<20}{'found':>6}{'frame ms (min)':>17}  labels")
        for name, r in results.items():
            print(f"{name:<20}{r['faces']:>6}{r['ms']:>9.2f} ({r['min']:>5.1f})  {','.join(r['labels'])}")
    return 0


def compare_runtimes(names: list[str], args: argparse.Namespace) -> int:
    """Run this script once per runtime (one runtime per process), then print their frame times side by side."""
    if not names:
        print("no TFLite runtime installed", file=sys.stderr)
        return 1
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.json"
            command = [sys.executable, __file__, "--runtimes", name, "--repeat", str(args.repeat), "--detector",
                       args.detector, "--tiles", str(args.tiles), "--json-out", str(out)]
            if args.fer_venv and name == names[0]:
                command += ["--fer-venv", str(args.fer_venv)]
            print(f"===== {name} =====", flush=True)
            done = subprocess.run(command, env=dict(os.environ, **{RUNTIME_ENV: name}))
            if done.returncode != 0:
                return done.returncode
            runs.append(json.loads(out.read_text()))
    print(f"\nside by side: frame ms, median of {args.repeat} ({', '.join(r['runtime'] for r in runs)})")
    print(f"{'detector':<12}{'frame':<20}" + "".join(f"{r['runtime']:>22}" for r in runs) + "   same labels")
    for detector, results in runs[0]["results"].items():
        for frame in results:
            cells = [r["results"][detector][frame] for r in runs]
            same = all(c["labels"] == cells[0]["labels"] for c in cells)
            print(f"{detector:<12}{frame:<20}" + "".join(f"{c['ms']:>22.2f}" for c in cells) + f"   {'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
