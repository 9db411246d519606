"""ButtonAdapter on gpiozero's MockFactory (GPIO is the hardware boundary) with a recording core."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from gpiozero import Button, Device
from gpiozero.pins.mock import MockFactory

from moodbox.config import GpioConfig
from moodbox.core import Command
from moodbox.gpio import ButtonAdapter, gpio_wanted, running_on_pi

BUTTON = 17
LED_PIN = 27


class RecordingCore:
    """Stands in for moodbox.core.Core: only records what the adapter calls."""

    def __init__(self) -> None:
        self.buttons: list[str] = []
        self.listeners: list[Callable[[str, Any], None]] = []
        self._lock = threading.Lock()

    def execute(self, command: Command) -> None:
        assert command.method == "button", command
        with self._lock:
            self.buttons.append(*command.args)

    def subscribe(self, listener: Callable[[str, Any], None]) -> None:
        self.listeners.append(listener)

    def emit(self, topic: str, payload: Any) -> None:
        for listener in self.listeners:
            listener(topic, payload)


@pytest.fixture
def factory() -> Any:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


def make(core: RecordingCore, factory: Any, **settings: Any) -> ButtonAdapter:
    config = GpioConfig(**{"enabled": "on", "button_pin": BUTTON, **settings})
    adapter = ButtonAdapter(core, config, pin_factory=factory)
    assert adapter.start() is True
    return adapter


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_short_press_sends_press(factory: Any) -> None:
    core = RecordingCore()
    adapter = make(core, factory, hold_seconds=5.0, bounce_time=0.05)
    pin = factory.pin(BUTTON)
    for _ in range(2):
        pin.drive_low()
        time.sleep(0.08)  # a real press lasts longer than bounce_time
        pin.drive_high()
    assert core.buttons == ["press", "press"]
    adapter.close()


def test_hold_sends_hold_and_no_press(factory: Any) -> None:
    core = RecordingCore()
    adapter = make(core, factory, hold_seconds=0.5)
    pin = factory.pin(BUTTON)
    pin.drive_low()
    wait_until(lambda: core.buttons == ["hold"])
    pin.drive_high()
    assert core.buttons == ["hold"]  # the release of a hold is not also a press
    pin.drive_low()
    time.sleep(0.08)
    pin.drive_high()
    assert core.buttons == ["hold", "press"]  # the flag was reset for the next press
    adapter.close()


def test_contact_bounce_gives_one_press(factory: Any) -> None:
    core = RecordingCore()
    adapter = make(core, factory, hold_seconds=5.0, bounce_time=0.2)
    pin = factory.pin(BUTTON)
    for _ in range(5):  # a bouncing contact: edges far shorter than bounce_time
        pin.drive_low()
        pin.drive_high()
    pin.drive_low()
    time.sleep(0.3)
    for _ in range(3):  # bounces on release
        pin.drive_high()
        pin.drive_low()
    pin.drive_high()
    assert core.buttons == ["press"]
    adapter.close()


def test_led_follows_capture_events_and_close_releases_pins(factory: Any) -> None:
    core = RecordingCore()
    adapter = make(core, factory, led_pin=LED_PIN)
    led_pin = factory.pin(LED_PIN)
    assert led_pin.state is False
    core.emit("event", {"type": "capture", "active": True})
    assert led_pin.state is True
    core.emit("event", {"type": "mood_changed", "emotion": "happy"})
    core.emit("mood", {"emotion": "sad"})
    assert led_pin.state is True  # other events leave it alone
    core.emit("event", {"type": "capture", "active": False})
    assert led_pin.state is False
    core.emit("event", {"type": "capture", "active": True})
    adapter.close()
    assert led_pin.state is False  # off when the adapter closes
    core.emit("event", {"type": "capture", "active": True})  # after close: ignored, no error
    Button(BUTTON, pin_factory=factory).close()  # the pin is free again


def test_busy_pin_is_a_warning_not_a_crash(factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    other = Button(LED_PIN, pin_factory=factory)  # another program holds the LED pin
    core = RecordingCore()
    adapter = ButtonAdapter(core, GpioConfig(enabled="on", button_pin=BUTTON, led_pin=LED_PIN), pin_factory=factory)
    assert adapter.start() is False
    assert not adapter.active and not core.listeners
    assert f"cannot use pin {LED_PIN}" in caplog.text and "running without button" in caplog.text
    other.close()
    Button(BUTTON, pin_factory=factory).close()  # the button pin opened before the failure was released


def test_uses_the_global_pin_factory_when_none_given(factory: Any) -> None:
    core = RecordingCore()
    adapter = ButtonAdapter(core, GpioConfig(enabled="on", button_pin=BUTTON, hold_seconds=5.0))
    assert adapter.start()
    factory.pin(BUTTON).drive_low()
    time.sleep(0.08)
    factory.pin(BUTTON).drive_high()
    assert core.buttons == ["press"]
    adapter.close()


def test_enabled_auto_only_on_a_pi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    pi = tmp_path / "model-pi"
    pi.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    pc = tmp_path / "model-other"
    pc.write_bytes(b"Some x86 board\x00")
    assert running_on_pi(pi) and not running_on_pi(pc) and not running_on_pi(tmp_path / "missing")
    auto = GpioConfig(enabled="auto")
    assert gpio_wanted(auto, pi) is True
    assert gpio_wanted(auto, pc) is False
    assert gpio_wanted(GpioConfig(enabled="on"), pc) is True
    assert gpio_wanted(GpioConfig(enabled="off"), pi) is False
    assert gpio_wanted(GpioConfig(enabled="on", button_pin=None, led_pin=None), pi) is False
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert gpio_wanted(auto, pc) is True


def test_disabled_adapter_opens_nothing(factory: Any) -> None:
    adapter = ButtonAdapter(RecordingCore(), GpioConfig(enabled="off"), pin_factory=factory)
    assert adapter.start() is False and not adapter.active
    Button(BUTTON, pin_factory=factory).close()  # pin untouched


@pytest.mark.skipif(Path("/dev/gpiochip0").exists(), reason="this machine has real GPIO")
@pytest.mark.filterwarnings("ignore::gpiozero.exc.PinFactoryFallback")
def test_no_pin_library_is_a_warning_with_a_hint(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    previous = Device.pin_factory
    Device.pin_factory = None  # gpiozero now looks for a real GPIO library: there is none here
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    try:
        adapter = ButtonAdapter(RecordingCore(), GpioConfig(enabled="on", button_pin=BUTTON))
        assert adapter.start() is False and not adapter.active
    finally:
        Device.pin_factory = previous
    assert "BadPinFactory" in caplog.text and "running without button and LED" in caplog.text
    assert "install python3-lgpio" in caplog.text
