"""Core: the box's one API. Adapters (MQTT, GPIO, the web page, the CLI) give it Commands through
execute(), listen to its state and event stream through subscribe() and snapshot(), and ask it the
read-only queries below. It knows no adapter.

Every command only goes onto the loop's queue and returns (set_volume returns the volume that will
be applied); the parts below do the work on the core's threads (see runner.py).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Literal

from moodbox.config import EMOTIONS, Config
from moodbox.core.commands import COMMAND_METHODS, POLICIES, Command, parse_command
from moodbox.core.conductor import Conductor
from moodbox.core.library import Library
from moodbox.core.playback import Playback
from moodbox.core.room import FACES_DIR, Room
from moodbox.core.runner import Runner
from moodbox.core.scanning import LibraryScanner
from moodbox.core.state import FrameListener, Listener, StateBoard

PLAY_WHERE = ("now", "next", "end")  # where play_tracks puts the owner's pick

log = logging.getLogger(__name__)


class Core:
    """See the module docstring and ARCHITECTURE.md for the contract."""

    def __init__(self, config: Config, fallback_faces_dir: Path | None = FACES_DIR) -> None:
        self.config = config
        self.state_dir = config.state_path
        self.board = StateBoard()
        self.runner = Runner(tick=lambda: self.conductor.tick())
        self.room = Room(config, self.board, fallback_faces_dir)
        self.library = Library(config, self.board)
        self.scanner = LibraryScanner(config, self.library, self.runner.stopping,
                                      on_done=lambda: self.runner.post(self.conductor.on_scan_done))
        self.playback = Playback(config, self.board, on_event=self._on_player_event)
        self.conductor = Conductor(config, self.board, self.runner, self.room, self.library, self.scanner,
                                   self.playback)

    # ----- the state and event stream (any thread) -----

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener(topic, data) on every state change and event; returns the function that stops it.
        It runs on the core's threads and must not block (an exception is logged and ignored)."""
        return self.board.subscribe(listener)

    def watch_frames(self, listener: FrameListener) -> Callable[[], None]:
        """Call listener(frame, faces) for every analysed frame (the web's camera aim view); returns the
        function that stops it. It runs on the worker and must not block or keep the frame beyond memory."""
        return self.board.watch_frames(listener)

    def snapshot(self) -> dict[str, Any]:
        """All state topics as they are now."""
        self.conductor.refresh_diagnostics(emit=False)
        return self.board.snapshot()

    # ----- commands (any thread, never block) -----

    def execute(self, command: Command) -> Any:
        """Run a Command from an adapter; ValueError for one that names no command or has bad arguments."""
        if command.method not in COMMAND_METHODS:
            raise ValueError(f"unknown command {command.method!r}")
        return getattr(self, command.method)(*command.args)

    def command(self, thing: str, payload: bytes, source: str) -> Command:
        """Parse an adapter's (thing, payload) (relative volumes against the current one) and run it;
        returns the Command. Raises CommandError for a bad payload, ValueError when the core refuses it."""
        volume = int(self.board.get("volume").get("volume", 0))
        command = parse_command(thing, payload, volume, self.config.audio.max_volume, source)
        self.execute(command)
        return command

    def refresh_mood(self, reason: str = "command") -> None:
        self._post(self.conductor.refresh, reason)

    def play(self) -> None:
        self._post(self.playback.call, "play")

    def pause(self) -> None:
        self._post(self.playback.call, "pause")

    def toggle(self) -> None:
        self._post(self.playback.call, "toggle")

    def next(self) -> None:
        self._post(self.playback.call, "next")

    def previous(self) -> None:
        self._post(self.playback.call, "previous")

    def stop(self) -> None:
        self._post(self.playback.call, "stop")

    def set_volume(self, volume: int) -> int:
        """Queue a volume change; returns the volume that will be applied (0..audio.max_volume)."""
        applied = int(max(0, min(int(round(volume)), self.config.audio.max_volume)))
        self._post(self.playback.set_volume, applied)
        return applied

    def set_policy(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; one of {', '.join(POLICIES)}")
        self._post(self.conductor.set_policy, policy)

    def set_mood_override(self, emotion: str | None, timeout_s: float | None = None) -> None:
        """Force a mood (None clears it); it ends by itself after timeout_s seconds when given."""
        if emotion is not None and emotion not in EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}; one of {', '.join(EMOTIONS)}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"override timeout must be positive, got {timeout_s}")
        self._post(self.conductor.set_override, emotion, timeout_s)

    def set_detection(self, enabled: bool) -> None:
        """The privacy switch: off closes the camera and reads no frames until it is on again."""
        if not enabled:
            self.room.abort_burst()  # at once, not after the queued commands
        self._post(self.conductor.set_detection, bool(enabled))

    def like(self) -> None:
        self._post(self.conductor.rate, True)

    def dislike(self) -> None:
        self._post(self.conductor.rate, False)

    def rescan_library(self) -> None:
        self._post(self.conductor.rescan)

    def play_tracks(self, track_ids: list[int], where: str) -> None:
        """The owner's pick: library tracks to play now (a new queue), next, or at the end of the queue.
        The room's mood does not replace a picked queue; when it ends, the box reads the room again.
        Raises ValueError for a bad `where`, UnknownTrack for an id with no track."""
        if where not in PLAY_WHERE:
            raise ValueError(f"where must be one of {', '.join(PLAY_WHERE)}")
        if not track_ids:
            raise ValueError("no tracks to play")
        self._post(self.conductor.play_picked, self.library.play_items(track_ids), where)

    def seek(self, seconds: float) -> None:
        """Go to `seconds` into the playing track."""
        if not seconds >= 0:
            raise ValueError("seconds must be 0 or more")
        self._post(self.playback.seek, float(seconds))

    def button(self, kind: Literal["press", "hold"]) -> None:
        """A button press or hold: does gpio.press_action / gpio.hold_action."""
        if kind not in ("press", "hold"):
            raise ValueError(f"unknown button kind {kind!r}; press or hold")
        self._post(self.conductor.button, kind)

    # ----- queries (any thread, read-only) -----

    def queue(self) -> list[dict[str, Any]]:
        """The play queue, each entry with why it was chosen; `current` marks the one playing."""
        return self.playback.queue()

    def recent_plays(self, limit: int = 50) -> list[dict[str, Any]]:
        """What was played lately (newest first): the track, the room's mood then, skipped, likes."""
        return self.library.recent_plays(limit)

    def search_library(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Library tracks matching `text` in title, artist, album or genre, with their mood and its source."""
        return self.library.search(text, limit)

    def library_artists(self) -> list[dict[str, Any]]:
        """Every artist with its number of albums and tracks."""
        return self.library.artists()

    def library_albums(self, artist: str | None = None) -> list[dict[str, Any]]:
        """Albums (of one artist), each with an id for library_album() and play_tracks()."""
        return self.library.albums(artist)

    def library_album(self, album_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        return self.library.album(album_id)

    def library_moods(self) -> dict[str, int]:
        """How many tracks have each mood."""
        return self.library.mood_counts()

    def tracks_with_mood(self, mood: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.library.with_mood(mood, limit)

    def track_file(self, track_id: int) -> Path | None:
        """The file of a library track (for its cover picture), or None."""
        return self.library.track_file(track_id)

    def set_track_mood(self, track_id: int, mood: str | None) -> Path:
        """The owner's correction: writes `moods.csv` in the track's library folder, then rescans.
        Raises ValueError (unknown track or mood; TrackMoodTagged) or OSError (folder not writable)."""
        return self.library.set_track_mood(track_id, mood, rescan=self.rescan_library)

    # The parts, for benches and tests.
    @property
    def player(self) -> Any:
        return self.playback.player

    @property
    def history(self) -> Any:
        return self.library.history

    # ----- lifecycle -----

    def start(self) -> None:
        """Start the player and the threads, resume the saved queue, then read the room.
        Raises PlayerError when mpv cannot run at all (nothing to do without it)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.playback.start()
        self.room.load_perception()
        self.conductor.resume()
        self.conductor.publish_all()
        self.runner.start()
        self.runner.submit("open library", self.conductor.job_open_library)
        self.refresh_mood("start")
        self.conductor.start_timers()

    def close(self) -> None:
        """Stop everything within about 2 s: save the queue, stop mpv, close the camera."""
        if self.runner.stopping.is_set():
            return
        log.info("stopping the core")
        self.room.abort_burst()
        self.runner.stop_loop()
        self.conductor.persist(force=True)
        self.playback.close()
        self.runner.stop_worker()
        self.room.close_camera()
        self.scanner.join(timeout=0.3)  # it stops at the next file
        self.library.close()

    def alive(self) -> bool:
        """For the systemd watchdog: both threads running, the loop ticking, no job stuck."""
        return self.runner.alive()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the first queue is loaded (or it is clear there is nothing to play)."""
        return self.conductor.ready.wait(timeout)

    def _post(self, function: Callable[..., None], *args: Any) -> None:
        self.runner.post(function, *args)

    def _on_player_event(self, name: str, data: dict[str, Any]) -> None:
        """Called on the player's notifier thread: hand over to the loop."""
        self.runner.post(self.conductor.on_player_event, name, data)
