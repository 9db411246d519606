"""LibraryIndex: the scanned library in SQLite (WAL), safe against a crash or power cut mid-scan.

A file that disappears is only marked missing: if it comes back (a USB disk plugged in again, a folder
moved back) it gets its old id, so its likes and skips still count. Missing rows go after MISSING_KEEP_S.

Paths are stored as raw bytes (os.fsencode), so file names that are not UTF-8 survive intact.
All methods are thread-safe (one connection behind a lock).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from moodbox.music.db import connect
from moodbox.music.track import Track

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 3: audio_features
MISSING_KEEP_S = 90 * 24 * 3600
PRESENT = "missing_since IS NULL"
ARTIST = "COALESCE(NULLIF(album_artist, ''), artist)"  # whom an album is listed under

SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY,
    path_bytes BLOB NOT NULL UNIQUE,
    root TEXT NOT NULL,
    relative_path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    title TEXT NOT NULL,
    artist TEXT NOT NULL DEFAULT '',
    album TEXT NOT NULL DEFAULT '',
    album_artist TEXT NOT NULL DEFAULT '',
    year INTEGER,
    genre TEXT NOT NULL DEFAULT '',
    bpm REAL,
    duration REAL NOT NULL DEFAULT 0,
    track_number INTEGER,
    explicit INTEGER NOT NULL DEFAULT 0,
    mood_tag TEXT NOT NULL DEFAULT '',
    replaygain_track_db REAL,
    replaygain_album_db REAL,
    valence REAL NOT NULL DEFAULT 0.5,
    energy REAL NOT NULL DEFAULT 0.5,
    mood TEXT NOT NULL DEFAULT 'neutral',
    mood_source TEXT NOT NULL DEFAULT 'unknown',
    era_year INTEGER,
    mood_confidence REAL NOT NULL DEFAULT 0,
    scanned_at REAL NOT NULL,
    missing_since REAL
);
CREATE TABLE IF NOT EXISTS failures (
    path_bytes BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
);
-- The audio pass's results, for the file as it was (size, mtime): features as JSON, or why none.
CREATE TABLE IF NOT EXISTS audio_features (
    path_bytes BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    features TEXT,
    reason TEXT,
    analysed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Columns a scan writes from the tags (the mood columns are written separately).
TAG_COLUMNS = ("title", "artist", "album", "album_artist", "year", "genre", "bpm", "duration", "track_number",
               "explicit", "mood_tag", "replaygain_track_db", "replaygain_album_db")
MOOD_COLUMNS = ("valence", "energy", "mood", "mood_source", "era_year", "mood_confidence")
TRACK_COLUMNS = ("id", "path_bytes") + TAG_COLUMNS + MOOD_COLUMNS
SELECT_TRACKS = f"SELECT {', '.join(TRACK_COLUMNS)} FROM tracks"

MAX_TRACK_ID = 2**63 - 1


class LibraryIndex:
    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._lock = threading.RLock()
        self._conn = connect(self.db_path, SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(tracks)")}
        if "missing_since" not in columns:  # an index from schema 1
            self._conn.execute("ALTER TABLE tracks ADD COLUMN missing_since REAL")
        if "mood_confidence" not in columns:  # before the learned mood model: the next scan fills it
            self._conn.execute("ALTER TABLE tracks ADD COLUMN mood_confidence REAL NOT NULL DEFAULT 0")
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LibraryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------
    def count(self, roots: list[Path] | None = None) -> int:
        """Tracks present; only those scanned under these library roots when given."""
        where, args = PRESENT, []
        if roots is not None:
            args = [str(Path(os.path.expanduser(str(root)))) for root in roots]  # as the scanner stores them
            where += f" AND root IN ({', '.join('?' * len(args))})"
        with self._lock:
            return int(self._conn.execute(f"SELECT COUNT(*) FROM tracks WHERE {where}", args).fetchone()[0])

    def tracks(self) -> list[Track]:
        with self._lock:
            rows = self._conn.execute(f"{SELECT_TRACKS} WHERE {PRESENT} ORDER BY id").fetchall()
        return [_track(row) for row in rows]

    def recommend_table(self) -> list[tuple[Any, ...]]:
        """Just what the recommender ranks by: (id, valence, energy, era_year, explicit, mood_source, artist key,
        mood_confidence)."""
        with self._lock:
            return self._conn.execute(
                "SELECT id, valence, energy, era_year, explicit, mood_source, "
                "lower(trim(CASE WHEN artist != '' THEN artist ELSE album_artist END)), mood_confidence "
                f"FROM tracks WHERE {PRESENT} ORDER BY id"
            ).fetchall()

    def get(self, track_id: int) -> Track | None:
        if not 0 <= track_id <= MAX_TRACK_ID:  # SQLite integers are 64-bit
            return None
        with self._lock:
            row = self._conn.execute(f"{SELECT_TRACKS} WHERE id = ? AND {PRESENT}",
                                     (track_id,)).fetchone()
        return _track(row) if row else None

    def search(self, text: str, limit: int = 50) -> list[Track]:
        """Tracks whose title, artist, album or genre contains `text` (case-insensitive), by artist and album."""
        pattern = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._conn.execute(
                f"{SELECT_TRACKS} WHERE {PRESENT} AND (title LIKE ? ESCAPE '\\' OR artist LIKE ? ESCAPE '\\' "
                "OR album LIKE ? ESCAPE '\\' OR genre LIKE ? ESCAPE '\\') ORDER BY artist, album, track_number, title "
                "LIMIT ?", (pattern, pattern, pattern, pattern, int(limit))).fetchall()
        return [_track(row) for row in rows]

    def artists(self) -> list[tuple[str, int, int]]:
        """(artist, albums, tracks) of every artist (the album artist where there is one), by name."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {ARTIST}, COUNT(DISTINCT NULLIF(album, '')), COUNT(*) FROM tracks WHERE {PRESENT} "
                f"GROUP BY {ARTIST} ORDER BY {ARTIST} COLLATE NOCASE").fetchall()
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    def albums(self, artist: str | None = None) -> list[dict[str, Any]]:
        """Albums, each named by its smallest track id (stable while that track is there), by artist and year."""
        where = f"{PRESENT} AND album != ''" + (f" AND {ARTIST} = ?" if artist is not None else "")
        with self._lock:
            rows = self._conn.execute(
                f"SELECT MIN(id), album, {ARTIST}, MAX(year), COUNT(*), SUM(duration) FROM tracks WHERE {where} "
                f"GROUP BY {ARTIST}, album ORDER BY {ARTIST} COLLATE NOCASE, MAX(year), album COLLATE NOCASE",
                (artist,) if artist is not None else ()).fetchall()
        return [{"id": r[0], "title": r[1], "artist": r[2], "year": r[3], "tracks": r[4],
                 "duration": round(r[5] or 0.0, 1)} for r in rows]

    def album_tracks(self, album_id: int) -> list[Track]:
        """The tracks of the album `album_id` names (see albums()), in album order; [] for no such album."""
        first = self.get(album_id)
        if first is None or not first.album:
            return []
        with self._lock:
            rows = self._conn.execute(
                f"{SELECT_TRACKS} WHERE {PRESENT} AND album = ? AND {ARTIST} = ? "
                "ORDER BY track_number, title", (first.album, first.album_artist or first.artist)).fetchall()
        return [_track(row) for row in rows]

    def tracks_with_mood(self, mood: str, limit: int = 100) -> list[Track]:
        with self._lock:
            rows = self._conn.execute(f"{SELECT_TRACKS} WHERE {PRESENT} AND mood = ? "
                                      "ORDER BY mood_confidence DESC, artist, title LIMIT ?", (mood, int(limit))).fetchall()
        return [_track(row) for row in rows]

    def location(self, track_id: int) -> tuple[Path, str] | None:
        """(library root, path relative to it) of a track, as the scanner stored them."""
        if not 0 <= track_id <= MAX_TRACK_ID:
            return None
        with self._lock:
            row = self._conn.execute(f"SELECT root, relative_path FROM tracks WHERE id = ? AND {PRESENT}",
                                     (track_id,)).fetchone()
        return (Path(row[0]), row[1]) if row else None

    def by_path(self, path: str | Path) -> Track | None:
        with self._lock:
            row = self._conn.execute(f"{SELECT_TRACKS} WHERE path_bytes = ? AND {PRESENT}",
                                     (os.fsencode(path),)).fetchone()
        return _track(row) if row else None

    def generation(self) -> int:
        """Goes up whenever a scan changed the index (lets readers cache the track list)."""
        with self._lock:
            return int(self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def failures(self) -> list[tuple[Path, str]]:
        with self._lock:
            rows = self._conn.execute("SELECT path_bytes, reason FROM failures ORDER BY path_bytes").fetchall()
        return [(Path(os.fsdecode(bytes(p))), r) for p, r in rows]

    def mood_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute(f"SELECT mood, COUNT(*) FROM tracks WHERE {PRESENT} GROUP BY mood").fetchall()
        return {m: n for m, n in rows}

    def source_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute(f"SELECT mood_source, COUNT(*) FROM tracks WHERE {PRESENT} "
                                      "GROUP BY mood_source").fetchall()
        return {m: n for m, n in rows}

    def confidence_by_source(self) -> dict[str, float]:
        """Mean mood confidence per mood source (1 for what the owner said, 0 for unknown)."""
        with self._lock:
            rows = self._conn.execute(f"SELECT mood_source, AVG(mood_confidence) FROM tracks WHERE {PRESENT} "
                                      "GROUP BY mood_source").fetchall()
        return {m: round(float(c), 3) for m, c in rows}

    # --- used by the scanner -------------------------------------------------------------------
    def file_states(self) -> tuple[dict[bytes, tuple[int, int, int]], dict[bytes, tuple[int, int, str]]]:
        """(tracks: path -> (id, size, mtime_ns), failures: path -> (size, mtime_ns, reason))."""
        with self._lock:
            tracks = {bytes(p): (i, s, m) for i, p, s, m in
                      self._conn.execute(f"SELECT id, path_bytes, size, mtime_ns FROM tracks WHERE {PRESENT}")}
            failures = {bytes(p): (s, m, r) for p, s, m, r in
                        self._conn.execute("SELECT path_bytes, size, mtime_ns, reason FROM failures")}
        return tracks, failures

    def mood_inputs(self) -> list[tuple[Any, ...]]:
        """(id, root, relative_path, mood_tag, artist, album_artist, genre, year, audio features JSON or None,
        current mood columns...); audio only where it was measured on the file as it is now."""
        columns = ", ".join(f"t.{c}" for c in MOOD_COLUMNS)
        with self._lock:
            return self._conn.execute(
                "SELECT t.id, t.root, t.relative_path, t.mood_tag, t.artist, t.album_artist, t.genre, t.year, "
                f"a.features, {columns} FROM tracks t LEFT JOIN audio_features a ON a.path_bytes = t.path_bytes "
                f"AND a.size = t.size AND a.mtime_ns = t.mtime_ns WHERE t.{PRESENT}").fetchall()

    def audio_pending(self, sources: tuple[str, ...]) -> list[tuple[bytes, int, int, float]]:
        """(path_bytes, size, mtime_ns, duration) of present tracks with one of these mood sources and no
        audio result (features or failure) for the file as it is now; in id order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT t.path_bytes, t.size, t.mtime_ns, t.duration FROM tracks t LEFT JOIN audio_features a "
                "ON a.path_bytes = t.path_bytes AND a.size = t.size AND a.mtime_ns = t.mtime_ns "
                f"WHERE t.{PRESENT} AND a.path_bytes IS NULL AND t.mood_source IN ({', '.join('?' * len(sources))}) "
                "ORDER BY t.id", sources).fetchall()
        return [(bytes(p), s, m, float(d or 0)) for p, s, m, d in rows]

    def audio_results(self) -> dict[Path, tuple[dict[str, Any] | None, str | None]]:
        """Present track path -> (features, None) or (None, why not), for files analysed as they are now."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT t.path_bytes, a.features, a.reason FROM tracks t JOIN audio_features a "
                "ON a.path_bytes = t.path_bytes AND a.size = t.size AND a.mtime_ns = t.mtime_ns "
                f"WHERE t.{PRESENT} ORDER BY t.id").fetchall()
        return {Path(os.fsdecode(bytes(p))): (json.loads(f) if f else None, r) for p, f, r in rows}

    def transaction(self) -> Transaction:
        """`with index.transaction() as tx:` groups writes; a crash inside leaves the index as before."""
        return Transaction(self)

    def bump_generation(self) -> None:
        with self._lock:
            self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


