"""Playback: the supervised mpv player, the queue with why each track is in it, the volume, and resume.

Loop thread only, except queue() (any thread, read-only). Publishes the player and volume states.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from moodbox.config import Config
from moodbox.core.state import StateBoard

log = logging.getLogger(__name__)


class Playback:
    def __init__(self, config: Config, board: StateBoard, on_event: Callable[[str, dict[str, Any]], None]) -> None:
        self.config = config
        self.board = board
        self.on_event = on_event  # called on the player's notifier thread
        self.player: Any = None
        self.volume = min(config.audio.start_volume, config.audio.max_volume)
        self.reasons: list[str] = []
        self.queue_finished = False  # the player ran past the last track
        self.resumed_quiet = False  # resumed a paused queue: the first automatic queue does not play
        self.picked = False  # the owner chose this queue (the room's mood does not replace it until it ends)

    def start(self) -> None:
        """Raises PlayerError when mpv cannot run at all."""
        from moodbox.player import MpvPlayer

        self.player = MpvPlayer(self.config.audio, on_event=self.on_event)
        self.player.start()
        self.player.set_volume(self.volume)

    def close(self) -> None:
        if self.player is not None:
            self.player.close()

    # ----- commands -----

    def call(self, name: str) -> None:
        """play, pause, toggle, next, previous or stop."""
        getattr(self.player, name)()
        self.refresh_state()

    def set_volume(self, volume: int) -> None:
        self.volume = self.player.set_volume(volume)
        self.publish_volume()

    def volume_changed(self, volume: int) -> None:
        """mpv reported a volume (e.g. after a restart)."""
        self.volume = volume
        self.publish_volume()

    def load(self, items: list[Any], reasons: list[str], play: bool, picked: bool = False) -> None:
        self.reasons = reasons
        self.queue_finished = False
        self.picked = picked
        self.player.load(items, play=play)
        self.refresh_state()

    def add(self, items: list[Any], reasons: list[str], next_up: bool) -> None:
        """Hand-picked tracks after the current one or at the end of the queue."""
        index = self.player.status().index
        at = len(self.reasons) if not next_up or index is None else index + 1
        self.reasons[at:at] = reasons
        self.player.insert(items, next_up)
        self.picked = True
        self.refresh_state()

    def seek(self, seconds: float) -> None:
        self.player.seek(seconds)
        self.refresh_state(position_changed=True)  # a seek is news: pages and MQTT show the new position

    def ran_out(self) -> None:
        """The player played past the last track."""
        self.queue_finished = True

    # ----- what plays -----

    def reason_at(self, index: Any) -> str | None:
        return self.reasons[index] if isinstance(index, int) and 0 <= index < len(self.reasons) else None

    def needs_queue(self) -> bool:
        """Nothing left to play: no queue yet, or the last one ran out (a user's stop does not count)."""
        return self.queue_finished or self.player.status().queue_length == 0

    def is_playing(self) -> bool:
        return self.player is not None and self.player.status().state == "playing"

    def current_item(self) -> Any:
        return self.player.status().item

    def restarts(self) -> int:
        return self.player.status().restarts if self.player is not None else 0

    def queue(self) -> list[dict[str, Any]]:
        """The play queue, each entry with why it was chosen; `current` marks the one playing."""
        if self.player is None:
            return []
        items, reasons, index = self.player.queue(), list(self.reasons), self.player.status().index
        return [{"position": i, "title": item.title, "artist": item.artist, "album": item.album,
                 "track_mood": item.mood, "source": item.source, "track_id": item.track_id,
                 "duration": item.duration, "reason": reasons[i] if i < len(reasons) else None,
                 "current": i == index} for i, item in enumerate(items)]

    # ----- states -----

    def publish_volume(self) -> None:
        self.board.set("volume", {"volume": self.volume, "max": self.config.audio.max_volume})

    def refresh_state(self, position_changed: bool = False) -> None:
        """The player topic changes on track/state changes; the position alone is kept quietly (but a seek is said)."""
        if self.player is None:
            return
        status = self.player.status()
        item = status.item
        self.board.set("player", {
            "state": status.state,
            "index": status.index,
            "queue_length": status.queue_length,
            "title": item.title if item else None,
            "artist": item.artist if item else None,
            "album": item.album if item else None,
            "track_mood": item.mood if item else None,
            "source": item.source if item else None,
            "track_id": item.track_id if item else None,
            "reason": self.reason_at(status.index),
            "duration": status.duration,
            "position": status.position,
            "queue_source": "picked" if self.picked else "room",
        }, ignore=() if position_changed else ("position",))

    # ----- persistence -----

    def export(self) -> dict[str, Any]:
        """The queue, position and reasons for player.json."""
        return {"player": self.player.export_state(), "reasons": self.reasons, "queue_finished": self.queue_finished,
                "picked": self.picked}

    def resume(self, data: dict[str, Any]) -> None:
        """Load a saved queue (playing again if it was playing); files that are gone restart it from the top."""
        saved = data.get("player") if isinstance(data.get("player"), dict) else {}
        args = self.player.restore_args(saved)
        items = [item for item in args["items"] if item.source != "library" or Path(item.path).exists()]
        if len(items) != len(args["items"]):
            log.warning("saved queue: %d files are gone; starting that queue from its first track",
                        len(args["items"]) - len(items))
            args = {"items": items, "index": 0, "position": 0.0}
        if not items:
            return
        reasons = data.get("reasons")
        self.reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
        play = saved.get("state") == "playing"
        self.queue_finished = bool(data.get("queue_finished"))
        self.picked = bool(data.get("picked"))
        self.resumed_quiet = not play and not self.queue_finished
        self.player.load(args["items"], index=args["index"], position=args["position"], play=play)
        log.info("resumed the saved queue: %d tracks, at %d, %.0f s%s", len(items), args["index"], args["position"],
                 "" if play else " (paused)")
