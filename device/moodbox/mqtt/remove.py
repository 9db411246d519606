"""Clearing everything a box left retained on the broker: discovery configs, states, availability."""
from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from moodbox.config import Config
from moodbox.mqtt.connection import MqttSetupError, describe_refusal, describe_socket_error, make_client
from moodbox.mqtt.discovery import discovery_topics
from moodbox.mqtt.topics import STATE_NAMES, Topics

log = logging.getLogger(__name__)


def retained_topics(topics: Topics) -> list[str]:
    """Every topic a running box publishes retained."""
    return [*discovery_topics(topics), *(topics.state(n) for n in STATE_NAMES), topics.availability]


def remove_retained(config: Config, timeout: float = 10.0) -> int:
    """Publish an empty retained payload to each retained topic; returns how many. Raises RuntimeError
    with a readable reason when the broker cannot be reached or refuses us."""
    topics = Topics.from_config(config)
    settings = config.mqtt
    try:
        client = make_client(config, f"moodbox-{topics.device_id}-remove")
    except MqttSetupError as exc:
        raise RuntimeError(str(exc)) from None
    connected = threading.Event()
    refusal: list[str] = []

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, props: object) -> None:
        if reason.is_failure:
            refusal.append(describe_refusal(reason))
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.host, settings.port, keepalive=settings.keepalive)
    except OSError as exc:
        raise RuntimeError(f"cannot reach the broker {settings.host}:{settings.port}: "
                           f"{describe_socket_error(exc)}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise RuntimeError(f"no answer from the broker {settings.host}:{settings.port} in {timeout:.0f} s")
        if refusal:
            raise RuntimeError(f"the broker {settings.host}:{settings.port} refused: {refusal[0]}")
        names = retained_topics(topics)
        infos = [client.publish(topic, b"", qos=1, retain=True) for topic in names]
        for info in infos:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise RuntimeError("the broker did not confirm every removal in time")
        log.info("cleared %d retained topics under %s and %s", len(names), topics.base, topics.discovery_prefix)
        return len(names)
    finally:
        client.disconnect()
        client.loop_stop()
