"""`moodbox scan` killed with SIGKILL mid-scan of a big library, then run again: the index is usable,
the counts are right, no duplicates."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml
from mutagen.flac import FLAC

from core_testkit import config_data  # noqa: E402 - tests/ is on sys.path (harness)
from faultkit.harness import MOODBOX, Row, wait

MOODS = ("happy", "sad", "calm", "energetic")


def write_big_library(folder: Path, count: int) -> None:
    """`count` one-second FLAC tones with distinct tags, in folders of 100."""
    rate = 8000
    t = np.arange(rate) / rate
    template = folder / "template.flac"
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(str(template), (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    for n in range(count):
        path = folder / f"disc{n // 100:02d}" / f"track{n:04d}.flac"
        path.parent.mkdir(exist_ok=True)
        shutil.copyfile(template, path)
        tags = FLAC(str(path))
        tags.update({"title": f"Track {n}", "artist": f"Artist {n % 50}", "album": f"Album {n // 100}",
                     "mood": MOODS[n % 4]})
        tags.save()
    template.unlink()


def counts(db: Path) -> tuple[int, int, bool]:
    """(tracks, distinct paths, integrity ok) of the index; (-1, -1, False) if unreadable."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            tracks, distinct = conn.execute("select count(*), count(distinct path_bytes) from tracks").fetchone()
            ok = conn.execute("pragma integrity_check").fetchone()[0] == "ok"
            return int(tracks), int(distinct), ok
    except sqlite3.Error:
        return -1, -1, False


def rows(tmp: Path, short: bool) -> list[Row]:
    count = 500 if short else 2000
    music = tmp / "music"
    began = time.monotonic()
    write_big_library(music, count)
    made_s = time.monotonic() - began
    state = tmp / "state"
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(config_data(state, music, str(tmp / "cam"))))
    db = state / "library.db"
    command = [*MOODBOX, "scan", "--config", str(config)]
    out: list[Row] = []
    for kill_at in (0.3, 0.7):  # killed at 30 % of the files, then again at 70 %
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait(lambda: counts(db)[0] >= kill_at * count or proc.poll() is not None, "scan progress", 300, step=0.05)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        tracks, distinct, ok = counts(db)
        out.append(Row(f"scan of {count} killed at {kill_at:.0%}",
                       f"index {'usable' if ok else 'BROKEN'}, {tracks} tracks, {tracks - distinct} duplicates",
                       "usable, no duplicates", ok and tracks == distinct and tracks >= 0))
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    tracks, distinct, ok = counts(db)
    traceback = "Traceback" in result.stderr + result.stdout
    out.append(Row(f"scan of {count} run again", f"exit {result.returncode}, {tracks} tracks, "
                   f"{tracks - distinct} duplicates, index {'ok' if ok else 'BROKEN'}"
                   + (", TRACEBACK" if traceback else "") + f" (library made in {made_s:.0f} s)",
                   f"{count} tracks, 0 duplicates",
                   result.returncode == 0 and tracks == count == distinct and ok and not traceback))
    return out
