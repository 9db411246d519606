"""The audio estimate on real and generated recordings: what it measures, the mood it gives, its cost.

    taskset -c 0 nice .venv/bin/python bench/audio_moods.py [--fetch] [--music /tmp/moodbox-audio-music] [FILE ...]

No labelled audio is available here, so this shows orderings, not accuracy: generated pieces of known
character (the demo library's five styles, a quiet pad, loud noise hits) and real recordings: the free
game music shipped in Debian's extremetuxracer-data and frozen-bubble-data. --fetch downloads those two
packages with apt-get into /tmp and unpacks them there (dpkg-deb -x); never commit them.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from moodbox.music.audiofeatures import AudioError, analyse_file
from moodbox.music.demo import CALM, ENERGETIC, HAPPY, SAD, TENSE
from moodbox.music.moodmodel import shipped_mood_model
from moodbox.music.synth import render, write_audio
from moodbox.music.tags import TagError, read_tags
from moodbox.music.trackmood import AUDIO_TRUST
from benchlib import machine

PACKAGES = ("extremetuxracer-data", "frozen-bubble-data")
MIN_BYTES = 200_000  # smaller .ogg files in those packages are sound effects


def fetch(folder: Path) -> None:
    """apt-get download the packages into folder and unpack them under folder/x."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=folder, check=True)
    for deb in sorted(folder.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(folder / "x")], check=True)


def generated(folder: Path) -> list[Path]:
    rate = 22050
    rng = np.random.default_rng(0)
    t = np.arange(int(24 * rate)) / rate
    pad = 0.03 * np.sin(2 * np.pi * 220 * t) * np.minimum(1, t / 2)
    hits = 0.05 * rng.standard_normal(t.size)
    for n in range(int(24 * 150 / 60)):
        start = int(n * 0.4 * rate)
        hits[start:start + 1300] += 0.9 * rng.standard_normal(1300) * np.exp(-np.arange(1300) / 330)
    paths = []
    for name, samples in (("quiet-sine-pad", pad), ("loud-noise-hits-150bpm", np.clip(hits, -1, 1))):
        path = folder / f"{name}.wav"
        soundfile.write(path, samples, rate)
        paths.append(path)
    for name, style in (("demo-calm", CALM), ("demo-sad", SAD), ("demo-happy", HAPPY), ("demo-energetic", ENERGETIC),
                        ("demo-tense", TENSE)):
        paths.append(write_audio(folder / f"{name}.ogg", render(style, 24.0)))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="more recordings to estimate")
    parser.add_argument("--music", type=Path, default=Path("/tmp/moodbox-audio-music"),
                        help="where the Debian packages are (or go, with --fetch)")
    parser.add_argument("--fetch", action="store_true", help=f"apt-get download {', '.join(PACKAGES)} first")
    args = parser.parse_args(argv)
    if args.fetch:
        fetch(args.music)
    real = sorted(p for p in (args.music / "x").rglob("*.ogg") if p.stat().st_size >= MIN_BYTES) \
        if (args.music / "x").is_dir() else []
    if not real and not args.files:
        print(f"no real recordings under {args.music}/x (run with --fetch)", file=sys.stderr)
    model = shipped_mood_model()
    if model is None:
        print("no mood model table", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="moodbox-audio-"))
    print(f"machine: {machine()}", flush=True)
    header = (f"{'file':<28} {'kind':<9} {'len s':>5} {'loud dB':>7} {'onset/s':>7} {'tempo':>6} {'bright Hz':>9} "
              f"{'key':>4} {'energy':>6} {'mood':<9} {'conf':>5} {'ms':>5}")
    print(header)
    costs = []
    try:
        for kind, paths in (("generated", generated(work)), ("real", real + list(args.files))):
            for path in paths:
                try:
                    duration = read_tags(path).duration
                except TagError:
                    duration = 0.0
                wall = time.monotonic()
                try:
                    f = analyse_file(path, duration)
                except AudioError as exc:
                    print(f"{path.name[:28]:<28} {kind:<9} failed: {exc}")
                    continue
                ms = 1000 * (time.monotonic() - wall)
                costs.append(ms)
                guess = model.guess("audio", f.model_values())
                assert guess is not None
                print(f"{path.stem[:28]:<28} {kind:<9} {duration:5.0f} {f.loudness_db:7.1f} {f.onset_rate:7.2f} "
                      f"{f.tempo:6.1f} {f.centroid_hz:9.0f} {f.key:>4} {f.energy:6.2f} {guess.mood:<9} "
                      f"{guess.confidence * AUDIO_TRUST:5.2f} {ms:5.0f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if costs:
        print(f"\ncost per track (decode 30 s + features, wall, one core): median {np.median(costs):.0f} ms, "
              f"max {max(costs):.0f} ms over {len(costs)} files")
    print("conf = the model's top probability x AUDIO_TRUST; loud dB = K-weighted gated loudness of the excerpt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
