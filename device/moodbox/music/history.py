"""History: what was played, liked, disliked and skipped, per room mood, in SQLite (WAL) in state_dir.

`mood` is the room's emotion when it happened (MoodState.emotion, e.g. "happy"): a song skipped while
the room was sad still has its chance when the room is happy.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from moodbox.music.db import connect

log = logging.getLogger(__name__)

EARLY_SKIP_S = 30.0  # a skip before this counts against the track in that mood
FINISHED_SHARE = 0.9  # listened to this share of the track = a completed play

SCHEMA = """
CREATE TABLE IF NOT EXISTS plays (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL,
    mood TEXT NOT NULL,
    listened_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    skipped INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    track_id INTEGER NOT NULL,
    mood TEXT NOT NULL,
    likes INTEGER NOT NULL DEFAULT 0,
    dislikes INTEGER NOT NULL DEFAULT 0,
    early_skips INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (track_id, mood)
);
"""


@dataclass(frozen=True)
class Feedback:
    likes: int = 0
    dislikes: int = 0
    early_skips: int = 0
    completions: int = 0

    @property
    def score(self) -> float:
        """Positive = play it more, negative = less; clipped to -5..5."""
        raw = 2.0 * self.likes - 3.0 * self.dislikes - 1.0 * self.early_skips + 0.25 * self.completions
        return max(-5.0, min(5.0, raw))

    def describe(self) -> str:
        parts = []
        if self.likes:
            parts.append(f"liked {self.likes}x")
        if self.dislikes:
            parts.append(f"disliked {self.dislikes}x")
        if self.early_skips:
            parts.append(f"skipped early {self.early_skips}x")
        if self.completions:
            parts.append(f"played through {self.completions}x")
        return ", ".join(parts)


class History:
    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._lock = threading.Lock()
        self._conn = connect(self.db_path, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record_play(self, track_id: int, mood_label: str, listened_s: float, duration_s: float,
                    skipped: bool) -> None:
        """One play ended. A skip within the first 30 s counts against the track in this mood."""
        early_skip = bool(skipped) and listened_s < EARLY_SKIP_S
        finished = not skipped and duration_s > 0 and listened_s >= FINISHED_SHARE * duration_s
        with self._lock, self._writing("a play"):
            self._conn.execute("INSERT INTO plays (track_id, mood, listened_s, duration_s, skipped, at) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (track_id, mood_label, float(listened_s), float(duration_s), int(bool(skipped)),
                                time.time()))
            if early_skip or finished:
                self._bump(track_id, mood_label, "early_skips" if early_skip else "completions")

    def like(self, track_id: int, mood: str) -> None:
        with self._lock, self._writing("a like"):
            self._bump(track_id, mood, "likes")

    def dislike(self, track_id: int, mood: str) -> None:
        with self._lock, self._writing("a dislike"):
            self._bump(track_id, mood, "dislikes")

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """One transaction (lock held). A write that fails (disk full, I/O error) is rolled back and
        logged in one line: that play or rating is lost, the history and the music go on."""
        try:
            self._conn.execute("BEGIN")
            yield
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            log.error("history: %s not saved to %s: %s", what, self.db_path, exc)

    def _bump(self, track_id: int, mood: str, column: str) -> None:
        assert column in ("likes", "dislikes", "early_skips", "completions")
        self._conn.execute("INSERT INTO feedback (track_id, mood) VALUES (?, ?) ON CONFLICT DO NOTHING",
                           (track_id, mood))
        self._conn.execute(f"UPDATE feedback SET {column} = {column} + 1 WHERE track_id = ? AND mood = ?",
                           (track_id, mood))

    def feedback(self, mood: str) -> dict[int, Feedback]:
        """Track id -> what happened to it while the room was in this mood."""
        with self._lock:
            rows = self._conn.execute("SELECT track_id, likes, dislikes, early_skips, completions FROM feedback "
                                      "WHERE mood = ?", (mood,)).fetchall()
        return {row[0]: Feedback(*row[1:]) for row in rows}

    def disliked_anywhere(self) -> set[int]:
        """Tracks disliked in any mood (the recommender weighs these down a little everywhere)."""
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT track_id FROM feedback WHERE dislikes > 0").fetchall()
        return {row[0] for row in rows}

    def recent_track_ids(self, limit: int) -> list[int]:
        """The last `limit` tracks played, most recent first."""
        if limit <= 0:
            return []
        with self._lock:
            rows = self._conn.execute("SELECT track_id FROM plays ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [row[0] for row in rows]

    def recent_plays(self, limit: int = 50) -> list[dict[str, object]]:
        """The last plays, newest first, with how each ended and the track's likes/dislikes in that mood."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT p.track_id, p.mood, p.listened_s, p.duration_s, p.skipped, p.at, "
                "coalesce(f.likes, 0), coalesce(f.dislikes, 0) FROM plays p LEFT JOIN feedback f "
                "ON f.track_id = p.track_id AND f.mood = p.mood ORDER BY p.id DESC LIMIT ?", (int(limit),)).fetchall()
        return [{"track_id": r[0], "mood": r[1], "listened_s": round(r[2], 1), "duration_s": round(r[3], 1),
                 "skipped": bool(r[4]), "at": r[5], "likes": r[6], "dislikes": r[7]} for r in rows]

    def play_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM plays").fetchone()[0])
