"""Home Assistant discovery payloads, checked against the keys Home Assistant documents per platform,
against the command parser (every button/select/switch/number payload must be accepted), and by
rendering every value_template on the state JSON the adapter really publishes."""
from __future__ import annotations

import json
import re

import pytest

from moodbox.config import Config
from moodbox.core import CommandError, parse_command
from moodbox.mqtt.discovery import discovery_messages, discovery_topics
from moodbox.mqtt.payloads import diagnostics_payload, state_payload
from moodbox.mqtt.topics import STATE_NAMES, Topics
from mqtt.recording_core import RecordingCore

# Keys every MQTT entity may carry (Home Assistant MQTT integration docs, entity options).
COMMON_KEYS = {
    "name", "unique_id", "object_id", "default_entity_id", "availability", "availability_topic",
    "availability_mode", "availability_template", "payload_available", "payload_not_available", "device",
    "origin", "entity_category", "entity_picture", "enabled_by_default", "encoding", "icon",
    "json_attributes_topic", "json_attributes_template", "qos",
}
# platform -> (required keys, further allowed keys)
PLATFORM_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "sensor": ({"state_topic"}, {"device_class", "unit_of_measurement", "state_class", "value_template", "options",
                                 "suggested_display_precision", "expire_after", "force_update",
                                 "last_reset_value_template"}),
    "binary_sensor": ({"state_topic"}, {"device_class", "value_template", "payload_on", "payload_off",
                                        "expire_after", "force_update", "off_delay"}),
    "select": ({"command_topic", "options"}, {"state_topic", "value_template", "command_template", "optimistic",
                                              "retain"}),
    "number": ({"command_topic"}, {"state_topic", "value_template", "command_template", "min", "max", "step",
                                   "mode", "unit_of_measurement", "device_class", "optimistic", "retain",
                                   "payload_reset"}),
    "switch": ({"command_topic"}, {"state_topic", "value_template", "payload_on", "payload_off", "state_on",
                                   "state_off", "device_class", "optimistic", "retain", "command_template"}),
    "button": ({"command_topic"}, {"payload_press", "command_template", "device_class", "retain"}),
    "event": ({"state_topic", "event_types"}, {"device_class", "value_template"}),
}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version",
               "hw_version", "serial_number", "suggested_area", "configuration_url", "via_device"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
