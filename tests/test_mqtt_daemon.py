"""`moodbox run` as a subprocess with MQTT on: the daemon's wiring of the adapter, end to end."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core_testkit import NO_FACE, camera_folder, config_data, write_config, write_library
from mqtt.broker import Mosquitto
from mqtt.watcher import Watcher


def test_daemon_serves_mqtt_and_says_offline_on_sigterm(tmp_path: Path):
    broker = Mosquitto(tmp_path / "broker", users={"box": "pw-box", "ha": "pw-ha"})
    broker.start()
    library = tmp_path / "music"
    write_library(library, seconds=30.0)
    data = config_data(tmp_path / "state", library, str(camera_folder(tmp_path / "cam", NO_FACE)),
                       mqtt={"enabled": True, "host": "127.0.0.1", "port": broker.port, "device_id": "daemonbox",
                             "username": "box"},
                       logging={"level": "INFO"})
    config = write_config(tmp_path, data)
    log_path = tmp_path / "daemon.log"
    env = {**os.environ, "MOODBOX_MQTT_PASSWORD": "pw-box", "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    base = "moodbox/daemonbox"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "moodbox.cli", "run", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    w = Watcher(broker.port, username="ha", password="pw-ha")
    try:
        w.wait_message(f"{base}/availability", lambda m: m.payload == b"online", timeout=60)
        w.wait_message(f"{base}/player", lambda m: m.json()["state"] == "playing", timeout=60)
        w.wait_message("homeassistant/sensor/moodbox_daemonbox/mood/config")
        mark = w.mark()
        w.publish(f"{base}/volume/set", "55")
        w.wait_message(f"{base}/volume", lambda m: m.json()["volume"] == 55, after=mark)
        # The broker goes away under the running daemon (losing every retained message) and comes back:
        # the daemon reconnects, republishes its states and discovery, and is online again.
        w.close()
        broker.stop()
        broker.start()
        w = Watcher(broker.port, username="ha", password="pw-ha")
        w.wait_message(f"{base}/availability", lambda m: m.payload == b"online", timeout=60)
        assert w.wait_message(f"{base}/volume").json()["volume"] == 55
        assert w.wait_message(f"{base}/player").json()["state"] == "playing"
        w.wait_message("homeassistant/sensor/moodbox_daemonbox/mood/config")
        assert proc.poll() is None
        mark = w.mark()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        offline = w.wait_message(f"{base}/availability", lambda m: m.payload == b"offline", after=mark)
        assert offline.payload == b"offline"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        w.close()
        broker.stop()
    output = log_path.read_text()
    assert "MQTT: connected to 127.0.0.1" in output and "MQTT: stopped" in output, output[-3000:]
    assert "again after" in output, output[-3000:]  # the reconnection was logged
    assert "ERROR moodbox.mqtt" not in output, output[-3000:]
