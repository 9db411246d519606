"""The owner's corrections: `moods.csv` in a library root.

Columns (header line required, any order): path, mood, valence, energy. `path` is relative to the
library root and may be a glob (`Jazz/*`, `*/Live/*`); give a mood, or valence and energy (0..1), or
all three. Exact paths win over globs; among globs the first matching row wins. Lines starting with
`#` are comments. A bad row is logged with its line number and skipped.
"""
from __future__ import annotations

import csv
import fnmatch
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from moodbox.files import write_text_atomic
from moodbox.music.moods import MOOD_POINTS, mood_for_point, mood_from_text

log = logging.getLogger(__name__)

SIDECAR_NAME = "moods.csv"


@dataclass(frozen=True)
class SidecarEntry:
    pattern: str
    valence: float
    energy: float
    mood: str


class Sidecar:
    def __init__(self, entries: list[SidecarEntry] | None = None) -> None:
        entries = entries or []
        self.exact = {e.pattern.casefold(): e for e in entries if not _is_glob(e.pattern)}
        self.globs = [e for e in entries if _is_glob(e.pattern)]

    def __len__(self) -> int:
        return len(self.exact) + len(self.globs)

    @classmethod
    def load(cls, root: Path) -> Sidecar:
        """The sidecar of a library root, or an empty one if there is none."""
        path = root / SIDECAR_NAME
        if not path.is_file():
            return cls()
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as exc:
            log.warning("%s: cannot read: %s", path, exc)
            return cls()
        return cls(parse_sidecar(text, str(path)))

    def lookup(self, relative_path: str) -> SidecarEntry | None:
        key = relative_path.replace("\\", "/")
        found = self.exact.get(key.casefold())
        if found is not None:
            return found
        lowered = key.casefold()
        return next((e for e in self.globs if fnmatch.fnmatchcase(lowered, e.pattern.casefold())), None)


def parse_sidecar(text: str, name: str = SIDECAR_NAME) -> list[SidecarEntry]:
    rows = csv.reader(text.splitlines())
    header: list[str] | None = None
    entries: list[SidecarEntry] = []
    for line_no, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in row]
            if "path" not in header:
                log.warning("%s:%d: the first line must be a header with 'path' and 'mood' and/or "
                            "'valence','energy'; file ignored", name, line_no)
                return []
            continue
        values = {key: (row[i].strip() if i < len(row) else "") for i, key in enumerate(header)}
        try:
            entries.append(_entry(values))
        except ValueError as exc:
            log.warning("%s:%d: %s; row skipped", name, line_no, exc)
    return entries


def _entry(values: dict[str, str]) -> SidecarEntry:
    pattern = values.get("path", "").strip()
    pattern = pattern[2:] if pattern.startswith("./") else pattern
    if not pattern:
        raise ValueError("empty path")
    mood_text = values.get("mood", "")
    mood = mood_from_text(mood_text) if mood_text else None
    if mood_text and mood is None:
        raise ValueError(f"unknown mood {mood_text!r} (use one of {', '.join(MOOD_POINTS)})")
    valence_text, energy_text = values.get("valence", ""), values.get("energy", "")
    if valence_text or energy_text:
        try:
            valence, energy = float(valence_text), float(energy_text)
        except ValueError:
            raise ValueError("valence and energy must both be numbers from 0 to 1") from None
        if not (0 <= valence <= 1 and 0 <= energy <= 1):
            raise ValueError("valence and energy must be from 0 to 1")
        return SidecarEntry(pattern, valence, energy, mood or mood_for_point(valence, energy))
    if mood is None:
        raise ValueError("give a mood or valence and energy")
    valence, energy = MOOD_POINTS[mood]
    return SidecarEntry(pattern, valence, energy, mood)


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def set_sidecar_mood(root: Path, relative_path: str, mood: str | None) -> Path:
    """Write `relative_path,mood` into root/moods.csv (replacing that exact path's row, keeping every other
    line and comment as it was), atomically; mood None removes the row (undo). Returns the file. Raises
    ValueError for an unknown mood or a path outside the root, OSError when the folder is not writable."""
    if mood is not None and mood not in MOOD_POINTS:
        raise ValueError(f"unknown mood {mood!r} (use one of {', '.join(MOOD_POINTS)})")
    relative_path = relative_path.replace("\\", "/")
    if not relative_path or relative_path.startswith("/") or ".." in relative_path.split("/"):
        raise ValueError(f"not a path inside the library: {relative_path!r}")
    path = root / SIDECAR_NAME
    lines = path.read_text(encoding="utf-8-sig").splitlines() if path.is_file() else []
    header: list[str] | None = None
    kept: list[str] = []
    for line in lines:
        row = next(csv.reader([line]), [])
        if header is None and row and "".join(row).strip() and not row[0].lstrip().startswith("#"):
            header = [c.strip().lower() for c in row]
            kept.append(line)
            continue
        if header is not None and row and "path" in header:
            value = row[header.index("path")].strip() if header.index("path") < len(row) else ""
            if value.removeprefix("./").casefold() == relative_path.casefold():
                continue  # the old row for this file
        kept.append(line)
    if header is None or "path" not in header or "mood" not in header:
        if header is not None:
            raise ValueError(f"{path}: its header has no 'path' and 'mood' columns; fix it by hand first")
        header = ["path", "mood", "valence", "energy"]
        kept.insert(0, ",".join(header))
    if mood is not None:
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow([relative_path if c == "path" else mood if c == "mood" else ""
                                                     for c in header])
        kept.append(out.getvalue())
    write_text_atomic(path, "\n".join(kept) + "\n")
    return path