DEVICE_CLASSES = {
    "sensor": {"enum", "temperature", "duration"},
    "binary_sensor": {"occupancy", "problem"},
    "event": {"button"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}

TOPICS = Topics("testbox", "moodbox/testbox", "homeassistant")
MAX_VOLUME = 70
MESSAGES = discovery_messages(TOPICS, MAX_VOLUME)


def platform_of(topic: str) -> str:
    return topic.split("/")[1]


def test_topics_are_well_formed_and_unique():
    topics = [t for t, _ in MESSAGES]
    assert len(set(topics)) == len(topics) == len(discovery_topics(TOPICS))
    for topic, payload in MESSAGES:
        prefix, platform, node, key, config = topic.split("/")
        assert (prefix, node, config) == ("homeassistant", "moodbox_testbox", "config")
        assert platform in PLATFORM_KEYS
        assert payload["unique_id"] == f"moodbox_testbox_{key}"
        assert payload["default_entity_id"] == f"{platform}.{payload['object_id']}"
    assert len({p["unique_id"] for _, p in MESSAGES}) == len(MESSAGES)


def test_all_platforms_the_issue_asks_for_are_there():
    assert {platform_of(t) for t, _ in MESSAGES} == set(PLATFORM_KEYS)


@pytest.mark.parametrize("topic, payload", MESSAGES, ids=[t.split("/", 1)[1] for t, _ in MESSAGES])
def test_every_key_is_documented_for_its_platform(topic, payload):
    platform = platform_of(topic)
    required, allowed = PLATFORM_KEYS[platform]
    assert required <= set(payload), f"missing {required - set(payload)}"
    unknown = set(payload) - COMMON_KEYS - required - allowed
    assert not unknown, f"keys not documented for {platform}: {unknown}"
    assert set(payload["device"]) <= DEVICE_KEYS and payload["device"]["identifiers"]
    assert {"name", "model", "manufacturer", "sw_version"} <= set(payload["device"])
    assert set(payload["origin"]) <= ORIGIN_KEYS and "name" in payload["origin"]
    assert payload["availability"] and all(set(a) <= AVAILABILITY_KEYS and a["topic"] == TOPICS.availability
                                           for a in payload["availability"])
    assert payload.get("entity_category") in (None, "config", "diagnostic")
    if "device_class" in payload:
        assert payload["device_class"] in DEVICE_CLASSES[platform]
    if payload.get("device_class") == "enum":
        assert payload["options"] and "unit_of_measurement" not in payload
    if "state_class" in payload:
        assert payload["state_class"] in STATE_CLASSES
    if "state_topic" in payload or "command_topic" in payload:
        assert payload.get("state_topic", "").startswith(TOPICS.base) or payload.get("command_topic")
    json.dumps(payload)  # serialisable


def test_volume_slider_stops_at_max_volume():
    volume = next(p for t, p in MESSAGES if t.endswith("/volume/config"))
    assert (volume["min"], volume["max"], volume["step"], volume["mode"]) == (0, MAX_VOLUME, 1, "slider")


def test_diagnostic_entities():
    by_key = {t.split("/")[3]: p for t, p in MESSAGES}
    for key in ("inference_detector", "inference_emotion", "inference_age", "fps", "cpu_temperature", "uptime",
                "camera_problem"):
        assert by_key[key]["entity_category"] == "diagnostic", key
    assert by_key["cpu_temperature"]["device_class"] == "temperature"
    assert by_key["cpu_temperature"]["unit_of_measurement"] == "°C"
    assert by_key["camera_problem"]["device_class"] == "problem"
    assert by_key["button"]["event_types"] == ["press", "hold"]


def command_payloads(payload: dict) -> list[str]:
    """Every payload Home Assistant can send for this entity."""
    if "payload_press" in payload:
        return [payload["payload_press"]]
    if "options" in payload and "command_topic" in payload:
        return list(payload["options"])
    if "payload_on" in payload:
        return [payload["payload_on"], payload["payload_off"]]
    if "min" in payload:
        return [str(v) for v in range(payload["min"], payload["max"] + 1)]
    return []


def test_every_command_home_assistant_can_send_is_accepted():
    checked = 0
    for topic, payload in MESSAGES:
        if "command_topic" not in payload:
            continue
        thing = TOPICS.command_thing(payload["command_topic"])
        assert thing is not None, payload["command_topic"]
        for value in command_payloads(payload):
            try:
                parse_command(thing, value.encode(), 40, MAX_VOLUME)
            except CommandError as exc:
                pytest.fail(f"{topic}: Home Assistant would send {value!r} and get: {exc}")
            checked += 1
    assert checked == 6 + 3 + 8 + 2 + (MAX_VOLUME + 1)  # buttons, policies, override options, ON/OFF, volumes


def test_every_value_template_renders_on_the_published_state():
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # a key typo fails
    snapshot = RecordingCore().snapshot()
    published = {TOPICS.state(n): state_payload(n, snapshot[n], MAX_VOLUME) for n in STATE_NAMES}
    published[TOPICS.diagnostics] = diagnostics_payload(snapshot["diagnostics"], snapshot["library"], 0.0)
    rendered = {}
    for topic, payload in MESSAGES:
        if "value_template" not in payload:
            continue
        value_json = json.loads(json.dumps(published[payload["state_topic"]]))
        text = env.from_string(payload["value_template"]).render(value_json=value_json, none=None)
        if "options" in payload and payload.get("device_class") == "enum" or platform_of(topic) == "select":
            assert text in payload["options"], (topic, text)
        if platform_of(topic) in ("binary_sensor", "switch"):
            assert text in ("ON", "OFF"), (topic, text)
        rendered[topic.split("/")[3]] = text
    assert rendered["mood"] == "neutral" and rendered["confidence"] == "100.0" and rendered["volume"] == "40"
    assert rendered["now_playing"] == "nothing" and rendered["mood_override"] == "auto"
    assert rendered["inference_detector"] == "12.5" and rendered["uptime"] == "42"


def test_default_base_topic_and_device_id_are_stable():
    config = Config.model_validate({"mqtt": {}})
    first, second = Topics.from_config(config), Topics.from_config(config)
    assert first == second and first.base == f"moodbox/{first.device_id}" and len(first.device_id) == 12


@pytest.mark.parametrize("settings, message", [
    ({"base_topic": "moodbox/#"}, "free of '+', '#'"),
    ({"base_topic": "/moodbox"}, "mqtt.base_topic '/moodbox': no leading"),
    ({"discovery_prefix": "ha/+"}, "mqtt.discovery_prefix 'ha/+'"),
    ({"device_id": "kitchen box"}, "letters, digits"),
])
def test_bad_topic_settings_are_explained(settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Topics.from_config(Config.model_validate({"mqtt": settings}))


def test_hardware_model_goes_into_the_device_block(tmp_path):
    from moodbox.mqtt.discovery import hardware_model

    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert hardware_model(model) == "Raspberry Pi 4 Model B Rev 1.4"
    assert hardware_model(tmp_path / "missing") is None


def test_the_device_block_links_the_web_page_as_home_assistant_can_reach_it():
    """configuration_url: HA's "Visit" link, and where the moodbox integration finds the REST API."""
    import socket

    from moodbox.mqtt.discovery import web_page_url

    def config(**web):
        return Config.model_validate({"web": web})

    class Sock:
        def __init__(self, address):
            self.address = address

        def getsockname(self):
            return (self.address, 40000)

    assert web_page_url(config(port=8080), Sock("192.168.1.20")) == "http://192.168.1.20:8080/"
    assert web_page_url(config(bind="::", port=80), Sock("::ffff:10.0.0.5")) == "http://10.0.0.5:80/"
    assert web_page_url(config(bind="::", port=80), Sock("fd00::5")) == "http://[fd00::5]:80/"
    assert web_page_url(config(bind="127.0.0.1", port=9000), None) == "http://127.0.0.1:9000/"
    assert web_page_url(config(enabled=False), Sock("192.168.1.20")) is None
    assert web_page_url(config(), None) is None  # not connected: no address to give
    with socket.socket() as unconnected:  # no address yet: none given
        assert web_page_url(config(), unconnected) is None
    messages = discovery_messages(TOPICS, 60, "http://192.168.1.20:8080/")
    assert all(p["device"]["configuration_url"] == "http://192.168.1.20:8080/" for _, p in messages)
    assert all("configuration_url" not in p["device"] for _, p in discovery_messages(TOPICS, 60))


def test_the_player_state_carries_the_library_track_id():
    from moodbox.mqtt.payloads import player_payload

    assert player_payload({"state": "playing", "track_id": 7, "title": "x"})["track_id"] == 7
    assert player_payload({"state": "playing", "track_id": None})["track_id"] is None  # an online track
    assert player_payload({"track_id": True})["track_id"] is None
