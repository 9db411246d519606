"""The core's two threads, so no caller (MQTT, GPIO, web, CLI) ever waits:
- the *loop* runs every command and every state change, one at a time, in order, and ticks the timers;
- the *worker* runs the long jobs (a camera burst, a recommendation, opening the library) in order
  and posts their results back to the loop.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

TICK_S = 0.5  # how often the loop looks at its timers
HEARTBEAT_STALE_S = 15.0  # the loop is considered hung when it has not ticked for this long
JOB_STUCK_S = 120.0  # a burst or recommendation never takes this long (scans run on their own thread)


class Runner:
    def __init__(self, tick: Callable[[], None]) -> None:
        self._tick = tick
        self._commands: queue.Queue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.Queue()
        self._jobs: queue.PriorityQueue[tuple[int, int, str, Callable[[], None]]] = queue.PriorityQueue()
        self._job_counter = itertools.count()
        self.stopping = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._worker_thread: threading.Thread | None = None
        self._heartbeat = time.monotonic()
        self._current_job: tuple[str, float] | None = None

    def post(self, function: Callable[..., None], *args: Any) -> None:
        """Run function(*args) on the loop, after the commands before it."""
        if not self.stopping.is_set():
            self._commands.put((function, args))

    def submit(self, name: str, job: Callable[[], None]) -> None:
        """Run a long job on the worker, in order (the stop request jumps the queue)."""
        self._jobs.put((0, next(self._job_counter), name, job))

    def start(self) -> None:
        self._loop_thread = threading.Thread(target=self._loop, name="core-loop", daemon=True)
        self._worker_thread = threading.Thread(target=self._work, name="core-worker", daemon=True)
        self._loop_thread.start()
        self._worker_thread.start()

    def stop_loop(self) -> None:
        """No more commands: the loop ends after the one it runs (waits up to 1 s)."""
        self.stopping.set()
        self._commands.put(None)
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=1.0)

    def stop_worker(self) -> None:
        """The worker ends after its current job (waits up to 0.5 s, then leaves it)."""
        self._jobs.put((-1, -1, "stop", lambda: None))
        if self._worker_thread is not None:
            self._worker_thread.join(timeout=0.5)
            if self._worker_thread.is_alive() and self._current_job:
                log.warning("worker still busy with '%s' at exit; leaving it", self._current_job[0])

    def alive(self) -> bool:
        """Both threads running, the loop ticking, no job stuck."""
        threads = (self._loop_thread, self._worker_thread)
        if any(t is None or not t.is_alive() for t in threads):
            return False
        job = self._current_job
        if job is not None and time.monotonic() - job[1] > JOB_STUCK_S:
            return False
        return time.monotonic() - self._heartbeat < HEARTBEAT_STALE_S

    def _loop(self) -> None:
        while True:
            try:
                command = self._commands.get(timeout=TICK_S)
            except queue.Empty:
                command = ()  # type: ignore[assignment]
            self._heartbeat = time.monotonic()
            if command is None or self.stopping.is_set():
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
            if priority < 0 or self.stopping.is_set():
                return
            self._current_job = (name, time.monotonic())
            try:
                job()
            except Exception:  # noqa: BLE001
                log.exception("background job '%s' failed", name)
            finally:
                self._current_job = None
