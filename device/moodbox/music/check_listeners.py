"""Check the index's valence/energy and the queues against listeners' own ratings (Deezer mood dataset).

Part of `python -m moodbox.music.check_mapping`. A library of one tiny audio file per track, tagged only
with artist and title, is scanned by the real scanner with the shipped tables; then
  (d) coverage (tracks whose mood is not unknown) and Pearson r of the index's valence with listener
      valence and of its energy with listener arousal, over all tracks (unknown ones included);
  (e) the queue check: for each face emotion x policy, the queue the recommender builds (count 40,
      seeds 0, 1, 2, default settings, as `moodbox recommend --count 40`), scored by the mean listener
      valence/arousal of its tracks, z-scored against the whole library; first and last thirds too;
  (f) the issue's targets, each PASS or FAIL.
"""
from __future__ import annotations

import csv
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodbox.config import RecommendConfig
from moodbox.readings import EMOTIONS, MoodState

DEFAULT_DEEZER = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "music" / "deezer" / "validation.csv"
POLICIES = ("match", "lift", "calm")
QUEUE_LENGTH = 40
SEEDS = (0, 1, 2)
# The targets.
R_VALENCE, R_AROUSAL = 0.24, 0.27
HAPPY_SAD_GAP = 0.9
TENSE_ROOM_VALENCE = -0.4  # angry and fear under match: at most
CALM_DROP = -0.4  # calm from angry: the queue's mean arousal, at most
LIFT_RISE = 0.3  # lift from sad: last third's valence above the first's, at least
NEUTRAL_BAND = 0.3


@dataclass(frozen=True)
class QueueFigures:
    valence: float  # mean listener valence (z) of the queue's tracks, over the seeds
    arousal: float
    first: tuple[float, float]  # (valence, arousal) of the first third
    last: tuple[float, float]
    size: int  # tracks per queue (smallest over the seeds)


@dataclass(frozen=True)
class ListenerFigures:
    tracks: int
    sources: Counter[str]
    r_valence: float
    r_arousal: float
    moods: Counter[str]
    queues: dict[tuple[str, str], QueueFigures]  # (emotion, policy) -> figures
    seconds: float

    @property
    def coverage(self) -> float:
        return 1 - self.sources.get("unknown", 0) / max(1, self.tracks)


def read_ratings(path: Path) -> list[tuple[str, str, float, float]]:
    """(artist, title, valence, arousal) per row of a Deezer split (ValueError if the columns are not there)."""
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    needed = {"artist_name", "track_name", "valence", "arousal"}
    if not rows or not needed <= set(rows[0]):
        raise ValueError(f"{path}: needs the columns {', '.join(sorted(needed))}")
    return [(r["artist_name"], r["track_name"], float(r["valence"]), float(r["arousal"])) for r in rows]


def write_library(ratings: list[tuple[str, str, float, float]], folder: Path) -> str:
    """One tiny audio file per row, named by its row number, tagged with artist and title only; the suffix."""
    from moodbox.music.synth import Style, can_write, render, write_audio
    from moodbox.music.tagwriter import write_tags

    suffix = ".flac" if can_write(".flac") else ".wav"
    template = write_audio(folder / f"template{suffix}", render(Style(bpm=100), 0.2))
    library = folder / "library"
    library.mkdir()
    for i, (artist, title, _, _) in enumerate(ratings):
        path = library / f"{i:05d}{suffix}"
        shutil.copyfile(template, path)
        write_tags(path, title=title, artist=artist)
    return suffix


def zscores(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() or 1.0)


def evaluate_listeners(csv_path: Path, progress: bool = True) -> ListenerFigures:
    """Scan the tagged library and build the queues; all figures (see the module's doc)."""
    from moodbox.music.history import History
    from moodbox.music.index import LibraryIndex
    from moodbox.music.recommender import Recommender
    from moodbox.music.scanner import scan_library

    started = time.monotonic()
    ratings = read_ratings(csv_path)
    valence_z = zscores(np.array([r[2] for r in ratings]))
    arousal_z = zscores(np.array([r[3] for r in ratings]))
    with tempfile.TemporaryDirectory(prefix="moodbox-listeners-") as tmp:
        folder = Path(tmp)
        write_library(ratings, folder)
        if progress:
            print(f"[check] wrote {len(ratings)} tagged files ({time.monotonic() - started:.1f} s)", file=sys.stderr)
        with LibraryIndex(folder / "library.db") as index, History(folder / "history.db") as history:
            report = scan_library([folder / "library"], index)
            if report.failed:
                raise RuntimeError(f"scanner skipped {len(report.failed)} files: {report.failed[0]}")
            tracks = index.tracks()
            row_of = {t.id: int(t.path.stem) for t in tracks}
            order = [row_of[t.id] for t in tracks]
            r_valence = float(np.corrcoef([t.valence for t in tracks], valence_z[order])[0, 1])
            r_arousal = float(np.corrcoef([t.energy for t in tracks], arousal_z[order])[0, 1])
            recommender = Recommender(index, history, RecommendConfig(), now_year=2026)
            queues = {}
            for emotion in EMOTIONS:
                for policy in POLICIES:
                    rows = [[row_of[e.track.id] for e in recommender.recommend(
                        MoodState.from_emotion(emotion, source="override"), QUEUE_LENGTH, policy, seed)]
                        for seed in SEEDS]
                    queues[(emotion, policy)] = _queue_figures(rows, valence_z, arousal_z)
        if progress:
            print(f"[check] scanned {report.total} tracks ({report.seconds:.1f} s), built "
                  f"{len(queues) * len(SEEDS)} queues", file=sys.stderr)
    return ListenerFigures(len(tracks), Counter(t.mood_source for t in tracks), r_valence, r_arousal,
                           Counter(t.mood for t in tracks), queues, time.monotonic() - started)


