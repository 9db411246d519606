"""Opening the music SQLite files: WAL journal, a busy timeout, and recovery from a damaged file.

A file that is not a usable database (SD-card damage, a half-copied backup) is moved aside as
<name>.damaged-<time> and a fresh one is started, with an error in the log: the box keeps playing.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)


def connect(path: Path, schema: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _open(path, schema)
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        log.error("%s is damaged (%s); moved aside to %s and starting afresh", path, exc, aside.name)
        path.replace(aside)
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return _open(path, schema)


def _open(path: Path, schema: str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt, at worst the last commits lost
        conn.executescript(schema)
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn
