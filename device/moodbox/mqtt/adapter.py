"""MqttAdapter: publishes the Core's state to MQTT, takes commands, announces Home Assistant entities.

Threads: paho's network thread (loop_start) only enqueues; one worker thread ("moodbox-mqtt") does
all the work in order: publish states, run commands on the Core, republish after a (re)connect.
Core listeners only enqueue too, so a slow or absent broker never blocks the Core.
"""
from __future__ import annotations

import json
import logging
import queue
import random
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from moodbox.config import Config
from moodbox.core import CommandError, CoreApi
from moodbox.mqtt import discovery
from moodbox.mqtt.connection import MqttSetupError, describe_refusal, describe_socket_error, make_client
from moodbox.mqtt.payloads import diagnostics_payload, state_payload
from moodbox.mqtt.topics import STATE_NAMES, Topics

log = logging.getLogger(__name__)

QUEUE_SIZE = 2000
BAD_COMMAND_LOGS_PER_MINUTE = 20
# Reconnect back-off: doubles from reconnect_min_s up to this cap, so a broker that comes back is
# reached within about 5 s (the target is 10 s), however long it was away.
RECONNECT_MAX_S = 5.0
# A broker that refuses the login will not change its mind every few seconds: try this seldom then.
REFUSED_RETRY_S = 45.0


