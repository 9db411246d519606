"""MQTT adapter and Home Assistant discovery (see adapter.MqttAdapter and topics for the topic scheme)."""
from moodbox.mqtt.adapter import MqttAdapter

__all__ = ["MqttAdapter"]
