"""The adapters around the core, and the one place they are registered (Frigate's dispatcher, Mopidy's
frontends).

An adapter is made from (core, config), started with start() -> bool (False: it chose not to run and
said why in the log) and stopped with stop(). It talks to the core only through `moodbox.core`'s
public names: Core.execute(Command), subscribe()/snapshot() for the state and event stream, and the
read-only queries (moodbox.core.CoreApi).

To add one, append an AdapterSpec to BUILT_IN, or ship it in its own package with an entry point
in the group "moodbox.adapters" that names an AdapterSpec. No core file changes.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Protocol

from moodbox.config import Config
from moodbox.core import CoreApi

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "moodbox.adapters"
ADAPTER_STOP_TIMEOUT_S = 0.5  # each adapter gets this long to stop; shutdown must fit in 2 s


class Adapter(Protocol):
    def start(self) -> bool: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class AdapterSpec:
    name: str  # for the log, e.g. "MQTT"
    enabled: Callable[[Config], bool]
    create: Callable[[CoreApi, Config], Adapter]
    off_message: str = ""  # logged when not enabled ("" = nothing)
    failure_hint: str = ""  # added to the log when it fails to start


def _gpio(core: CoreApi, config: Config) -> Adapter:
    from moodbox.gpio import ButtonAdapter

    return ButtonAdapter(core, config.gpio)


def _mqtt(core: CoreApi, config: Config) -> Adapter:
    from moodbox.mqtt import MqttAdapter

    return MqttAdapter(core, config)


def _web(core: CoreApi, config: Config) -> Adapter:
    from moodbox.web import WebAdapter

    return WebAdapter(core, config)


BUILT_IN: tuple[AdapterSpec, ...] = (
    AdapterSpec("GPIO button/LED", lambda c: c.gpio.enabled != "off", _gpio,
                failure_hint="the box works without a button (gpio.enabled)"),
    AdapterSpec("MQTT", lambda c: c.mqtt.enabled, _mqtt, off_message="MQTT off (mqtt.enabled: false)",
                failure_hint="set mqtt.enabled: false if you do not use it"),
    AdapterSpec("web page", lambda c: c.web.enabled, _web, off_message="web page off (web.enabled: false)",
                failure_hint="set web.enabled: false if you do not use it"),
)


def registered() -> list[AdapterSpec]:
    """The built-in adapters, then those other installed packages register."""
    specs = list(BUILT_IN)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = point.load()
            if not isinstance(spec, AdapterSpec):
                raise TypeError(f"{point.value} is a {type(spec).__name__}, not an AdapterSpec")
        except Exception:  # noqa: BLE001 - a broken plug-in must not stop the box
            log.exception("adapter plug-in %s (%s) not loaded", point.name, point.value)
            continue
        log.info("adapter plug-in %s: %s (from %s)", point.name, spec.name, point.value)
        specs.append(spec)
    return specs


def start_adapters(core: CoreApi, config: Config, specs: list[AdapterSpec] | None = None) -> list[Adapter]:
    """Start every enabled adapter. A missing or failing adapter is logged, never fatal."""
    started: list[Adapter] = []
    for spec in registered() if specs is None else specs:
        if not spec.enabled(config):
            if spec.off_message:
                log.info("%s", spec.off_message)
            continue
        try:
            adapter = spec.create(core, config)
            if adapter.start() is not False:  # False: it chose not to run, already logged
                started.append(adapter)
        except Exception:  # noqa: BLE001 - the box plays on without it
            log.exception("%s not started%s", spec.name, f" ({spec.failure_hint})" if spec.failure_hint else "")
    return started


def stop_adapters(adapters: list[Adapter]) -> None:
    """Stop adapters in reverse order, each within ADAPTER_STOP_TIMEOUT_S."""
    for adapter in reversed(adapters):
        thread = threading.Thread(target=_stop_quietly, args=(adapter,), name="adapter-stop", daemon=True)
        thread.start()
        thread.join(ADAPTER_STOP_TIMEOUT_S)
        if thread.is_alive():
            log.warning("%s did not stop within %.1f s; leaving it", type(adapter).__name__, ADAPTER_STOP_TIMEOUT_S)


def _stop_quietly(adapter: Any) -> None:
    try:
        adapter.stop()
    except Exception:  # noqa: BLE001
        log.exception("stopping %s failed", type(adapter).__name__)
