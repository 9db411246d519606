"""The core: owns the state of the box, takes commands, emits events. Knows no adapter.

Two threads do the work, so no caller (MQTT, GPIO, CLI) ever waits:
- the *loop* thread runs every command and every state change, one at a time, in order;
- the *worker* thread runs the long jobs (a camera burst, a recommendation, a library scan)
  and posts their results back to the loop.

Every public method only puts a command on the loop's queue and returns (set_volume returns the
volume that will be applied). State goes out to listeners as (topic, dict); snapshot() has them all.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from moodbox.config import EMOTIONS, Config
from moodbox.mood import MoodAggregator
from moodbox.readings import FaceReading, MoodState

log = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]
# Called with each analysed camera frame and its faces, during a burst; frames stay in memory.
FrameListener = Callable[[np.ndarray, list[FaceReading]], None]
STATE_TOPICS = ("mood", "player", "volume", "policy", "override", "detection", "camera", "diagnostics", "library")
POLICIES = ("match", "lift", "calm")
FACES_DIR = Path(__file__).resolve().parent / "data" / "faces"

TICK_S = 0.5  # how often the loop looks at its timers
PERSIST_INTERVAL_S = 10.0  # player.json while playing (SD cards do not like much more)
HEARTBEAT_STALE_S = 15.0  # the loop is considered hung when it has not ticked for this long
JOB_STUCK_S = 120.0  # a burst or recommendation never takes this long (scans run on their own thread)
DEBUG_FRAMES_KEPT = 200
PLAYER_STATE_FILE = "player.json"


@dataclass
class BurstResult:
    """What a camera burst brought back to the loop."""

    frames: list[list[FaceReading]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    analysis_seconds: float = 0.0
    camera_name: str = ""

    @property
    def analysis_fps(self) -> float:
        return len(self.frames) / self.analysis_seconds if self.analysis_seconds > 0 else 0.0


def mood_to_dict(mood: MoodState) -> dict[str, Any]:
    return {
        "emotion": mood.emotion,
        "confidence": round(mood.confidence, 3),
        "probs": {e: round(mood.probs.get(e, 0.0), 3) for e in EMOTIONS},
        "valence": round(mood.valence, 3),
        "arousal": round(mood.arousal, 3),
        "faces": mood.faces,
        "ages": [round(a, 1) for a in mood.ages],
        "age_groups": list(mood.age_groups),
        "source": mood.source,
        "timestamp": round(mood.timestamp, 3),
    }


def mood_from_dict(data: dict[str, Any]) -> MoodState:
    """The inverse of mood_to_dict (for the saved state); raises KeyError/ValueError/TypeError on junk."""
    emotion = str(data["emotion"])
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}")
    probs = {e: float(data["probs"][e]) for e in EMOTIONS}
    source = data.get("source", "camera")
    return MoodState(
        emotion=emotion,
        confidence=float(data["confidence"]),
        probs=probs,
        valence=float(data["valence"]),
        arousal=float(data["arousal"]),
        faces=int(data.get("faces", 0)),
        ages=tuple(float(a) for a in data.get("ages", ())),
        source=source if source in ("camera", "override", "default") else "camera",
        timestamp=float(data.get("timestamp", 0.0)),
    )


def cpu_temperature() -> float | None:
    """CPU temperature in °C from the kernel's first thermal zone, None where there is none."""
    try:
        return int(Path("/sys/class/thermal/thermal_zone0/temp").read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def resident_memory_mb(pid: int | str = "self") -> float | None:
    """Resident memory (VmRSS) of a process in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file next to `path`, then rename it over `path` (no half files)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class TrackMoodTagged(ValueError):
    """A track's mood comes from its own tag, which moods.csv cannot override."""


class Core:
    """See the module docstring and ARCHITECTURE.md for the contract."""

    def __init__(self, config: Config, fallback_faces_dir: Path | None = FACES_DIR) -> None:
        self.config = config
        self.state_dir = config.state_path
        self.fallback_faces_dir = fallback_faces_dir
        self.aggregator = MoodAggregator.from_config(config.mood)
        self.started_at = time.monotonic()

        self._listeners: list[Listener] = []
        self._frame_listeners: list[FrameListener] = []
        self._emit_lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._states: dict[str, dict[str, Any]] = {}

        self._commands: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.Queue()
        self._jobs: queue.PriorityQueue[tuple[int, int, str, Callable[[], None]]] = queue.PriorityQueue()
        self._job_counter = itertools.count()
        self._stopping = threading.Event()
        self._abort_burst = threading.Event()
        self._ready = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._worker_thread: threading.Thread | None = None
        self._heartbeat = time.monotonic()
        self._current_job: tuple[str, float] | None = None

        # Parts, created in start().
        self.player: Any = None
        self.perception: Any = None
        self._perception_error: str | None = None
        self._camera: Any = None  # worker thread only
        self.index: Any = None  # thread-safe: the worker and the scan thread use it
        self.recommender: Any = None
        self.history: Any = None
        self.online: Any = None  # OnlineFallback when online.enabled

        # State owned by the loop thread.
        self._camera_mood = MoodState.from_emotion("neutral", source="default")
        self._override: MoodState | None = None
        self._override_until: float | None = None  # monotonic
        self._policy: str = config.recommend.policy
        self._detection = True
        self._volume = min(config.audio.start_volume, config.audio.max_volume)
        self._burst_in_flight = False
        self._camera_status: dict[str, Any] = {"status": "idle"}
        self._camera_retry_at: float | None = None
        self._queue_reasons: list[str] = []
        self._last_burst: BurstResult | None = None
        self._last_persist = 0.0
        self._last_persisted: dict[str, Any] | None = None
        self._next_recheck: float | None = None
        self._last_diagnostics = 0.0
        self._library_state: dict[str, Any] = {"status": "opening", "tracks": 0}
        self._scan_thread: threading.Thread | None = None
        self._scanned_once = False
        self._queue_finished = False  # the player ran past the last track
        self._resumed_quiet = False  # resumed a paused queue: the first automatic queue does not play

    # ----- public API (any thread, never blocks) -----------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call listener(topic, data) on every state change and event. It must not block."""
        with self._emit_lock:
            self._listeners.append(listener)

    def watch_frames(self, listener: FrameListener) -> Callable[[], None]:
        """Call listener(frame, faces) for every analysed frame (the web's camera aim view);
        returns the function that stops it. It runs on the worker and must not block or keep
        the frame beyond memory."""
        with self._emit_lock:
            self._frame_listeners.append(listener)

        def stop() -> None:
            with self._emit_lock:
                if listener in self._frame_listeners:
                    self._frame_listeners.remove(listener)
        return stop

    def snapshot(self) -> dict[str, Any]:
        """All state topics as they are now."""
        self._refresh_diagnostics(emit=False)
        with self._state_lock:
            return {topic: dict(self._states.get(topic, {})) for topic in STATE_TOPICS}

    def refresh_mood(self, reason: str = "command") -> None:
        self._post(self._do_refresh, reason)

    def play(self) -> None:
        self._post(self._player_call, "play")

    def pause(self) -> None:
        self._post(self._player_call, "pause")

    def toggle(self) -> None:
        self._post(self._player_call, "toggle")

    def next(self) -> None:
        self._post(self._player_call, "next")

    def previous(self) -> None:
        self._post(self._player_call, "previous")

    def stop(self) -> None:
        self._post(self._player_call, "stop")

    def set_volume(self, volume: int) -> int:
        """Queue a volume change; returns the volume that will be applied (0..audio.max_volume)."""
        applied = int(max(0, min(int(round(volume)), self.config.audio.max_volume)))
        self._post(self._do_set_volume, applied)
        return applied

    def set_policy(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; one of {', '.join(POLICIES)}")
        self._post(self._do_set_policy, policy)

    def set_mood_override(self, emotion: str | None, timeout_s: float | None = None) -> None:
        """Force a mood (None clears it); it ends by itself after timeout_s seconds when given."""
        if emotion is not None and emotion not in EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}; one of {', '.join(EMOTIONS)}")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"override timeout must be positive, got {timeout_s}")
        self._post(self._do_set_override, emotion, timeout_s)

    def set_detection(self, enabled: bool) -> None:
        """The privacy switch: off closes the camera and reads no frames until it is on again."""
        if not enabled:
            self._abort_burst.set()  # at once, not after the queued commands
        self._post(self._do_set_detection, bool(enabled))

    def like(self) -> None:
        self._post(self._do_rate, True)

    def dislike(self) -> None:
        self._post(self._do_rate, False)

    def rescan_library(self) -> None:
        self._post(self._do_rescan)

    def button(self, kind: Literal["press", "hold"]) -> None:
        """A button press or hold: does gpio.press_action / gpio.hold_action."""
        if kind not in ("press", "hold"):
            raise ValueError(f"unknown button kind {kind!r}; press or hold")
        self._post(self._do_button, kind)

    # ----- queries (any thread, read-only) -----------------------------------------------------

    def queue(self) -> list[dict[str, Any]]:
        """The play queue, each entry with why it was chosen; `current` marks the one playing."""
        if self.player is None:
            return []
        items, reasons, index = self.player.queue(), list(self._queue_reasons), self.player.status().index
        return [{"position": i, "title": item.title, "artist": item.artist, "album": item.album,
                 "track_mood": item.mood, "source": item.source, "track_id": item.track_id,
                 "duration": item.duration, "reason": reasons[i] if i < len(reasons) else None,
                 "current": i == index} for i, item in enumerate(items)]

    def recent_plays(self, limit: int = 50) -> list[dict[str, Any]]:
        """What was played lately (newest first): the track, the room's mood then, skipped, likes."""
        if self.history is None:
            return []
        plays = self.history.recent_plays(limit)
        for play in plays:
            track = self.index.get(play["track_id"]) if self.index is not None else None
            play.update({"title": track.title if track else None, "artist": track.artist if track else None})
        return plays

    def search_library(self, text: str, limit: int = 50) -> list[dict[str, Any]]:
        """Library tracks matching `text` in title, artist, album or genre, with their mood and its source."""
        if self.index is None:
            return []
        return [{"track_id": t.id, "title": t.title, "artist": t.artist, "album": t.album, "year": t.year,
                 "genre": t.genre, "duration": t.duration, "mood": t.mood, "mood_source": t.mood_source,
                 "mood_confidence": round(t.mood_confidence, 3)} for t in self.index.search(text, limit)]

    def track_file(self, track_id: int) -> Path | None:
        """The file of a library track (for its cover picture), or None."""
        track = self.index.get(track_id) if self.index is not None else None
        return track.path if track else None

    def set_track_mood(self, track_id: int, mood: str) -> Path:
        """The owner's correction: writes `moods.csv` in the track's library folder, then rescans.
        Raises ValueError (unknown track or mood) or OSError (folder not writable)."""
        from moodbox.music.sidecar import set_sidecar_mood

        where = self.index.location(track_id) if self.index is not None else None
        track = self.index.get(track_id) if where is not None else None
        if where is None or track is None:
            raise ValueError(f"no library track with id {track_id}")
        if track.mood_source == "tag":
            raise TrackMoodTagged(f"{where[1]} has a mood tag ({track.mood_tag!r}), which wins over moods.csv: "
                                  "change the tag in a tag editor instead")
        path = set_sidecar_mood(where[0], where[1], mood)
        log.info("mood of %s set to %s in %s", where[1], mood, path)
        self.rescan_library()
        return path


    def start(self) -> None:
        """Start the player and the threads, resume the saved queue, then read the room.
        Raises PlayerError when mpv cannot run at all (nothing to do without it)."""
        from moodbox.player import MpvPlayer

        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.player = MpvPlayer(self.config.audio, on_event=self._on_player_event)
        self.player.start()
        self.player.set_volume(self._volume)
        self._load_perception()
        self._resume()
        self._publish_all()
        self._loop_thread = threading.Thread(target=self._loop, name="core-loop", daemon=True)
        self._worker_thread = threading.Thread(target=self._work, name="core-worker", daemon=True)
        self._loop_thread.start()
        self._worker_thread.start()
        self._submit("open library", self._job_open_library)
        self.refresh_mood("start")
        if self.config.mood.recheck_interval_s > 0:
            self._next_recheck = time.monotonic() + self.config.mood.recheck_interval_s

    def close(self) -> None:
        """Stop everything within about 2 s: save the queue, stop mpv, close the camera."""
        if self._stopping.is_set():
            return
        log.info("stopping the core")
        self._stopping.set()
        self._abort_burst.set()
        self._commands.put(None)
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=1.0)
        self._persist(force=True)
        if self.player is not None:
            self.player.close()
        self._jobs.put((-1, -1, "stop", lambda: None))
        if self._worker_thread is not None:
            self._worker_thread.join(timeout=0.5)
            if self._worker_thread.is_alive() and self._current_job:
                log.warning("worker still busy with '%s' at exit; leaving it", self._current_job[0])
        self._close_camera()
        if self._scan_thread is not None:
            self._scan_thread.join(timeout=0.3)  # it stops at the next file
        for part in (self.history, self.index):
            self._close_quietly(part)

    def alive(self) -> bool:
        """For the systemd watchdog: both threads running, the loop ticking, no job stuck."""
        threads = (self._loop_thread, self._worker_thread)
        if any(t is None or not t.is_alive() for t in threads):
            return False
        job = self._current_job
        if job is not None and time.monotonic() - job[1] > JOB_STUCK_S:
            return False
        return time.monotonic() - self._heartbeat < HEARTBEAT_STALE_S

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the first queue is loaded (or it is clear there is nothing to play)."""
        return self._ready.wait(timeout)

    # ----- plumbing -------------------------------------------------------------------------------

    def _post(self, function: Callable[..., None], *args: Any) -> None:
        if not self._stopping.is_set():
            self._commands.put((function, args))

    def _submit(self, name: str, job: Callable[[], None]) -> None:
        """Run a long job on the worker, in order (the stop request jumps the queue)."""
        self._jobs.put((0, next(self._job_counter), name, job))

    def _emit(self, topic: str, data: dict[str, Any]) -> None:
        with self._emit_lock:
            listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(topic, data)
                except Exception:  # noqa: BLE001 - a broken adapter must not break the core
                    log.exception("listener %r failed on topic %s", listener, topic)

    def _set_state(self, topic: str, data: dict[str, Any], emit: bool = True) -> None:
        with self._state_lock:
            changed = self._states.get(topic) != data
            self._states[topic] = data
        if changed and emit:
            self._emit(topic, data)

    def _event(self, event_type: str, **data: Any) -> None:
        self._emit("event", {"type": event_type, **data})

    def _loop(self) -> None:
        while True:
            try:
                command = self._commands.get(timeout=TICK_S)
            except queue.Empty:
                command = ()  # type: ignore[assignment]
            self._heartbeat = time.monotonic()
            if command is None or self._stopping.is_set():
                return
            try:
                if command:
                    function, args = command
                    function(*args)
                self._tick()
            except Exception:  # noqa: BLE001 - one bad command must not stop the box
                log.exception("core command failed")

    def _work(self) -> None:
        while True:
            priority, _, name, job = self._jobs.get()
            if priority < 0 or self._stopping.is_set():
                return
            self._current_job = (name, time.monotonic())
            try:
                job()
            except Exception:  # noqa: BLE001
                log.exception("background job '%s' failed", name)
            finally:
                self._current_job = None

    # ----- loop: timers ---------------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        if self._override_until is not None and now >= self._override_until:
            log.info("mood override %s timed out", self._override.emotion if self._override else "?")
            self._do_set_override(None, None)
        if (self._detection and self._camera_retry_at is not None and now >= self._camera_retry_at
                and not self._burst_in_flight):
            self._camera_retry_at = None
            self._submit("camera retry", self._job_camera_probe)
        if self._next_recheck is not None and now >= self._next_recheck:
            self._next_recheck = now + self.config.mood.recheck_interval_s
            if self.player is not None and self.player.status().state == "playing":
                self._do_refresh("recheck")
        if now - self._last_persist >= PERSIST_INTERVAL_S:
            self._persist()
        self._refresh_player_state()
        if now - self._last_diagnostics >= self.config.mqtt.diagnostics_interval_s:
            self._last_diagnostics = now
            self._refresh_diagnostics(emit=True)

    # ----- loop: commands -------------------------------------------------------------------------

    def _do_refresh(self, reason: str) -> None:
        if self._burst_in_flight:
            log.debug("refresh (%s): a burst is already running", reason)
            return
        if not self._detection or self.perception is None:
            why = "detection is off" if not self._detection else f"perception unavailable ({self._perception_error})"
            log.info("refresh (%s): %s, new queue for the current mood", reason, why)
            self._new_queue(reason)
            return
        self._burst_in_flight = True
        self._abort_burst.clear()
        self._submit("burst", lambda: self._job_burst(reason))

    def _player_call(self, name: str) -> None:
        getattr(self.player, name)()
        self._refresh_player_state()

    def _do_set_volume(self, volume: int) -> None:
        self._volume = self.player.set_volume(volume)
        self._publish_volume()

    def _do_set_policy(self, policy: str) -> None:
        if policy == self._policy:
            return
        log.info("policy: %s -> %s", self._policy, policy)
        self._policy = policy
        self._set_state("policy", {"policy": policy})
        self._new_queue("policy")

    def _do_set_override(self, emotion: str | None, timeout_s: float | None) -> None:
        before = self._effective_mood().emotion
        if emotion is None:
            if self._override is None:
                return
            self._override, self._override_until = None, None
            log.info("mood override cleared")
        else:
            self._override = MoodState.from_emotion(emotion, "override", self._camera_mood.ages, time.time())
            self._override_until = time.monotonic() + timeout_s if timeout_s else None
            log.info("mood override: %s%s", emotion, f" for {timeout_s:.0f} s" if timeout_s else "")
        self._publish_override()
        self._publish_mood()
        after = self._effective_mood()
        if after.emotion != before:
            self._event("mood_changed", emotion=after.emotion, previous=before, source=after.source)
        if emotion is not None:
            self._new_queue("override")
        else:
            self._do_refresh("override_cleared")  # back to the room: look at it again

    def _do_set_detection(self, enabled: bool) -> None:
        if enabled == self._detection:
            return
        self._detection = enabled
        log.info("detection %s", "on" if enabled else "off (camera closed, no frames read)")
        self._set_state("detection", {"enabled": enabled})
        if enabled:
            self._set_camera_status({"status": "idle"})
            self._do_refresh("detection_on")
        else:
            self._camera_retry_at = None
            self._submit("close camera", self._close_camera)
            self._set_camera_status({"status": "off"})

    def _do_rate(self, liked: bool) -> None:
        status = self.player.status()
        if status.item is None or status.item.track_id is None:
            log.info("%s: nothing from the library is playing", "like" if liked else "dislike")
            return
        track_id = status.item.track_id
        log.info("%s: %s", "like" if liked else "dislike", status.item.label)
        emotion = self._effective_mood().emotion
        self._submit("rate", lambda: self._job_rate(track_id, emotion, liked))
        if not liked:
            self.player.next()

    def _do_rescan(self) -> None:
        self._start_scan()

    def _do_button(self, kind: str) -> None:
        action = self.config.gpio.press_action if kind == "press" else self.config.gpio.hold_action
        log.info("button %s -> %s", kind, action)
        self._event("button", kind=kind, action=action)
        if action == "refresh":
            self._do_refresh("button")
        elif action == "next":
            self._player_call("next")
        else:
            self._player_call("toggle")

    # ----- loop: results of jobs and player events ---------------------------------------------

    def _on_burst_done(self, reason: str, result: BurstResult) -> None:
        self._burst_in_flight = False
        self._last_burst = result
        if result.error is not None:
            self._camera_retry_at = time.monotonic() + self.config.camera.retry_interval_s
            self._set_camera_status({"status": "error", "message": result.error,
                                     "retry_in_s": self.config.camera.retry_interval_s})
            log.error("camera: %s (retrying every %.0f s; music keeps playing)", result.error,
                      self.config.camera.retry_interval_s)
            if self._needs_queue():
                self._new_queue(reason)
            return
        if not self._detection:
            return  # switched off while looking: forget what was seen
        self._set_camera_status({"status": "ok", "source": result.camera_name})
        before = self._effective_mood().emotion
        had_child = _child_present(self._camera_mood.ages)
        update = self.aggregator.update(self._camera_mood, result.frames, now=time.time())
        self._camera_mood = update.mood
        log.info("mood (%s): %s [%d frames, %d faces, analysis %.1f fps]", reason, update.reason,
                 len(result.frames), update.mood.faces, result.analysis_fps)
        self._publish_mood()
        after = self._effective_mood()
        if after.emotion != before:
            self._event("mood_changed", emotion=after.emotion, previous=before, source=after.source)
        self._refresh_diagnostics(emit=True)
        child_arrived = _child_present(update.mood.ages) and not had_child
        if child_arrived:
            log.info("a child came into the room: new queue (no explicit tracks)")
        if after.emotion != before or child_arrived or self._needs_queue():
            self._new_queue(reason)
        else:
            self._ready.set()

    def _on_queue_ready(self, items: list[Any], reasons: list[str], reason: str) -> None:
        if not items:
            if not self._scanned_once:
                log.info("no music yet: waiting for the library scan")
                return  # _on_scan_done asks again
            log.warning("no music to play for mood %s (library: %s)", self._effective_mood().emotion,
                        self._library_state.get("status"))
            self._ready.set()
            return
        self._queue_reasons = reasons
        self._queue_finished = False
        # A box that was paused when it went down stays quiet after the restart until someone asks.
        play = not (self._resumed_quiet and reason == "start")
        self.player.load(items, play=play)
        log.info("new queue (%s): %d tracks for %s, first: %s", reason, len(items),
                 self._effective_mood().emotion, items[0].label)
        self._refresh_player_state()
        self._persist(force=True)
        self._ready.set()

    def _on_player_event(self, name: str, data: dict[str, Any]) -> None:
        """Called on the player's notifier thread: hand over to the loop."""
        self._post(self._handle_player_event, name, data)

    def _handle_player_event(self, name: str, data: dict[str, Any]) -> None:
        if name == "track_started":
            item = data.get("item") or {}
            index = data.get("index")
            reason = self._queue_reasons[index] if isinstance(index, int) and index < len(self._queue_reasons) else None
            self._event("track_started", index=index, title=item.get("title"), artist=item.get("artist"),
                        track_id=item.get("track_id"), mood=item.get("mood"), reason=reason)
        elif name == "track_ended":
            item = data.get("item") or {}
            track_id = item.get("track_id")
            position = float(data.get("position") or 0.0)
            duration = float(data.get("duration") or item.get("duration") or 0.0)
            skipped = bool(data.get("skipped"))  # History counts it against the track only within 30 s
            emotion = self._effective_mood().emotion
            if track_id is not None and item.get("source", "library") == "library":
                self._submit("record play",
                             lambda: self._job_record_play(track_id, emotion, position, duration, skipped))
        elif name == "queue_ended":
            self._queue_finished = True
            if self.config.mood.refresh_on_queue_end:
                self._do_refresh("queue_end")
            else:
                self._new_queue("queue_end")
        elif name == "track_failed":
            item = data.get("item") or {}
            log.warning("track failed: %s: %s", item.get("path"), data.get("error"))
            if item.get("source") == "online" and self.online is not None:
                self._submit("online failed", lambda: self.online.report_failed(str(item.get("track_id") or ""),
                                                                              str(data.get("error") or "")))
        elif name == "player_restarted":
            log.warning("player restarted (%s restarts so far), resumed at item %s", data.get("restarts"),
                        data.get("index"))
            self._refresh_diagnostics(emit=True)
        elif name == "volume":
            self._volume = int(data.get("volume", self._volume))
            self._publish_volume()
        self._refresh_player_state()

    def _new_queue(self, reason: str) -> None:
        """Ask the worker for a queue for the current mood; it comes back to _on_queue_ready."""
        mood, policy = self._effective_mood(), self._policy
        self._submit("recommend", lambda: self._job_recommend(mood, policy, reason))

    # ----- worker jobs ------------------------------------------------------------------------

    def _job_burst(self, reason: str) -> None:
        result = self._capture_burst()
        self._post(self._on_burst_done, reason, result)

    def _capture_burst(self) -> BurstResult:
        from moodbox.camera import CameraError

        cfg = self.config.camera
        result = BurstResult()
        count = max(1, round(cfg.burst_seconds * cfg.burst_fps))
        interval = 1.0 / cfg.burst_fps
        began = time.monotonic()
        try:
            camera = self._open_camera()
            result.camera_name = camera.name
            self._event("capture", active=True)
            try:
                for number in range(count):
                    # Frames are taken on a fixed schedule; waiting also watches for the privacy switch.
                    if self._abort_burst.wait(max(0.0, began + number * interval - time.monotonic())):
                        break
                    frame = camera.read(timeout=cfg.capture_timeout_s)
                    if self._abort_burst.is_set():
                        break
                    start = time.monotonic()
                    faces = self.perception.analyze(frame)
                    result.analysis_seconds += time.monotonic() - start
                    result.frames.append(faces)
                    if cfg.save_frames:
                        self._save_debug_frame(frame, faces)
                    self._show_frame(frame, faces)
            finally:
                self._event("capture", active=False)
        except CameraError as exc:
            result.error = str(exc) or type(exc).__name__
            self._close_camera()
        except Exception as exc:  # noqa: BLE001 - a failed analysis must not end the daemon
            log.exception("burst failed")
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.monotonic() - began
        return result

    def _show_frame(self, frame: np.ndarray, faces: list[FaceReading]) -> None:
        with self._emit_lock:
            listeners = list(self._frame_listeners)
        for listener in listeners:
            try:
                listener(frame, faces)
            except Exception:  # noqa: BLE001 - a viewer must not break the burst
                log.exception("frame listener failed")

    def _job_camera_probe(self) -> None:
        from moodbox.camera import CameraError

        try:
            camera = self._open_camera()
            camera.read(timeout=self.config.camera.capture_timeout_s)  # dropped at once
            self._post(self._on_camera_probe, None, camera.name)
        except CameraError as exc:
            self._close_camera()
            self._post(self._on_camera_probe, str(exc) or type(exc).__name__, "")

    def _on_camera_probe(self, error: str | None, name: str) -> None:
        if not self._detection:
            return
        if error is None:
            log.info("camera is back (%s)", name)
            self._set_camera_status({"status": "ok", "source": name})
        else:
            self._camera_retry_at = time.monotonic() + self.config.camera.retry_interval_s
            self._set_camera_status({"status": "error", "message": error,
                                     "retry_in_s": self.config.camera.retry_interval_s})

    def _open_camera(self) -> Any:
        from moodbox.camera import open_camera

        if self._camera is None:
            self._camera = open_camera(self.config.camera, self.fallback_faces_dir)
            log.info("camera opened: %s", self._camera.name)
        return self._camera

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
                log.info("camera closed")
            except Exception:  # noqa: BLE001
                log.exception("closing the camera failed")

    def _save_debug_frame(self, frame: np.ndarray, faces: list[FaceReading]) -> None:
        """camera.save_frames (debug only): the frame with its faces drawn, under state_dir/debug-frames."""
        import cv2

        folder = self.state_dir / "debug-frames"
        folder.mkdir(parents=True, exist_ok=True)
        image = frame.copy()
        for face in faces:
            x, y, w, h = face.box
            cv2.rectangle(image, (x, y), (x + w, y + h), (0, 255, 0), 2)
            cv2.putText(image, f"{face.emotion_label} {face.age_years:.0f}", (x, max(12, y - 4)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
        cv2.imwrite(str(folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6:06d}.jpg"), image)
        for old in sorted(folder.glob("*.jpg"))[:-DEBUG_FRAMES_KEPT]:
            old.unlink(missing_ok=True)

    # Library, recommender and history: everything that touches the index runs on the worker.

    def _job_open_library(self) -> None:
        from moodbox.music import HISTORY_FILE, INDEX_FILE, History, LibraryIndex, Recommender

        try:
            self.index = LibraryIndex(self.state_dir / INDEX_FILE)
            self.history = History(self.state_dir / HISTORY_FILE)
        except Exception as exc:  # noqa: BLE001 - e.g. a state folder we may not write to
            log.exception("cannot open the library index in %s", self.state_dir)
            self._publish_library({"status": "error", "message": f"cannot open the library index: {exc}",
                                   "tracks": 0})
            self._scanned_once = True  # nothing will come: do not wait for it
            self._ready.set()
            return
        self.recommender = Recommender(self.index, self.history, self.config.recommend)
        if self.config.online.enabled:
            from moodbox.online import OnlineFallback

            self.online = OnlineFallback(self.config, state_dir=self.state_dir)
        tracks = self._library_count()
        self._publish_library({"status": "ready" if tracks else "empty", "tracks": tracks})
        self._post(self._do_rescan)  # catch up with files added while we were off

    def _start_scan(self) -> None:
        """Scan on a thread of its own: the index is thread-safe, and the music plays on meanwhile."""
        if self._scan_thread is not None and self._scan_thread.is_alive():
            log.info("a library scan is already running")
            return
        self._scan_thread = threading.Thread(target=self._scan, name="library-scan", daemon=True)
        self._scan_thread.start()

    def _library_roots(self) -> tuple[list[Path], bool]:
        """The configured folders that hold audio files, or else the demo library (generated when missing)."""
        roots = [p for p in self.config.library_paths if _has_audio(p)]
        if roots:
            return roots, False
        demo = self._demo_library()
        log.warning("no music found in library.path (%s); playing the demo library %s instead. "
                    "Put music there or set library.path in the config.",
                    ", ".join(str(p) for p in self.config.library_paths) or "empty", demo)
        return [demo], True

    def _demo_dir(self) -> Path:
        """library.demo_path, or the copy in state_dir made when that folder could not be written."""
        from moodbox.music.demo import MARKER

        demo = self.config.resolve_path(self.config.library.demo_path)
        spare = self.state_dir / "demo-library"
        if not (demo / MARKER).exists() and (spare / MARKER).exists():
            return spare
        return demo

    def _demo_library(self) -> Path:
        """The demo library's folder, generated first when it is missing or incomplete."""
        from moodbox.music.demo import MARKER, make_demo_library

        demo = self._demo_dir()
        if not (demo / MARKER).exists():  # the marker is written last: a run cut short is completed
            log.info("generating the demo library in %s (once)", demo)
            try:
                make_demo_library(demo)
            except OSError as exc:  # e.g. read-only under systemd's ProtectSystem=strict
                spare = self.state_dir / "demo-library"
                log.warning("cannot write the demo library to %s (%s); writing it to %s", demo, exc, spare)
                make_demo_library(spare)
                demo = spare
        return demo

    def _scan(self) -> None:
        """Bring the index in line with the folders (library thread); the loop hears when it is done."""
        try:
            self._scan_once()
        except InterruptedError:
            return  # stopping
        except Exception as exc:  # noqa: BLE001 - a bad library must not end the daemon
            log.exception("library scan failed")
            self._publish_library({"status": "error", "message": str(exc), "tracks": self._library_count()})
        self._post(self._on_scan_done)
        if self.config.library.audio_analysis and self.index is not None:  # its own thread, after each scan
            from moodbox.music.audioscan import run_audio_pass
            run_audio_pass(self.index, self._stopping)

    def _scan_once(self) -> None:
        from moodbox.music import scan_library

        index = self.index
        if index is None:
            return  # the index could not be opened (its error state stays)
        roots, demo = self._library_roots()
        self._publish_library({"status": "scanning", "tracks": self._library_count(), "roots": [str(r) for r in roots],
                               "demo": demo})

        def progress(*_: Any) -> None:
            if self._stopping.is_set():
                raise InterruptedError("stopping")

        # Audio files there but none playable: the demo library stands in. While it does, it stays
        # indexed during the next scans (no gap in what the recommender sees).
        extra: list[Path] = []
        if not demo and index.count(roots) == 0 and index.count([self._demo_dir()]) > 0:
            extra = [self._demo_dir()]
        report = scan_library(roots + extra, index, progress)
        if not demo and index.count(roots) == 0:
            unreadable = sum(1 for path, _ in report.failed if any(path.is_relative_to(r) for r in roots))
            if index.count(extra) == 0:  # not in yet, or its folder was deleted meanwhile
                extra = [self._demo_library()]
                report = scan_library(roots + extra, index, progress)
            log.warning("no playable track in library.path (%s): %d audio files skipped as unreadable "
                        "(reasons below; `moodbox scan` lists them all); playing the demo library %s instead",
                        ", ".join(map(str, roots)), unreadable, extra[0])
            demo = True
        elif extra:
            log.info("library.path has playable music again; the demo library is left out")
            extra = []
            report = scan_library(roots, index, progress)
        roots = roots + extra
        names = [str(r) for r in roots]
        tracks = self._library_count()
        if tracks == 0:
            log.warning("no playable music found in %s", ", ".join(names))
        for path, why in report.failed[:20]:
            log.warning("library: skipped %s: %s", path, why)
        self._publish_library({"status": "ready" if tracks else "empty", "tracks": tracks, "roots": names,
                               "demo": demo, "last_scan": round(time.time()), "added": report.added,
                               "updated": report.updated, "removed": report.removed, "failed": len(report.failed),
                               "scan_seconds": round(report.seconds, 1)})

    def _on_scan_done(self) -> None:
        self._scanned_once = True
        if self._needs_queue() and not self._burst_in_flight:
            self._new_queue("library_ready")

    def _library_count(self) -> int:
        return int(self.index.count()) if self.index is not None else 0

    def _job_recommend(self, mood: MoodState, policy: str, reason: str) -> None:
        from moodbox.player import PlayItem

        if self.recommender is None:
            self._post(self._on_queue_ready, [], [], reason)
            return
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
        self._post(self._on_queue_ready, items, reasons, reason)

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

    def _job_record_play(self, track_id: int, emotion: str, listened: float, duration: float, skipped: bool) -> None:
        if self.history is not None:
            self.history.record_play(track_id, emotion, listened, duration, skipped)

    def _job_rate(self, track_id: int, emotion: str, liked: bool) -> None:
        if self.history is not None:
            (self.history.like if liked else self.history.dislike)(track_id, emotion)

    @staticmethod
    def _close_quietly(part: Any) -> None:
        if part is None:
            return
        try:
            part.close()
        except Exception:  # noqa: BLE001
            log.exception("closing %s failed", type(part).__name__)

    # ----- perception -------------------------------------------------------------------------------

    def _load_perception(self) -> None:
        try:
            from moodbox.perception import Perception

            self.perception = Perception.from_config(self.config)
        except Exception as exc:  # noqa: BLE001 - the music plays on without eyes
            self.perception = None
            self._perception_error = f"{type(exc).__name__}: {exc}"
            log.error("perception unavailable, the mood stays %s: %s (check perception.models_dir: %s)",
                      self._camera_mood.emotion, self._perception_error, self.config.models_path)

    # ----- state and persistence -------------------------------------------------------------

    def _effective_mood(self) -> MoodState:
        """The override when one is set (with who is in the room now), else what the camera saw."""
        if self._override is None:
            return self._camera_mood
        return replace(self._override, faces=self._camera_mood.faces, ages=self._camera_mood.ages)

    def _needs_queue(self) -> bool:
        """Nothing left to play: no queue yet, or the last one ran out (a user's stop does not count)."""
        return self._queue_finished or self.player.status().queue_length == 0

    def _publish_all(self) -> None:
        self._publish_mood()
        self._publish_volume()
        self._set_state("policy", {"policy": self._policy})
        self._publish_override()
        self._set_state("detection", {"enabled": self._detection})
        self._set_camera_status(self._camera_status)
        self._publish_library(self._library_state)
        self._refresh_player_state()
        self._refresh_diagnostics(emit=True)

    def _publish_mood(self) -> None:
        self._set_state("mood", mood_to_dict(self._effective_mood()))

    def _publish_volume(self) -> None:
        self._set_state("volume", {"volume": self._volume, "max": self.config.audio.max_volume})

    def _publish_override(self) -> None:
        if self._override is None:
            self._set_state("override", {"active": False, "emotion": None, "until": None})
        else:
            until = None
            if self._override_until is not None:
                until = round(time.time() + self._override_until - time.monotonic())
            self._set_state("override", {"active": True, "emotion": self._override.emotion, "until": until})

    def _set_camera_status(self, status: dict[str, Any]) -> None:
        self._camera_status = status
        self._set_state("camera", status)

    def _publish_library(self, state: dict[str, Any]) -> None:
        self._library_state = state
        self._set_state("library", state)

    def _refresh_player_state(self) -> None:
        """The player topic changes on track/state changes; the position alone is kept quietly."""
        if self.player is None:
            return
        status = self.player.status()
        item = status.item
        index = status.index
        state = {
            "state": status.state,
            "index": index,
            "queue_length": status.queue_length,
            "title": item.title if item else None,
            "artist": item.artist if item else None,
            "album": item.album if item else None,
            "track_mood": item.mood if item else None,
            "source": item.source if item else None,
            "track_id": item.track_id if item else None,
            "reason": self._queue_reasons[index] if index is not None and index < len(self._queue_reasons) else None,
            "duration": status.duration,
        }
        with self._state_lock:
            before = self._states.get("player", {})
            changed = {k: v for k, v in before.items() if k != "position"} != state
            self._states["player"] = {**state, "position": status.position}
        if changed:
            self._emit("player", {**state, "position": status.position})

    def _refresh_diagnostics(self, emit: bool) -> None:
        burst = self._last_burst
        timings: dict[str, float] = {}
        if self.perception is not None:
            try:
                timings = {k: round(v, 1) for k, v in self.perception.timings_ms().items()}
            except Exception:  # noqa: BLE001
                log.debug("perception timings unavailable", exc_info=True)
        status = self.player.status() if self.player is not None else None
        diagnostics = {
            "uptime_s": round(time.monotonic() - self.started_at),
            "cpu_temperature_c": cpu_temperature(),
            "memory_mb": round(resident_memory_mb() or 0.0, 1),
            "timings_ms": timings,
            "analysis_fps": round(burst.analysis_fps, 2) if burst else None,
            "last_burst_s": round(burst.seconds, 2) if burst else None,
            "perception": "ok" if self.perception is not None else f"unavailable: {self._perception_error}",
            "library_tracks": self._library_state.get("tracks", 0),
            "player_restarts": status.restarts if status else 0,
        }
        if self.online is not None:
            diagnostics["online"] = self.online.status()
        self._set_state("diagnostics", diagnostics, emit=emit)

    def _persist(self, force: bool = False) -> None:
        """Save queue, position, mood and policy to state_dir/player.json (not the volume)."""
        if self.player is None:
            return
        self._last_persist = time.monotonic()
        data = {
            "version": 1,
            "player": self.player.export_state(),
            "reasons": self._queue_reasons,
            "camera_mood": mood_to_dict(self._camera_mood),
            "policy": self._policy,
            "queue_finished": self._queue_finished,
        }
        if not force and data == self._last_persisted:
            return
        try:
            write_json_atomic(self.state_dir / PLAYER_STATE_FILE, {**data, "saved_at": round(time.time())})
            self._last_persisted = data
        except OSError as exc:
            log.error("cannot save the player state to %s: %s", self.state_dir / PLAYER_STATE_FILE, exc)

    def _resume(self) -> None:
        """Load the saved queue (playing again if it was playing), mood and policy."""
        path = self.state_dir / PLAYER_STATE_FILE
        if not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            log.warning("ignoring the saved player state %s: %s", path, exc)
            return
        try:
            self._camera_mood = mood_from_dict(data["camera_mood"])
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("saved mood unusable (%s); starting neutral", exc)
        if data.get("policy") in POLICIES:
            self._policy = data["policy"]
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
        self._queue_reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
        play = saved.get("state") == "playing"
        self._queue_finished = bool(data.get("queue_finished"))
        self._resumed_quiet = not play and not self._queue_finished
        self.player.load(args["items"], index=args["index"], position=args["position"], play=play)
        log.info("resumed the saved queue: %d tracks, at %d, %.0f s%s", len(items), args["index"], args["position"],
                 "" if play else " (paused)")



def _has_audio(root: Path) -> bool:
    """True when the folder (or one below it) holds at least one audio file; stops at the first."""
    from moodbox.music.tags import AUDIO_EXTENSIONS

    if not root.is_dir():
        return False
    for _, _, files in os.walk(root):
        # hidden files are skipped: half-written demo tracks are hidden until complete
        if any(Path(name).suffix.lower() in AUDIO_EXTENSIONS and not name.startswith(".") for name in files):
            return True
    return False


def _child_present(ages: tuple[float, ...]) -> bool:
    from moodbox.music.recommender import CHILD_AGE

    return any(age < CHILD_AGE for age in ages)