def _queue_figures(queues: list[list[int]], valence_z: np.ndarray, arousal_z: np.ndarray) -> QueueFigures:
    def mean(part: slice) -> tuple[float, float]:
        rows = [row for queue in queues for row in queue[part]]
        return float(valence_z[rows].mean()), float(arousal_z[rows].mean())

    size = min(len(q) for q in queues)
    third = max(1, size // 3)
    everything = mean(slice(None))
    return QueueFigures(everything[0], everything[1], mean(slice(0, third)), mean(slice(size - third, size)), size)


def targets(f: ListenerFigures) -> list[tuple[str, bool]]:
    """The issue's targets on these figures: (what, holds)."""
    q = f.queues
    gap = q[("happy", "match")].valence - q[("sad", "match")].valence
    calm = q[("angry", "calm")]
    lift = q[("sad", "lift")]
    neutral = q[("neutral", "match")]
    return [
        (f"r valence {f.r_valence:.3f} >= {R_VALENCE}", f.r_valence >= R_VALENCE),
        (f"r arousal {f.r_arousal:.3f} >= {R_AROUSAL}", f.r_arousal >= R_AROUSAL),
        (f"happy - sad (match) valence gap {gap:+.2f} SD >= {HAPPY_SAD_GAP}", gap >= HAPPY_SAD_GAP),
        (f"angry (match) valence {q[('angry', 'match')].valence:+.2f} SD <= {TENSE_ROOM_VALENCE}",
         q[("angry", "match")].valence <= TENSE_ROOM_VALENCE),
        (f"fear (match) valence {q[('fear', 'match')].valence:+.2f} SD <= {TENSE_ROOM_VALENCE}",
         q[("fear", "match")].valence <= TENSE_ROOM_VALENCE),
        (f"calm from angry: queue arousal {calm.arousal:+.2f} SD <= {CALM_DROP}", calm.arousal <= CALM_DROP),
        (f"lift from sad: last third - first third valence {lift.last[0] - lift.first[0]:+.2f} SD >= {LIFT_RISE}",
         lift.last[0] - lift.first[0] >= LIFT_RISE),
        (f"neutral (match): valence {neutral.valence:+.2f}, arousal {neutral.arousal:+.2f} SD within "
         f"+-{NEUTRAL_BAND}", abs(neutral.valence) <= NEUTRAL_BAND and abs(neutral.arousal) <= NEUTRAL_BAND),
    ]


def print_listener_figures(csv_path: Path, f: ListenerFigures,
                           name_of: Callable[[str, str], str] | None = None) -> None:
    """name_of(emotion, policy): the target's name, shown beside each queue."""
    print(f"(d) listeners' ratings, {csv_path}: {f.tracks} tracks tagged with artist + title only, scanned "
          f"({f.seconds:.0f} s)")
    print(f"  coverage {f.coverage:.3f} (" + ", ".join(f"{s} {n}" for s, n in f.sources.most_common()) + ")")
    print(f"  Pearson r over all tracks: index valence vs listener valence {f.r_valence:.3f}, "
          f"index energy vs listener arousal {f.r_arousal:.3f}")
    print("  moods: " + ", ".join(f"{m} {n}" for m, n in f.moods.most_common()))
    print(f"(e) queues (count {QUEUE_LENGTH}, seeds {', '.join(map(str, SEEDS))}): mean listener valence / arousal, "
          "z against the library; first and last thirds")
    for (emotion, policy), q in f.queues.items():
        name = f" [{name_of(emotion, policy)}]" if name_of is not None else ""
        line = f"  {emotion:>8} {policy:<5} valence {q.valence:+.2f} arousal {q.arousal:+.2f}"
        if policy != "match":
            line += (f"   first third {q.first[0]:+.2f} / {q.first[1]:+.2f}, last third "
                     f"{q.last[0]:+.2f} / {q.last[1]:+.2f}")
        print(line + name)
    print("(f) targets")
    for what, holds in targets(f):
        print(f"  {'PASS' if holds else 'FAIL'}  {what}")
    calm = f.queues[("angry", "calm")]
    print(f"  info  calm from angry, step by step: arousal first third {calm.first[1]:+.2f}, last third "
          f"{calm.last[1]:+.2f} SD ({calm.last[1] - calm.first[1]:+.2f})")
