"""Bad media in the library of the running daemon: random bytes named .mp3, an empty .flac, a FIFO
named .mp3, a symlink loop, non-UTF-8 names (one of them a good track). The scan finishes, the good
tracks (the non-UTF-8 one too) are indexed, the bad ones skipped, music plays, no traceback."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from core_testkit import write_library  # noqa: E402 - tests/ is on sys.path (harness)
from faultkit.harness import Box, Row, wait

GOOD = 12  # write_library's tracks


def bad_library(folder: Path) -> int:
    """write_library plus the bad files; returns how many tracks should be indexed."""
    paths = write_library(folder, seconds=30)
    (folder / "noise.mp3").write_bytes(os.urandom(50_000))
    (folder / "empty.flac").write_bytes(b"")
    os.mkfifo(folder / "pipe.mp3")
    (folder / "loop").mkdir()
    os.symlink("../loop", folder / "loop" / "again")  # a directory loop
    os.symlink("self.flac", folder / "self.flac")  # a link to itself
    os.symlink(folder / "missing.flac", folder / "dangling.flac")
    bad_name = os.fsencode(folder) + b"/caf\xe9-latin1.flac"  # not UTF-8
    shutil.copyfile(paths[0], bad_name)
    (Path(os.fsdecode(os.fsencode(folder) + b"/\xff\xfe-noise.mp3"))).write_bytes(os.urandom(1000))
    return GOOD + 1


def rows(tmp: Path, short: bool) -> list[Row]:
    music = tmp / "music"
    expected = bad_library(music)
    box = Box(tmp / "media", library=music)
    try:
        box.start()
        began = time.monotonic()
        try:
            library = wait(lambda: (s := box.state_of("library") or {}).get("status") == "ready"
                           and not s.get("scanning") and s, "library ready", 60, step=0.1)
            scanned = f"scan done in {time.monotonic() - began:.0f} s, {library.get('tracks')} tracks"
            ok = library.get("tracks") == expected
        except TimeoutError:
            scanned, ok = f"scan NOT done in 60 s ({box.state_of('library')})", False
        try:
            box.wait_playing(30)
            playing = True
        except TimeoutError:
            playing = False
        for _ in range(8):  # skip through the queue: every track handed to mpv must play or be skipped
            box.publish("player", "next")
            time.sleep(0.5)
        time.sleep(2)
        up = box.alive()
        found = re.findall(r"(\d+) skipped as unreadable", box.log())
        skipped = found[-1] if found else "?"
        figure = f"{scanned} (expected {expected}), {skipped} skipped; music {'plays' if playing else 'NOT PLAYING'}; " \
                 f"daemon {'up' if up else 'DOWN'}"
        return [Row("bad media in the library", figure, f"{expected} tracks, plays, up", ok and playing and up),
                box.log_row("media")]
    finally:
        box.close()
