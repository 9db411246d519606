"""What a music source offers the player: SourceItem, and the MusicSource interface.

The local library and the online sources speak the same interface, so the core can ask
"give me N things for this mood" without knowing where they come from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from moodbox.readings import MoodState

SourceKind = Literal["library", "online"]


class OnlineError(Exception):
    """An online source could not answer (network down, timeout, HTTP error, unexpected answer).

    The message says what went wrong in words a user can act on.
    """


@dataclass(frozen=True)
class SourceItem:
    """One playable thing: a library file, a radio station stream or an online track."""

    uri: str  # a file path or an http(s) stream URL
    title: str  # track title, or the station's name
    artist: str  # artist, or "" for a station
    mood: str  # the music mood label it was picked for ("calm", "happy", ...)
    source: SourceKind  # "library" or "online"
    reason: str  # why it was picked, for the log and MQTT ("radio-browser tags chillout+90s")
    duration: float | None = None  # seconds; None for a live stream
    item_id: str = ""  # library track id, Radio Browser stationuuid, or Jamendo track id
    provider: str = "library"  # "library", "radio-browser" or "jamendo"
    album: str = ""  # library album, or the provider's name for online items


class MusicSource(Protocol):
    """Anything that can suggest music for a mood (the listeners' ages are in mood.ages)."""

    name: str

    def candidates(self, mood: MoodState, count: int) -> list[SourceItem]:
        """Up to `count` items for the mood, best first. Online sources raise OnlineError when they cannot answer."""
        ...
