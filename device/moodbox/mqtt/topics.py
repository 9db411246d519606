"""Where moodbox publishes and listens on MQTT: the device id and every topic name.

Scheme (base = mqtt.base_topic, default moodbox/<device id>):
  <base>/availability          online | offline (retained, offline is also the last will)
  <base>/<state>               retained JSON, one topic per state in STATE_NAMES
  <base>/diagnostics           JSON every mqtt.diagnostics_interval_s (not retained)
  <base>/event                 JSON events: mood_changed, button (not retained)
  <base>/button                {"event_type": "press"|"hold"} for Home Assistant's event entity
  <base>/<thing>/set           commands, see moodbox.core.commands
  <base>/error                 JSON answer to a rejected command (not retained)
"""
from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from moodbox.config import Config

# Retained state topics, in the order they are published after connecting.
STATE_NAMES: tuple[str, ...] = ("mood", "player", "volume", "policy", "override", "detection", "camera", "library")

MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
_DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def derive_device_id(machine_id_files: tuple[Path, ...] = MACHINE_ID_FILES) -> str:
    """A stable 12-hex-digit id for this box, hashed from the machine id (which itself stays private)."""
    for path in machine_id_files:
        try:
            machine_id = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if machine_id:
            break
    else:
        machine_id = socket.gethostname()  # containers without a machine id
    return hashlib.sha256(f"moodbox:{machine_id}".encode()).hexdigest()[:12]


def device_id_from_config(config: Config) -> str:
    """mqtt.device_id if set (checked: letters, digits, _ and - only), else derived from the machine id."""
    configured = config.mqtt.device_id
    if configured is None:
        return derive_device_id()
    if not _DEVICE_ID_RE.match(configured):
        raise ValueError(f"mqtt.device_id {configured!r}: use 1-64 letters, digits, '_' or '-'")
    return configured


def check_topic_root(value: str, key: str) -> str:
    """A usable topic root (mqtt.base_topic, mqtt.discovery_prefix): no wildcards, no empty levels."""
    if not value or "+" in value or "#" in value or "\x00" in value:
        raise ValueError(f"{key} {value!r}: must be non-empty and free of '+', '#'")
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise ValueError(f"{key} {value!r}: no leading, trailing or double '/'")
    return value


@dataclass(frozen=True)
class Topics:
    """All topic names of one box."""

    device_id: str
    base: str
    discovery_prefix: str

    @classmethod
    def from_config(cls, config: Config) -> Topics:
        device_id = device_id_from_config(config)
        base = check_topic_root(config.mqtt.base_topic or f"moodbox/{device_id}", "mqtt.base_topic")
        prefix = check_topic_root(config.mqtt.discovery_prefix, "mqtt.discovery_prefix")
        return cls(device_id, base, prefix)

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    def state(self, name: str) -> str:
        return f"{self.base}/{name}"

    @property
    def diagnostics(self) -> str:
        return f"{self.base}/diagnostics"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def button(self) -> str:
        return f"{self.base}/button"

    @property
    def error(self) -> str:
        return f"{self.base}/error"

    def command(self, thing: str) -> str:
        return f"{self.base}/{thing}/set"

    @property
    def command_filter(self) -> str:
        """The subscription that catches every command."""
        return f"{self.base}/+/set"

    def command_thing(self, topic: str) -> str | None:
        """'volume' for '<base>/volume/set'; None for any other topic."""
        prefix, suffix = f"{self.base}/", "/set"
        if topic.startswith(prefix) and topic.endswith(suffix):
            thing = topic[len(prefix):-len(suffix)]
            return thing if thing and "/" not in thing else None
        return None

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth/last-will topic."""
        return f"{self.discovery_prefix}/status"

    def discovery(self, platform: str, key: str) -> str:
        return f"{self.discovery_prefix}/{platform}/moodbox_{self.device_id}/{key}/config"
