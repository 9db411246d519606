"""Music benchmark: scan rate, incremental rescan, audio pass, recommendation latency. Prints a table with the machine.

    taskset -c 0 nice .venv/bin/python bench/music.py [--files 5000] [--audio-files 40] [--tracks 50000] [--dir DIR]

The library is made of a few tiny generated files (mp3, ogg, flac, m4a), copied and re-tagged with mutagen.
The audio pass is timed apart, on --audio-files untagged copies of a generated 3-minute piece (ogg), since it
decodes a 30 s excerpt of each: run it under `taskset -c 0` for the cost on one core.
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from moodbox.config import RecommendConfig
from moodbox.music import History, LibraryIndex, Recommender, scan_library
from moodbox.music.audioscan import scan_audio
from moodbox.music.priors import Priors
from moodbox.music.moods import MOODS
from moodbox.music.listener import shipped_listener_table
from moodbox.music.priors import shipped_priors
from moodbox.music.synth import Style, render, write_audio
from moodbox.music.tagwriter import write_tags
from moodbox.readings import EMOTIONS, MoodState
from benchlib import machine

GENRES = ["Rock", "Alt Rock", "Pop", "Hip-Hop", "Jazz", "Classical", "Punk", "Soul", "Disco", "Folk", "Metal", ""]


def make_library(folder: Path, files: int, seed: int = 1) -> float:
    rng = random.Random(seed)
    templates_dir = folder / ".templates"
    samples = render(Style(bpm=120), 0.5)
    templates = [write_audio(templates_dir / f"t{suffix}", samples) for suffix in (".mp3", ".ogg", ".flac", ".m4a")]
    started = time.monotonic()
    for n in range(files):
        template = templates[n % len(templates)]
        artist = f"Artist {rng.randrange(files // 8 + 1)}"
        path = folder / artist / f"Album {n % 7}" / f"{n:05d} track{template.suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
        write_tags(path, title=f"Track {n}", artist=artist, album=f"Album {n % 7}", year=rng.randrange(1955, 2025),
                   genre=rng.choice(GENRES), mood=rng.choice(MOODS) if n % 3 == 0 else None,
                   track_number=n % 12 + 1, explicit=n % 50 == 0)
    return time.monotonic() - started


def synthetic_index(path: Path, tracks: int, seed: int = 2) -> LibraryIndex:
    rng = np.random.default_rng(seed)
    index = LibraryIndex(path)
    with index.transaction() as tx:
        for n in range(tracks):
            valence, energy = rng.random(2)
            tags = {"title": f"t{n}", "artist": f"artist {n % (tracks // 10)}", "album": "", "album_artist": "",
                    "year": int(rng.integers(1950, 2025)), "genre": "", "bpm": None, "duration": 200.0,
                    "track_number": None, "explicit": bool(n % 40 == 0), "mood_tag": "", "replaygain_track_db": None,
                    "replaygain_album_db": None}
            tx.put_track(f"/music/{n}.mp3".encode(), "/music", f"{n}.mp3", 1, 1, tags,
                         {"valence": float(valence), "energy": float(energy), "mood": "happy", "mood_source": "genre",
                          "mood_confidence": 0.6, "era_year": tags["year"]})
    index.bump_generation()
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000, help="files in the generated library")
    parser.add_argument("--audio-files", type=int, default=40, help="untagged 3-minute files for the audio pass")
    parser.add_argument("--tracks", type=int, default=50000, help="tracks in the synthetic index for recommending")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    args = parser.parse_args(argv)
    work = args.dir or Path(tempfile.mkdtemp(prefix="moodbox-bench-"))
    rows: list[tuple[str, str]] = []
    print(f"machine: {machine()}", flush=True)
    try:
        library = work / "library"
        shutil.rmtree(library, ignore_errors=True)
        seconds = make_library(library, args.files)
        rows.append((f"generate {args.files} tagged files", f"{seconds:.1f} s"))
        started = time.monotonic()
        shipped_priors()  # loaded once per process; timed apart from the scan
        shipped_listener_table()
        rows.append(("load priors + listener table", f"{time.monotonic() - started:.2f} s"))
        db = work / "library.db"
        db.unlink(missing_ok=True)
        with LibraryIndex(db) as index:
            started = time.monotonic()
            report = scan_library([library], index)
            first = time.monotonic() - started
            assert report.added == args.files, report.summary()
            rows.append((f"first scan, {args.files} files", f"{first:.1f} s = {args.files / first:.0f} files/s"))
            started = time.monotonic()
            report = scan_library([library], index)
            again = time.monotonic() - started
            assert report.unchanged == args.files
            rows.append((f"rescan, {args.files} unchanged files", f"{again:.2f} s"))
        audio_library = work / "audio-library"
        shutil.rmtree(audio_library, ignore_errors=True)
        template = write_audio(work / ".audio-template.ogg", render(Style(bpm=120, drums=True), 180.0))
        for n in range(args.audio_files):
            (audio_library / f"{n // 10}").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, audio_library / f"{n // 10}" / f"{n:03d} untagged.ogg")
        (work / "audio.db").unlink(missing_ok=True)
        with LibraryIndex(work / "audio.db") as index:
            scan_library([audio_library], index, priors=Priors())
            audio = scan_audio(index, priors=Priors())
            assert audio.analysed == args.audio_files, audio.summary()
            rows.append((f"audio pass, {args.audio_files} untagged 3-min files (30 s excerpt each)",
                         f"{audio.seconds:.1f} s = {audio.per_track_ms:.0f} ms/track"))
            started = time.monotonic()
            assert scan_audio(index, priors=Priors()).analysed == 0
            rows.append((f"audio pass again, {args.audio_files} files already analysed",
                         f"{1000 * (time.monotonic() - started):.0f} ms"))
        with synthetic_index(work / "big.db", args.tracks) as index, History(work / "history.db") as history:
            rec = Recommender(index, history, RecommendConfig(era_share=0.5))
            started = time.monotonic()
            rec.recommend(MoodState.from_emotion("happy", ages=(40,)), count=10, seed=0)
            rows.append((f"recommend 10 of {args.tracks} tracks, first call (loads index)",
                         f"{1000 * (time.monotonic() - started):.0f} ms"))
            timings = []
            for n in range(20):
                state = MoodState.from_emotion(EMOTIONS[n % len(EMOTIONS)], ages=(40, 8) if n % 2 else (30,))
                started = time.monotonic()
                rec.recommend(state, count=10, policy=("match", "lift", "calm")[n % 3], seed=n)
                timings.append(1000 * (time.monotonic() - started))
            rows.append((f"recommend 10 of {args.tracks} tracks, cached (median of 20)",
                         f"{statistics.median(timings):.0f} ms (max {max(timings):.0f} ms)"))
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
