"""Keeps the index in line with the music folders, on a thread of its own (the music plays on meanwhile).

No playable music in library.path: the generated demo library stands in, and says so in the log.
After each scan, library.audio_analysis runs the audio pass on the same thread.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from moodbox.config import Config
from moodbox.core.library import Library

log = logging.getLogger(__name__)


class LibraryScanner:
    def __init__(self, config: Config, library: Library, stopping: threading.Event,
                 on_done: Callable[[], None]) -> None:
        self.config = config
        self.library = library
        self.stopping = stopping
        self.on_done = on_done  # called on the scan thread after every scan, good or bad
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            log.info("a library scan is already running")
            return
        self._thread = threading.Thread(target=self._scan, name="library-scan", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)  # it stops at the next file

    def _scan(self) -> None:
        try:
            self._scan_once()
        except InterruptedError:
            return  # stopping
        except Exception as exc:  # noqa: BLE001 - a bad library must not end the daemon
            log.exception("library scan failed")
            self.library.publish({"status": "error", "message": str(exc), "tracks": self.library.count()})
        self.on_done()
        index = self.library.index
        if self.config.library.audio_analysis and index is not None:  # its own thread, after each scan
            from moodbox.music.audioscan import run_audio_pass
            run_audio_pass(index, self.stopping)

    def _scan_once(self) -> None:
        from moodbox.music import scan_library

        index = self.library.index
        if index is None:
            return  # the index could not be opened (its error state stays)
        roots, demo = self._library_roots()
        self.library.publish({"status": "scanning", "tracks": self.library.count(), "roots": [str(r) for r in roots],
                              "demo": demo})

        def progress(*_: Any) -> None:
            if self.stopping.is_set():
                raise InterruptedError("stopping")

        # Audio files there but none playable: the demo library stands in. While it does, it stays
        # indexed during the next scans (no gap in what the recommender sees).
        extra: list[Path] = []
        if not demo and index.count(roots) == 0 and index.count([self._demo_dir()]) > 0:
            extra = [self._demo_dir()]
        report = scan_library(roots + extra, index, progress)
        if not demo and index.count(roots) == 0:
            unreadable = sum(1 for path, _ in report.failed if any(path.is_relative_to(r) for r in roots))
            if index.count(extra) == 0:  # not in yet, or its folder was deleted meanwhile
                extra = [self._demo_library()]
                report = scan_library(roots + extra, index, progress)
            log.warning("no playable track in library.path (%s): %d audio files skipped as unreadable "
                        "(reasons below; `moodbox scan` lists them all); playing the demo library %s instead",
                        ", ".join(map(str, roots)), unreadable, extra[0])
            demo = True
        elif extra:
            log.info("library.path has playable music again; the demo library is left out")
            extra = []
            report = scan_library(roots, index, progress)
        roots = roots + extra
        names = [str(r) for r in roots]
        tracks = self.library.count()
        if tracks == 0:
            log.warning("no playable music found in %s", ", ".join(names))
        for path, why in report.failed[:20]:
            log.warning("library: skipped %s: %s", path, why)
        self.library.publish({"status": "ready" if tracks else "empty", "tracks": tracks, "roots": names,
                              "demo": demo, "last_scan": round(time.time()), "added": report.added,
                              "updated": report.updated, "removed": report.removed, "failed": len(report.failed),
                              "scan_seconds": round(report.seconds, 1)})

    def _library_roots(self) -> tuple[list[Path], bool]:
        """The configured folders that hold audio files, or else the demo library (generated when missing)."""
        roots = [p for p in self.config.library_paths if has_audio(p)]
        if roots:
            return roots, False
        demo = self._demo_library()
        log.warning("no music found in library.path (%s); playing the demo library %s instead. "
                    "Put music there or set library.path in the config.",
                    ", ".join(str(p) for p in self.config.library_paths) or "empty", demo)
        return [demo], True

    def _demo_dir(self) -> Path:
        """library.demo_path, or the copy in state_dir made when that folder could not be written."""
        from moodbox.music.demo import MARKER

        demo = self.config.resolve_path(self.config.library.demo_path)
        spare = self.config.state_path / "demo-library"
        if not (demo / MARKER).exists() and (spare / MARKER).exists():
            return spare
        return demo

    def _demo_library(self) -> Path:
        """The demo library's folder, generated first when it is missing or incomplete."""
        from moodbox.music.demo import MARKER, make_demo_library

        demo = self._demo_dir()
        if not (demo / MARKER).exists():  # the marker is written last: a run cut short is completed
            log.info("generating the demo library in %s (once)", demo)
            try:
                make_demo_library(demo)
            except OSError as exc:  # e.g. read-only under systemd's ProtectSystem=strict
                spare = self.config.state_path / "demo-library"
                log.warning("cannot write the demo library to %s (%s); writing it to %s", demo, exc, spare)
                make_demo_library(spare)
                demo = spare
        return demo


def has_audio(root: Path) -> bool:
    """True when the folder (or one below it) holds at least one audio file; stops at the first."""
    from moodbox.music.tags import AUDIO_EXTENSIONS

    if not root.is_dir():
        return False
    for _, _, files in os.walk(root):
        # hidden files are skipped: half-written demo tracks are hidden until complete
        if any(Path(name).suffix.lower() in AUDIO_EXTENSIONS and not name.startswith(".") for name in files):
            return True
    return False
