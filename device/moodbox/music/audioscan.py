"""The scanner's audio pass: measure the audio of tracks nothing else describes, then re-derive their moods.

Runs after the tag pass (`moodbox scan`, and the daemon's library thread). Only tracks whose mood would
come from the year prior or nowhere (trackmood.AUDIO_REPLACES) and whose file (size, mtime) has no result
yet are decoded, so a rescan of an analysed library costs one query. Results (features, or why none)
are committed every `batch` files: a pass killed or stopped mid-way goes on where it stopped.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from moodbox.music.audiofeatures import AudioError, analyse_file
from moodbox.music.index import LibraryIndex
from moodbox.music.moodmodel import MoodModel, shipped_mood_model
from moodbox.music.priors import Priors, shipped_priors
from moodbox.music.scanner import LOG_EVERY_S, Progress, refresh_moods
from moodbox.music.trackmood import AUDIO_REPLACES

log = logging.getLogger(__name__)

BATCH = 8  # files per commit


@dataclass
class AudioReport:
    analysed: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    remaining: int = 0  # left for the next pass (stopped early)
    moods_changed: int = 0
    seconds: float = 0.0

    @property
    def per_track_ms(self) -> float:
        done = self.analysed + len(self.failed)
        return 1000 * self.seconds / done if done else 0.0

    def summary(self) -> str:
        text = (f"audio pass: {self.analysed} tracks analysed, {len(self.failed)} not decodable, "
                f"{self.moods_changed} moods changed ({self.seconds:.1f} s")
        text += f", {self.per_track_ms:.0f} ms a track)" if self.analysed + len(self.failed) else ")"
        return text + (f"; {self.remaining} left for the next pass" if self.remaining else "")

    def as_dict(self) -> dict[str, object]:
        return {"analysed": self.analysed, "failed": [[str(p), r] for p, r in self.failed],
                "remaining": self.remaining, "moods_changed": self.moods_changed, "seconds": round(self.seconds, 3),
                "ms_per_track": round(self.per_track_ms, 1)}


def scan_audio(index: LibraryIndex, progress: Progress | None = None, stop: threading.Event | None = None,
               batch: int = BATCH, priors: Priors | None = None, mood_model: MoodModel | None = None) -> AudioReport:
    """Analyse the tracks that need it (see the module), then re-derive every track's mood."""
    started = time.monotonic()
    report = AudioReport()
    pending = index.audio_pending(AUDIO_REPLACES)
    last_log = time.monotonic()
    done = 0
    for start in range(0, len(pending), batch):
        if stop is not None and stop.is_set():
            break
        results = []
        for path_bytes, size, mtime_ns, duration in pending[start:start + batch]:
            if stop is not None and stop.is_set():
                break
            path = Path(os.fsdecode(path_bytes))
            done += 1
            if progress is not None:
                progress(done, len(pending), path)
            if time.monotonic() - last_log > LOG_EVERY_S:
                log.info("audio pass: %d of %d files", done, len(pending))
                last_log = time.monotonic()
            try:
                results.append((path_bytes, size, mtime_ns, analyse_file(path, duration).as_dict(), None))
                report.analysed += 1
            except AudioError as exc:
                log.info("no audio features for %s: %s", path, exc)
                results.append((path_bytes, size, mtime_ns, None, str(exc)))
                report.failed.append((path, str(exc)))
        with index.transaction() as tx:
            for result in results:
                tx.put_audio(*result)
    report.remaining = len(pending) - report.analysed - len(report.failed)
    if report.analysed or report.failed:  # (a pass killed before this point: the tag pass's refresh does it)
        priors = priors if priors is not None else shipped_priors()
        model = mood_model if mood_model is not None else shipped_mood_model()
        report.moods_changed = refresh_moods(index, {}, priors, model)
        if report.moods_changed:
            index.bump_generation()
    report.seconds = time.monotonic() - started
    if pending:
        log.info("%s", report.summary())
    return report


class BackgroundAudioPass:
    """One audio pass at a time for an index, on its own thread (the tag scans go on meanwhile); asked
    again while it runs, it runs once more afterwards, so no request is lost."""

    def __init__(self, index: LibraryIndex, stop: threading.Event | None = None) -> None:
        self.index = index
        self.stop = stop if stop is not None else threading.Event()
        self.reports: list[AudioReport] = []
        self._lock = threading.Lock()
        self._again = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def request(self) -> threading.Thread:
        with self._lock:
            self._again = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audio-pass", daemon=True)
                self._thread.start()
            return self._thread

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._again or self.stop.is_set():
                    self._thread = None
                    return
                self._again = False
            try:
                self.reports.append(scan_audio(self.index, stop=self.stop))
            except Exception:  # noqa: BLE001 - an audio pass gone wrong must not end the daemon
                if self.stop.is_set():  # stopping: the index may be closed under it
                    log.debug("audio pass ended by the stop", exc_info=True)
                else:
                    log.exception("audio pass failed")


_passes: dict[int, BackgroundAudioPass] = {}
_passes_lock = threading.Lock()


def run_audio_pass(index: LibraryIndex, stop: threading.Event | None = None) -> threading.Thread:
    """The daemon's entry, called after each tag scan: start this index's background audio pass (or ask the
    running one for another round). Returns its thread; `stop` ends it at the next file."""
    with _passes_lock:
        background = _passes.get(id(index))
        if background is None or background.index is not index:
            background = _passes[id(index)] = BackgroundAudioPass(index, stop)
    return background.request()
