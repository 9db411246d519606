"""Button and LED adapter: a push button (GPIO pin to GND) and an optional LED lit while the camera looks.

A short press sends the core Command("button", ("press",)), a press held for gpio.hold_seconds ("hold",)
(and no "press" when it is released). The core maps those to gpio.press_action / gpio.hold_action.
The LED follows the core's {"type": "capture", "active": bool} events.
When the pins cannot be opened the adapter logs a warning and the box runs on without GPIO.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from moodbox.config import GpioConfig
from moodbox.core import Command

log = logging.getLogger(__name__)

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


class ButtonCore(Protocol):
    """The part of moodbox.core.Core this adapter uses."""

    def execute(self, command: Command) -> Any: ...

    def subscribe(self, listener: Any) -> None: ...


def running_on_pi(model_path: Path = DEVICE_TREE_MODEL) -> bool:
    try:
        return "Raspberry Pi" in model_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def gpio_wanted(config: GpioConfig, model_path: Path = DEVICE_TREE_MODEL) -> bool:
    """gpio.enabled: on/off as written; auto = on a Raspberry Pi or when GPIOZERO_PIN_FACTORY is set."""
    if config.enabled == "off" or (config.button_pin is None and config.led_pin is None):
        return False
    if config.enabled == "on":
        return True
    return running_on_pi(model_path) or bool(os.environ.get("GPIOZERO_PIN_FACTORY"))


class ButtonAdapter:
    """Turns button presses into button commands for the core and lights the LED during captures."""

    def __init__(self, core: ButtonCore, config: GpioConfig, pin_factory: Any = None) -> None:
        self.core = core
        self.config = config
        self.pin_factory = pin_factory
        self.button: Any = None
        self.led: Any = None
        self._lock = threading.Lock()
        self._held = False
        self._pressed_at = 0.0
        self._subscribed = False

    @property
    def active(self) -> bool:
        return self.button is not None or self.led is not None

    def start(self, force: bool = False) -> bool:
        """Open the pins (when gpio.enabled allows, or force=True). False when GPIO is not in use."""
        if not force and not gpio_wanted(self.config):
            why = "not on a Raspberry Pi" if self.config.enabled == "auto" else "no pins configured"
            log.info("GPIO: off (%s)", why if self.config.enabled != "off" else "gpio.enabled: off")
            return False
        try:
            from gpiozero import LED, Button
        except ImportError as exc:
            log.warning("GPIO: gpiozero is not installed (%s); running without button and LED", exc)
            return False
        pin = self.config.button_pin
        try:
            if pin is not None:
                self.button = Button(
                    pin,
                    pull_up=True,
                    bounce_time=self.config.bounce_time or None,
                    hold_time=self.config.hold_seconds,
                    pin_factory=self.pin_factory,
                )
                self.button.when_pressed = self._on_pressed
                self.button.when_held = self._on_held
                self.button.when_released = self._on_released
            if self.config.led_pin is not None:
                pin = self.config.led_pin
                self.led = LED(pin, pin_factory=self.pin_factory)
        except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds; none may stop the daemon
            hint = (
                "no GPIO library found: install python3-lgpio (sudo apt install python3-lgpio)"
                if type(exc).__name__ == "BadPinFactory"
                else "check gpio.button_pin / gpio.led_pin (BCM numbers), that the user is in the 'gpio' group "
                "and that no other program uses the pin"
            )
            log.warning(
                "GPIO: cannot use pin %s (%s: %s); running without button and LED. %s", pin, type(exc).__name__, exc, hint
            )
            self.close()
            return False
        if self.led is not None and not self._subscribed:
            self.core.subscribe(self._on_core_event)
            self._subscribed = True
        log.info(
            "GPIO: button on pin %s (hold %.1f s), LED %s",
            self.config.button_pin,
            self.config.hold_seconds,
            f"on pin {self.config.led_pin}" if self.led is not None else "none",
        )
        return True

    def stop(self) -> None:
        self.close()

    def close(self) -> None:
        """Release the pins (LED off first)."""
        with self._lock:
            button, self.button = self.button, None
            led, self.led = self.led, None
        if led is not None:
            try:
                led.off()
            finally:
                led.close()
        if button is not None:
            button.close()

    # ----- gpiozero callbacks (their thread) ---------------------------------------------------

    def _on_pressed(self) -> None:
        with self._lock:
            self._held = False
            self._pressed_at = time.monotonic()

    def _on_held(self) -> None:
        with self._lock:
            self._held = True
        self._send("hold")

    def _on_released(self) -> None:
        with self._lock:
            held, self._held = self._held, False
            pressed_for = time.monotonic() - self._pressed_at
        # A press that became a hold already sent "hold"; a contact bounce shorter than
        # bounce_time is no press (some pin drivers do not filter bounces themselves).
        if held or pressed_for < self.config.bounce_time:
            return
        self._send("press")

    def _send(self, kind: str) -> None:
        log.info("GPIO: button %s", kind)
        try:
            self.core.execute(Command("button", (kind,)))
        except Exception:  # noqa: BLE001 - never let a core error kill the GPIO thread
            log.exception("GPIO: the button command %r failed", kind)

    # ----- core events -------------------------------------------------------------------------

    def _on_core_event(self, topic: str, payload: Any) -> None:
        if topic != "event" or not isinstance(payload, dict) or payload.get("type") != "capture":
            return
        led = self.led
        if led is None:
            return
        try:
            led.on() if payload.get("active") else led.off()
        except Exception as exc:  # noqa: BLE001
            log.warning("GPIO: LED failed: %s", exc)