class Transaction:
    def __init__(self, index: LibraryIndex) -> None:
        self.index = index
        self.conn = index._conn

    def __enter__(self) -> Transaction:
        self.index._lock.acquire()
        self.conn.execute("BEGIN")
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.index._lock.release()

    def put_track(self, path_bytes: bytes, root: str, relative_path: str, size: int, mtime_ns: int,
                  tags: dict[str, Any], mood: dict[str, Any]) -> None:
        """Insert, update or bring back (keeping the id, so history stays attached) one track."""
        columns = ("path_bytes", "root", "relative_path", "size", "mtime_ns", "scanned_at") + TAG_COLUMNS + MOOD_COLUMNS
        values = [path_bytes, root, relative_path, size, mtime_ns, time.time()]
        values += [tags[c] for c in TAG_COLUMNS] + [mood[c] for c in MOOD_COLUMNS]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        self.conn.execute(
            f"INSERT INTO tracks ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT(path_bytes) DO UPDATE SET {updates}, missing_since = NULL", values)
        self.conn.execute("DELETE FROM failures WHERE path_bytes = ?", (path_bytes,))

    def put_failure(self, path_bytes: bytes, size: int, mtime_ns: int, reason: str) -> None:
        self._mark_missing(path_bytes)
        self.conn.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)", (path_bytes, size, mtime_ns, reason))

    def remove_paths(self, paths: Iterable[bytes]) -> None:
        for path in paths:
            self._mark_missing(path)
            self.conn.execute("DELETE FROM failures WHERE path_bytes = ?", (path,))

    def _mark_missing(self, path_bytes: bytes) -> None:
        self.conn.execute(f"UPDATE tracks SET missing_since = ? WHERE path_bytes = ? AND {PRESENT}",
                          (time.time(), path_bytes))

    def purge_missing(self, older_than_s: float = MISSING_KEEP_S) -> int:
        """Forget tracks missing for longer than this; returns how many."""
        cursor = self.conn.execute("DELETE FROM tracks WHERE missing_since < ?", (time.time() - older_than_s,))
        self.conn.execute("DELETE FROM audio_features WHERE path_bytes NOT IN (SELECT path_bytes FROM tracks)")
        return cursor.rowcount

    def put_audio(self, path_bytes: bytes, size: int, mtime_ns: int, features: dict[str, Any] | None,
                  reason: str | None = None) -> None:
        """The audio pass's result for one file: its features, or (features None) why there are none."""
        self.conn.execute("INSERT OR REPLACE INTO audio_features VALUES (?, ?, ?, ?, ?, ?)",
                          (path_bytes, size, mtime_ns, json.dumps(features) if features is not None else None,
                           reason, time.time()))

    def set_mood(self, track_id: int, valence: float, energy: float, mood: str, source: str,
                 era_year: int | None, confidence: float) -> None:
        self.conn.execute("UPDATE tracks SET valence = ?, energy = ?, mood = ?, mood_source = ?, era_year = ?, "
                          "mood_confidence = ? WHERE id = ?",
                          (valence, energy, mood, source, era_year, confidence, track_id))


def _track(row: tuple[Any, ...]) -> Track:
    values = dict(zip(TRACK_COLUMNS, row))
    path = Path(os.fsdecode(bytes(values.pop("path_bytes"))))
    values["explicit"] = bool(values["explicit"])
    return Track(path=path, **values)
