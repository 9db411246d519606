"""Recommender: the room's mood + policy + listeners' ages + history -> an ordered queue with reasons.

Each queue position has a target point in valence/energy space (0..1), from the room -> target map
(music/targets.py; reasons in docs/music-moods.md):
  match: the room's own feel (an angry room: tense music; a neutral room: a typical track);
  lift:  iso principle, start at the room's mood and step toward uplifting music;
  calm:  iso principle, start at the room's mood and step down toward calm music.
A share `era_share` of positions prefers tracks from when a listener was 10-25 (reminiscence bump).
Hard rules: no explicit track with anyone under 13; no artist twice within `artist_gap`, no track twice
within `repeat_window` (both counted over recent plays + the queue), relaxed only when nothing else is left.
"""
from __future__ import annotations

import datetime
import logging
import math
import threading
from dataclasses import dataclass

import numpy as np

from moodbox.config import RecommendConfig
from moodbox.music.history import Feedback, History
from moodbox.music.index import LibraryIndex
from moodbox.music.targets import POLICIES, Step, plan
from moodbox.music.track import Track
from moodbox.readings import MoodState

log = logging.getLogger(__name__)

CHILD_AGE = 13  # anyone younger present -> no explicit tracks
ERA_START_AGE, ERA_END_AGE = 10, 25  # the reminiscence bump
NEAR = 0.25  # distance in mood space still called "near"
ERA_MAX_DISTANCE = 0.3  # an era track further than this from the target does not get the era slot
JITTER = 0.04  # random spread among almost equally good tracks (seeded)
FEEDBACK_WEIGHT = 0.06  # per point of history score (-5..5)
UNKNOWN_PENALTY = 0.08  # prefer tracks whose mood is known: times (1 - the mood's confidence)


@dataclass(frozen=True)
class QueueEntry:
    track: Track
    reason: str


@dataclass
class _Library:
    """The index as arrays, cached until the index changes."""

    generation: int
    ids: list[int]
    valence: np.ndarray
    energy: np.ndarray
    era_year: np.ndarray  # float, nan where unknown
    explicit: np.ndarray
    uncertainty: np.ndarray  # 1 - mood confidence: 0 for a mood tag, 1 for unknown
    artist_ids: np.ndarray  # int per track: same artist, same number; 0 = no artist
    position: dict[int, int]  # track id -> array position


class Recommender:
    def __init__(self, index: LibraryIndex, history: History, config: RecommendConfig | None = None,
                 now_year: int | None = None) -> None:
        self.index = index
        self.history = history
        self.config = config or RecommendConfig()
        self.now_year = now_year
        self._library: _Library | None = None
        self._lock = threading.Lock()  # the daemon's worker and the online fallback may both call recommend()

    def recommend(self, mood: MoodState, count: int | None = None, policy: str | None = None,
                  seed: int | None = None) -> list[QueueEntry]:
        count = count if count is not None else self.config.queue_length
        policy = policy or self.config.policy
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; one of {', '.join(POLICIES)}")
        seed = seed if seed is not None else self.config.seed
        rng = np.random.default_rng(seed)
        with self._lock:
            lib = self._load()
        if not lib.ids or count <= 0:
            return []
        year = self.now_year or datetime.date.today().year
        child_present = any(age < CHILD_AGE for age in mood.ages)
        allowed = ~lib.explicit if child_present else np.ones(len(lib.ids), dtype=bool)
        windows = _era_windows(mood.ages, year)
        feedback = self.history.feedback(mood.emotion)
        bonus = self._feedback_bonus(lib, feedback)
        recent = [lib.position[t] for t in self.history.recent_track_ids(
            max(self.config.repeat_window, self.config.artist_gap)) if t in lib.position]
        recent.reverse()  # oldest first, like the queue that follows it
        chosen: list[int] = []
        queue: list[QueueEntry] = []
        era_turn = 0
        for slot, step in enumerate(plan(mood, policy, count)):
            target = step.point
            window = None
            if windows and _is_era_slot(slot, self.config.era_share):
                window = windows[era_turn % len(windows)]
                era_turn += 1
            distance = np.hypot(lib.valence - target[0], lib.energy - target[1])
            score = -distance - UNKNOWN_PENALTY * lib.uncertainty + bonus + JITTER * rng.random(len(lib.ids))
            track = None
            while track is None:
                pick, notes = self._pick(lib, score, distance, allowed, window, recent + chosen, set(chosen))
                if pick is None:
                    break
                track = self.index.get(lib.ids[pick])
                if track is None:  # removed by a scan running right now: never mind it
                    allowed[pick] = False
            if pick is None or track is None:
                log.info("library exhausted after %d of %d tracks", len(queue), count)
                break
            chosen.append(pick)
            queue.append(QueueEntry(track, _reason(track, step, policy, window if "era" in notes else None,
                                                   float(distance[pick]), feedback.get(track.id),
                                                   [n for n in notes if n != "era"])))
        return queue

    def _feedback_bonus(self, lib: _Library, feedback: dict[int, Feedback]) -> np.ndarray:
        bonus = np.zeros(len(lib.ids))
        for track_id, fb in feedback.items():
            if track_id in lib.position:
                bonus[lib.position[track_id]] = FEEDBACK_WEIGHT * fb.score
        for track_id in self.history.disliked_anywhere() - set(feedback):
            if track_id in lib.position:  # disliked in another mood: a little less likely here too
                bonus[lib.position[track_id]] -= FEEDBACK_WEIGHT
        return bonus

    def _pick(self, lib: _Library, score: np.ndarray, distance: np.ndarray, allowed: np.ndarray,
              window: tuple[int, int] | None, context: list[int], queued: set[int]) -> tuple[int | None, list[str]]:
        """Best allowed track; the era, then the artist gap, then the repeat window give way only if needed."""
        base = allowed.copy()
        base[list(queued)] = False  # never twice in one queue
        recent = context[-self.config.repeat_window:] if self.config.repeat_window else []
        not_repeated = np.ones_like(base)
        not_repeated[recent] = False
        gap = context[-self.config.artist_gap:] if self.config.artist_gap else []
        gap_artists = {int(lib.artist_ids[i]) for i in gap} - {0}  # 0 = no artist: never blocked
        artist_free = ~np.isin(lib.artist_ids, list(gap_artists)) if gap_artists else np.ones_like(base)
        era = None
        if window is not None:
            era = (lib.era_year >= window[0]) & (lib.era_year <= window[1]) & (distance <= ERA_MAX_DISTANCE)
        attempts = [
            (base & not_repeated & artist_free & era if era is not None else None, "era"),
            (base & not_repeated & artist_free, ""),
            (base & not_repeated, "artist gap relaxed: library too small"),
            (base, "played recently: library too small"),
        ]
        for mask, note in attempts:
            if mask is not None and mask.any():
                return int(np.argmax(np.where(mask, score, -np.inf))), [note] if note else []
        return None, []

    def _load(self) -> _Library:
        generation = self.index.generation()
        if self._library is None or self._library.generation != generation:
            rows = self.index.recommend_table()
            numbers: dict[str, int] = {"": 0}
            self._library = _Library(
                generation=generation,
                ids=[row[0] for row in rows],
                valence=np.array([row[1] for row in rows], dtype=float),
                energy=np.array([row[2] for row in rows], dtype=float),
                era_year=np.array([row[3] or np.nan for row in rows], dtype=float),
                explicit=np.array([bool(row[4]) for row in rows], dtype=bool),
                uncertainty=np.array([_uncertainty(row[5], row[7]) for row in rows], dtype=float),
                artist_ids=np.array([numbers.setdefault(row[6] or "", len(numbers)) for row in rows], dtype=np.int64),
                position={row[0]: i for i, row in enumerate(rows)},
            )
        return self._library


