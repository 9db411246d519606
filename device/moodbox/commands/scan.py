"""moodbox scan [FOLDER ...]"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HELP = "scan the music library (library.path) into the index in the state folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="*", type=Path, help="folders to scan instead of library.path")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-audio", action="store_true",
                        help="skip the audio pass (estimating moods from the audio of tracks nothing else describes)")
    parser.add_argument("--all-failed", action="store_true", help="list every skipped file (default: the first 20)")


class TerminalProgress:
    """One self-rewriting status line on stderr, at most 10 updates a second."""

    def __init__(self, label: str = "scanning") -> None:
        self.label = label
        self.last = 0.0

    def __call__(self, done: int, total: int, path: Path) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and done != total:
            return
        self.last = now
        width = shutil.get_terminal_size((80, 20)).columns
        head = f"{self.label} {done}/{total} {100 * done // max(total, 1):3d}% "
        name = os.fsdecode(path.name).encode("utf-8", "replace").decode("utf-8")
        line = (head + name)[: width - 1]
        sys.stderr.write("\r" + line.ljust(width - 1))
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def main(args: argparse.Namespace) -> int:
    from moodbox.commands.common import config_or_exit
    from moodbox.music import INDEX_FILE, LibraryIndex, choose_roots, scan_library
    from moodbox.music.audioscan import scan_audio

    config = config_or_exit(args)
    roots = args.folders or choose_roots(config.library_paths, config.resolve_path(config.library.demo_path))
    tty = sys.stderr.isatty()
    with LibraryIndex(config.state_path / INDEX_FILE) as index:
        report = scan_library(roots, index, TerminalProgress() if tty else None)
        audio = None
        if not args.no_audio and config.library.audio_analysis:
            audio = scan_audio(index, TerminalProgress("analysing audio") if tty else None)
        moods, sources, confidence = index.mood_counts(), index.source_counts(), index.confidence_by_source()
        tracks = _track_rows(index) if args.json else []
    failed = [(_text(p), reason) for p, reason in report.failed]
    if args.json:
        print(json.dumps({"roots": [str(r) for r in roots], "added": report.added, "updated": report.updated,
                          "removed": report.removed, "unchanged": report.unchanged, "failed": failed,
                          "seconds": round(report.seconds, 3), "moods": moods, "mood_sources": sources,
                          "mood_confidence": confidence, "audio": audio.as_dict() if audio else None,
                          "tracks": tracks}, indent=2))
        return 0
    print(f"{', '.join(map(str, roots))}: {report.summary()}")
    if audio is not None:
        print(audio.summary())
    print("moods: " + ", ".join(f"{m} {n}" for m, n in sorted(moods.items())))
    print("mood from: " + ", ".join(f"{s} {n}" + (f" ({confidence[s]:.0%} sure on average)" if 0 < confidence.get(s, 0) < 1
                                                   else "") for s, n in sorted(sources.items())))
    shown = failed if args.all_failed else failed[:20]
    if shown:
        print("skipped:")
        for path, reason in shown:
            print(f"  {path}: {reason}")
        if len(failed) > len(shown):
            print(f"  ... and {len(failed) - len(shown)} more (--all-failed lists them)")
    return 0


def _text(path: Path) -> str:
    return str(path).encode("utf-8", "replace").decode("utf-8")


def _track_rows(index) -> list[dict[str, object]]:  # index: LibraryIndex
    """Every track's mood, where it came from and how sure it is; the audio estimate's figures where measured."""
    audio = index.audio_results()
    rows = []
    for track in index.tracks():
        features, why_not = audio.get(track.path, (None, None))
        row: dict[str, object] = {"path": _text(track.path), "title": track.title, "artist": track.artist,
                                  "mood": track.mood, "mood_source": track.mood_source,
                                  "mood_confidence": round(track.mood_confidence, 3)}
        if features is not None:
            row["audio"] = {k: features[k] for k in ("loudness_db", "onset_rate", "tempo", "energy", "centroid_hz",
                                                     "key", "key_strength") if k in features}
        elif why_not is not None:
            row["audio_failed"] = why_not
        rows.append(row)
    return rows
