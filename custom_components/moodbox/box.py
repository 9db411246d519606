"""One moodbox as Home Assistant sees it: its MQTT states and commands, and its REST API.

State and control go over MQTT (the box's retained state topics, its availability topic with a last
will, and its `<base>/<thing>/set` commands): pushed the moment they change, no polling, no password
(MQTT is already authenticated), and the box shows `unavailable` as soon as it stops. What MQTT does
not carry (the library to browse, queueing a track or an album, cover pictures) comes from the box's
REST API at `url`, when the box has one.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.util import dt as dt_util

_LOGGER = logging.getLogger(__name__)

STATES = ("player", "volume", "policy")
TIMEOUT = aiohttp.ClientTimeout(total=10)
COOKIE = "moodbox_session"


class BoxApiError(HomeAssistantError):
    """The box's REST API could not do it (the message says why)."""


class MissingApi(BoxApiError):
    """The box answers, but has no such endpoint (an older moodbox)."""


class MoodboxBox:
    """The box's states (from MQTT), its commands (to MQTT) and its REST API."""

    def __init__(self, hass: HomeAssistant, device_id: str, base_topic: str, url: str | None,
                 password: str | None) -> None:
        self.hass = hass
        self.device_id = device_id
        self.base = base_topic.rstrip("/")
        self.url = url.rstrip("/") if url else None
        self._password = password or None
        self.available = False
        self.states: dict[str, dict[str, Any]] = {name: {} for name in STATES}
        self.player_updated_at: datetime | None = None
        self._listeners: list[Callable[[], None]] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self._http: aiohttp.ClientSession | None = None
        self._cookie: str | None = None
        self._csrf: str | None = None
        self._session_lock = asyncio.Lock()
        self._missing_logged: set[str] = set()

    # ----- MQTT -----

    async def async_start(self) -> None:
        self._unsubscribe.append(await mqtt.async_subscribe(
            self.hass, f"{self.base}/availability", self._on_availability, 1))
        for name in STATES:
            self._unsubscribe.append(await mqtt.async_subscribe(
                self.hass, f"{self.base}/{name}", self._state_handler(name), 1))

    async def async_stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._listeners.clear()

    @callback
    def _on_availability(self, message: Any) -> None:
        self.available = str(message.payload).strip() == "online"
        self._changed()

    def _state_handler(self, name: str) -> Callable[[Any], None]:
        @callback
        def handle(message: Any) -> None:
            try:
                value = json.loads(message.payload)
            except (TypeError, ValueError):
                _LOGGER.debug("moodbox %s: ignoring a %s message that is not JSON", self.device_id, name)
                return
            if not isinstance(value, dict):
                return
            self.states[name] = value
            if name == "player":
                self.player_updated_at = dt_util.utcnow()
            self._changed()
        return handle

    @callback
    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @callback
    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    async def async_command(self, thing: str, payload: str) -> None:
        """Publish a command (never retained: the box ignores retained commands)."""
        await mqtt.async_publish(self.hass, f"{self.base}/{thing}/set", payload, qos=1, retain=False)

    # ----- REST -----

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            # Cookies by hand: aiohttp's jar refuses cookies from IP addresses, and the box's session
            # cookie must not leak into Home Assistant's shared session.
            self._http = async_create_clientsession(self.hass, cookie_jar=aiohttp.DummyCookieJar())
        return self._http

    def _need_url(self, what: str) -> str:
        if not self.url:
            raise BoxApiError(f"moodbox {self.device_id}: {what} needs the box's web address (its web page is "
                              "off, or it was added without one)")
        return self.url

    async def async_get_json(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        url = self._need_url("browsing the library") + path
        try:
            async with self._session().get(url, params=params, timeout=TIMEOUT) as response:
                if response.status == 404 and "application/json" not in response.headers.get("Content-Type", ""):
                    raise MissingApi(path)
                data = await response.json(content_type=None)
                if response.status == 404 and self._route_missing(data):
                    raise MissingApi(path)
                if response.status != 200:
                    raise BoxApiError(f"moodbox {self.device_id}: GET {path}: {response.status} "
                                      f"{(data or {}).get('error', '')}".rstrip())
                return data
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise BoxApiError(f"moodbox {self.device_id}: GET {path} failed: {exc or type(exc).__name__}") from exc

    @staticmethod
    def _route_missing(data: Any) -> bool:
        # The box's answer for a path it has no route for ("nothing at '/api/v1/...'"), versus the
        # API's own 404 for an unknown album or track.
        if not isinstance(data, dict):
            return True
        error = str(data.get("error", "")).lower()
        return error in ("not found", "") or error.startswith("nothing at")

    def log_missing_once(self, path: str, what: str) -> None:
        if path not in self._missing_logged:
            self._missing_logged.add(path)
            _LOGGER.info("moodbox %s at %s has no %s yet (GET %s: 404); update the box to use it",
                         self.device_id, self.url, what, path)

    async def _open_session(self) -> None:
        """A session cookie and CSRF token; logged in when a password was given."""
        base = self._need_url("queueing music")
        http = self._session()
        async with http.get(f"{base}/api/v1/session", timeout=TIMEOUT) as response:
            info = await response.json(content_type=None)
            cookie = response.cookies.get(COOKIE)
        self._cookie = cookie.value if cookie is not None else self._cookie
        self._csrf = info.get("csrf_token")
        if info.get("password_required") and not info.get("logged_in"):
            if not self._password:
                raise BoxApiError(f"moodbox {self.device_id} has a web password: add it in the integration's "
                                  "options to queue music from Home Assistant")
            async with http.post(f"{base}/api/v1/login", json={"password": self._password},
                                 headers=self._auth_headers(), timeout=TIMEOUT) as response:
                answer = await response.json(content_type=None)
                if response.status != 200:
                    raise BoxApiError(f"moodbox {self.device_id}: login refused: {answer.get('error', response.status)}")
                cookie = response.cookies.get(COOKIE)
            self._cookie = cookie.value if cookie is not None else self._cookie
            self._csrf = answer.get("csrf_token")

    def _auth_headers(self) -> dict[str, str]:
        headers = {}
        if self._cookie:
            headers["Cookie"] = f"{COOKIE}={self._cookie}"
        if self._csrf:
            headers["X-CSRF-Token"] = self._csrf
        return headers

    async def async_post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        base = self._need_url("queueing music")
        try:
            for attempt in (1, 2):
                async with self._session_lock:
                    if self._csrf is None:
                        await self._open_session()
                    headers = self._auth_headers()
                async with self._session().post(base + path, json=body, headers=headers,
                                                timeout=TIMEOUT) as response:
                    data = await response.json(content_type=None)
                    if response.status in (401, 403) and attempt == 1:
                        self._csrf = None  # the session ended (a new password, a restart): open another
                        continue
                    if response.status == 404 and self._route_missing(data):
                        raise MissingApi(path)
                    if response.status >= 300:
                        raise BoxApiError(f"moodbox {self.device_id}: POST {path}: {response.status} "
                                          f"{(data or {}).get('error', '')}".rstrip())
                    return data if isinstance(data, dict) else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise BoxApiError(f"moodbox {self.device_id}: POST {path} failed: {exc or type(exc).__name__}") from exc
        raise BoxApiError(f"moodbox {self.device_id}: POST {path} refused")

    async def async_get_bytes(self, path: str) -> tuple[bytes | None, str | None]:
        """A picture; (None, None) when the box has none (404) or cannot be reached."""
        if not self.url:
            return None, None
        try:
            async with self._session().get(self.url + path, timeout=TIMEOUT) as response:
                if response.status != 200:
                    return None, None
                return await response.read(), response.headers.get("Content-Type", "image/jpeg")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            _LOGGER.debug("moodbox %s: GET %s failed: %s", self.device_id, path, exc)
            return None, None
