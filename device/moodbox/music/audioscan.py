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


def run_audio_pass(index: LibraryIndex, stop: threading.Event | None = None,
                   progress: Progress | None = None) -> AudioReport | None:
    """The daemon's entry (library thread, after the tag scan): scan_audio, never raising."""
    try:
        return scan_audio(index, progress, stop)
    except Exception:  # noqa: BLE001 - an audio pass gone wrong must not end the library thread
        log.exception("audio pass failed")
        return None
