"""The mpv process: its arguments, starting and stopping it, and a supervisor that restarts it.

mpv runs as a child process (`--idle=yes --no-video`), so a player crash cannot take the daemon
down. `MpvProcess` is one mpv at a time with its IPC connection; `Supervisor` is the thread that
starts it, hands its events on, notices a dead (or killed, hung) mpv and starts a new one with a
back-off when it keeps crashing.
"""
from __future__ import annotations

import ctypes
import glob
import logging
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from moodbox.config import AudioConfig
from moodbox.player.ipc import REQUEST_TIMEOUT_S, MpvConnection
from moodbox.player.items import MpvCommandError, PlayerError
from moodbox.player.replaygain import replaygain_args

log = logging.getLogger(__name__)

# Properties mpv reports to us whenever they change (observe_property id -> name).
OBSERVED = {1: "pause", 2: "time-pos", 3: "duration", 4: "idle-active", 5: "path", 6: "playlist-pos"}
START_TIMEOUT_S = 10.0
SUPERVISE_INTERVAL_S = 0.2
# While playing, an mpv silent this long is asked for its pid; no answer in HANG_TIMEOUT_S: killed, restarted.
HANG_PROBE_S = 2.0
HANG_TIMEOUT_S = 1.5
IPC_SOCKET = "mpv.sock"  # in the player's private temp folder
# Restart delays after repeated crashes (seconds); the last one repeats.
RESTART_BACKOFF_S = (0.0, 0.5, 2.0, 5.0, 15.0, 30.0)


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


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the thread that started us ends (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class MpvProcess:
    """One mpv at a time, connected over JSON IPC. Not thread-safe: callers hold the player's lock.

    Each connection gets a new `generation`; `on_message(generation, event)` runs on the IPC
    reader thread, so the receiver can drop the events of an mpv that has since been replaced."""

    def __init__(self, config: AudioConfig, closing: threading.Event,
                 on_message: Callable[[int, dict[str, Any]], None]) -> None:
        self.config = config
        self.request_timeout_s = REQUEST_TIMEOUT_S
        self.generation = 0
        self._closing = closing
        self._on_message = on_message
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: MpvConnection | None = None
        self._sock_dir: Path | None = None

    @property
    def ipc_path(self) -> Path | None:
        """mpv's JSON IPC socket; the same across restarts."""
        return self._sock_dir / IPC_SOCKET if self._sock_dir is not None else None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def make_socket_dir(self) -> None:
        """Check that mpv exists and make the private (0700) folder for its IPC socket."""
        if shutil.which(self.config.mpv_path) is None:
            raise PlayerError(
                f"mpv not found (audio.mpv_path: {self.config.mpv_path!r}); install it with 'sudo apt install mpv'"
            )
        parent = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or None
        self._sock_dir = Path(tempfile.mkdtemp(prefix="moodbox-mpv-", dir=parent))

    def remove_socket_dir(self) -> None:
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)

    def spawn(self, volume: int) -> None:
        """Start an mpv process and connect to it."""
        sock_path = self.ipc_path
        assert sock_path is not None, "make_socket_dir() first"
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
            f"--volume={min(volume, self.config.max_volume)}",
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
                    self.generation += 1
                    generation = self.generation
                    self._conn = MpvConnection(sock_path, lambda message: self._on_message(generation, message))
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self.stop(grace_s=0.2)
                raise PlayerError(f"mpv did not open its IPC socket within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.02)
        for observe_id, name in OBSERVED.items():
            self._conn.command(["observe_property", observe_id, name])
        self._conn.command(["request_log_messages", "warn"])  # mpv's own warnings go to our log
        log.info("mpv started (pid %d, %s, replaygain %s)", self._proc.pid,
                 " ".join(output_args) or "default audio output", self.config.replaygain)

    def command(self, args: list[Any] | dict[str, Any], timeout_s: float | None = None) -> Any:
        """One mpv command; an mpv that does not answer within timeout_s (default request_timeout_s)
        is killed (the supervisor restarts it)."""
        if self._conn is None:
            raise PlayerError("mpv is not running")
        try:
            return self._conn.command(args, timeout=self.request_timeout_s if timeout_s is None else timeout_s)
        except MpvCommandError:
            raise
        except PlayerError:
            proc = self._proc
            if proc is not None and proc.poll() is None and not self._closing.is_set():
                log.error("mpv stopped answering (%s); killing it, it will be restarted", args)
                proc.kill()
            raise

    def set_property(self, name: str, value: Any) -> None:
        """Set an mpv property; a failure is logged, and there is nothing to set while mpv is down."""
        self._command_or_warn(["set_property", name, value], f"mpv: setting {name} failed")

    def load_file(self, path: str, position: float, paused: bool) -> int | None:
        """Play one file (instead of the last) from `position`; returns mpv's playlist_entry_id for it."""
        self.set_property("pause", paused)
        command: dict[str, Any] = {"name": "loadfile", "url": path, "flags": "replace"}
        if position > 0:
            command["options"] = f"start={position:.3f}"
        reply = self.command(command)
        return reply.get("playlist_entry_id") if isinstance(reply, dict) else None

    def stop_file(self) -> None:
        """Stop playing (mpv stays, idle); a failure is logged."""
        self._command_or_warn(["stop"], "mpv stop failed")

    def _command_or_warn(self, args: list[Any], failure: str) -> None:
        if self._conn is None:
            return
        try:
            self.command(args)
        except PlayerError as exc:
            log.warning("%s: %s", failure, exc)

    def stop(self, grace_s: float) -> None:
        """Quit mpv, kill it if it does not go within grace_s."""
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

    def reap(self) -> int | None:
        """Forget an mpv that has died (closing its connection); returns its exit status."""
        proc, conn = self._proc, self._conn
        self._proc, self._conn = None, None
        if conn is not None:
            conn.close()
        return proc.returncode if proc is not None else None


class Supervisor:
    """The thread that runs mpv: starts it, hands its events on, restarts it when it died.

    on_event(event) and on_restarted(exit_code) are called on this thread with `lock` held."""

    def __init__(self, config: AudioConfig, lock: threading.RLock, closing: threading.Event,
                 on_event: Callable[[dict[str, Any]], None], on_restarted: Callable[[int | None], None],
                 volume: Callable[[], int], playing: Callable[[], bool] = lambda: False) -> None:
        self.restart_backoff_s = RESTART_BACKOFF_S
        self.restarts = 0
        self._lock = lock
        self._closing = closing
        self._on_event = on_event
        self._on_restarted = on_restarted
        self._volume = volume
        self._playing = playing
        self._last_heard = time.monotonic()  # the last event from mpv (hang detection)
        self._messages: queue.Queue[tuple[int, dict[str, Any]] | None] = queue.Queue()
        self.process = MpvProcess(config, closing, on_message=lambda generation, event: self._messages.put((generation, event)))
        self._recent_crashes: list[float] = []
        self._last_mpv_message = ""
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread, which starts mpv; raises what the first start raised.

        mpv is always started from this thread: it gets SIGTERM when the thread ends
        (PR_SET_PDEATHSIG), so even a daemon killed with -9 leaves no orphan player behind."""
        with self._lock:
            self.process.make_socket_dir()
        started: list[BaseException | None] = []
        ready = threading.Event()
        self._thread = threading.Thread(target=self._work_loop, args=(started, ready), name="mpv-supervisor", daemon=True)
        self._thread.start()
        ready.wait()
        if started and started[0] is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
            self.process.remove_socket_dir()
            raise started[0]

    def close(self) -> None:
        """End the thread (after the player set `closing` and stopped mpv) and remove the socket folder."""
        self._messages.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self.process.remove_socket_dir()

    def _work_loop(self, started: list[BaseException | None], ready: threading.Event) -> None:
        try:
            with self._lock:
                self.process.spawn(self._volume())
            started.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            started.append(exc)
            return
        finally:
            ready.set()
        while not self._closing.is_set():
            try:
                message = self._messages.get(timeout=SUPERVISE_INTERVAL_S)
            except queue.Empty:
                message = None
            if self._closing.is_set():
                break
            try:
                if message is not None:
                    generation, event = message
                    self._last_heard = time.monotonic()
                    with self._lock:
                        if generation == self.process.generation:
                            self._dispatch(event)
                self._supervise()
            except Exception:  # noqa: BLE001 - the supervisor must survive anything
                log.exception("player supervisor error")

    def _dispatch(self, event: dict[str, Any]) -> None:
        if event.get("event") == "log-message":
            self._log_mpv_message(event)
        else:
            self._on_event(event)

    def _log_mpv_message(self, message: dict[str, Any]) -> None:
        text = f"mpv {message.get('prefix', '')}: {str(message.get('text', '')).strip()}"
        if text == self._last_mpv_message:  # a broken stream can repeat one line many times
            return
        self._last_mpv_message = text
        # mpv's errors detail our own warning (e.g. "cannot play X"); its warnings are mostly noise
        level = logging.WARNING if message.get("level") in ("fatal", "error") else logging.INFO
        log.log(level, "%s", text)

    def _supervise(self) -> None:
        with self._lock:
            if self._closing.is_set():
                return
            if self.process.alive:
                if self._playing() and time.monotonic() - self._last_heard > HANG_PROBE_S:
                    self._probe_hang()
                return
            exit_code = None
            if self.process.pid is not None:  # it died; otherwise the last restart failed
                exit_code = self.process.reap()
                log.error("mpv exited unexpectedly (status %s); restarting it", exit_code)
            self._restart(exit_code)

    def _probe_hang(self) -> None:
        """A playing mpv that has said nothing for HANG_PROBE_S must answer; else it is killed (lock held)."""
        self._last_heard = time.monotonic()
        try:
            self.process.command(["get_property", "pid"], timeout_s=HANG_TIMEOUT_S)  # no answer: killed there
        except PlayerError:
            pass

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
            if self.process.pid is not None or self._closing.is_set():
                return
        try:
            self.process.spawn(self._volume())
        except PlayerError as exc:
            log.error("mpv restart failed: %s", exc)
            return
        self.restarts += 1
        self._on_restarted(exit_code)
