"""Home Assistant MQTT discovery: one device, its entities, each as (config topic, payload).

Topics: <discovery_prefix>/<platform>/moodbox_<device id>/<key>/config (retained).
An empty retained payload on the same topic removes the entity (see `moodbox mqtt-remove`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodbox import __version__
from moodbox.config import Config
from moodbox.core import POLICIES
from moodbox.mqtt.topics import Topics
from moodbox.readings import AGE_GROUPS, EMOTIONS

ORIGIN = {"name": "moodbox", "sw_version": __version__}
# Percent; "None" (Home Assistant's "unknown") before the first reading.
CONFIDENCE_TEMPLATE = "{{ (value_json.confidence * 100) | round(0) if value_json.confidence is not none else None }}"


@dataclass(frozen=True)
class Entity:
    platform: str  # sensor, select, number, switch, button, binary_sensor, event
    key: str  # short stable name, part of unique_id and the entity id
    name: str
    options: dict[str, Any] = field(default_factory=dict)  # the platform's own keys


def _entities(topics: Topics, max_volume: int) -> list[Entity]:
    t = topics
    diagnostic = {"entity_category": "diagnostic"}
    press = {"payload_press": "PRESS"}

    def diag_sensor(key: str, name: str, template: str, **extra: Any) -> Entity:
        return Entity("sensor", key, name, {"state_topic": t.diagnostics, "value_template": template,
                                            "state_class": "measurement", **diagnostic, **extra})

    return [
        Entity("sensor", "mood", "Mood", {
            "state_topic": t.state("mood"), "value_template": "{{ value_json.emotion }}",
            "device_class": "enum", "options": list(EMOTIONS), "icon": "mdi:emoticon-outline",
            "json_attributes_topic": t.state("mood")}),
        Entity("sensor", "confidence", "Mood confidence", {
            "state_topic": t.state("mood"), "value_template": CONFIDENCE_TEMPLATE,
            "unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:gauge"}),
        Entity("sensor", "age_group", "Age group", {
            "state_topic": t.state("mood"), "value_template": "{{ value_json.age_group }}",
            "device_class": "enum", "options": [g[0] for g in AGE_GROUPS] + ["none"], "icon": "mdi:human-male-child"}),
        Entity("sensor", "faces", "Faces", {
            "state_topic": t.state("mood"), "value_template": "{{ value_json.faces }}",
            "state_class": "measurement", "icon": "mdi:account-group"}),
        Entity("sensor", "now_playing", "Now playing", {
            "state_topic": t.state("player"), "value_template": "{{ value_json.now_playing }}",
            "json_attributes_topic": t.state("player"), "icon": "mdi:music"}),
        Entity("sensor", "player_state", "Player state", {
            "state_topic": t.state("player"), "value_template": "{{ value_json.state }}", "icon": "mdi:play-pause"}),
        Entity("select", "policy", "Policy", {
            "state_topic": t.state("policy"), "value_template": "{{ value_json.policy }}",
            "command_topic": t.command("policy"), "options": list(POLICIES), "icon": "mdi:tune"}),
        Entity("select", "mood_override", "Mood override", {
            "state_topic": t.state("override"), "value_template": "{{ value_json.emotion }}",
            "command_topic": t.command("override"), "options": ["auto", *EMOTIONS], "icon": "mdi:emoticon-cool"}),
        Entity("number", "volume", "Volume", {
            "state_topic": t.state("volume"), "value_template": "{{ value_json.volume }}",
            "command_topic": t.command("volume"), "min": 0, "max": max_volume, "step": 1, "mode": "slider",
            "unit_of_measurement": "%", "icon": "mdi:volume-high"}),
        Entity("switch", "detection", "Mood detection", {
            "state_topic": t.state("detection"), "value_template": "{{ 'ON' if value_json.enabled else 'OFF' }}",
            "command_topic": t.command("detection"), "payload_on": "ON", "payload_off": "OFF",
            "icon": "mdi:camera"}),
        Entity("button", "refresh", "Refresh mood", {"command_topic": t.command("refresh"), **press,
                                                      "icon": "mdi:refresh"}),
        Entity("button", "next", "Next track", {"command_topic": t.command("player"), "payload_press": "next",
                                                 "icon": "mdi:skip-next"}),
        Entity("button", "play_pause", "Play/pause", {"command_topic": t.command("player"),
                                                       "payload_press": "toggle", "icon": "mdi:play-pause"}),
        Entity("button", "like", "Like track", {"command_topic": t.command("like"), **press,
                                                "icon": "mdi:thumb-up"}),
        Entity("button", "dislike", "Dislike track", {"command_topic": t.command("dislike"), **press,
                                                      "icon": "mdi:thumb-down"}),
        Entity("button", "rescan", "Rescan library", {"command_topic": t.command("rescan"), **press,
                                                      "entity_category": "config", "icon": "mdi:folder-refresh"}),
        Entity("binary_sensor", "face_present", "Face present", {
            "state_topic": t.state("mood"), "value_template": "{{ 'ON' if value_json.faces > 0 else 'OFF' }}",
            "device_class": "occupancy"}),
        Entity("binary_sensor", "camera_problem", "Camera problem", {
            "state_topic": t.state("camera"), "value_template": "{{ 'ON' if value_json.problem else 'OFF' }}",
            "device_class": "problem", "json_attributes_topic": t.state("camera"), **diagnostic}),
        diag_sensor("inference_detector", "Face detector time", "{{ value_json.inference_ms.detector }}",
                    unit_of_measurement="ms", suggested_display_precision=1, icon="mdi:timer-outline"),
        diag_sensor("inference_emotion", "Emotion model time", "{{ value_json.inference_ms.emotion }}",
                    unit_of_measurement="ms", suggested_display_precision=1, icon="mdi:timer-outline"),
        diag_sensor("inference_age", "Age model time", "{{ value_json.inference_ms.age }}",
                    unit_of_measurement="ms", suggested_display_precision=1, icon="mdi:timer-outline"),
        diag_sensor("fps", "Analysis rate", "{{ value_json.fps }}", unit_of_measurement="fps",
                    icon="mdi:speedometer"),
        diag_sensor("cpu_temperature", "CPU temperature", "{{ value_json.cpu_temperature_c }}",
                    device_class="temperature", unit_of_measurement="°C"),
        diag_sensor("uptime", "Uptime", "{{ value_json.uptime_s }}", device_class="duration",
                    unit_of_measurement="s"),
        diag_sensor("library_tracks", "Library tracks", "{{ value_json.library_tracks }}",
                    icon="mdi:music-box-multiple"),
        Entity("event", "button", "Button", {"state_topic": t.button, "event_types": ["press", "hold"],
                                             "device_class": "button"}),
    ]


def hardware_model(path: Path = Path("/proc/device-tree/model")) -> str | None:
    """'Raspberry Pi 4 Model B Rev 1.4' on a Pi; None elsewhere."""
    try:
        return path.read_bytes().rstrip(b"\x00").decode("ascii", errors="replace").strip() or None
    except OSError:
        return None


def web_page_url(config: Config, broker_socket: Any) -> str | None:
    """The web page's address as Home Assistant can reach it: web.bind, or with every interface the
    address this box reaches the broker from (on a home network, the one Home Assistant reaches the box
    at). None with the page off."""
    web = config.web
    if not web.enabled:
        return None
    host = web.bind
    if host in ("0.0.0.0", "::", ""):
        try:
            host = str(broker_socket.getsockname()[0]).removeprefix("::ffff:") if broker_socket is not None else ""
        except (OSError, AttributeError, TypeError, IndexError):
            return None
    if host in ("0.0.0.0", "::", ""):
        return None
    scheme = "https" if web.tls_certificate else "http"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{web.port}/"


def device_block(topics: Topics, configuration_url: str | None = None) -> dict[str, Any]:
    device = {"identifiers": [f"moodbox_{topics.device_id}"], "name": "moodbox", "model": "moodbox",
              "manufacturer": "moodbox project", "sw_version": __version__}
    if configuration_url:
        # Home Assistant links the device page to the box's web page; the moodbox integration
        # (custom_components/moodbox) finds the box's REST API there.
        device["configuration_url"] = configuration_url
    hardware = hardware_model()
    if hardware:
        device["hw_version"] = hardware
    return device


def discovery_messages(topics: Topics, max_volume: int,
                       configuration_url: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every entity's (config topic, payload); `configuration_url`: the box's web page, if it has one."""
    messages = []
    device = device_block(topics, configuration_url)
    for entity in _entities(topics, max_volume):
        object_id = f"moodbox_{entity.key}"
        payload = {
            "name": entity.name,
            "unique_id": f"moodbox_{topics.device_id}_{entity.key}",
            # object_id for Home Assistant before 2025.10, default_entity_id after.
            "object_id": object_id,
            "default_entity_id": f"{entity.platform}.{object_id}",
            "availability": [{"topic": topics.availability}],
            "device": device,
            "origin": ORIGIN,
            **entity.options,
        }
        messages.append((topics.discovery(entity.platform, entity.key), payload))
    return messages


def discovery_topics(topics: Topics) -> list[str]:
    """Every config topic (for removal); independent of max_volume."""
    return [topic for topic, _ in discovery_messages(topics, 100)]
