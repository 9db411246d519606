"""The demo library: ~20 short synthetic pieces whose sound fits their mood, with real tags.

Mood sources on purpose: some tracks carry a mood tag, some sit in a mood folder (calm/, happy/),
two are described in moods.csv, the rest get their mood from the genre prior; one has none at all.
Idempotent: files already there are kept; an interrupted run finishes the missing ones.
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from moodbox.music.synth import Style, can_write, render, write_audio
from moodbox.music.tagwriter import write_tags

log = logging.getLogger(__name__)

HAPPY = Style(bpm=126, timbre="bright", drums=True, loudness=0.55, root_hz=261.6)
ENERGETIC = Style(bpm=152, timbre="harsh", drums=True, loudness=0.6, root_hz=196.0)
CALM = Style(bpm=66, timbre="soft", loudness=0.35, root_hz=220.0)
SAD = Style(bpm=62, minor=True, timbre="bright", loudness=0.4, root_hz=174.6)
TENSE = Style(bpm=144, minor=True, timbre="harsh", dissonant=True, drums=True, loudness=0.55, root_hz=233.1)


@dataclass(frozen=True)
class DemoTrack:
    folder: str
    title: str
    artist: str
    album: str
    genre: str
    year: int
    style: Style
    mood_tag: str = ""
    explicit: bool = False
    seconds: float = 24.0


DEMO_TRACKS: tuple[DemoTrack, ...] = (
    DemoTrack("Sunny Side", "Sunday Bicycle", "The Lemon Trees", "Sunny Side", "Pop", 1966, HAPPY, mood_tag="Happy"),
    DemoTrack("Sunny Side", "Paper Kites", "The Lemon Trees", "Sunny Side", "Pop", 1966, HAPPY),
    DemoTrack("happy", "Lemonade Stand", "Marisol Vega", "Porch Songs", "Bossa Nova", 1974, HAPPY),
    DemoTrack("Disco Nights", "Mirror Ball Mondays", "Studio 9", "Disco Nights", "Disco", 1978, HAPPY),
    DemoTrack("Disco Nights", "Roller Rink", "Studio 9", "Disco Nights", "Disco", 1979, HAPPY, mood_tag="Uplifting"),
    DemoTrack("Power Hour", "Night Drive Turbo", "Voltage Kids", "Power Hour", "Eurodance", 1995, ENERGETIC),
    DemoTrack("Power Hour", "Jump Start", "Voltage Kids", "Power Hour", "Punk", 1985, ENERGETIC,
              mood_tag="Energetic"),
    DemoTrack("Loud Garage", "Kick the Door", "Rust Belt", "Loud Garage", "Hardcore", 1992, ENERGETIC),
    DemoTrack("Loud Garage", "Amp Hum", "Rust Belt", "Loud Garage", "Punk", 2004, ENERGETIC, explicit=True),
    DemoTrack("calm", "Slow Tide", "Harbour Lights", "Low Water", "Folk", 1971, CALM),
    DemoTrack("calm", "Porch Lantern", "Harbour Lights", "Low Water", "Folk", 1971, CALM),
    DemoTrack("Quiet Hours", "Lullaby for a Kettle", "Ines Moreau", "Quiet Hours", "Lullaby", 2012, CALM),
    DemoTrack("Quiet Hours", "Dust in Sunlight", "Ines Moreau", "Quiet Hours", "New Age", 2016, CALM,
              mood_tag="Relaxed"),
    DemoTrack("Grey Letters", "Rain on the Platform", "Cold Harbour", "Grey Letters", "Slowcore", 1997, SAD,
              mood_tag="Melancholic"),
    DemoTrack("Grey Letters", "Empty Chair", "Cold Harbour", "Grey Letters", "Slowcore", 1998, SAD),
    DemoTrack("Winter Rooms", "Last Ferry", "Nora Lind", "Winter Rooms", "Chamber Pop", 2008, SAD),
    DemoTrack("Winter Rooms", "Moth Light", "Nora Lind", "Winter Rooms", "Singer-Songwriter", 2020, SAD),
    DemoTrack("Pressure", "Storm Warning", "Iron Static", "Pressure", "Thrash Metal", 1987, TENSE,
              mood_tag="Aggressive"),
    DemoTrack("Pressure", "Red Line", "Iron Static", "Pressure", "Industrial", 1989, TENSE),
    DemoTrack("Pressure", "Wire Fence", "Iron Static", "Pressure", "", 2023, TENSE),  # known only by its year
)

# The owner's corrections, as an owner would write them (shows the sidecar source).
DEMO_SIDECAR = """path,mood,valence,energy
# corrections for the demo library (see the README: moods.csv)
Pressure/*Red Line*,tense,,
Winter Rooms/*Moth Light*,,0.2,0.3
"""
MARKER = ".moodbox-demo"


def _write_track(number: int, track: DemoTrack, path: Path) -> None:
    samples = render(track.style, track.seconds, seed=number)
    part = path.with_name(f".{path.name}.part{path.suffix}")  # hidden until complete and tagged
    write_audio(part, samples)
    write_tags(part, title=track.title, artist=track.artist, album=track.album, album_artist=track.artist,
               year=track.year, genre=track.genre, bpm=round(track.style.bpm), track_number=number,
               mood=track.mood_tag, explicit=track.explicit)
    part.replace(path)
    log.debug("wrote %s", path)


def demo_files(folder: Path, suffix: str) -> list[tuple[DemoTrack, Path]]:
    return [(t, folder / t.folder / f"{n:02d} {t.title}{suffix}") for n, t in enumerate(DEMO_TRACKS, start=1)]


def make_demo_library(folder: Path, force: bool = False) -> tuple[int, int]:
    """Create the demo library in `folder`; returns (written, already there)."""
    suffix = ".ogg" if can_write(".ogg") else ".wav"
    if suffix == ".wav":
        log.warning("neither ffmpeg nor soundfile available: writing the demo library as WAV (larger files)")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    todo = [(number, track, path) for number, (track, path) in enumerate(demo_files(folder, suffix), start=1)
            if force or not path.exists()]
    present = len(DEMO_TRACKS) - len(todo)
    # The encoder runs as a separate process per file (ffmpeg), so threads use every core.
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(lambda job: _write_track(*job), todo))
    written = len(todo)
    sidecar = folder / "moods.csv"
    if force or not sidecar.exists():
        sidecar.write_text(DEMO_SIDECAR, encoding="utf-8")
    (folder / MARKER).write_text("moodbox demo library: generated, safe to delete\n", encoding="utf-8")
    log.info("demo library %s: %d written, %d already there (%.1f s)", folder, written, present,
             time.monotonic() - started)
    return written, present
