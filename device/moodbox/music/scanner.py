"""scan_library: walk the library folders, read new or changed files, mark removed ones missing.

Incremental: a file whose size and mtime are unchanged is not read again (nor is a known-broken one).
Crash-safe: writes go in small transactions; removals happen only after a complete walk.
Every scan recomputes the tracks' moods (cheap), so an edited moods.csv takes effect on the next scan.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from moodbox.music.audiofeatures import model_values
from moodbox.music.index import LibraryIndex, Transaction
from moodbox.music.moodmodel import MoodModel, shipped_mood_model
from moodbox.music.priors import Priors, shipped_priors
from moodbox.music.sidecar import Sidecar
from moodbox.music.tags import AUDIO_EXTENSIONS, TagError, read_tags, title_from_filename
from moodbox.music.trackmood import TrackMood, track_mood

log = logging.getLogger(__name__)

# progress(done, total, path): called for every file of the walk.
Progress = Callable[[int, int, Path], None]

BATCH_FILES = 200  # files per transaction
LOG_EVERY_S = 10.0


@dataclass
class ScanReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged

    def summary(self) -> str:
        return (f"{self.total} tracks: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed, {len(self.failed)} skipped as unreadable ({self.seconds:.1f} s)")


@dataclass(frozen=True)
class _File:
    root: Path
    path: Path
    size: int
    mtime_ns: int


def find_audio_files(roots: list[Path], report: ScanReport | None = None) -> list[_File]:
    """Every audio file under the roots, following symlinks but never looping; each file once."""
    files: list[_File] = []
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for root in roots:
        root = Path(os.path.expanduser(str(root)))
        if not root.is_dir():
            log.warning("library folder %s does not exist or is not a folder; skipped", root)
            if report is not None:
                report.failed.append((root, "library folder not found"))
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=_walk_error):
            try:
                st = os.stat(dirpath)
            except OSError:
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop or a second way into a folder
                log.debug("already visited %s; not descending", dirpath)
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or os.path.splitext(name)[1].lower() not in AUDIO_EXTENSIONS:
                    continue
                path = Path(dirpath) / name
                try:
                    fst = path.stat()
                except OSError as exc:
                    if report is not None:
                        report.failed.append((path, f"cannot stat: {exc.strerror or exc}"))
                    continue
                if (fst.st_dev, fst.st_ino) in seen_files:
                    continue
                seen_files.add((fst.st_dev, fst.st_ino))
                files.append(_File(root, path, fst.st_size, fst.st_mtime_ns))
    return files


def has_audio(folder: Path) -> bool:
    """True as soon as one audio file is found under the folder (cheap on a big library)."""
    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        return False
    for _dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(os.path.splitext(n)[1].lower() in AUDIO_EXTENSIONS and not n.startswith(".") for n in filenames):
            return True
    return False


def choose_roots(library_paths: list[Path], demo_path: Path) -> list[Path]:
    """The configured folders, or the demo library when none of them holds any audio file."""
    if any(has_audio(path) for path in library_paths):
        return list(library_paths)
    log.warning("no music in %s; using the demo library %s", ", ".join(map(str, library_paths)) or "(none)",
                demo_path)
    return [demo_path]


def scan_library(roots: list[Path], index: LibraryIndex, progress: Progress | None = None,
                 priors: Priors | None = None, mood_model: MoodModel | None = None) -> ScanReport:
    """Bring the index in line with the folders; returns what changed and which files were skipped.
    priors / mood_model: the shipped tables unless given (tests and check_mapping give their own)."""
    started = time.monotonic()
    report = ScanReport()
    priors = priors if priors is not None else shipped_priors()
    model = mood_model if mood_model is not None else shipped_mood_model()
    roots = [Path(os.path.expanduser(str(root))) for root in roots]
    files = find_audio_files(roots, report)
    known, known_failures = index.file_states()
    sidecars = {str(root): Sidecar.load(root) for root in roots}
    seen: set[bytes] = set()
    changed = False
    last_log = time.monotonic()
    for batch_start in range(0, len(files), BATCH_FILES):
        with index.transaction() as tx:  # a crash loses at most this batch, never the index
            for done, file in enumerate(files[batch_start:batch_start + BATCH_FILES], start=batch_start + 1):
                if progress is not None:
                    progress(done, len(files), file.path)
                if time.monotonic() - last_log > LOG_EVERY_S:  # a plain line for journald on long scans
                    log.info("library scan: %d of %d files", done, len(files))
                    last_log = time.monotonic()
                key = os.fsencode(file.path)
                seen.add(key)
                state = known.get(key)
                if state is not None and state[1:] == (file.size, file.mtime_ns):
                    report.unchanged += 1
                    continue
                failure = known_failures.get(key)
                if failure is not None and failure[:2] == (file.size, file.mtime_ns):
                    report.failed.append((file.path, failure[2]))
                    continue
                changed = True
                _read_one(file, key, state is None, tx, sidecars.get(str(file.root), Sidecar()), priors, model,
                          report)
    # The walk is complete: only now is it safe to forget what is gone.
    gone = [p for p in list(known) + list(known_failures) if p not in seen]
    report.removed = sum(1 for p in gone if p in known)
    with index.transaction() as tx:
        tx.remove_paths(gone)
        tx.purge_missing()
    if refresh_moods(index, sidecars, priors, model) or changed or gone:
        index.bump_generation()
    report.seconds = time.monotonic() - started
    log.info("library scan: %s", report.summary())
    return report


def _read_one(file: _File, key: bytes, is_new: bool, tx: Transaction, sidecar: Sidecar, priors: Priors,
              model: MoodModel | None, report: ScanReport) -> None:
    """Read one new or changed file into the index, or record why it cannot be used."""
    try:
        if file.size == 0:
            raise TagError("empty file")
        tags = read_tags(file.path)
    except TagError as exc:
        log.info("skipped %s: %s", file.path, exc)
        report.failed.append((file.path, str(exc)))
        tx.put_failure(key, file.size, file.mtime_ns, str(exc))
        return
    values = asdict(tags)
    values["title"] = values["title"] or title_from_filename(file.path)
    relative = _relative(file)
    mood = track_mood(relative, tags.mood_tag, tags.artist, tags.album_artist, tags.genre, tags.year, sidecar, priors,
                      model)
    tx.put_track(key, str(file.root), relative, file.size, file.mtime_ns, values, _mood_values(mood))
    if is_new:
        report.added += 1
    else:
        report.updated += 1


def refresh_moods(index: LibraryIndex, sidecars: dict[str, Sidecar], priors: Priors, model: MoodModel | None) -> int:
    """Recompute every track's mood (sidecars, priors or audio estimates may have changed); write only the
    differences. A root missing from sidecars has its moods.csv read here."""
    changes = 0
    with index.transaction() as tx:
        for row in index.mood_inputs():
            track_id, root, relative, mood_tag, artist, album_artist, genre, year, audio_json, *current = row
            if root not in sidecars:
                sidecars[root] = Sidecar.load(Path(root))
            mood = track_mood(relative, mood_tag, artist, album_artist, genre, year, sidecars[root], priors, model,
                              model_values(json.loads(audio_json)) if audio_json else None)
            new = (mood.valence, mood.energy, mood.mood, mood.source, mood.era_year, mood.confidence)
            if tuple(current) != new:
                tx.set_mood(track_id, *new)
                changes += 1
    return changes


def _mood_values(mood: TrackMood) -> dict[str, object]:
    return {"valence": mood.valence, "energy": mood.energy, "mood": mood.mood, "mood_source": mood.source,
            "era_year": mood.era_year, "mood_confidence": mood.confidence}


def _relative(file: _File) -> str:
    try:
        relative = file.path.relative_to(file.root)
    except ValueError:
        relative = Path(file.path.name)
    # Stored as text: undecodable bytes become U+FFFD (the exact path is kept as bytes elsewhere).
    return relative.as_posix().encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _walk_error(exc: OSError) -> None:
    log.warning("cannot read folder %s: %s", exc.filename, exc.strerror or exc)
