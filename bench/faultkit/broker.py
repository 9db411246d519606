"""Broker faults under a running MQTT adapter: how soon the box is back, and how it treats a refusal.

    nice .venv/bin/python bench/faults.py --only broker [--outages 5 70] [--refused 60] [--reconnect-max S]

A real mosquitto on a free loopback port (no persistence: a restart loses every retained message, as
a crashed broker does) and MqttAdapter with the tests' RecordingCore (tests/mqtt), built as the
daemon builds it, MqttAdapter(core, config), so with its default back-off unless --reconnect-min/-max
are given (--reconnect-max 120 is the old setting).
- outage N s: the broker is killed (SIGKILL) under the connected adapter, stays down N s and starts
  again on the same port; the time is from its port being open again until a fresh subscriber has
  availability `online`, every retained state and every discovery config. Target <= 10 s.
- refused N s: the broker comes back with another password for the box and refuses it for N s;
  the box's CONNECT attempts (counted in the broker's log) and its log lines about the refusal.
  Target: at most 4 attempts a minute, the refusal logged once.
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import faultkit.harness  # noqa: F401 - puts tests/ on sys.path
from moodbox.config import Config  # noqa: E402
from moodbox.mqtt import MqttAdapter  # noqa: E402
from moodbox.mqtt.discovery import discovery_messages  # noqa: E402
from moodbox.mqtt.topics import STATE_NAMES  # noqa: E402
from mqtt.broker import MOSQUITTO_PASSWD, Mosquitto  # noqa: E402
from mqtt.recording_core import RecordingCore  # noqa: E402
from mqtt.watcher import Watcher  # noqa: E402

from faultkit import harness
from faultkit.harness import Row

DEVICE = "bench"
BASE = f"moodbox/{DEVICE}"
TARGET_S = 10.0
REFUSED_PER_MINUTE = 4
USERS = {"box": "box-pass", "ha": "ha-pass"}


class Records(logging.Handler):
    """Keeps the adapter's log records (and keeps them off the terminal)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def make_adapter(core: RecordingCore, port: int, args: argparse.Namespace) -> MqttAdapter:
    config = Config.model_validate({"mqtt": {"host": "127.0.0.1", "port": port, "device_id": DEVICE,
                                             "username": "box", "password": USERS["box"]}})
    backoff: dict[str, Any] = {}
    if args.reconnect_min is not None:
        backoff["reconnect_min_s"] = args.reconnect_min
    if args.reconnect_max is not None:
        backoff["reconnect_max_s"] = args.reconnect_max
    return MqttAdapter(core, config, **backoff)


def wait(predicate: Any, what: str, timeout: float) -> None:
    harness.wait(predicate, what, timeout, step=0.01)


def back_online(broker: Mosquitto, expected: set[str], timeout: float) -> float:
    """Seconds from the broker's port being open to a subscriber having `online` and everything retained."""
    broker.start()  # returns once the port is open
    up = time.monotonic()
    w = Watcher(broker.port, username="ha", password=USERS["ha"])
    try:
        # subscribed before the box republishes, so its messages come live (retain flag off)
        def complete() -> bool:
            last = w.last(f"{BASE}/availability")
            return expected <= {m.topic for m in w.messages} and last is not None and last.payload == b"online"
        wait(complete, "online with every retained state", timeout)
        took = time.monotonic() - up
    finally:
        w.close()
    late = Watcher(broker.port, username="ha", password=USERS["ha"])  # and the broker did retain them
    try:
        wait(lambda: expected <= {m.topic for m in late.messages if m.retain}, "retained messages", 10)
    finally:
        late.close()
    return took


def kill(broker: Mosquitto) -> None:
    assert broker.process is not None
    broker.process.kill()  # a crash: no clean goodbye to the clients
    broker.process.wait(10)
    broker.process = None


def set_password(broker: Mosquitto, user: str, password: str) -> None:
    subprocess.run([MOSQUITTO_PASSWD, "-b", str(broker.folder / "passwords"), user, password], check=True,
                   capture_output=True)


def rows(tmp: Path, short: bool, outages: list[float] | None = None, refused: float | None = None,
         reconnect_min: float | None = None, reconnect_max: float | None = None) -> list[Row]:
    args = argparse.Namespace(outages=outages or ([5.0] if short else [5.0, 70.0]),
                              refused=(20.0 if short else 60.0) if refused is None else refused,
                              reconnect_min=reconnect_min, reconnect_max=reconnect_max)
    records = Records()
    mqtt_log = logging.getLogger("moodbox.mqtt")
    mqtt_log.setLevel(logging.INFO)
    mqtt_log.addHandler(records)
    mqtt_log.propagate = False

    out: list[Row] = []
    broker = Mosquitto(tmp / "broker", users=USERS, extra=["log_type notice"])
    broker.start()
    core = RecordingCore()
    adapter = make_adapter(core, broker.port, args)
    expected = {f"{BASE}/{name}" for name in STATE_NAMES} | {f"{BASE}/availability"}
    expected |= {topic for topic, _ in discovery_messages(adapter.topics, core.max_volume)}
    try:
        adapter.start()
        wait(lambda: adapter.connected, "first connection", 30)
        for outage in args.outages:
            kill(broker)
            wait(lambda: not adapter.connected, "disconnect", 30)
            time.sleep(outage)
            took = back_online(broker, expected, timeout=max(60.0, 2 * outage + 30))
            out.append(Row(f"broker killed, down {outage:g} s", f"online + all retained {took:.1f} s "
                           f"after it is back", f"<= {TARGET_S:g} s", took <= TARGET_S))
            wait(lambda: adapter.connected, "connected", 30)
        if args.refused > 0:
            broker.stop()
            set_password(broker, "box", "changed")
            log_start = len(broker.log_file.read_text())
            first_record = len(records.records)
            broker.start()
            time.sleep(args.refused)
            attempts = broker.log_file.read_text()[log_start:].count("not authorised")
            lines = [r for r in records.records[first_record:]
                     if r.levelno >= logging.WARNING and "password" in r.getMessage()]
            per_minute = attempts * 60 / args.refused
            out.append(Row(f"password refused {args.refused:g} s",
                           f"{attempts} attempts ({per_minute:.1f}/min), logged {len(lines)}x",
                           f"<= {REFUSED_PER_MINUTE}/min, 1x",
                           per_minute <= REFUSED_PER_MINUTE and len(lines) == 1))
    finally:
        adapter.stop()
        broker.stop()
        mqtt_log.removeHandler(records)
        mqtt_log.propagate = True
    return out
