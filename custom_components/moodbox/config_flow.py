"""Config flow: boxes found by their MQTT discovery or by zeroconf, or added by hand."""
from __future__ import annotations

import json
import logging
import re
from typing import Any

import voluptuous as vol

from homeassistant import config_entries
from homeassistant.core import callback

from .const import CONF_BASE_TOPIC, CONF_DEVICE_ID, CONF_PASSWORD, CONF_URL, DOMAIN

_LOGGER = logging.getLogger(__name__)

DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Not "already_configured": Home Assistant stops listening on an integration's MQTT discovery topic
# after that answer, and the topic is shared by every box, so a second box would go unseen.
ABORT_KNOWN = "already_known"


def parse_mqtt_discovery(payload: Any) -> dict[str, str] | None:
    """The box's "Now playing" sensor discovery payload -> device id, base topic, web address."""
    try:
        data = json.loads(payload)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or (data.get("origin") or {}).get("name") != "moodbox":
        return None
    unique_id, state_topic = str(data.get("unique_id", "")), str(data.get("state_topic", ""))
    match = re.fullmatch(r"moodbox_([A-Za-z0-9_-]{1,64})_now_playing", unique_id)
    if not match or not state_topic.endswith("/player"):
        return None
    found = {CONF_DEVICE_ID: match.group(1), CONF_BASE_TOPIC: state_topic[: -len("/player")]}
    url = (data.get("device") or {}).get("configuration_url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        found[CONF_URL] = url.rstrip("/")
    return found


class MoodboxConfigFlow(config_entries.ConfigFlow, domain=DOMAIN):
    """Add a moodbox."""

    VERSION = 1

    def __init__(self) -> None:
        self._found: dict[str, str] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: config_entries.ConfigEntry) -> MoodboxOptionsFlow:
        return MoodboxOptionsFlow()

    async def async_step_mqtt(self, discovery_info: Any) -> Any:
        found = parse_mqtt_discovery(discovery_info.payload)
        if found is None:
            return self.async_abort(reason="not_moodbox")
        return await self._discovered(found)

    async def async_step_zeroconf(self, discovery_info: Any) -> Any:
        properties = discovery_info.properties or {}
        device_id, base = properties.get("id"), properties.get("mqtt_base")
        if not device_id or not DEVICE_ID_RE.match(device_id):
            return self.async_abort(reason="not_moodbox")
        if not base:
            return self.async_abort(reason="no_mqtt")
        host = str(discovery_info.host)
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if properties.get("tls") == "1" else "http"
        found = {CONF_DEVICE_ID: device_id, CONF_BASE_TOPIC: base,
                 CONF_URL: f"{scheme}://{host}:{discovery_info.port}"}
        return await self._discovered(found)

    async def _discovered(self, found: dict[str, str]) -> Any:
        await self.async_set_unique_id(found[CONF_DEVICE_ID])
        for entry in self._async_current_entries(include_ignore=True):
            if entry.unique_id != found[CONF_DEVICE_ID]:
                continue
            if entry.source != config_entries.SOURCE_IGNORE and any(
                    entry.data.get(key) != value for key, value in found.items()):
                # The box moved (a new address from DHCP, another port): follow it.
                self.hass.config_entries.async_update_entry(entry, data={**entry.data, **found})
                self.hass.async_create_task(self.hass.config_entries.async_reload(entry.entry_id))
            return self.async_abort(reason=ABORT_KNOWN)
        self._found = found
        self.context["title_placeholders"] = {"name": f"moodbox {found[CONF_DEVICE_ID]}"}
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, Any] | None = None) -> Any:
        if user_input is not None:
            return self._create(self._found, user_input.get(CONF_PASSWORD))
        return self.async_show_form(
            step_id="confirm", data_schema=vol.Schema({vol.Optional(CONF_PASSWORD): str}),
            description_placeholders={"device_id": self._found[CONF_DEVICE_ID],
                                      "url": self._found.get(CONF_URL, "-")})

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> Any:
        errors: dict[str, str] = {}
        if user_input is not None:
            device_id = user_input[CONF_DEVICE_ID].strip()
            url = (user_input.get(CONF_URL) or "").strip().rstrip("/")
            if not DEVICE_ID_RE.match(device_id):
                errors[CONF_DEVICE_ID] = "bad_device_id"
            elif url and not url.startswith(("http://", "https://")):
                errors[CONF_URL] = "bad_url"
            else:
                await self.async_set_unique_id(device_id)
                self._abort_if_unique_id_configured()
                found = {CONF_DEVICE_ID: device_id,
                         CONF_BASE_TOPIC: (user_input.get(CONF_BASE_TOPIC) or f"moodbox/{device_id}").strip("/")}
                if url:
                    found[CONF_URL] = url
                return self._create(found, user_input.get(CONF_PASSWORD))
        return self.async_show_form(step_id="user", errors=errors, data_schema=vol.Schema({
            vol.Required(CONF_DEVICE_ID): str, vol.Optional(CONF_BASE_TOPIC): str,
            vol.Optional(CONF_URL): str, vol.Optional(CONF_PASSWORD): str}))

    def _create(self, found: dict[str, str], password: str | None) -> Any:
        options = {CONF_PASSWORD: password} if password else {}
        return self.async_create_entry(title=f"moodbox {found[CONF_DEVICE_ID]}", data=found, options=options)


class MoodboxOptionsFlow(config_entries.OptionsFlow):
    """The web password (to queue music on a box that has one) and a fixed web address."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> Any:
        entry = self.hass.config_entries.async_get_entry(self.handler)
        assert entry is not None
        if user_input is not None:
            options = {key: value.strip() for key, value in user_input.items() if isinstance(value, str) and value.strip()}
            return self.async_create_entry(title="", data=options)
        current = {**entry.data, **entry.options}
        return self.async_show_form(step_id="init", data_schema=vol.Schema({
            vol.Optional(CONF_URL, description={"suggested_value": current.get(CONF_URL)}): str,
            vol.Optional(CONF_PASSWORD, description={"suggested_value": current.get(CONF_PASSWORD)}): str}))
