"""Broker faults under a running MQTT adapter: how soon the box is back, and how it treats a refusal.

    nice .venv/bin/python bench/faults.py [--outages 5 70] [--refused 60] [--reconnect-min S] [--reconnect-max S]

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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from moodbox.config import Config  # noqa: E402
from moodbox.mqtt import MqttAdapter  # noqa: E402
from moodbox.mqtt.discovery import discovery_messages  # noqa: E402
from moodbox.mqtt.topics import STATE_NAMES  # noqa: E402
from mqtt.broker import MOSQUITTO_PASSWD, Mosquitto  # noqa: E402
from mqtt.recording_core import RecordingCore  # noqa: E402
from mqtt.watcher import Watcher  # noqa: E402
from benchlib import machine

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
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.01)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outages", type=float, nargs="*", default=[5.0, 70.0], help="seconds the broker is down")
    parser.add_argument("--refused", type=float, default=60.0, help="seconds of refused password (0: skip)")
    parser.add_argument("--reconnect-min", type=float, default=None)
    parser.add_argument("--reconnect-max", type=float, default=None, help="120 is the old back-off cap")
    args = parser.parse_args()

    records = Records()
    mqtt_log = logging.getLogger("moodbox.mqtt")
    mqtt_log.setLevel(logging.INFO)
    mqtt_log.addHandler(records)
    mqtt_log.propagate = False

    rows: list[tuple[str, str, str, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker", users=USERS, extra=["log_type notice"])
        broker.start()
        core = RecordingCore()
        adapter = make_adapter(core, broker.port, args)
        low, high = adapter._reconnect
        setting = f"back-off {low:g}..{high:g} s"
        if hasattr(adapter, "_refused_retry_s"):
            setting += f", {adapter._refused_retry_s:g} s after a refusal"
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
                rows.append((f"broker killed, down {outage:g} s", f"online + all retained {took:.1f} s "
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
                rows.append((f"password refused {args.refused:g} s",
                             f"{attempts} attempts ({per_minute:.1f}/min), logged {len(lines)}x",
                             f"<= {REFUSED_PER_MINUTE}/min, 1x",
                             per_minute <= REFUSED_PER_MINUTE and len(lines) == 1))
        finally:
            adapter.stop()
            broker.stop()

    print(f"machine: {machine()}")
    print(f"adapter: MqttAdapter with {setting}; mosquitto on loopback port {broker.port}")
    width = max(len(r[0]) for r in rows)
    result_width = max(len(r[1]) for r in rows)
    for fault, result, target, ok in rows:
        print(f"  {fault:<{width}}  {result:<{result_width}}  target {target:<16} {'pass' if ok else 'FAIL'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
