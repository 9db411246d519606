"""Constants of the moodbox integration."""
from __future__ import annotations

DOMAIN = "moodbox"

CONF_DEVICE_ID = "device_id"
CONF_BASE_TOPIC = "base_topic"
CONF_URL = "url"  # the box's web address, e.g. http://192.168.1.20:8080 (REST: library, queue, covers)
CONF_PASSWORD = "password"  # the box's web password, only needed to queue music when it has one

# The MQTT device the box announces by itself (moodbox/mqtt/discovery.py): the media player joins it,
# so the box is one device in Home Assistant with its MQTT entities and its media player.
MQTT_IDENTIFIER = "moodbox_{device_id}"

POLICIES = ["match", "lift", "calm"]

SERVICE_LIKE = "like"
SERVICE_DISLIKE = "dislike"
SERVICE_REFRESH_MOOD = "refresh_mood"
