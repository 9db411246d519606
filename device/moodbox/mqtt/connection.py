"""Making a paho-mqtt 2.x client from the config (auth, TLS, last will) and explaining failures."""
from __future__ import annotations

import logging
import socket
import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from moodbox.config import Config

log = logging.getLogger(__name__)


class MqttSetupError(Exception):
    """The MQTT settings cannot work (a TLS file is missing, ...); says which key to fix."""


# CONNACK refusals (MQTT 3.1.1 codes as paho 2 reports them) -> what the user should do.
_PASSWORD_HINT = ("check mqtt.username and the password (MOODBOX_MQTT_PASSWORD, the systemd credential "
                  "mqtt_password, or mqtt.password)")
_REFUSALS = {
    "Unsupported protocol version": "the broker does not speak MQTT 3.1.1",
    "Client identifier not valid": "the broker rejected the client id (set mqtt.client_id)",
    "Server unavailable": "the broker says it is unavailable",
    "Bad user name or password": f"wrong username or password: {_PASSWORD_HINT}",
    "Not authorized": f"not authorised: wrong username or password, or this user may not connect: {_PASSWORD_HINT}",
}


def describe_refusal(reason: ReasonCode) -> str:
    """Human text for a refused connection."""
    return _REFUSALS.get(reason.getName(), f"the broker refused the connection ({reason.getName()})")


def describe_socket_error(error: BaseException | None) -> str:
    """Human text for a connection that failed before MQTT spoke (DNS, TCP, TLS)."""
    if error is None:
        return "connection failed"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate check failed: {error.verify_message} (check mqtt.tls.ca_file and mqtt.host)"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or error} (is mqtt.port a TLS port? check mqtt.tls)"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the broker running, is mqtt.port right?)"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name ({error.strerror}; check mqtt.host)"
    if isinstance(error, TimeoutError):
        return "no answer (timeout; check mqtt.host, mqtt.port and the network)"
    return f"{type(error).__name__}: {error}"


def make_client(config: Config, client_id: str) -> mqtt.Client:
    """A configured, not yet connected client (VERSION2 callbacks, MQTT 3.1.1)."""
    settings = config.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                         clean_session=True)
    if log.isEnabledFor(logging.DEBUG):  # paho's own lines repeat on every retry: only with --verbose
        client.enable_logger(logging.getLogger("moodbox.mqtt.paho"))
    if settings.username:
        client.username_pw_set(settings.username, config.mqtt_password())
    elif config.mqtt_password():
        log.warning("an MQTT password is set but mqtt.username is empty: the password is not used")
    if settings.tls.enabled:
        _set_tls(client, config)
    return client


def _set_tls(client: mqtt.Client, config: Config) -> None:
    tls = config.mqtt.tls
    files = {}
    for key in ("ca_file", "certfile", "keyfile"):
        value = getattr(tls, key)
        if value is None:
            files[key] = None
            continue
        path = config.resolve_path(value)
        if not path.is_file():
            raise MqttSetupError(f"mqtt.tls.{key}: file not found: {path}")
        files[key] = str(path)
    if (files["certfile"] is None) != (files["keyfile"] is None):
        raise MqttSetupError("mqtt.tls.certfile and mqtt.tls.keyfile go together: set both or neither")
    try:
        client.tls_set(ca_certs=files["ca_file"], certfile=files["certfile"], keyfile=files["keyfile"],
                       cert_reqs=ssl.CERT_REQUIRED if tls.verify else ssl.CERT_NONE)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise MqttSetupError(f"mqtt.tls: cannot load the certificate files: {exc}") from None
    if not tls.verify:
        client.tls_insecure_set(True)
        log.warning("mqtt.tls.verify is off: the broker's certificate is not checked")
