"""The queue's sources: the library index, the listening history, the recommender and the online fallback.

Opened on the worker (open()); the index is thread-safe, so the worker, the scan thread and the
adapters' queries all use it. recommend() runs on the worker and returns the next queue.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from moodbox.config import Config
from moodbox.core.state import StateBoard
from moodbox.readings import MoodState

log = logging.getLogger(__name__)


class TrackMoodTagged(ValueError):
    """A track's mood comes from its own tag, which moods.csv cannot override."""


class UnknownTrack(ValueError):
    """No library track has this id."""


class Library:
    def __init__(self, config: Config, board: StateBoard) -> None:
        self.config = config
        self.board = board
        self.state_dir = config.state_path
        self.index: Any = None
        self.history: Any = None
        self.recommender: Any = None
        self.online: Any = None  # OnlineFallback when online.enabled
        self.state: dict[str, Any] = {"status": "opening", "tracks": 0}

    def open(self) -> bool:
        """Open the index and history (worker). False, with the library state saying why, when they cannot be."""
        from moodbox.music import HISTORY_FILE, INDEX_FILE, History, LibraryIndex, Recommender

        try:
            self.index = LibraryIndex(self.state_dir / INDEX_FILE)
            self.history = History(self.state_dir / HISTORY_FILE)
        except Exception as exc:  # noqa: BLE001 - e.g. a state folder we may not write to
            log.exception("cannot open the library index in %s", self.state_dir)
            self.publish({"status": "error", "message": f"cannot open the library index: {exc}", "tracks": 0})
            return False
        self.recommender = Recommender(self.index, self.history, self.config.recommend)
        if self.config.online.enabled:
            from moodbox.online import OnlineFallback

            self.online = OnlineFallback(self.config, state_dir=self.state_dir)
        tracks = self.count()
        self.publish({"status": "ready" if tracks else "empty", "tracks": tracks})
        return True

    def publish(self, state: dict[str, Any]) -> None:
        self.state = state
        self.board.set("library", state)

    def count(self) -> int:
        return int(self.index.count()) if self.index is not None else 0

    # ----- the queue (worker) -----

    def recommend(self, mood: MoodState, policy: str) -> tuple[list[Any], list[str]]:
        """The next queue for a mood: play items and why each was chosen (empty before the index is open)."""
        from moodbox.player import PlayItem

        if self.recommender is None:
            return [], []
        count = self.config.recommend.queue_length
        entries = self.recommender.recommend(mood, count=count, policy=policy)
        items = [
            PlayItem(path=str(e.track.path), title=e.track.title, artist=e.track.artist, album=e.track.album,
                     mood=e.track.mood, source="library", track_id=e.track.id, duration=e.track.duration or None)
            for e in entries
        ]
        reasons = [e.reason for e in entries]
        if self.online is not None:
            try:
                items, reasons = self._with_online(mood, policy, count, entries, items, reasons)
            except Exception:  # noqa: BLE001 - the library queue plays whatever goes wrong online
                log.exception("online fallback failed; playing the library queue")
        return items, reasons

    def _with_online(self, mood: MoodState, policy: str, count: int, entries: list[Any], items: list[Any],
                     reasons: list[str]) -> tuple[list[Any], list[str]]:
        """online.enabled: when too few library tracks fit the mood, the fitting ones first, then online
        items (radio stations, Jamendo tracks) for the rest. Offline or no answer: the library queue as is."""
        from moodbox.online import count_matches, to_play_item

        fits = [i for i, entry in enumerate(entries) if count_matches([entry], mood)]
        extra = self.online.items_for(mood, len(fits), count - len(fits), policy)
        if not extra:
            return items, reasons
        return ([items[i] for i in fits] + [to_play_item(x) for x in extra],
                [reasons[i] for i in fits] + [x.reason for x in extra])

    # ----- feedback (worker) -----

    def record_play(self, track_id: int, emotion: str, listened: float, duration: float, skipped: bool) -> None:
        if self.history is not None:
            self.history.record_play(track_id, emotion, listened, duration, skipped)

    def rate(self, track_id: int, emotion: str, liked: bool) -> None:
        if self.history is not None:
            (self.history.like if liked else self.history.dislike)(track_id, emotion)

    def online_failed(self, item_id: str, error: str) -> None:
        if self.online is not None:
            self.online.report_failed(item_id, error)

    # ----- queries (any thread) -----

    def recent_plays(self, limit: int = 50) -> list[dict[str, Any]]:
        """What was played lately (newest first): the track, the room's mood then, skipped, likes."""
        if self.history is None:
            return []
        plays = self.history.recent_plays(limit)
        for play in plays:
            track = self.index.get(play["track_id"]) if self.index is not None else None
            play.update({"title": track.title if track else None, "artist": track.artist if track else None})
        return plays

    def search(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Library tracks matching `text` in title, artist, album or genre, with their mood and its source."""
        if self.index is None:
            return []
        return [_track_dict(t) for t in self.index.search(text, limit)]

    def artists(self) -> list[dict[str, Any]]:
        if self.index is None:
            return []
        return [{"name": name, "albums": albums, "tracks": tracks} for name, albums, tracks in self.index.artists()]

    def albums(self, artist: str | None = None) -> list[dict[str, Any]]:
        return self.index.albums(artist) if self.index is not None else []

    def album(self, album_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(the album, its tracks), or None."""
        tracks = self.index.album_tracks(album_id) if self.index is not None else []
        if not tracks:
            return None
        first = tracks[0]
        album = {"id": album_id, "title": first.album, "artist": first.album_artist or first.artist,
                 "year": max((t.year for t in tracks if t.year), default=None), "tracks": len(tracks),
                 "duration": round(sum(t.duration or 0.0 for t in tracks), 1)}
        return album, [_track_dict(t) for t in tracks]

    def with_mood(self, mood: str, limit: int) -> list[dict[str, Any]]:
        return [_track_dict(t) for t in self.index.tracks_with_mood(mood, limit)] if self.index is not None else []

    def mood_counts(self) -> dict[str, int]:
        return dict(self.index.mood_counts()) if self.index is not None else {}

    def play_items(self, track_ids: list[int]) -> list[Any]:
        """Play items for library tracks, in the order given; raises UnknownTrack for an id with no track."""
        from moodbox.player import PlayItem

        items = []
        for track_id in track_ids:
            track = self.index.get(track_id) if self.index is not None else None
            if track is None:
                raise UnknownTrack(f"no library track with id {track_id}")
            items.append(PlayItem(path=str(track.path), title=track.title, artist=track.artist, album=track.album,
                                  mood=track.mood, source="library", track_id=track.id,
                                  duration=track.duration or None))
        return items

    def track_file(self, track_id: int) -> Path | None:
        track = self.index.get(track_id) if self.index is not None else None
        return track.path if track else None

    def set_track_mood(self, track_id: int, mood: str | None, rescan: Callable[[], None]) -> Path:
        """Write the owner's correction to `moods.csv` in the track's library folder, then rescan.
        Raises ValueError (unknown track or mood), TrackMoodTagged or OSError (folder not writable)."""
        from moodbox.music.sidecar import set_sidecar_mood

        where = self.index.location(track_id) if self.index is not None else None
        track = self.index.get(track_id) if where is not None else None
        if where is None or track is None:
            raise UnknownTrack(f"no library track with id {track_id}")
        if track.mood_source == "tag" and mood is not None:
            raise TrackMoodTagged(f"{where[1]} has a mood tag ({track.mood_tag!r}), which wins over moods.csv: "
                                  "change the tag in a tag editor instead")
        path = set_sidecar_mood(where[0], where[1], mood)
        log.info("mood of %s %s in %s", where[1], f"set to {mood}" if mood else "correction removed", path)
        rescan()
        return path

    def close(self) -> None:
        for part in (self.history, self.index):
            if part is None:
                continue
            try:
                part.close()
            except Exception:  # noqa: BLE001
                log.exception("closing %s failed", type(part).__name__)


def _track_dict(t: Any) -> dict[str, Any]:
    """A library track as the API and the page show it."""
    return {"track_id": t.id, "title": t.title, "artist": t.artist, "album": t.album, "year": t.year,
            "genre": t.genre, "duration": t.duration, "track_number": t.track_number, "mood": t.mood,
            "mood_source": t.mood_source, "mood_confidence": round(t.mood_confidence, 3)}
