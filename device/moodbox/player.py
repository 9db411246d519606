"""The music player: a supervised mpv process driven over its JSON IPC socket.

mpv runs as a child process (`--idle=yes --no-video`), so a player crash cannot take the daemon
down: a supervisor notices the dead process, starts a new one and resumes the same track near the
same position (event `player_restarted`). The queue lives here on the Python side and mpv gets one
file at a time, so "end of track -> next", "unplayable file -> skip" and "queue ended" are ours.

Events go to `on_event(name, data)` from one notifier thread, in order:
  track_started    {index, item, position}
  track_ended      {index, item, position, duration, skipped, reason}  reason: eof|next|previous|stop|load|close
  track_failed     {index, item, error}
  queue_ended      {count, failed}   failed: items of this queue that could not be played
  player_restarted {index, item, position, exit_code, restarts}
  volume           {volume}
An mpv that stops answering is killed and restarted like a crashed one; a file that crashes mpv
again and again is reported with track_failed and skipped.
The callback may call back into the player; it should not block for long.
"""
from __future__ import annotations

import ctypes
import glob
import json
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from moodbox.config import AudioConfig

log = logging.getLogger(__name__)

EventCallback = Callable[[str, dict[str, Any]], None]
PlayerState = Literal["playing", "paused", "stopped"]

# Properties mpv reports to us whenever they change (observe_property id -> name).
OBSERVED = {1: "pause", 2: "time-pos", 3: "duration", 4: "idle-active", 5: "path", 6: "playlist-pos"}
REQUEST_TIMEOUT_S = 5.0
START_TIMEOUT_S = 10.0
SUPERVISE_INTERVAL_S = 0.2
# While playing, an mpv silent this long is asked for its pid; no answer in HANG_TIMEOUT_S: killed, restarted.
HANG_PROBE_S = 2.0
HANG_TIMEOUT_S = 1.5
IPC_SOCKET = "mpv.sock"  # in the player's private temp folder
# A file on which mpv crashed this many times in a row is treated as unplayable.
CRASHES_PER_ITEM = 3
# Restart delays after repeated crashes (seconds); the last one repeats.
RESTART_BACKOFF_S = (0.0, 0.5, 2.0, 5.0, 15.0, 30.0)
# previous() restarts the current track instead when it has played longer than this.
PREVIOUS_RESTARTS_AFTER_S = 5.0


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


