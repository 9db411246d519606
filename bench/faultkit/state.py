"""The state folder damaged: every file truncated or garbled (player.json and the SQLite index and
history), all at once and each alone; and the state folder on a full file system.

Damaged state must not stop the box: it starts, plays, says what it rebuilt, and keeps what was not
damaged (the saved queue resumes, the history keeps its rows, the index its tracks)."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Callable

from faultkit.harness import Box, Row, wait

FILES = ("player.json", "library.db", "history.db")
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated to half": lambda data: data[: len(data) // 2],
    "emptied": lambda data: b"",
    "garbled": lambda data: bytes(b ^ 0x5A for b in data[:4096]) + data[4096:],
}


def rows_in(db: Path) -> int:
    """Rows over all tables of an SQLite file (-1 if it cannot be read)."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
            return sum(conn.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables)
    except sqlite3.Error:
        return -1


def first_played(log: str) -> str | None:
    found = re.search(r"INFO moodbox\.player(?:\.\w+)?: playing .* \((/[^)]*)\)", log)
    return found.group(1) if found else None


def damaged_rows(tmp: Path, short: bool) -> list[Row]:
    box = Box(tmp / "damaged")
    out: list[Row] = []
    try:
        box.start()
        box.wait_playing()
        box.publish("like", "PRESS")
        time.sleep(2)
        box.stop()
        pristine = tmp / "pristine"
        shutil.copytree(box.state, pristine)
        saved = json.loads((pristine / "player.json").read_text())["player"]
        saved_path = saved["items"][saved["index"]]["path"]
        history_rows = rows_in(pristine / "history.db")
        damages = ["garbled"] if short else list(DAMAGE)
        for damage in damages:
            for which in (FILES if not short else ("library.db",)) + ("all",):  # short: one with the queue check
                shutil.rmtree(box.state)
                shutil.copytree(pristine, box.state)
                hit = FILES if which == "all" else (which,)
                for name in hit:
                    path = box.state / name
                    path.write_bytes(DAMAGE[damage](path.read_bytes()))
                start = len(box.log())
                box.start()
                try:
                    box.wait_playing(60)
                    playing = True
                except TimeoutError:
                    playing = False
                library = box.state_of("library") or {}
                wait(lambda: (box.state_of("library") or {}).get("status") == "ready", "library ready", 30)
                library = box.state_of("library") or {}
                box.stop()
                log = box.log()[start:]
                said = len({line for line in log.splitlines() if re.search(r"damaged|ignoring the saved", line)})
                kept = []
                lost = []
                if "player.json" not in hit:
                    (kept if first_played(log) == saved_path else lost).append("queue")
                if "history.db" not in hit:
                    (kept if rows_in(box.state / "history.db") >= history_rows else lost).append("history")
                tracks = library.get("tracks")
                figure = (f"{'plays' if playing else 'NOT PLAYING'}, {tracks} tracks, said {said}x what it rebuilt"
                          + (f", kept {'+'.join(kept)}" if kept else "") + (f", LOST {'+'.join(lost)}" if lost else ""))
                ok = playing and tracks == 12 and said >= len(hit) and not lost and "Traceback" not in log
                out.append(Row(f"state: {which} {damage}", figure, "plays, says so, keeps the rest", ok))
        return out + [box.log_row("state")]
    finally:
        box.close()


def full_fs_rows(tmp: Path, short: bool) -> list[Row]:
    """The state folder on a 2 MiB tmpfs filled up while the daemon plays (needs root for the mount)."""
    if os.geteuid() != 0:
        return [Row("state folder on a full file system", "skipped: needs root for a tmpfs mount", "-", True)]
    box = Box(tmp / "fullfs")
    mounted = False
    try:
        box.state.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(box.state)], check=True)
        mounted = True
        box.start()
        box.wait_playing()
        with open(box.state / "filler", "wb") as filler:  # fill it to the last byte
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        start = len(box.log())
        box.publish("like", "PRESS")
        box.publish("next", "")
        box.publish("player", "next")
        time.sleep(15)  # more than a persist interval (10 s)
        up = box.alive()
        playing = bool(box.mpv_playing())
        log = box.log()[start:]
        said = len(re.findall(r"No space left|database or disk is full|disk is full", log))
        figure = f"daemon {'up' if up else 'DOWN'}, music {'plays' if playing else 'STOPPED'}, said so {said}x"
        ok = up and playing and said >= 1
        out = [Row("state folder on a full file system", figure, "logged, plays, up", ok)]
        (box.state / "filler").unlink()  # space again: the history must take writes again
        before = rows_in(box.state / "history.db")
        start = len(box.log())
        box.publish("like", "PRESS")
        time.sleep(3)
        after = rows_in(box.state / "history.db")
        failed = box.log()[start:].count("not saved")
        out.append(Row("full file system: space again", f"history rows {before} -> {after} after a like, "
                       f"{failed} failed writes", "writes again", failed == 0 and after > before))
        return out + [box.log_row("full fs")]
    finally:
        box.stop()
        if mounted:
            subprocess.run(["umount", "--lazy", str(box.state)], check=False)
        box.close()


def rows(tmp: Path, short: bool) -> list[Row]:
    return damaged_rows(tmp, short) + full_fs_rows(tmp, short)
