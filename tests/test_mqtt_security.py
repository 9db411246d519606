"""Username/password and TLS against a real mosquitto, and how failures are reported."""
from __future__ import annotations

import logging
import signal
import subprocess
import time
from pathlib import Path

import pytest

from moodbox.config import Config
from mqtt.broker import MOSQUITTO_PASSWD, Mosquitto
from mqtt.fixtures import BASE, core, make_adapter  # noqa: F401
from mqtt.watcher import Watcher

USERS = {"moodbox": "s3cret-pass", "ha": "ha-pass"}


@pytest.fixture
def secured(tmp_path: Path):
    server = Mosquitto(tmp_path / "secured", users=USERS, tls=True)
    server.start()
    yield server
    server.stop()


def config_for(server: Mosquitto, **mqtt) -> Config:
    return Config.model_validate({"mqtt": {"host": "127.0.0.1", "port": server.port, "device_id": "testbox",
                                           "username": "moodbox", **mqtt}})


def wait_online(server: Mosquitto) -> None:
    w = Watcher(server.port, username="ha", password=USERS["ha"])
    try:
        w.wait_message(f"{BASE}/availability", lambda m: m.payload == b"online")
        w.wait_message(f"{BASE}/mood")
    finally:
        w.close()


def test_password_from_the_environment_works(secured, core, make_adapter, monkeypatch):
    monkeypatch.setenv("MOODBOX_MQTT_PASSWORD", USERS["moodbox"])
    make_adapter(core, config_for(secured))
    wait_online(secured)