def _era_windows(ages: tuple[float, ...], year: int) -> list[tuple[int, int]]:
    """Years each listener was 10-25; listeners too young to have one are left out."""
    windows = []
    for age in ages:
        born = year - int(round(age))
        start, end = born + ERA_START_AGE, min(year, born + ERA_END_AGE)
        if start <= year:
            windows.append((start, end))
    return windows


def _is_era_slot(slot: int, share: float) -> bool:
    """Spread era positions evenly: share 0.5 -> every other one, starting with the first."""
    return math.ceil(round((slot + 1) * share, 9)) > math.ceil(round(slot * share, 9))


def _reason(track: Track, step: Step, policy: str, window: tuple[int, int] | None,
            distance: float, feedback: Feedback | None, notes: list[str]) -> str:
    """Why a track is in the queue, as a sentence for a listener: "for a happy room: a happy song (its
    artist's usual sound), from 1998, when someone here was 15-25"."""
    steps = f" ({step.note.replace('/', ' of ')})" if step.note else ""
    aim = {"match": f"for {_a(step.name)} room", "lift": f"lifting the room{steps}: {step.name} music",
           "calm": f"calming the room{steps}: {step.name} music"}.get(policy, f"{policy}{steps}: {step.name} music")
    song = f"{_a(track.mood)} song ({_source_text(track.mood_source, track.mood_confidence)})"
    if track.mood_source == "unknown":
        song = "a song whose mood is not known yet"
    if distance > NEAR:
        song += ", the closest the library has"
    parts = [f"{aim}: {song}"]
    if window is not None:
        year = f"from {track.era_year}" if track.year else f"from around {track.era_year} (its artist's time)"
        parts.append(f"{year}, when someone here was {ERA_START_AGE}-{ERA_END_AGE}")
    if feedback is not None and feedback.describe():
        parts.append(f"in this mood it was {feedback.describe()}")
    parts.extend(NOTE_WORDS.get(note, note) for note in notes)
    return ", ".join(parts)


NOTE_WORDS = {"artist gap relaxed: library too small": "the same artist again (the library is small)",
              "played recently: library too small": "played not long ago (the library is small)"}


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


OWNER_SOURCES = ("tag", "sidecar", "folder")  # the owner said so: no confidence shown


def _uncertainty(source: str, confidence: float | None) -> float:
    if source in OWNER_SOURCES:
        return 0.0
    return 1.0 if source == "unknown" else 1.0 - min(1.0, max(0.0, confidence or 0.0))


def _source_text(source: str, confidence: float = 1.0) -> str:
    """Where a track's mood comes from, in words."""
    text = {"tag": "its own mood tag", "sidecar": "as you set it in moods.csv", "folder": "by its folder's name",
            "artist": "its artist's usual sound", "genre": "its genre's usual sound", "year": "music of its year",
            "audio": "how it sounds", "unknown": "mood not known yet"}.get(source, source)
    if source in OWNER_SOURCES or source == "unknown":
        return text
    return f"{text}, {confidence:.0%} sure"
