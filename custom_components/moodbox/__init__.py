"""moodbox for Home Assistant: each box as a media player, beside the entities it announces over MQTT.

State and commands travel over the box's MQTT topics (box.py says why); the library, queueing and
cover pictures over its REST API.
"""
from __future__ import annotations

import logging

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady

from .box import MoodboxBox
from .const import CONF_BASE_TOPIC, CONF_DEVICE_ID, CONF_PASSWORD, CONF_URL, DOMAIN

_LOGGER = logging.getLogger(__name__)
PLATFORMS = [Platform.MEDIA_PLAYER]


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady("the MQTT integration is not ready")
    settings = {**entry.data, **entry.options}
    box = MoodboxBox(hass, settings[CONF_DEVICE_ID], settings[CONF_BASE_TOPIC], settings.get(CONF_URL),
                     settings.get(CONF_PASSWORD))
    await box.async_start()
    hass.data.setdefault(DOMAIN, {})[entry.entry_id] = box
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_options_changed))
    _LOGGER.debug("moodbox %s: MQTT base %s, web %s", box.device_id, box.base, box.url or "none")
    return True


async def _options_changed(hass: HomeAssistant, entry: ConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        box: MoodboxBox = hass.data[DOMAIN].pop(entry.entry_id)
        await box.async_stop()
    return unloaded
