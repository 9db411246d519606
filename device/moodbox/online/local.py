"""The local library as a MusicSource: a thin adapter around moodbox.music's Recommender."""
from __future__ import annotations

import math
from typing import Sequence

from moodbox.music.moods import to_track_space
from moodbox.music.recommender import NEAR, QueueEntry, Recommender
from moodbox.online.source import SourceItem
from moodbox.readings import MoodState

# A library track "matches" the room when its (valence, energy) lies this close to the room's mood:
# the radius the recommender calls "fits".
MATCH_DISTANCE = NEAR


class LocalLibrarySource:
    """Library tracks for a mood, in the recommender's order, as SourceItems."""

    name = "library"

    def __init__(self, recommender: Recommender, policy: str | None = None):
        self.recommender = recommender
        self.policy = policy  # None: the recommender's configured policy

    def candidates(self, mood: MoodState, count: int) -> list[SourceItem]:
        entries = self.recommender.recommend(mood, count=count, policy=self.policy)
        return [library_item(entry) for entry in entries]


def library_item(entry: QueueEntry) -> SourceItem:
    track = entry.track
    return SourceItem(
        uri=str(track.path),
        title=track.title,
        artist=track.artist,
        album=track.album,
        mood=track.mood,
        source="library",
        reason=entry.reason,
        duration=track.duration or None,
        item_id=str(track.id),
        provider="library",
    )


def count_matches(entries: Sequence[QueueEntry], mood: MoodState, max_distance: float = MATCH_DISTANCE) -> int:
    """How many recommended tracks really fit the room's mood: a known mood within `max_distance` of it.

    This is the `local_matches` that OnlineFallback.items_for compares with online.min_local_matches.
    """
    room = to_track_space(mood.valence, mood.arousal)
    return sum(1 for e in entries
               if e.track.mood_source != "unknown"
               and math.hypot(e.track.valence - room[0], e.track.energy - room[1]) <= max_distance)
