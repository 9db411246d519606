"""The play queue: its items, where in it we are, and what to save to resume it after a reboot.

It lives on the Python side (mpv gets one file at a time). Not thread-safe: the player's lock guards it.
"""
from __future__ import annotations

import logging
from typing import Any

from moodbox.player.items import PlayerState, PlayItem

log = logging.getLogger(__name__)

# previous() restarts the current track instead when it has played longer than this.
PREVIOUS_RESTARTS_AFTER_S = 5.0


class PlayQueue:
    """Items, the current index and position, and per-queue counts of failures and crashes."""

    def __init__(self) -> None:
        self.items: list[PlayItem] = []
        self.index: int | None = None
        self.position = 0.0
        self.duration: float | None = None  # as mpv reports it for the current item
        self.failed = 0  # items of this queue that could not be played
        self.crashes = 0  # mpv crashes in a row on the item at crash_index
        self.crash_index: int | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def current(self) -> PlayItem | None:
        return self.items[self.index] if self.index is not None else None

    def known_duration(self) -> float | None:
        """mpv's duration of the current item, else the one its tags gave."""
        item = self.current
        return self.duration if self.duration is not None else (item.duration if item else None)

    def load(self, items: list[PlayItem], index: int, position: float) -> None:
        self.items = list(items)
        self.index = max(0, min(index, len(self.items) - 1)) if self.items else None
        self.position = max(0.0, float(position)) if self.items else 0.0
        self.duration = None
        self.crashes = 0
        self.failed = 0

    def go_to(self, index: int, position: float) -> None:
        self.index = index
        self.position = position
        self.duration = None
        if index != self.crash_index:
            self.crashes = 0

    def finish(self) -> None:
        """Past the end: stay on the last item, at its start."""
        self.index = len(self.items) - 1 if self.items else None
        self.position = 0.0

    def previous_index(self) -> int:
        """The item before; the current one again after a few seconds of play or on the first."""
        assert self.index is not None
        target = self.index - 1
        if self.position > PREVIOUS_RESTARTS_AFTER_S or target < 0:
            target = self.index
        return target

    def count_crash(self) -> int:
        """mpv crashed on the current item: how many times in a row now."""
        if self.index == self.crash_index:
            self.crashes += 1
        else:
            self.crash_index, self.crashes = self.index, 1
        return self.crashes

    def entry(self) -> dict[str, Any]:
        """The current item for an event: {index, item}."""
        item = self.current
        return {"index": self.index, "item": item.to_dict() if item else None}

    def payload(self) -> dict[str, Any]:
        """The current item and position for an event: {index, item, position}."""
        return {**self.entry(), "position": round(self.position, 3)}

    def export_state(self, state: PlayerState) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "index": self.index,
            "position": round(self.position, 3),
            "state": state,
        }

    @staticmethod
    def restore_args(state: dict[str, Any]) -> dict[str, Any]:
        """Arguments for load() from export_state()'s dict; bad entries are skipped with a warning."""
        items: list[PlayItem] = []
        for raw in state.get("items") or []:
            try:
                items.append(PlayItem.from_dict(raw))
            except (TypeError, ValueError) as exc:
                log.warning("saved queue: skipping a bad entry: %s", exc)
        index = state.get("index")
        position = state.get("position")
        return {
            "items": items,
            "index": index if isinstance(index, int) else 0,
            "position": float(position) if isinstance(position, (int, float)) else 0.0,
        }