class MqttAdapter:
    """Bridge between a Core and an MQTT broker. start() never raises for broker problems."""

    def __init__(self, core: CoreApi, config: Config, *, reconnect_min_s: float = 1.0,
                 reconnect_max_s: float = RECONNECT_MAX_S, birth_delay_max_s: float = 2.0,
                 refused_retry_s: float = REFUSED_RETRY_S) -> None:
        self._core = core
        self._config = config
        self._max_volume = config.audio.max_volume
        self._reconnect = (reconnect_min_s, reconnect_max_s)
        self._refused_retry_s = refused_retry_s
        self._refused = False  # the broker refused the last attempt: retrying every refused_retry_s
        self.refusals = 0  # refused connection attempts so far
        self._refusals_before = 0  # self.refusals at the last connect
        self._birth_delay_max_s = birth_delay_max_s
        self.topics = Topics.from_config(config)
        self._client: mqtt.Client | None = None
        self._jobs: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=QUEUE_SIZE)
        self._worker: threading.Thread | None = None
        self._running = False
        self._connected = False
        self._published: dict[str, str] = {}  # state topic -> last JSON sent on this connection
        self._started = time.monotonic()
        self._down_since: float | None = None  # start of the current outage
        self._problems_logged: set[str] = set()  # each problem is logged once per outage
        self._queue_full_logged = False
        self._resync = False  # set when updates were dropped: republish all states once the queue drains
        self._bad_commands: list[float] = []  # times of recent bad commands, for log rate limiting
        self._subscribed = False
        self._ever_connected = False

    # ----- lifecycle -----

    def start(self) -> bool:
        """Connect in the background. False (and an ERROR in the log) if the settings cannot work."""
        settings = self._config.mqtt
        if not settings.enabled:
            log.info("MQTT is off (mqtt.enabled: false)")
            return False
        client_id = settings.client_id or f"moodbox-{self.topics.device_id}"
        try:
            client = make_client(self._config, client_id)
        except MqttSetupError as exc:
            log.error("MQTT disabled: %s", exc)
            return False
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(self._reconnect[0], self._reconnect[1])  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._running = True
        self._down_since = time.monotonic()
        self._worker = threading.Thread(target=self._work, name="moodbox-mqtt", daemon=True)
        self._worker.start()
        if not self._subscribed:
            self._core.subscribe(self._on_core)
            self._subscribed = True
        log.info("MQTT: connecting to %s:%d as %s, base topic %s", settings.host, settings.port, client_id,
                 self.topics.base)
        client.connect_async(settings.host, settings.port, keepalive=settings.keepalive)
        client.loop_start()
        return True

    def stop(self, timeout: float = 0.4) -> None:
        """Publish `offline`, disconnect and stop the threads, within about `timeout` seconds
        (the daemon's shutdown budget is short; if `offline` cannot get out, the last will says it)."""
        if not self._running or self._client is None:
            return
        self._running = False
        self._jobs_put(("stop", None), force=True)
        if self._worker is not None:
            self._worker.join(timeout / 2)
        client = self._client
        if self._connected:
            try:
                client.publish(self.topics.availability, "offline", qos=1, retain=True).wait_for_publish(timeout / 2)
            except (RuntimeError, ValueError) as exc:
                log.warning("MQTT: could not publish offline: %s", exc)
        was_connected = self._connected
        client.disconnect()
        if was_connected:
            client.loop_stop()
        else:
            # Between reconnect attempts paho sleeps in steps of up to 1 s; do not hold up
            # shutdown for that: its thread ends by itself at the next step.
            threading.Thread(target=client.loop_stop, name="mqtt-loop-stop", daemon=True).start()
        self._connected = False
        log.info("MQTT: stopped")

    @property
    def connected(self) -> bool:
        return self._connected

    # ----- paho callbacks (network thread): enqueue only -----

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        if reason.is_failure:
            self.refusals += 1
            self._problem(describe_refusal(reason), logging.ERROR,
                          f"retrying every {self._refused_retry_s:g} s in the background")
            self._set_backoff(client, refused=True)
            return
        self._set_backoff(client, refused=False)
        client.subscribe([(self.topics.command_filter, 1), (self.topics.ha_status, 1)])
        self._jobs_put(("connected", None), force=True)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this inside its `except OSError`, so the error is still at hand.
        self._problem(describe_socket_error(sys.exc_info()[1]), logging.WARNING)
        self._set_backoff(client, refused=False)  # not the login: the broker is restarting or unreachable

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Any) -> None:
        was_connected, self._connected = self._connected, False
        if not self._running:
            return
        if was_connected:
            self._down_since = time.monotonic()
            self._problem(f"lost the connection ({reason.getName()})", logging.WARNING)
        elif not self._problems_logged:  # closed before it was accepted, with nothing said so far
            self._problem("the broker closed the connection before accepting it (with TLS: does the broker "
                          "want a client certificate, mqtt.tls.certfile/keyfile?)", logging.WARNING)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._jobs_put(("message", (message.topic, bytes(message.payload), bool(message.retain))))

    def _on_core(self, topic: str, data: Any) -> None:
        """Core listener: never blocks."""
        if self._running:
            self._jobs_put(("core", (topic, data)))

    def _jobs_put(self, job: tuple[str, Any], force: bool = False) -> None:
        """Queue work for the worker without ever waiting. When full, updates are dropped (and all
        states resent later); lifecycle jobs (force) push out the oldest job instead."""
        try:
            self._jobs.put_nowait(job)
            return
        except queue.Full:
            self._resync = True
        if force:
            try:
                self._jobs.get_nowait()
                self._jobs.put_nowait(job)
            except (queue.Empty, queue.Full):
                pass
        if not self._queue_full_logged:
            self._queue_full_logged = True
            log.warning("MQTT: too much to do, dropping updates; every state is sent again when it calms down")

    def _problem(self, text: str, level: int, retrying: str = "retrying in the background") -> None:
        """Log a connection problem once per outage (a new, different problem is logged too)."""
        if text not in self._problems_logged:
            self._problems_logged.add(text)
            settings = self._config.mqtt
            log.log(level, "MQTT broker %s:%d: %s; the music keeps playing, %s",
                    settings.host, settings.port, text, retrying)

    def _set_backoff(self, client: mqtt.Client, refused: bool) -> None:
        """The short back-off normally; one attempt every refused_retry_s while the broker refuses us."""
        if refused == self._refused:
            return  # unchanged: setting it again would restart paho's doubling
        self._refused = refused
        low, high = (self._refused_retry_s,) * 2 if refused else self._reconnect
        client.reconnect_delay_set(low, high)  # type: ignore[arg-type]

    # ----- worker thread -----

    def _work(self) -> None:
        interval = self._config.mqtt.diagnostics_interval_s
        next_diagnostics = time.monotonic() + interval
        birth_due: float | None = None
        while True:
            now = time.monotonic()
            due = min(next_diagnostics, birth_due if birth_due is not None else next_diagnostics)
            try:
                kind, data = self._jobs.get(timeout=max(0.0, due - now))
            except queue.Empty:
                kind, data = "tick", None
            if kind == "stop" or not self._running:
                return
            try:
                if kind == "connected":
                    self._after_connect()
                    next_diagnostics = time.monotonic() + interval
                elif kind == "core":
                    self._handle_core(*data)
                elif kind == "message":
                    if self._handle_message(*data):
                        birth_due = time.monotonic() + random.uniform(0, self._birth_delay_max_s)
                if self._resync and self._jobs.empty():
                    self._resync = False
                    self._publish_states(self._core.snapshot())
                now = time.monotonic()
                if birth_due is not None and now >= birth_due:
                    birth_due = None
                    log.info("MQTT: Home Assistant came online, announcing entities and states again")
                    self._publish_everything()
                if now >= next_diagnostics:
                    next_diagnostics = now + interval
                    self._publish_diagnostics()
            except Exception:  # the worker must survive anything: log it and go on
                log.exception("MQTT: unexpected error handling %s", kind)

    def _after_connect(self) -> None:
        """Republish discovery and every retained state, then say `online`."""
        self._connected = self._client is not None and self._client.is_connected()
        if not self._connected:
            return  # dropped again already; the next connect republishes
        settings = self._config.mqtt
        refused, self._refusals_before = self.refusals - self._refusals_before, self.refusals
        accepted = f" (the broker accepts the login now, after {refused} refused attempts)" if refused else ""
        if self._ever_connected:
            outage = time.monotonic() - (self._down_since or time.monotonic())
            log.info("MQTT: connected to %s:%d again after %.0f s%s", settings.host, settings.port, outage,
                     accepted)
        else:
            log.info("MQTT: connected to %s:%d%s", settings.host, settings.port, accepted)
        self._ever_connected = True
        self._down_since = None
        self._problems_logged.clear()
        self._queue_full_logged = False
        self._publish_everything()
        self._publish(self.topics.availability, "online", retain=True)

    def _publish_everything(self) -> None:
        if self._config.mqtt.discovery:
            for topic, payload in discovery.discovery_messages(self.topics, self._max_volume, self._web_url()):
                self._publish(topic, json.dumps(payload), retain=True)
        snapshot = self._core.snapshot()
        self._published.clear()
        self._publish_states(snapshot)
        self._publish_diagnostics(snapshot)

    def _web_url(self) -> str | None:
        """The web page's address for the discovery's device block (sent again on every connect)."""
        return discovery.web_page_url(self._config, self._client.socket() if self._client is not None else None)

    def _publish_states(self, snapshot: dict[str, Any]) -> None:
        for name in STATE_NAMES:
            self._publish_state(name, snapshot.get(name))

    def _handle_core(self, topic: str, data: Any) -> None:
        if topic in STATE_NAMES:
            self._publish_state(topic, data)
        elif topic == "event":
            self._publish_event(data)
        elif topic != "diagnostics":  # diagnostics go out on their own timer
            log.debug("MQTT: ignoring Core topic %r", topic)

    def _publish_state(self, name: str, value: Any) -> None:
        text = json.dumps(state_payload(name, value, self._max_volume), sort_keys=True)
        topic = self.topics.state(name)
        if self._published.get(topic) == text:
            return  # unchanged: keep the broker and Home Assistant quiet
        if self._publish(topic, text, retain=True):
            self._published[topic] = text

    def _publish_event(self, data: Any) -> None:
        event = dict(data) if isinstance(data, dict) else {"type": str(data)}
        event.setdefault("timestamp", round(time.time(), 3))
        self._publish(self.topics.event, json.dumps(event, default=str), retain=False)
        if event.get("type") == "button" and event.get("kind") in ("press", "hold"):
            self._publish(self.topics.button, json.dumps({"event_type": event["kind"]}), retain=False)

    def _publish_diagnostics(self, snapshot: dict[str, Any] | None = None) -> None:
        if not self._connected:
            return
        snapshot = snapshot if snapshot is not None else self._core.snapshot()
        payload = diagnostics_payload(snapshot.get("diagnostics"), snapshot.get("library"), self._started)
        self._publish(self.topics.diagnostics, json.dumps(payload), retain=False)

    def _publish(self, topic: str, payload: str, retain: bool) -> bool:
        """Publish if connected, at QoS 0: what a dropped connection loses is sent again (fresh, not
        stale as QoS 1 would resend it) after reconnecting, since every connect republishes everything."""
        if not self._connected or self._client is None or not self._client.is_connected():
            return False
        info = self._client.publish(topic, payload, qos=0, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # ----- commands -----

    def _handle_message(self, topic: str, payload: bytes, retained: bool) -> bool:
        """Handle one received message; True if it was Home Assistant's birth message."""
        if topic == self.topics.ha_status:
            return payload.strip().lower() == b"online" and self._config.mqtt.discovery
        thing = self.topics.command_thing(topic)
        if thing is None:
            return False
        if retained:  # a stale retained command would replay on every reconnect
            self._reject(topic, payload, "retained commands are ignored: publish commands with retain off")
            return False
        try:
            command = self._core.command(thing, payload, "mqtt")
        except CommandError as exc:
            self._reject(topic, payload, str(exc))
            return False
        except Exception as exc:  # the Core refused: tell the sender, keep going
            log.warning("MQTT command %s failed: %s", thing, exc)
            self._reject(topic, payload, f"{thing}: failed: {exc}", already_logged=True)
        else:
            log.info("MQTT command %s: %s%s", thing, command.method, list(command.args) if command.args else "")
        return False

    def _reject(self, topic: str, payload: bytes, message: str, already_logged: bool = False) -> None:
        preview = payload[:64].decode("utf-8", errors="replace")
        if not already_logged:
            now = time.monotonic()
            self._bad_commands = [t for t in self._bad_commands if now - t < 60] + [now]
            level = logging.WARNING if len(self._bad_commands) <= BAD_COMMAND_LOGS_PER_MINUTE else logging.DEBUG
            log.log(level, "MQTT: rejected command on %s: %s", topic, message)
        error = {"topic": topic, "error": message, "payload": preview, "timestamp": round(time.time(), 3)}
        self._publish(self.topics.error, json.dumps(error), retain=False)
