"""MpvPlayer: the queue played by a supervised mpv, with a volume cap. See the package docstring."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from moodbox.config import AudioConfig
from moodbox.player.events import EventNotifier
from moodbox.player.items import EventCallback, MpvCommandError, PlayerError, PlayerState, PlayerStatus, PlayItem
from moodbox.player.playqueue import PlayQueue
from moodbox.player.process import Supervisor

log = logging.getLogger(__name__)

# A file on which mpv crashed this many times in a row is treated as unplayable.
CRASHES_PER_ITEM = 3


class MpvPlayer:
    """Queue + volume cap on top of a supervised mpv process. Thread-safe."""

    def __init__(self, config: AudioConfig | None = None, on_event: EventCallback | None = None) -> None:
        self.config = config or AudioConfig()
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._queue = PlayQueue()
        self._state: PlayerState = "stopped"
        self._volume = min(self.config.start_volume, self.config.max_volume)
        self._entry_id: int | None = None  # mpv's playlist_entry_id of the file we loaded last
        self._started = False  # whether track_started was sent for the loaded file
        self._resuming = False  # the loaded file is a resume after a restart: no new track_started
        self._events = EventNotifier(on_event)
        self._supervisor = Supervisor(self.config, self._lock, self._closing, on_event=self._handle_mpv_event,
                                      on_restarted=self._after_restart, volume=lambda: self._volume,
                                      playing=lambda: self._state == "playing")
        self._mpv = self._supervisor.process

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start mpv and the helper threads. Raises PlayerError when mpv cannot run at all."""
        with self._lock:
            if self._supervisor.running:
                return
        self._supervisor.start()
        self._events.start()

    def close(self) -> None:
        """Stop mpv (within about a second) and the helper threads."""
        if self._closing.is_set():
            return
        with self._lock:
            self._closing.set()
            if self._state != "stopped" and self._queue.index is not None and self._started:
                self._emit_track_ended("close", skipped=False)
            self._state = "stopped"
            self._mpv.stop(grace_s=0.5)
        self._supervisor.close()
        self._events.close()

    def __enter__(self) -> "MpvPlayer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mpv_property(self, name: str) -> Any:
        """Read a property straight from mpv (diagnostics, tests); None when mpv is not running
        or the property is unavailable now (e.g. time-pos with no file loaded)."""
        with self._lock:
            if not self._mpv.connected:
                return None
            try:
                return self._mpv.command(["get_property", name])
            except MpvCommandError:
                return None

    @property
    def ipc_path(self) -> Path | None:
        """mpv's JSON IPC socket (for diagnostics and tests); the same across restarts."""
        return self._mpv.ipc_path

    @property
    def pid(self) -> int | None:
        """The mpv process id (for diagnostics and tests)."""
        return self._mpv.pid

    # Settings of the parts, here for the daemon and tests (seconds).
    @property
    def request_timeout_s(self) -> float:
        return self._mpv.request_timeout_s

    @request_timeout_s.setter
    def request_timeout_s(self, seconds: float) -> None:
        self._mpv.request_timeout_s = seconds

    @property
    def restart_backoff_s(self) -> tuple[float, ...]:
        return self._supervisor.restart_backoff_s

    @restart_backoff_s.setter
    def restart_backoff_s(self, delays: tuple[float, ...]) -> None:
        self._supervisor.restart_backoff_s = delays

    @property
    def on_event(self) -> EventCallback | None:
        return self._events.on_event

    @on_event.setter
    def on_event(self, callback: EventCallback | None) -> None:
        self._events.on_event = callback

    # ----- queue and transport ---------------------------------------------------------------

    def load(self, items: list[PlayItem], index: int = 0, position: float = 0.0, play: bool = False) -> None:
        """Replace the queue. Playback stops; it starts at items[index] from `position` on play()
        (or at once with play=True). Used for new recommendations and to resume after a reboot."""
        with self._lock:
            if self._state != "stopped" and self._queue.index is not None:
                if self._started:
                    self._emit_track_ended("load", skipped=False)
                self._stop_mpv()
            self._queue.load(items, index, position)
            self._state = "stopped"
            if play:
                self.play()

    def insert(self, items: list[PlayItem], next_up: bool) -> None:
        """Add items after the current one (next_up) or at the end, without touching what plays."""
        with self._lock:
            at = len(self._queue) if not next_up or self._queue.index is None else self._queue.index + 1
            self._queue.items[at:at] = items
            if self._queue.index is None and self._queue.items:
                self._queue.index = 0

    def seek(self, seconds: float) -> None:
        """Go to `seconds` into the current track (playing or paused)."""
        with self._lock:
            if self._state in ("playing", "paused") and self._queue.current is not None:
                end = self._queue.known_duration()
                target = min(max(0.0, float(seconds)), max(0.0, end - 1.0) if end else float(seconds))
                self._queue.position = round(target, 1)  # tenths: mpv chokes on denormal floats
                self._mpv.set_property("time-pos", self._queue.position)

    def play(self) -> None:
        """Play: resume when paused, start the current queue item when stopped."""
        with self._lock:
            if self._state == "paused":
                self._mpv.set_property("pause", False)
                self._state = "playing"
            elif self._state == "stopped":
                if self._queue.index is None:
                    log.info("play: the queue is empty")
                    return
                self._start_item(self._queue.index, self._queue.position)

    def pause(self) -> None:
        with self._lock:
            if self._state == "playing":
                self._mpv.set_property("pause", True)
                self._state = "paused"

    def toggle(self) -> None:
        with self._lock:
            if self._state == "playing":
                self.pause()
            else:
                self.play()

    def stop(self) -> None:
        """Stop playing; the queue stays and play() starts the current item from the beginning."""
        with self._lock:
            if self._state == "stopped":
                return
            if self._started:
                self._emit_track_ended("stop", skipped=False)
            self._stop_mpv()
            self._state = "stopped"
            self._queue.position = 0.0

    def next(self) -> None:
        """Skip to the next queue item (track_ended has skipped=True); past the end: queue_ended."""
        with self._lock:
            if self._queue.index is None:
                return
            if self._state != "stopped" and self._started:
                self._emit_track_ended("next", skipped=True)
            self._advance(self._queue.index + 1)

    def previous(self) -> None:
        """Go back one item; after a few seconds of play (or on the first item) restart the current one."""
        with self._lock:
            if self._queue.index is None:
                return
            target = self._queue.previous_index()
            if self._state != "stopped" and self._started:
                self._emit_track_ended("previous", skipped=False)
            self._start_item(target, 0.0)

    def set_volume(self, volume: int | float) -> int:
        """Set the volume, clamped to 0..audio.max_volume; returns the volume applied."""
        applied = int(max(0, min(int(round(volume)), self.config.max_volume)))
        with self._lock:
            self._volume = applied
            self._mpv.set_property("volume", applied)
        self._events.emit("volume", {"volume": applied})
        return applied

    @property
    def volume(self) -> int:
        return self._volume

    def status(self) -> PlayerStatus:
        with self._lock:
            return PlayerStatus(
                state=self._state,
                index=self._queue.index,
                item=self._queue.current,
                position=round(self._queue.position, 3),
                duration=self._queue.known_duration(),
                volume=self._volume,
                queue_length=len(self._queue),
                restarts=self._supervisor.restarts,
            )

    def queue(self) -> list[PlayItem]:
        with self._lock:
            return list(self._queue.items)

    def export_state(self) -> dict[str, Any]:
        """What the daemon persists to resume after a reboot: feed it back with load(**restore_args(d))."""
        with self._lock:
            return self._queue.export_state(self._state)

    @staticmethod
    def restore_args(state: dict[str, Any]) -> dict[str, Any]:
        """Arguments for load() from export_state()'s dict; bad entries are skipped with a warning."""
        return PlayQueue.restore_args(state)

    # ----- internals (called with self._lock held) -------------------------------------------

    def _advance(self, target: int) -> None:
        if target >= len(self._queue):
            self._stop_mpv()
            self._state = "stopped"
            self._queue.finish()
            log.info("queue ended after %d items", len(self._queue))
            self._events.emit("queue_ended", {"count": len(self._queue), "failed": self._queue.failed})
            return
        self._start_item(target, 0.0)

    def _start_item(self, index: int, position: float) -> None:
        """Load items[index] into mpv and play it from `position`."""
        self._queue.go_to(index, position)
        self._started = False
        self._resuming = False
        self._state = "playing"
        self._load_into_mpv(paused=False)

    def _load_into_mpv(self, paused: bool) -> None:
        """Hand the current item to mpv, from the queue's position."""
        item, position = self._queue.current, self._queue.position
        assert item is not None
        self._entry_id = None
        if not self._mpv.connected:
            log.warning("mpv is not running; %s starts when it is back", item.label)
            return
        try:
            self._entry_id = self._mpv.load_file(item.path, position, paused)
            log.info("playing %s (%s)%s", item.label, item.path, f" from {position:.1f} s" if position else "")
        except PlayerError as exc:
            log.error("could not hand %s to mpv: %s", item.path, exc)

    def _stop_mpv(self) -> None:
        self._entry_id = None
        self._started = False
        self._mpv.stop_file()

    def _emit_track_ended(self, reason: str, skipped: bool) -> None:
        self._events.emit("track_ended", {**self._queue.payload(), "duration": self._queue.known_duration(),
                                          "skipped": skipped, "reason": reason})
        self._started = False

    def _fail_current(self, error: str) -> None:
        """Report the current item as unplayable (the caller moves on)."""
        self._events.emit("track_failed", {**self._queue.entry(), "error": error})
        self._started = False
        self._queue.failed += 1

    def _after_restart(self, exit_code: int | None) -> None:
        """A new mpv runs after a crash: resume the current item, or skip it if it keeps crashing mpv."""
        self._entry_id = None
        restarted = {**self._queue.payload(), "exit_code": exit_code, "restarts": self._supervisor.restarts}
        if self._state == "stopped" or self._queue.index is None:
            self._events.emit("player_restarted", restarted)
            return
        if self._queue.count_crash() >= CRASHES_PER_ITEM:
            item = self._queue.current
            assert item is not None
            log.error("mpv crashed %d times on %s; skipping it", self._queue.crashes, item.path)
            self._fail_current("player crashed on this file")
            self._events.emit("player_restarted", restarted)
            self._queue.crashes = 0
            self._advance(self._queue.index + 1)
            return
        # A track that had started is resumed quietly; one that crashed mpv before it started starts now.
        self._resuming, self._started = self._started, False
        self._load_into_mpv(paused=self._state == "paused")
        self._events.emit("player_restarted", restarted)

    def _handle_mpv_event(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "property-change":
            value = message.get("data")
            if isinstance(value, (int, float)) and self._entry_id is not None:
                if message.get("name") == "time-pos":
                    self._queue.position = float(value)
                elif message.get("name") == "duration":
                    self._queue.duration = float(value)
        elif event == "file-loaded":
            if self._entry_id is None or self._queue.index is None or self._started:
                return
            self._started = True
            if self._resuming:
                self._resuming = False
                return
            self._events.emit("track_started", self._queue.payload())
        elif event == "end-file":
            if self._entry_id is None or message.get("playlist_entry_id") != self._entry_id:
                return  # a file we already moved away from (stop, next, load)
            reason = message.get("reason")
            if reason not in ("eof", "error"):
                return
            self._entry_id = None
            if reason == "eof":
                if self._queue.duration is not None:
                    self._queue.position = self._queue.duration
                self._emit_track_ended("eof", skipped=False)
                self._queue.crashes = 0
            else:
                item = self._queue.current
                error = str(message.get("file_error") or "unplayable file")
                log.warning("cannot play %s: %s; skipping it", item.path if item else "?", error)
                self._fail_current(error)
            self._advance((self._queue.index or 0) + 1)
