"""What the player works with: queue items, its status, its errors and the event callback type."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Callable, Literal

EventCallback = Callable[[str, dict[str, Any]], None]
PlayerState = Literal["playing", "paused", "stopped"]


class PlayerError(Exception):
    """The player cannot work (mpv missing, cannot start, IPC broken)."""


class MpvCommandError(PlayerError):
    """mpv answered a command with an error."""


@dataclass
class PlayItem:
    """One entry of the queue: a local file or a stream URL plus what to show about it."""

    path: str
    title: str = ""
    artist: str = ""
    album: str = ""
    mood: str = ""
    source: Literal["library", "online"] = "library"
    track_id: int | str | None = None
    duration: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PlayItem":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        if "path" not in known:
            raise ValueError(f"queue item without 'path': {data!r}")
        return cls(**known)

    @property
    def label(self) -> str:
        if self.title:
            return f"{self.artist} - {self.title}" if self.artist else self.title
        return os.path.basename(self.path.rstrip("/")) or self.path


@dataclass(frozen=True)
class PlayerStatus:
    state: PlayerState
    index: int | None
    item: PlayItem | None
    position: float
    duration: float | None
    volume: int
    queue_length: int = 0
    restarts: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["item"] = self.item.to_dict() if self.item else None
        return data