def has_sound_output() -> bool:
    """True when there is an ALSA playback device or a PulseAudio/PipeWire socket to play to."""
    if glob.glob("/dev/snd/pcmC*D*p"):
        return True
    if os.environ.get("PULSE_SERVER"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return any(Path(runtime, name).exists() for name in ("pulse/native", "pipewire-0"))


def audio_args(output: str) -> list[str]:
    """mpv arguments for audio.output: null, auto (null without a sound card) or a device name."""
    if output == "null":
        return ["--ao=null"]
    if output == "auto":
        if has_sound_output():
            return []
        log.warning("no sound card found, audio goes to null output")
        return ["--ao=null"]
    return [f"--audio-device={output}"]


def replaygain_args(config: AudioConfig) -> list[str]:
    """mpv arguments for audio.replaygain*: normalise loudness from the files' ReplayGain tags."""
    if config.replaygain == "off":
        return ["--replaygain=no"]  # and no fallback gain: mpv applies that even with replaygain=no
    return [
        f"--replaygain={config.replaygain}",
        f"--replaygain-preamp={config.replaygain_preamp_db:g}",
        f"--replaygain-fallback={config.replaygain_fallback_db:g}",
        # "no" lowers a gain that would clip the tagged peak (mpv's default; its manual up to 0.37
        # had this backwards, see mpv issue #13111), so it is spelled out here.
        "--replaygain-clip=no",
    ]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the thread that started us ends (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _MpvConnection:
    """A JSON IPC client: numbered requests with replies, events handed to a callback."""

    def __init__(self, sock_path: Path, on_event: Callable[[dict[str, Any]], None]) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(sock_path))
        self._on_event = on_event
        self._send_lock = threading.Lock()
        self._next_id = 0
        self._waiting: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="mpv-ipc-reader", daemon=True)
        self._reader.start()

    def command(self, args: list[Any] | dict[str, Any], timeout: float = REQUEST_TIMEOUT_S) -> Any:
        """Send one command and wait for its reply; returns the reply's data."""
        done = threading.Event()
        reply: list[dict[str, Any]] = []
        with self._send_lock:
            self._next_id += 1
            request_id = self._next_id
            self._waiting[request_id] = (done, reply)
            line = json.dumps({"command": args, "request_id": request_id}) + "\n"
            try:
                self._sock.sendall(line.encode("utf-8"))
            except OSError as exc:
                self._waiting.pop(request_id, None)
                raise PlayerError(f"mpv IPC write failed: {exc}") from None
        if not done.wait(timeout) or not reply:
            self._waiting.pop(request_id, None)
            if self.closed.is_set():
                raise PlayerError("mpv IPC connection closed")
            raise PlayerError(f"mpv did not answer {args!r} within {timeout:.0f} s")
        answer = reply[0]
        if answer.get("error") != "success":
            raise MpvCommandError(f"mpv refused {args!r}: {answer.get('error')}")
        return answer.get("data")

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._handle_line(line)
        except OSError:
            pass
        finally:
            self.closed.set()
            for done, _ in list(self._waiting.values()):
                done.set()

    def _handle_line(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("mpv sent a line that is not JSON: %r", line[:200])
            return
        if "request_id" in message and "event" not in message:
            waiter = self._waiting.pop(message["request_id"], None)
            if waiter is not None:
                waiter[1].append(message)
                waiter[0].set()
        elif "event" in message:
            self._on_event(message)

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._reader.join(timeout=1.0)


class MpvPlayer:
    """Queue + volume cap on top of a supervised mpv process. Thread-safe."""

    def __init__(self, config: AudioConfig | None = None, on_event: EventCallback | None = None) -> None:
        self.config = config or AudioConfig()
        self.request_timeout_s = REQUEST_TIMEOUT_S
        self.restart_backoff_s = RESTART_BACKOFF_S
        self.on_event = on_event
        self._lock = threading.RLock()
        self._items: list[PlayItem] = []
        self._index: int | None = None
        self._state: PlayerState = "stopped"
        self._position = 0.0
        self._duration: float | None = None
        self._volume = min(self.config.start_volume, self.config.max_volume)
        self._entry_id: int | None = None  # mpv's playlist_entry_id of the file we loaded last
        self._started = False  # whether track_started was sent for the loaded file
        self._resuming = False  # the loaded file is a resume after a restart: no new track_started
        self._crashes_on_item = 0
        self._failed_in_queue = 0  # items of this queue that could not be played
        self._index_of_crashes: int | None = None
        self._conn_generation = 0  # events of an old (dead) mpv are ignored
        self._restarts = 0
        self._last_mpv_message = ""
        self._last_heard = time.monotonic()  # the last event from mpv (hang detection)
        self._recent_crashes: list[float] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: _MpvConnection | None = None
        self._sock_dir: Path | None = None
        self._mpv_events: queue.Queue[tuple[int, dict[str, Any]] | None] = queue.Queue()
        self._out_events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._closing = threading.Event()
        self._worker: threading.Thread | None = None
        self._notifier: threading.Thread | None = None

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start mpv and the helper threads. Raises PlayerError when mpv cannot run at all.

        mpv is always started from the supervisor thread: it gets SIGTERM when that thread ends
        (PR_SET_PDEATHSIG), so even a daemon killed with -9 leaves no orphan player behind."""
        with self._lock:
            if self._worker is not None:
                return
            if shutil.which(self.config.mpv_path) is None:
                raise PlayerError(
                    f"mpv not found (audio.mpv_path: {self.config.mpv_path!r}); install it with 'sudo apt install mpv'"
                )
            parent = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or None
            self._sock_dir = Path(tempfile.mkdtemp(prefix="moodbox-mpv-", dir=parent))  # mode 0700
        started: list[BaseException | None] = []
        ready = threading.Event()
        self._worker = threading.Thread(target=self._work_loop, args=(started, ready), name="mpv-supervisor", daemon=True)
        self._worker.start()
        ready.wait()
        if started and started[0] is not None:
            self._worker.join(timeout=2.0)
            self._worker = None
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            raise started[0]
        self._notifier = threading.Thread(target=self._notify_loop, name="player-events", daemon=True)
        self._notifier.start()

    def close(self) -> None:
        """Stop mpv (within about a second) and the helper threads."""
        if self._closing.is_set():
            return
        with self._lock:
            self._closing.set()
            if self._state != "stopped" and self._index is not None and self._started:
                self._emit_track_ended("close", skipped=False)
            self._state = "stopped"
            self._stop_process(grace_s=0.5)
        self._mpv_events.put(None)
        self._out_events.put(None)
        for thread in (self._worker, self._notifier):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2.0)
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)

    def __enter__(self) -> "MpvPlayer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mpv_property(self, name: str) -> Any:
        """Read a property straight from mpv (diagnostics, tests); None when mpv is not running
        or the property is unavailable now (e.g. time-pos with no file loaded)."""
        with self._lock:
            if self._conn is None:
                return None
            try:
                return self._command(["get_property", name])
            except MpvCommandError:
                return None

    @property
    def ipc_path(self) -> Path | None:
        """mpv's JSON IPC socket (for diagnostics and tests); the same across restarts."""
        return self._sock_dir / IPC_SOCKET if self._sock_dir is not None else None

    @property
    def pid(self) -> int | None:
        """The mpv process id (for diagnostics and tests)."""
        proc = self._proc
        return proc.pid if proc is not None else None

    # ----- queue and transport ---------------------------------------------------------------

    def load(self, items: list[PlayItem], index: int = 0, position: float = 0.0, play: bool = False) -> None:
        """Replace the queue. Playback stops; it starts at items[index] from `position` on play()
        (or at once with play=True). Used for new recommendations and to resume after a reboot."""
        with self._lock:
            if self._state != "stopped" and self._index is not None:
                if self._started:
                    self._emit_track_ended("load", skipped=False)
                self._stop_mpv()
            self._items = list(items)
            self._index = max(0, min(index, len(self._items) - 1)) if self._items else None
            self._position = max(0.0, float(position)) if self._items else 0.0
            self._duration = None
            self._state = "stopped"
            self._crashes_on_item = 0
            self._failed_in_queue = 0
            if play:
                self.play()

    def play(self) -> None:
        """Play: resume when paused, start the current queue item when stopped."""
        with self._lock:
            if self._state == "paused":
                self._set_property("pause", False)
                self._state = "playing"
            elif self._state == "stopped":
                if self._index is None:
                    log.info("play: the queue is empty")
                    return
                self._start_item(self._index, self._position)

    def pause(self) -> None:
        with self._lock:
            if self._state == "playing":
                self._set_property("pause", True)
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
            self._position = 0.0

    def next(self) -> None:
        """Skip to the next queue item (track_ended has skipped=True); past the end: queue_ended."""
        with self._lock:
            if self._index is None:
                return
            if self._state != "stopped" and self._started:
                self._emit_track_ended("next", skipped=True)
            self._advance(self._index + 1)

    def previous(self) -> None:
        """Go back one item; after a few seconds of play (or on the first item) restart the current one."""
        with self._lock:
            if self._index is None:
                return
            target = self._index - 1
            if self._position > PREVIOUS_RESTARTS_AFTER_S or target < 0:
                target = self._index
            if self._state != "stopped" and self._started:
                self._emit_track_ended("previous", skipped=False)
            self._start_item(target, 0.0)

    def set_volume(self, volume: int | float) -> int:
        """Set the volume, clamped to 0..audio.max_volume; returns the volume applied."""
        applied = int(max(0, min(int(round(volume)), self.config.max_volume)))
        with self._lock:
            self._volume = applied
            if self._conn is not None:
                self._set_property("volume", applied)
        self._out_events.put(("volume", {"volume": applied}))
        return applied

    @property
    def volume(self) -> int:
        return self._volume

    def status(self) -> PlayerStatus:
        with self._lock:
            item = self._items[self._index] if self._index is not None else None
            duration = self._duration if self._duration is not None else (item.duration if item else None)
            return PlayerStatus(
                state=self._state,
                index=self._index,
                item=item,
                position=round(self._position, 3),
                duration=duration,
                volume=self._volume,
                queue_length=len(self._items),
                restarts=self._restarts,
            )

    def queue(self) -> list[PlayItem]:
        with self._lock:
            return list(self._items)

    def export_state(self) -> dict[str, Any]:
        """What the daemon persists to resume after a reboot: feed it back with load(**restore_args(d))."""
        with self._lock:
            return {
                "items": [item.to_dict() for item in self._items],
                "index": self._index,
                "position": round(self._position, 3),
                "state": self._state,
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

    # ----- internals (called with self._lock held) -------------------------------------------

    def _advance(self, target: int) -> None:
        if target >= len(self._items):
            self._stop_mpv()
            self._state = "stopped"
            self._index = len(self._items) - 1 if self._items else None
            self._position = 0.0
            self._entry_id = None
            log.info("queue ended after %d items", len(self._items))
            self._out_events.put(("queue_ended", {"count": len(self._items), "failed": self._failed_in_queue}))
            return
        self._start_item(target, 0.0)

    def _start_item(self, index: int, position: float) -> None:
        """Load items[index] into mpv and play it from `position`."""
        self._index = index
        self._position = position
        self._duration = None
        self._started = False
        self._resuming = False
        self._state = "playing"
        if index != self._index_of_crashes:
            self._crashes_on_item = 0
        self._load_into_mpv(self._items[index], position, paused=False)

    def _load_into_mpv(self, item: PlayItem, position: float, paused: bool) -> None:
        if self._conn is None:
            log.warning("mpv is not running; %s starts when it is back", item.label)
            self._entry_id = None
            return
        try:
            self._set_property("pause", paused)
            options = f"start={position:.3f}" if position > 0 else ""
            command: dict[str, Any] = {"name": "loadfile", "url": item.path, "flags": "replace"}
            if options:
                command["options"] = options
            reply = self._command(command)
            self._entry_id = reply.get("playlist_entry_id") if isinstance(reply, dict) else None
            log.info("playing %s (%s)%s", item.label, item.path, f" from {position:.1f} s" if position else "")
        except PlayerError as exc:
            log.error("could not hand %s to mpv: %s", item.path, exc)
            self._entry_id = None

    def _stop_mpv(self) -> None:
        self._entry_id = None
        self._started = False
        if self._conn is not None:
            try:
                self._command(["stop"])
            except PlayerError as exc:
                log.warning("mpv stop failed: %s", exc)

    def _set_property(self, name: str, value: Any) -> None:
        if self._conn is None:
            return
        try:
            self._command(["set_property", name, value])
        except PlayerError as exc:
            log.warning("mpv: setting %s failed: %s", name, exc)

    def _command(self, args: list[Any] | dict[str, Any]) -> Any:
        """One mpv command; an mpv that stopped answering is killed (the supervisor restarts it)."""
        if self._conn is None:
            raise PlayerError("mpv is not running")
        try:
            return self._conn.command(args, timeout=self.request_timeout_s)
        except MpvCommandError:
            raise
        except PlayerError:
            proc = self._proc
            if proc is not None and proc.poll() is None and not self._closing.is_set():
                log.error("mpv stopped answering (%s); killing it, it will be restarted", args)
                proc.kill()
            raise

    def _emit_track_ended(self, reason: str, skipped: bool) -> None:
        item = self._items[self._index] if self._index is not None else None
        self._out_events.put(
            (
                "track_ended",
                {
                    "index": self._index,
                    "item": item.to_dict() if item else None,
                    "position": round(self._position, 3),
                    "duration": self._duration if self._duration is not None else (item.duration if item else None),
                    "skipped": skipped,
                    "reason": reason,
                },
            )
        )
        self._started = False

    # ----- process supervision ---------------------------------------------------------------

    def _spawn(self) -> None:
        """Start an mpv process and connect to it (lock held)."""
        assert self._sock_dir is not None
        sock_path = self._sock_dir / IPC_SOCKET
        sock_path.unlink(missing_ok=True)
        output_args = audio_args(self.config.output)
        args = [
            self.config.mpv_path,
            "--idle=yes",
            "--no-video",
            "--no-terminal",
            "--no-config",
            "--ytdl=no",
            "--input-default-bindings=no",
            "--network-timeout=15",  # a dead online station fails in seconds, not a minute
            f"--input-ipc-server={sock_path}",
            "--volume-max=100",
            f"--volume={min(self._volume, self.config.max_volume)}",
            *output_args,
            *replaygain_args(self.config),
        ]
        log.debug("starting %s", " ".join(args))
        try:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise PlayerError(f"cannot start mpv ({self.config.mpv_path}): {exc}") from None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise PlayerError(f"mpv exited at start with status {code}; try running: {' '.join(args)}")
            if sock_path.exists():
                try:
                    self._conn_generation += 1
                    generation = self._conn_generation
                    self._conn = _MpvConnection(sock_path, lambda message: self._mpv_events.put((generation, message)))
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self._stop_process(grace_s=0.2)
                raise PlayerError(f"mpv did not open its IPC socket within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.02)
        for observe_id, name in OBSERVED.items():
            self._conn.command(["observe_property", observe_id, name])
        self._conn.command(["request_log_messages", "warn"])  # mpv's own warnings go to our log
        log.info("mpv started (pid %d, %s, replaygain %s)", self._proc.pid,
                 " ".join(output_args) or "default audio output", self.config.replaygain)

    def _stop_process(self, grace_s: float) -> None:
        """Quit mpv, kill it if it does not go within grace_s (lock held)."""
        proc, conn = self._proc, self._conn
        self._proc, self._conn = None, None
        if conn is not None:
            try:
                conn.command(["quit"], timeout=grace_s)
            except PlayerError:
                pass
        if proc is not None:
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2.0)
        if conn is not None:
            conn.close()

    def _work_loop(self, started: list[BaseException | None], ready: threading.Event) -> None:
        """Start mpv, then handle its events and watch the process; restart it when it died."""
        try:
            with self._lock:
                self._spawn()
            started.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            started.append(exc)
            return
        finally:
            ready.set()
        while not self._closing.is_set():
            try:
                message = self._mpv_events.get(timeout=SUPERVISE_INTERVAL_S)
            except queue.Empty:
                message = None
            if self._closing.is_set():
                break
            try:
                if message is not None:
                    generation, event = message
                    self._last_heard = time.monotonic()
                    with self._lock:
                        if generation == self._conn_generation:
                            self._handle_mpv_event(event)
                self._supervise()
            except Exception:  # noqa: BLE001 - the supervisor must survive anything
                log.exception("player supervisor error")

    def _supervise(self) -> None:
        with self._lock:
            proc = self._proc
            if self._closing.is_set() or proc is None or proc.poll() is None:
                if proc is None and not self._closing.is_set() and self._sock_dir is not None:
                    self._restart(exit_code=None)
                elif proc is not None and self._state == "playing" and time.monotonic() - self._last_heard > HANG_PROBE_S:
                    self._probe_hang(proc)
                return
            code = proc.returncode
            log.error("mpv exited unexpectedly (status %s); restarting it", code)
            if self._conn is not None:
                self._conn.close()
            self._proc, self._conn = None, None
            self._restart(exit_code=code)

    def _probe_hang(self, proc: subprocess.Popen[bytes]) -> None:
        """A playing mpv that has said nothing for HANG_PROBE_S must answer; else it is killed (lock held)."""
        self._last_heard = time.monotonic()
        try:
            if self._conn is not None:
                self._conn.command(["get_property", "pid"], timeout=HANG_TIMEOUT_S)
        except MpvCommandError:
            pass
        except PlayerError:
            log.error("mpv hangs (no answer within %.1f s while playing); killing it, it will be restarted", HANG_TIMEOUT_S)
            proc.kill()

    def _restart(self, exit_code: int | None) -> None:
        now = time.monotonic()
        self._recent_crashes = [t for t in self._recent_crashes if now - t < 120] + [now]
        backoff = self.restart_backoff_s
        delay = backoff[min(len(self._recent_crashes) - 1, len(backoff) - 1)]
        if delay:
            log.warning("mpv crashed %d times in 2 minutes; waiting %.1f s before restarting", len(self._recent_crashes), delay)
            self._lock.release()
            try:
                if self._closing.wait(delay):
                    return
            finally:
                self._lock.acquire()
            if self._proc is not None or self._closing.is_set():
                return
        try:
            self._spawn()
        except PlayerError as exc:
            log.error("mpv restart failed: %s", exc)
            return
        self._restarts += 1
        self._entry_id = None
        if self._state == "stopped" or self._index is None:
            self._emit_restarted(exit_code)
            return
        if self._index == self._index_of_crashes:
            self._crashes_on_item += 1
        else:
            self._index_of_crashes, self._crashes_on_item = self._index, 1
        if self._crashes_on_item >= CRASHES_PER_ITEM:
            item = self._items[self._index]
            log.error("mpv crashed %d times on %s; skipping it", self._crashes_on_item, item.path)
            self._out_events.put(
                ("track_failed", {"index": self._index, "item": item.to_dict(), "error": "player crashed on this file"})
            )
            self._emit_restarted(exit_code)
            self._crashes_on_item = 0
            self._failed_in_queue += 1
            self._advance(self._index + 1)
            return
        # A track that had started is resumed quietly; one that crashed mpv before it started starts now.
        self._resuming, self._started = self._started, False
        self._load_into_mpv(self._items[self._index], self._position, paused=self._state == "paused")
        self._emit_restarted(exit_code)

    def _emit_restarted(self, exit_code: int | None) -> None:
        item = self._items[self._index] if self._index is not None else None
        self._out_events.put(
            (
                "player_restarted",
                {
                    "index": self._index,
                    "item": item.to_dict() if item else None,
                    "position": round(self._position, 3),
                    "exit_code": exit_code,
                    "restarts": self._restarts,
                },
            )
        )

    def _handle_mpv_event(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "log-message":
            self._log_mpv_message(message)
        elif event == "property-change":
            self._on_property(str(message.get("name")), message.get("data"))
        elif event == "file-loaded":
            if self._entry_id is None or self._index is None or self._started:
                return
            self._started = True
            if self._resuming:
                self._resuming = False
                return
            item = self._items[self._index]
            self._out_events.put(
                ("track_started", {"index": self._index, "item": item.to_dict(), "position": round(self._position, 3)})
            )
        elif event == "end-file":
            if self._entry_id is None or message.get("playlist_entry_id") != self._entry_id:
                return  # a file we already moved away from (stop, next, load)
            reason = message.get("reason")
            if reason == "eof":
                self._entry_id = None
                if self._duration is not None:
                    self._position = self._duration
                self._emit_track_ended("eof", skipped=False)
                self._crashes_on_item = 0
                self._advance((self._index or 0) + 1)
            elif reason == "error":
                self._entry_id = None
                item = self._items[self._index] if self._index is not None else None
                error = str(message.get("file_error") or "unplayable file")
                log.warning("cannot play %s: %s; skipping it", item.path if item else "?", error)
                self._out_events.put(
                    ("track_failed", {"index": self._index, "item": item.to_dict() if item else None, "error": error})
                )
                self._started = False
                self._failed_in_queue += 1
                self._advance((self._index or 0) + 1)

    def _log_mpv_message(self, message: dict[str, Any]) -> None:
        text = f"mpv {message.get('prefix', '')}: {str(message.get('text', '')).strip()}"
        if text == self._last_mpv_message:  # a broken stream can repeat one line many times
            return
        self._last_mpv_message = text
        # mpv's errors detail our own warning (e.g. "cannot play X"); its warnings are mostly noise
        level = logging.WARNING if message.get("level") in ("fatal", "error") else logging.INFO
        log.log(level, "%s", text)

    def _on_property(self, name: str, value: Any) -> None:
        if name == "time-pos" and isinstance(value, (int, float)) and self._entry_id is not None:
            self._position = float(value)
        elif name == "duration" and isinstance(value, (int, float)) and self._entry_id is not None:
            self._duration = float(value)

    def _notify_loop(self) -> None:
        while True:
            entry = self._out_events.get()
            if entry is None:
                # Deliver what is left (e.g. the final track_ended), then stop.
                while True:
                    try:
                        rest = self._out_events.get_nowait()
                    except queue.Empty:
                        return
                    if rest is not None:
                        self._deliver(*rest)
            self._deliver(*entry)

    def _deliver(self, name: str, data: dict[str, Any]) -> None:
        log.debug("player event %s %s", name, data)
        if self.on_event is None:
            return
        try:
            self.on_event(name, data)
        except Exception:  # noqa: BLE001 - a listener bug must not stop the player
            log.exception("player event listener failed on %s", name)
