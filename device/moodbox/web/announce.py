"""The box on the local network by mDNS/DNS-SD (python-zeroconf): its web page as `_http._tcp`
(`_https._tcp` with TLS; TXT path=/) and the box itself as `_moodbox._tcp` (TXT id = the device id,
path=/api/v1, version, tls, mqtt_base; the SRV record's port is the API's port), so phones, browsers
and Home Assistant's moodbox integration find it. Follows the host name, the addresses and the port
(checked when the server (re)binds and every minute), withdrawn with goodbye packets when the web
adapter stops (SIGTERM). Off with `web.announce: false`.
"""
from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from typing import Any

from moodbox import __version__
from moodbox.config import Config
from moodbox.mqtt.topics import Topics

log = logging.getLogger(__name__)

MOODBOX_TYPE = "_moodbox._tcp.local."
CHECK_EVERY_S = 60.0
ANY_ADDRESS = ("0.0.0.0", "::", "")


def host_label(name: str) -> str:
    """A DNS label from the host name: 'Living Room.lan' -> 'Living-Room'."""
    label = re.sub(r"[^A-Za-z0-9-]+", "-", name.split(".")[0]).strip("-")
    return label[:63] or "moodbox"


class Announcer:
    """Announces the web page and the box while the web adapter runs. publish() and close() never block for
    long and never raise: a network without multicast only costs a line in the log."""

    def __init__(self, config: Config, check_every_s: float = CHECK_EVERY_S) -> None:
        self._config = config
        self._check_every_s = check_every_s
        self.enabled = config.web.enabled and config.web.announce
        self._port: int | None = None
        self._zeroconf: Any = None
        self._infos: list[Any] = []
        self._announced: tuple[Any, ...] | None = None  # (host, port, addresses) now on the network
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False

    # ----- the web adapter's hooks -----

    def publish(self, port: int) -> None:
        """The server listens on `port` (again): announce it, or update the announcement."""
        if not self.enabled or self._stop.is_set():
            return
        self._port = port
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="web-announce", daemon=True)
            self._thread.start()
        else:
            self._wake.set()

    def close(self, timeout: float = 0.2) -> None:
        """Withdraw the announcement (goodbye packets, about 0.25 s) and stop, within the adapter's
        shutdown budget. If the thread is still probing (the first 2 s after start), wait up to
        `timeout` for it, else leave it (the announcement then expires by its TTL)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("web: mDNS announcement still starting; not withdrawn (it expires by itself)")
                return
        zeroconf, self._zeroconf = self._zeroconf, None
        if zeroconf is None:
            return
        try:
            zeroconf.unregister_all_services()
            zeroconf.close()
        except Exception as exc:  # noqa: BLE001 - shutting down: say it, go on
            log.warning("web: could not withdraw the mDNS announcement: %s", exc)
            return
        self._announced = None
        log.info("web: mDNS announcement withdrawn")

    # ----- its thread -----

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._refresh()
                self._failed = False
            except Exception as exc:  # noqa: BLE001 - never take the page down for mDNS
                if not self._failed:
                    log.warning("web: could not announce the box by mDNS (%s: %s); the page works by address; "
                                "trying again every %.0f s", type(exc).__name__, exc, self._check_every_s)
                self._failed = True
            self._wake.wait(self._check_every_s)
            self._wake.clear()

    def _refresh(self) -> None:
        from zeroconf import ServiceInfo, Zeroconf

        host, port, addresses = host_label(socket.gethostname()), self._port, self._addresses()
        wanted = (host, port, tuple(addresses))
        if wanted == self._announced or port is None:
            return
        if self._zeroconf is None:
            bind = self._config.web.bind
            self._zeroconf = Zeroconf(**({} if bind in ANY_ADDRESS else {"interfaces": [bind]}))
        packed = [socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in addresses]
        infos = [ServiceInfo(kind, f"{name}.{kind}", port=port, properties=properties, server=f"{host}.local.",
                             addresses=packed) for kind, name, properties in self._services(host)]
        if self._announced is not None and self._announced[0] == host:
            for old, new in zip(self._infos, infos):
                new.name = old.name  # keep the name a conflict may have given it
                self._zeroconf.update_service(new)
        else:
            if self._infos:
                self._zeroconf.unregister_all_services()
            self._register(infos)
        self._infos, self._announced = infos, wanted
        log.info("web: announced by mDNS as %r (%s) on port %d, %s", infos[0].name, ", ".join(
            i.type.removesuffix(".local.") for i in infos), port, ", ".join(addresses))

    def _register(self, infos: list[Any]) -> None:
        """Register the services together: each probes the network for 1.6 s first (RFC 6762), in parallel;
        their announcements then go on in zeroconf's own loop."""
        zeroconf = self._zeroconf

        async def register_all() -> None:
            await asyncio.gather(*(zeroconf.async_register_service(info, allow_name_change=True) for info in infos))

        asyncio.run_coroutine_threadsafe(register_all(), zeroconf.loop).result(15.0)

    def _services(self, host: str) -> list[tuple[str, str, dict[str, str]]]:
        web = self._config.web
        tls = bool(web.tls_certificate)
        properties = {"path": "/api/v1", "version": __version__, "tls": "1" if tls else "0"}
        try:
            topics = Topics.from_config(self._config)
        except ValueError:  # a bad mqtt.device_id: the MQTT adapter says so
            topics = None
        if topics is not None:
            properties["id"] = topics.device_id
            if self._config.mqtt.enabled:
                properties["mqtt_base"] = topics.base
        page = "_https._tcp.local." if tls else "_http._tcp.local."
        return [(page, f"moodbox {host}", {"path": "/"}), (MOODBOX_TYPE, f"moodbox {host}", properties)]

    def _addresses(self) -> list[str]:
        """The addresses the page answers on: web.bind, or with every interface each non-loopback one."""
        bind = self._config.web.bind
        if bind not in ANY_ADDRESS:
            return [bind]
        import ifaddr

        found: list[str] = []
        for adapter in ifaddr.get_adapters():
            for ip in adapter.ips:
                if ip.is_IPv4 and not str(ip.ip).startswith("127."):
                    found.append(str(ip.ip))
                elif bind == "::" and not ip.is_IPv4 and ip.ip[0] != "::1" and not ip.ip[0].startswith("fe80"):
                    found.append(ip.ip[0])
        return sorted(set(found)) or ["127.0.0.1"]
