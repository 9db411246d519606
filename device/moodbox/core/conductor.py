"""The rules of the box, on the loop thread: what happens when a command, a job's result, a player
event or a timer comes in. It asks the room for the mood, the library for a queue, playback to play it.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from moodbox.config import Config
from moodbox.core.commands import POLICIES
from moodbox.core.diagnostics import diagnostics
from moodbox.core.library import Library
from moodbox.core.persistence import PLAYER_STATE_FILE, StateFile, mood_from_dict, mood_to_dict
from moodbox.core.playback import Playback
from moodbox.core.room import BurstResult, Room
from moodbox.core.runner import Runner
from moodbox.core.scanning import LibraryScanner
from moodbox.core.state import StateBoard

log = logging.getLogger(__name__)


class Conductor:
    def __init__(self, config: Config, board: StateBoard, runner: Runner, room: Room, library: Library,
                 scanner: LibraryScanner, playback: Playback) -> None:
        self.config = config
        self.board, self.runner = board, runner
        self.room, self.library, self.scanner, self.playback = room, library, scanner, playback
        self.state_file = StateFile(config.state_path / PLAYER_STATE_FILE)
        self.started_at = time.monotonic()
        self.ready = threading.Event()  # the first queue is loaded, or it is clear there is nothing to play
        self.policy: str = config.recommend.policy
        self.scanned_once = False
        self._next_recheck: float | None = None
        self._last_diagnostics = 0.0

    def start_timers(self) -> None:
        if self.config.mood.recheck_interval_s > 0:
            self._next_recheck = time.monotonic() + self.config.mood.recheck_interval_s

    # ----- timers -----

    def tick(self) -> None:
        now = time.monotonic()
        if self.room.override_expired(now):
            self.set_override(None, None)
        if self.room.camera_retry_due(now):
            self.runner.submit("camera retry", self._job_camera_probe)
        if self._next_recheck is not None and now >= self._next_recheck:
            self._next_recheck = now + self.config.mood.recheck_interval_s
            if self.playback.is_playing():
                self.refresh("recheck")
        if self.state_file.due(now):
            self.persist()
        self.playback.refresh_state()
        if now - self._last_diagnostics >= self.config.mqtt.diagnostics_interval_s:
            self._last_diagnostics = now
            self.refresh_diagnostics(emit=True)

    # ----- commands -----

    def refresh(self, reason: str) -> None:
        if self.room.burst_in_flight:
            log.debug("refresh (%s): a burst is already running", reason)
            return
        why = self.room.cannot_look()
        if why is not None:
            if self.playback.needs_queue():
                log.info("refresh (%s): %s, new queue for the current mood", reason, why)
                self.new_queue(reason)
            else:  # nothing new to read: the music plays on
                log.info("refresh (%s): %s; nothing to read, the music plays on", reason, why)
                self.board.event("refresh_skipped", reason=reason, why=why)
            return
        self.room.begin_burst()
        self.runner.submit("burst", lambda: self.runner.post(self.on_burst_done, reason, self.room.capture_burst()))

    def set_policy(self, policy: str) -> None:
        if policy == self.policy:
            return
        log.info("policy: %s -> %s", self.policy, policy)
        self.policy = policy
        self.board.set("policy", {"policy": policy})
        self.new_queue("policy")

    def set_override(self, emotion: str | None, timeout_s: float | None) -> None:
        before = self.room.mood().emotion
        if not self.room.set_override(emotion, timeout_s):
            return
        self._mood_event(before)
        if emotion is not None:
            self.new_queue("override")
        else:
            self.refresh("override_cleared")  # back to the room: look at it again

    def set_detection(self, enabled: bool) -> None:
        if not self.room.set_detection(enabled):
            return
        if enabled:
            self.refresh("detection_on")
        else:
            self.runner.submit("close camera", self.room.close_camera)

    def rate(self, liked: bool) -> None:
        item = self.playback.current_item()
        if item is None or item.track_id is None:
            log.info("%s: nothing from the library is playing", "like" if liked else "dislike")
            return
        track_id, emotion = item.track_id, self.room.mood().emotion
        log.info("%s: %s", "like" if liked else "dislike", item.label)
        self.runner.submit("rate", lambda: self.library.rate(track_id, emotion, liked))
        if not liked:
            self.playback.call("next")

    def play_picked(self, items: list[Any], where: str) -> None:
        """The owner's pick (see Core.play_tracks)."""
        reasons = ["you picked it"] * len(items)
        if where == "now" or self.playback.needs_queue():
            self.playback.load(items, reasons, play=True, picked=True)
        else:
            self.playback.add(items, reasons, next_up=where == "next")
        log.info("picked: %d track(s) to play %s, first: %s", len(items),
                 {"now": "now", "next": "next", "end": "at the end"}[where], items[0].label)
        self.persist(force=True)

    def rescan(self) -> None:
        self.scanner.start()

    def button(self, kind: str) -> None:
        action = self.config.gpio.press_action if kind == "press" else self.config.gpio.hold_action
        log.info("button %s -> %s", kind, action)
        self.board.event("button", kind=kind, action=action)
        if action == "refresh":
            self.refresh("button")
        elif action == "next":
            self.playback.call("next")
        else:
            self.playback.call("toggle")

    # ----- results of jobs -----

    def on_burst_done(self, reason: str, result: BurstResult) -> None:
        self.room.end_burst(result)
        if result.error is not None:
            self.room.camera_failed(result.error)
            log.error("camera: %s (retrying every %.0f s; music keeps playing)", result.error,
                      self.config.camera.retry_interval_s)
            if self.playback.needs_queue():
                self.new_queue(reason)
            return
        if not self.room.detection:
            return  # switched off while looking: forget what was seen
        self.room.camera_ok(result.camera_name)
        before = self.room.mood().emotion
        had_child = _child_present(self.room.camera_mood.ages)
        update = self.room.apply_burst(result.frames)
        log.info("mood (%s): %s [%d frames, %d faces, analysis %.1f fps]", reason, update.reason,
                 len(result.frames), update.mood.faces, result.analysis_fps)
        changed = self._mood_event(before)
        self.refresh_diagnostics(emit=True)
        child_arrived = _child_present(update.mood.ages) and not had_child
        if child_arrived:
            log.info("a child came into the room: new queue (no explicit tracks)")
        if self.playback.needs_queue() or ((changed or child_arrived) and not self.playback.picked):
            self.new_queue(reason)
        else:
            self.ready.set()

    def _on_camera_probe(self, error: str | None, name: str) -> None:
        if not self.room.detection:
            return
        if error is None:
            log.info("camera is back (%s)", name)
            self.room.camera_ok(name)
        else:
            self.room.camera_failed(error)

    def new_queue(self, reason: str) -> None:
        """Ask the worker for a queue for the current mood; it comes back to on_queue_ready."""
        mood, policy = self.room.mood(), self.policy
        self.runner.submit("recommend", lambda: self.runner.post(self.on_queue_ready,
                                                                 *self.library.recommend(mood, policy), reason))

    def on_queue_ready(self, items: list[Any], reasons: list[str], reason: str) -> None:
        if not items:
            if not self.scanned_once:
                log.info("no music yet: waiting for the library scan")
                return  # on_scan_done asks again
            log.warning("no music to play for mood %s (library: %s)", self.room.mood().emotion,
                        self.library.state.get("status"))
            self.ready.set()
            return
        # A box that was paused when it went down stays quiet after the restart until someone asks.
        play = not (self.playback.resumed_quiet and reason == "start")
        self.playback.load(items, reasons, play)
        log.info("new queue (%s): %d tracks for %s, first: %s", reason, len(items), self.room.mood().emotion,
                 items[0].label)
        self.persist(force=True)
        self.ready.set()

    def on_library_open(self, ok: bool) -> None:
        if ok:
            self.rescan()  # catch up with files added while we were off
        else:
            self.scanned_once = True  # nothing will come: do not wait for it
            self.ready.set()

    def on_scan_done(self) -> None:
        self.scanned_once = True
        if self.playback.needs_queue() and not self.room.burst_in_flight:
            self.new_queue("library_ready")

    def on_player_event(self, name: str, data: dict[str, Any]) -> None:
        item = data.get("item") or {}
        if name == "track_started":
            index = data.get("index")
            self.board.event("track_started", index=index, title=item.get("title"), artist=item.get("artist"),
                             track_id=item.get("track_id"), mood=item.get("mood"),
                             reason=self.playback.reason_at(index))
        elif name == "track_ended":
            track_id = item.get("track_id")
            position = float(data.get("position") or 0.0)
            duration = float(data.get("duration") or item.get("duration") or 0.0)
            skipped = bool(data.get("skipped"))  # History counts it against the track only within 30 s
            emotion = self.room.mood().emotion
            if track_id is not None and item.get("source", "library") == "library":
                self.runner.submit("record play", lambda: self.library.record_play(track_id, emotion, position,
                                                                                   duration, skipped))
        elif name == "queue_ended":
            if self.playback.picked:
                log.info("the picked tracks have ended: back to reading the room")
            self.playback.ran_out()
            if self.config.mood.refresh_on_queue_end:
                self.refresh("queue_end")
            else:
                self.new_queue("queue_end")
        elif name == "track_failed":
            log.warning("track failed: %s: %s", item.get("path"), data.get("error"))
            if item.get("source") == "online":
                self.runner.submit("online failed", lambda: self.library.online_failed(
                    str(item.get("track_id") or ""), str(data.get("error") or "")))
        elif name == "player_restarted":
            log.warning("player restarted (%s restarts so far), resumed at item %s", data.get("restarts"),
                        data.get("index"))
            self.refresh_diagnostics(emit=True)
        elif name == "volume":
            self.playback.volume_changed(int(data.get("volume", self.playback.volume)))
        self.playback.refresh_state()

    # ----- worker jobs -----

    def job_open_library(self) -> None:
        ok = self.library.open()
        self.runner.post(self.on_library_open, ok)

    def _job_camera_probe(self) -> None:
        self.runner.post(self._on_camera_probe, *self.room.probe_camera())

    # ----- states and persistence -----

    def _mood_event(self, before: str) -> bool:
        """A mood_changed event when the effective mood is another than `before`; True then."""
        after = self.room.mood()
        if after.emotion == before:
            return False
        self.board.event("mood_changed", emotion=after.emotion, previous=before, source=after.source)
        return True

    def publish_all(self) -> None:
        self.room.publish_all()
        self.playback.publish_volume()
        self.board.set("policy", {"policy": self.policy})
        self.library.publish(self.library.state)
        self.playback.refresh_state()
        self.refresh_diagnostics(emit=True)

    def refresh_diagnostics(self, emit: bool) -> None:
        """Any thread (snapshot() calls it too)."""
        online = self.library.online.status() if self.library.online is not None else None
        self.board.set("diagnostics", diagnostics(
            time.monotonic() - self.started_at, self.room.timings_ms(), self.room.last_burst,
            self.room.perception_status(), self.library.state.get("tracks", 0), self.playback.restarts(), online),
            emit=emit)

    def persist(self, force: bool = False) -> None:
        """Save queue, position, mood and policy to state_dir/player.json (not the volume)."""
        if self.playback.player is None:
            return
        self.state_file.save({"version": 1, **self.playback.export(),
                              "camera_mood": mood_to_dict(self.room.camera_mood), "policy": self.policy}, force)

    def resume(self) -> None:
        """Load the saved queue (playing again if it was playing), mood and policy."""
        data = self.state_file.load()
        if data is None:
            return
        try:
            self.room.restore_mood(mood_from_dict(data["camera_mood"]))
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("saved mood unusable (%s); starting neutral", exc)
        if data.get("policy") in POLICIES:
            self.policy = data["policy"]
        self.playback.resume(data)


def _child_present(ages: tuple[float, ...]) -> bool:
    from moodbox.music.recommender import CHILD_AGE

    return any(age < CHILD_AGE for age in ages)