def test_password_from_a_systemd_credential_works(secured, core, make_adapter, monkeypatch, tmp_path):
    monkeypatch.delenv("MOODBOX_MQTT_PASSWORD", raising=False)
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "mqtt_password").write_text(USERS["moodbox"] + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    make_adapter(core, config_for(secured))
    wait_online(secured)


def test_wrong_password_is_reported_once_and_clearly(secured, core, make_adapter, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="moodbox.mqtt")
    monkeypatch.setenv("MOODBOX_MQTT_PASSWORD", "wrong")
    adapter = make_adapter(core, config_for(secured), refused_retry_s=0.3)
    probe = Watcher(secured.port, username="ha", password=USERS["ha"])
    try:
        probe.wait_for(lambda: [r for r in caplog.records if r.levelno == logging.ERROR], "the refusal in the log")
        # let it retry a few times: it must not log again
        probe.wait_for(lambda: adapter.refusals >= 3, "a few more attempts")
    finally:
        probe.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, errors
    assert "username or password" in errors[0] and "MOODBOX_MQTT_PASSWORD" in errors[0]
    assert not adapter.connected


def set_password(server: Mosquitto, user: str, password: str) -> None:
    subprocess.run([MOSQUITTO_PASSWD, "-b", str(server.folder / "passwords"), user, password], check=True,
                   capture_output=True)


def test_refused_login_is_retried_seldom_logged_once_and_recovers(tmp_path, core, make_adapter, monkeypatch,
                                                                  caplog):
    caplog.set_level(logging.INFO, logger="moodbox.mqtt")
    server = Mosquitto(tmp_path / "refusing", users=USERS, extra=["log_type notice"])  # notice: each refusal
    server.start()
    try:
        monkeypatch.setenv("MOODBOX_MQTT_PASSWORD", USERS["moodbox"])
        adapter = make_adapter(core, config_for(server), refused_retry_s=2.0)  # otherwise backoff 0.2 .. 1 s
        wait_online(server)
        server.stop()  # it comes back with another password for the box
        set_password(server, "moodbox", "changed")
        server.start()
        probe = Watcher(server.port, username="ha", password=USERS["ha"])
        try:
            times = [probe.wait_for(lambda: adapter.refusals >= 1 and time.monotonic(), "the first refusal")]
            while time.monotonic() < times[0] + 5.0:  # note when each refused attempt happens
                if adapter.refusals > len(times):
                    times.append(time.monotonic())
                time.sleep(0.01)
            refused_log = server.log_file.read_text().count("not authorised")
            # one attempt every 2 s: 3 in these 5 s (the short backoff would have made about 7)
            assert 2 <= len(times) <= 4, times
            assert min(b - a for a, b in zip(times, times[1:])) >= 1.5, times
            assert abs(refused_log - adapter.refusals) <= 1, (refused_log, adapter.refusals)
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1 and "username or password" in errors[0], errors
            assert "retrying every 2 s" in errors[0]
            # fixed on the broker (SIGHUP reloads the password file): the next attempt gets in
            set_password(server, "moodbox", USERS["moodbox"])
            server.process.send_signal(signal.SIGHUP)
            probe.wait_for(lambda: adapter.connected, "the box to get in with its password again")
        finally:
            probe.close()
        wait_online(server)
        again = [r.getMessage() for r in caplog.records if "again after" in r.getMessage()]
        assert len(again) == 1 and "accepts the login now" in again[0], again
        assert [r for r in caplog.records if r.levelno >= logging.ERROR][1:] == []
        # and the short backoff is back for the next outage
        assert (adapter._client._reconnect_min_delay, adapter._client._reconnect_max_delay) == (0.2, 1.0)
    finally:
        server.stop()


def test_tls_with_a_self_signed_ca_and_verification(secured, core, make_adapter, monkeypatch):
    monkeypatch.setenv("MOODBOX_MQTT_PASSWORD", USERS["moodbox"])
    config = config_for(secured, port=secured.tls_port,
                        tls={"enabled": True, "ca_file": str(secured.tls_files["ca"]), "verify": True})
    adapter = make_adapter(core, config)
    wait_online(secured)
    assert adapter.connected and adapter._client._ssl  # really over TLS


def test_tls_with_an_unknown_ca_is_refused_and_explained(secured, core, make_adapter, monkeypatch, caplog,
                                                         tmp_path):
    from mqtt.broker import make_tls_files

    caplog.set_level(logging.INFO, logger="moodbox.mqtt")
    monkeypatch.setenv("MOODBOX_MQTT_PASSWORD", USERS["moodbox"])
    other_ca = make_tls_files(tmp_path / "other")["ca"]
    config = config_for(secured, port=secured.tls_port, tls={"enabled": True, "ca_file": str(other_ca)})
    adapter = make_adapter(core, config)
    probe = Watcher(secured.port, username="ha", password=USERS["ha"])
    try:
        record = probe.wait_for(lambda: next((r for r in caplog.records if "TLS" in r.getMessage()), None),
                                "the TLS failure in the log")
    finally:
        probe.close()
    assert "certificate" in record.getMessage() and "mqtt.tls.ca_file" in record.getMessage()
    assert not adapter.connected


def test_tls_without_verification_connects_and_warns(secured, core, make_adapter, monkeypatch, caplog, tmp_path):
    from mqtt.broker import make_tls_files

    monkeypatch.setenv("MOODBOX_MQTT_PASSWORD", USERS["moodbox"])
    other_ca = make_tls_files(tmp_path / "other")["ca"]  # would fail verification
    config = config_for(secured, port=secured.tls_port,
                        tls={"enabled": True, "ca_file": str(other_ca), "verify": False})
    with caplog.at_level(logging.WARNING, logger="moodbox.mqtt"):
        make_adapter(core, config)
    wait_online(secured)
    assert "verify is off" in caplog.text


def test_missing_tls_file_disables_mqtt_with_a_clear_error(core, caplog, tmp_path):
    from moodbox.mqtt import MqttAdapter

    config = Config.model_validate({"mqtt": {"device_id": "testbox",
                                             "tls": {"enabled": True, "ca_file": str(tmp_path / "nope.pem")}}})
    adapter = MqttAdapter(core, config)
    with caplog.at_level(logging.ERROR, logger="moodbox.mqtt"):
        assert adapter.start() is False
    assert "mqtt.tls.ca_file: file not found" in caplog.text
    adapter.stop()  # harmless when it never started


def test_tls_client_certificate(tmp_path, core, make_adapter, caplog):
    server = Mosquitto(tmp_path / "mutual", tls=True, require_certificate=True)
    server.start()
    try:
        files = server.tls_files
        tls = {"enabled": True, "ca_file": str(files["ca"])}
        base = {"host": "127.0.0.1", "port": server.tls_port, "device_id": "testbox"}
        without = make_adapter(core, Config.model_validate({"mqtt": {**base, "client_id": "nocert", "tls": tls}}))
        with_cert = make_adapter(core, Config.model_validate({"mqtt": {**base, "tls": {
            **tls, "certfile": str(files["client"]), "keyfile": str(files["client_key"])}}}))
        w = Watcher(server.port)
        try:
            w.wait_message(f"{BASE}/availability", lambda m: m.payload == b"online")
            w.wait_for(lambda: "client certificate" in caplog.text, "the refused certificate-less client in the log")
        finally:
            w.close()
        assert with_cert.connected and not without.connected
    finally:
        server.stop()


def test_certfile_without_keyfile_is_explained(core, caplog, tmp_path):
    from moodbox.mqtt import MqttAdapter

    cert = tmp_path / "client.pem"
    cert.write_text("not really a certificate")
    config = Config.model_validate({"mqtt": {"device_id": "testbox", "tls": {"enabled": True,
                                                                             "certfile": str(cert)}}})
    with caplog.at_level(logging.ERROR, logger="moodbox.mqtt"):
        assert MqttAdapter(core, config).start() is False
    assert "certfile and mqtt.tls.keyfile go together" in caplog.text
