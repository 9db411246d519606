"""The daemon: builds the core, starts the registered adapters (moodbox.adapters), handles signals,
talks to systemd.

Embedded defaults, each logged with what to configure for the real thing:
- no camera          -> the bundled face pictures (camera.source: auto; open_camera says so)
- no music folder    -> the generated demo library (library.path / library.demo_path; the core says so),
                        also when none of its audio files can be read
- no sound card      -> null audio (audio.output; the player says so)
- no MQTT broker     -> the adapter keeps retrying in the background (mqtt.*)
"""
from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from moodbox import sdnotify
from moodbox.adapters import Adapter, start_adapters, stop_adapters
from moodbox.config import Config
from moodbox.core import Core

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 5.0
ONCE_TIMEOUT_S = 120.0


def status_line(snapshot: dict[str, Any]) -> str:
    """One line for `systemctl status`: what plays and why."""
    mood = snapshot.get("mood", {})
    player = snapshot.get("player", {})
    camera = snapshot.get("camera", {})
    what = player.get("state", "stopped")
    if player.get("title"):
        what += f" {player.get('artist') or '?'} - {player['title']}"
    line = f"{what}; mood {mood.get('emotion', '?')} ({mood.get('source', '?')}, {mood.get('faces', 0)} faces)"
    if camera.get("status") == "error":
        line += f"; camera error: {camera.get('message')}"
    elif camera.get("status") == "off":
        line += "; detection off"
    return line


def run(config: Config, once: bool = False) -> int:
    """Run until SIGTERM/SIGINT (or, with once, until the first queue plays). Returns the exit status."""
    from moodbox.player import PlayerError

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("got %s, shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    core = Core(config)
    adapters: list[Adapter] = []
    watchdog = sdnotify.Watchdog(core.alive)
    try:
        sdnotify.notify("STATUS=starting: player, camera, library")
        try:
            core.start()
        except PlayerError as exc:
            log.error("cannot start the player: %s", exc)
            sdnotify.notify(f"STATUS=failed: {exc}")
            return 1
        except OSError as exc:  # e.g. a state_dir that cannot be created or written
            log.error("cannot start: %s (state_dir in effect: %s)", exc, config.state_path)
            sdnotify.notify(f"STATUS=failed: {exc}")
            return 1
        adapters = start_adapters(core, config)
        watchdog.start()
        sdnotify.notify("READY=1")
        log.info("moodbox is running (state in %s)", config.state_path)
        if once:
            return _run_once(core, stop)
        last_status = ""
        while not stop.wait(1.0):
            line = status_line(core.snapshot())
            if line != last_status:
                sdnotify.notify(f"STATUS={line}")
                last_status = line
        return 0
    finally:
        began = time.monotonic()
        sdnotify.notify("STOPPING=1")
        watchdog.stop()
        stop_adapters(adapters)
        core.close()
        log.info("stopped in %.2f s", time.monotonic() - began)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_once(core: Core, stop: threading.Event) -> int:
    """--once: read the room, load the queue, print the state as JSON, stop."""
    deadline = time.monotonic() + ONCE_TIMEOUT_S
    while not core.wait_ready(0.5):
        if stop.is_set() or time.monotonic() > deadline:
            log.error("no queue within %.0f s", ONCE_TIMEOUT_S)
            return 1
    json.dump(core.snapshot(), sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
    return 0
