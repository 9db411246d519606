"""The daemon: builds the core and its adapters, handles signals, talks to systemd.

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
from moodbox.config import Config
from moodbox.core import Core

log = logging.getLogger(__name__)

ADAPTER_STOP_TIMEOUT_S = 0.5  # each adapter gets this long to stop; shutdown must fit in 2 s
STATUS_INTERVAL_S = 5.0
ONCE_TIMEOUT_S = 120.0


def start_adapters(core: Core, config: Config) -> list[Any]:
    """GPIO and MQTT adapters as configured. A missing or failing adapter is logged, never fatal."""
    adapters: list[Any] = []
    if config.gpio.enabled != "off":
        try:
            from moodbox.gpio import ButtonAdapter

            button = ButtonAdapter(core, config.gpio)
            if button.start():
                adapters.append(button)
        except Exception:  # noqa: BLE001 - the box works without a button
            log.exception("GPIO button/LED not started (gpio.enabled: %s)", config.gpio.enabled)
    if config.mqtt.enabled:
        try:
            from moodbox.mqtt import MqttAdapter

            mqtt = MqttAdapter(core, config)
            if mqtt.start() is not False:  # False: settings that cannot work, already logged
                adapters.append(mqtt)
        except Exception:  # noqa: BLE001 - the box works without Home Assistant
            log.exception("MQTT not started (set mqtt.enabled: false if you do not use it)")
    else:
        log.info("MQTT off (mqtt.enabled: false)")
    if config.web.enabled:
        try:
            from moodbox.web import WebAdapter

            web = WebAdapter(core, config)
            web.start()
            adapters.append(web)
        except Exception:  # noqa: BLE001 - the box works without its page
            log.exception("web page not started (set web.enabled: false if you do not use it)")
    else:
        log.info("web page off (web.enabled: false)")
    return adapters


def stop_adapters(adapters: list[Any]) -> None:
    """Stop adapters in reverse order, each bounded in time."""
    for adapter in reversed(adapters):
        thread = threading.Thread(target=_stop_quietly, args=(adapter,), name="adapter-stop", daemon=True)
        thread.start()
        thread.join(ADAPTER_STOP_TIMEOUT_S)
        if thread.is_alive():
            log.warning("%s did not stop within %.1f s; leaving it", type(adapter).__name__, ADAPTER_STOP_TIMEOUT_S)


def _stop_quietly(adapter: Any) -> None:
    try:
        stop = getattr(adapter, "stop", None) or adapter.close  # MqttAdapter.stop, ButtonAdapter.close
        stop()
    except Exception:  # noqa: BLE001
        log.exception("stopping %s failed", type(adapter).__name__)


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
    adapters: list[Any] = []
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
