"""The box on the network by mDNS (device/moodbox/web/announce.py), seen with python-zeroconf's own
browser on loopback: announced with its device id and API port, updated when the port or the host
name changes, withdrawn at stop and on SIGTERM of the daemon, off with web.announce: false."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from zeroconf import ServiceBrowser, ServiceListener, Zeroconf

from core_testkit import NO_FACE, camera_folder, config_data, make_config, write_config
from mqtt.broker import free_port

from moodbox.web import announce
from moodbox.web.announce import MOODBOX_TYPE, Announcer, host_label

HTTP_TYPE = "_http._tcp.local."


class Seen(ServiceListener):
    """What a browser on loopback sees: name -> (port, TXT properties, addresses), or removed."""

    def __init__(self) -> None:
        self.services: dict[str, tuple[int, dict[str, str], list[str]]] = {}
        self.removed: list[str] = []
        self.changed = threading.Event()

    def _look(self, zc: Zeroconf, type_: str, name: str) -> None:
        info = zc.get_service_info(type_, name, 3000)
        if info is not None:
            properties = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
            self.services[name] = (info.port, properties, info.parsed_addresses())
            self.changed.set()

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._look(zc, type_, name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._look(zc, type_, name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.removed.append(name)
        self.services.pop(name, None)
        self.changed.set()


@pytest.fixture
def browser():
    zc = Zeroconf(interfaces=["127.0.0.1"])
    seen = {HTTP_TYPE: Seen(), MOODBOX_TYPE: Seen()}
    browsers = [ServiceBrowser(zc, kind, listener) for kind, listener in seen.items()]
    yield seen
    for b in browsers:
        b.cancel()
    zc.close()


def wait(predicate: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def loopback_config(tmp_path: Path, port: int, **web: Any) -> Any:
    data = config_data(tmp_path / "state", None, str(tmp_path / "cam"),
                       web={"enabled": True, "bind": "127.0.0.1", "port": port, **web},
                       mqtt={"enabled": True, "device_id": "announcebox", "host": "127.0.0.1"})
    return make_config(tmp_path, data)


def test_host_label_is_a_dns_label():
    assert host_label("Living Room.lan") == "Living-Room" and host_label("...") == "moodbox"


def test_announced_updated_on_port_and_name_change_and_withdrawn(tmp_path, browser, monkeypatch):
    monkeypatch.setattr(announce.socket, "gethostname", lambda: "kitchen")
    announcer = Announcer(loopback_config(tmp_path, 8080))
    announcer.publish(8080)
    box, page = "moodbox kitchen._moodbox._tcp.local.", "moodbox kitchen._http._tcp.local."
    try:
        assert wait(lambda: box in browser[MOODBOX_TYPE].services and page in browser[HTTP_TYPE].services)
        port, properties, addresses = browser[MOODBOX_TYPE].services[box]
        assert port == 8080 and addresses == ["127.0.0.1"]
        assert properties["id"] == "announcebox" and properties["mqtt_base"] == "moodbox/announcebox"
        assert properties["path"] == "/api/v1" and properties["tls"] == "0"
        assert browser[HTTP_TYPE].services[page][:2] == (8080, {"path": "/"})

        announcer.publish(8181)  # the server bound another port
        assert wait(lambda: browser[MOODBOX_TYPE].services.get(box, (0,))[0] == 8181
                    and browser[HTTP_TYPE].services.get(page, (0,))[0] == 8181)

        monkeypatch.setattr(announce.socket, "gethostname", lambda: "living-room")
        announcer.publish(8181)  # the check on (re)bind, as every minute
        renamed = "moodbox living-room._moodbox._tcp.local."
        assert wait(lambda: renamed in browser[MOODBOX_TYPE].services and box in browser[MOODBOX_TYPE].removed)
    finally:
        announcer.close()
    assert wait(lambda: not browser[MOODBOX_TYPE].services and not browser[HTTP_TYPE].services)


def test_off_with_announce_false(tmp_path):
    announcer = Announcer(loopback_config(tmp_path, 8080, announce=False))
    announcer.publish(8080)
    assert announcer._thread is None
    announcer.close()


def test_the_daemon_announces_itself_and_withdraws_on_sigterm(tmp_path, browser):
    port = free_port()
    data = config_data(tmp_path / "state", None, str(camera_folder(tmp_path / "cam", NO_FACE)),
                       web={"enabled": True, "bind": "127.0.0.1", "port": port},
                       mqtt={"enabled": False, "device_id": "sigtermbox"}, logging={"level": "INFO"})
    config = write_config(tmp_path, data)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    log = (tmp_path / "box.log").open("wb")
    box = subprocess.Popen([sys.executable, "-m", "moodbox.cli", "run", "--config", str(config)],
                           stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        name = f"moodbox {host_label(socket.gethostname())}._moodbox._tcp.local."
        assert wait(lambda: name in browser[MOODBOX_TYPE].services, 30), (tmp_path / "box.log").read_text()[-2000:]
        port_seen, properties, _ = browser[MOODBOX_TYPE].services[name]
        assert port_seen == port and properties["id"] == "sigtermbox" and "mqtt_base" not in properties
        box.send_signal(signal.SIGTERM)
        assert box.wait(30) == 0
        assert wait(lambda: name in browser[MOODBOX_TYPE].removed, 10)
        assert "mDNS announcement withdrawn" in (tmp_path / "box.log").read_text()
    finally:
        if box.poll() is None:
            box.kill()
            box.wait()
