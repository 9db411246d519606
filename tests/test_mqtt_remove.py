"""`moodbox mqtt-remove`: clears every retained discovery config and state of the box."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mqtt.broker import free_port
from mqtt.fixtures import BASE, broker, core, make_adapter, make_config, watcher  # noqa: F401
from mqtt.watcher import Watcher


def retained_now(port: int) -> list[str]:
    """Topics the broker holds retained under moodbox/ and homeassistant/ (a marker ends the replay)."""
    w = Watcher(port)
    try:
        w.publish("test/marker", "end")
        w.wait_message("test/marker")
        return [m.topic for m in w.messages if m.retain and m.topic.split("/")[0] in ("moodbox", "homeassistant")]
    finally:
        w.close()


def run_remove(config_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moodbox.cli", "mqtt-remove", "--config", str(config_file),
                           "--timeout", "20"], capture_output=True, text=True, timeout=60)


def test_mqtt_remove_clears_everything_retained(broker, watcher, core, make_config, make_adapter, tmp_path):
    adapter = make_adapter(core, make_config())
    watcher.wait_message(f"{BASE}/availability", lambda m: m.payload == b"online")
    adapter.stop()
    before = retained_now(broker.port)
    assert f"{BASE}/mood" in before and "homeassistant/sensor/moodbox_testbox/mood/config" in before
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"mqtt:\n  host: 127.0.0.1\n  port: {broker.port}\n  device_id: testbox\n")
    result = run_remove(config_file)
    assert result.returncode == 0, result.stderr
    assert "cleared 35 retained topics" in result.stdout  # 26 configs, 8 states, availability
    assert retained_now(broker.port) == []


def test_mqtt_remove_without_a_broker_says_so(tmp_path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"mqtt:\n  host: 127.0.0.1\n  port: {free_port()}\n  device_id: testbox\n")
    result = run_remove(config_file)
    assert result.returncode == 1
    assert "cannot reach the broker" in result.stderr and "connection refused" in result.stderr
