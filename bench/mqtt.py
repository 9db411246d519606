"""MQTT adapter figures on this machine: command round trip, state throughput, reconnect time.

    nice .venv/bin/python bench/mqtt.py [--commands 200] [--states 2000]

Runs a real mosquitto on a free loopback port and MqttAdapter with the tests' RecordingCore
(tests/mqtt), so the figures are adapter + paho + broker, not the Core or the player. Twice: with
mosquitto's defaults and with `set_tcp_nodelay true` (mosquitto otherwise holds small messages
to subscribers for up to ~40 ms, Nagle + delayed ACK).
- command: publish <base>/volume/set; time until the Core is called, and until the new
  <base>/volume state reaches a subscriber (median, p95)
- state throughput: Core listener calls per second (the Core's side) and until the last is out
- reconnect: broker restarted under the adapter (backoff 0.2..1 s), port open -> `online`
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from moodbox.config import Config  # noqa: E402
from moodbox.mqtt import MqttAdapter  # noqa: E402
from mqtt.broker import Mosquitto  # noqa: E402
from mqtt.recording_core import RecordingCore  # noqa: E402
from mqtt.watcher import Watcher  # noqa: E402
from benchlib import machine

BASE = "moodbox/bench"


def poll(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("no answer")
        time.sleep(0.0002)


def figures(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):.2f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.2f} ms"


def run(folder: Path, commands: int, states: int, nodelay: bool) -> list[str]:
    broker = Mosquitto(folder, extra=["set_tcp_nodelay true"] if nodelay else [])
    broker.start()
    core = RecordingCore(max_volume=100)
    config = Config.model_validate({"audio": {"max_volume": 100},
                                    "mqtt": {"host": "127.0.0.1", "port": broker.port, "device_id": "bench"}})
    adapter = MqttAdapter(core, config, reconnect_min_s=0.2, reconnect_max_s=1.0)
    w = Watcher(broker.port, subscribe=f"{BASE}/#")
    try:
        adapter.start()
        w.wait_message(f"{BASE}/availability", lambda m: m.payload == b"online")
        to_core, to_subscriber = [], []
        for i in range(commands):
            calls, mark = len(core.calls), w.mark()
            start = time.perf_counter()
            w.client.publish(f"{BASE}/volume/set", str(10 + (i % 2) * 40 + i % 7), qos=0)
            poll(lambda: len(core.calls) > calls)
            to_core.append((time.perf_counter() - start) * 1000)
            poll(lambda: any(m.topic == f"{BASE}/volume" for m in w.messages[mark:]))
            to_subscriber.append((time.perf_counter() - start) * 1000)

        mark = w.mark()
        start = time.perf_counter()
        for i in range(states):
            core.change("policy", {"policy": "match", "n": i})
        listener_s = time.perf_counter() - start
        core.change("policy", {"policy": "calm"})  # the marker: the last update
        poll(lambda: any(m.topic == f"{BASE}/policy" and m.json()["policy"] == "calm" for m in w.messages[mark:]))
        total_s = time.perf_counter() - start

        w.close()
        broker.stop()
        poll(lambda: not adapter.connected)
        time.sleep(1.5)  # let the backoff reach its 1 s cap
        broker.start()
        up = time.perf_counter()
        w = Watcher(broker.port, subscribe=f"{BASE}/#")
        w.wait_message(f"{BASE}/availability", lambda m: m.payload == b"online")
        reconnect_s = time.perf_counter() - up
    finally:
        adapter.stop()
        w.close()
        broker.stop()
    label = "mosquitto set_tcp_nodelay true" if nodelay else "mosquitto defaults"
    return [f"[{label}]",
            f"  command -> Core called ({commands} volume commands): {figures(to_core)}",
            f"  command -> new state at a subscriber: {figures(to_subscriber)}",
            f"  {states} state updates: listener calls {states / listener_s:,.0f}/s on the Core's side; "
            f"all handled and the next one out after {total_s * 1000:.0f} ms",
            f"  reconnect after broker restart (backoff cap 1 s): online {reconnect_s:.2f} s after the port opened"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--states", type=int, default=2000)
    args = parser.parse_args()
    lines = [f"machine: {machine()}"]
    with tempfile.TemporaryDirectory() as tmp:
        for nodelay in (False, True):
            lines += run(Path(tmp) / f"broker-{nodelay}", args.commands, args.states, nodelay)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
