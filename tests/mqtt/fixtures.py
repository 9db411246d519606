"""pytest fixtures for the MQTT tests (import them into a test module: `from mqtt.fixtures import *`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from moodbox.config import Config
from moodbox.mqtt import MqttAdapter

from .broker import Mosquitto
from .recording_core import RecordingCore
from .watcher import Watcher

__all__ = ["broker", "watcher", "make_config", "make_adapter", "core", "BASE"]

DEVICE_ID = "testbox"
BASE = f"moodbox/{DEVICE_ID}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Watcher]:
    client = Watcher(broker.port)
    yield client
    client.close()


@pytest.fixture
def make_config(broker: Mosquitto) -> Callable[..., Config]:
    def make(mqtt: dict[str, Any] | None = None, **sections: Any) -> Config:
        settings = {"host": "127.0.0.1", "port": broker.port, "device_id": DEVICE_ID, **(mqtt or {})}
        return Config.model_validate({"mqtt": settings, **sections})
    return make


@pytest.fixture
def core() -> RecordingCore:
    return RecordingCore(max_volume=70)


@pytest.fixture
def make_adapter() -> Iterator[Callable[..., MqttAdapter]]:
    adapters: list[MqttAdapter] = []

    def make(core: Any, config: Config, start: bool = True, **kwargs: Any) -> MqttAdapter:
        kwargs = {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "birth_delay_max_s": 0.2, **kwargs}
        adapter = MqttAdapter(core, config, **kwargs)
        adapters.append(adapter)
        if start:
            assert adapter.start()
        return adapter

    yield make
    for adapter in adapters:
        adapter.stop()
