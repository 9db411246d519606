"""The real Home Assistant as moodbox's MQTT client, end to end (run by tests/ha/run.sh).

Starts a loopback mosquitto, Home Assistant (its own venv, a temp config dir), onboards it and adds
the MQTT integration through HA's REST API, starts `moodbox run`, then checks through the REST API:
every promised entity exists, is available and has a sensible state; HA's log has no warning or error
about moodbox's discovery; select/number/switch/button services change moodbox; SIGTERM makes the
entities unavailable. Prints the entity table and one PASS/FAIL line per check; exits 1 on a failure.

Usage: .venv/bin/python tests/ha/check.py --hass tests/ha/.venv/bin/hass
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from core_testkit import NO_FACE, camera_folder, config_data, write_config, write_library  # noqa: E402
from mqtt.broker import Mosquitto, free_port  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import integration  # noqa: E402

from moodbox.core import POLICIES  # noqa: E402
from moodbox.mqtt.discovery import discovery_messages  # noqa: E402
from moodbox.mqtt.topics import Topics  # noqa: E402

DEVICE_ID = "hacheck"
MAX_VOLUME = 60
START_VOLUME = 30
WAIT_S = 90.0
# May stay "unknown" in a sensible run: nothing pressed yet, no face seen, no thermal zone here.
MAY_BE_UNKNOWN = {"button", "event"}
MAY_BE_UNKNOWN_IDS = {"sensor.moodbox_confidence", "sensor.moodbox_cpu_temperature", "sensor.moodbox_mood",
                      "sensor.moodbox_inference_detector", "sensor.moodbox_inference_emotion",
                      "sensor.moodbox_inference_age", "sensor.moodbox_fps"}


class HA:
    """Home Assistant's REST API on a loopback port."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.client_id = f"{self.base}/"
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, form: bool = False) -> Any:
        headers = {}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:  # say what Home Assistant answered
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')[:300]}") from exc
        return json.loads(text) if text else None

    def wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.call("GET", "/api/onboarding")
                return
            except (OSError, urllib.error.URLError, RuntimeError):
                time.sleep(1)
        raise TimeoutError(f"Home Assistant did not answer on {self.base} within {timeout:.0f} s")

    def onboard(self) -> None:
        user = self.call("POST", "/api/onboarding/users", {
            "client_id": self.client_id, "name": "Check", "username": "check", "password": "check-pw-123",
            "language": "en"})
        token = self.call("POST", "/auth/token", {"grant_type": "authorization_code", "code": user["auth_code"],
                                                   "client_id": self.client_id}, form=True)
        self.token = token["access_token"]
        self.call("POST", "/api/onboarding/core_config", {})
        self.call("POST", "/api/onboarding/analytics", {})
        self.call("POST", "/api/onboarding/integration", {"client_id": self.client_id,
                                                          "redirect_uri": f"{self.base}/?auth_callback=1"})

    def add_mqtt(self, port: int) -> dict[str, Any]:
        flow = self.call("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        while flow.get("type") == "form":
            step = {"broker": {**form_defaults(flow.get("data_schema") or []), "broker": "127.0.0.1", "port": port}
                    }.get(flow["step_id"], {})
            flow = self.call("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", step)
        if flow.get("type") != "create_entry":
            raise RuntimeError(f"MQTT config flow ended with {flow}")
        return flow

    def states(self) -> dict[str, dict[str, Any]]:
        return {s["entity_id"]: s for s in self.call("GET", "/api/states")}

    def service(self, domain: str, name: str, data: dict[str, Any]) -> None:
        self.call("POST", f"/api/services/{domain}/{name}", data)


def form_defaults(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """A config-flow form's required fields at their defaults (newer MQTT flows have a section of
    required "other settings": client certificate off, CA check off, TCP)."""
    values: dict[str, Any] = {}
    for field in schema:
        name, selector = field.get("name"), field.get("selector") or {}
        if field.get("type") == "expandable":
            values[name] = form_defaults(field.get("schema") or [])
        elif "default" in field:
            values[name] = field["default"]
        elif field.get("required") and "boolean" in selector:
            values[name] = False
        elif field.get("required") and "select" in selector and selector["select"].get("options"):
            option = selector["select"]["options"][0]
            values[name] = option.get("value") if isinstance(option, dict) else option
    return values


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S, poll: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def report(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'}  {what}" + (f"  ({detail})" if detail else ""), flush=True)
        if not ok:
            self.failed.append(what)
        return ok


def print_table(states: dict[str, dict[str, Any]], expected: list[str]) -> None:
    print(f"\n{'entity_id':42} {'state':34} available")
    for entity_id in expected:
        state = states.get(entity_id, {}).get("state", "(missing)")
        print(f"{entity_id:42} {str(state)[:34]:34} {'yes' if state not in ('unavailable', '(missing)') else 'no'}")
    print()


def print_media_player(states: dict[str, dict[str, Any]]) -> None:
    """The media player's row and the attributes a media card shows."""
    state = states.get(integration.ENTITY, {})
    a = state.get("attributes", {})
    print(f"\n{integration.ENTITY:42} {str(state.get('state', '(missing)'))[:34]:34} "
          f"{'yes' if state.get('state') not in (None, 'unavailable') else 'no'}")
    for key in ("media_title", "media_artist", "media_album_name", "media_duration", "media_position",
                "volume_level", "max_volume", "sound_mode", "sound_mode_list", "entity_picture", "supported_features"):
        value = str(a.get(key)).split("?")[0]
        print(f"  {key:40} {value[:60]}")
    print()


def moodbox_log_lines(log: str) -> list[str]:
    """HA log lines at WARNING or above that concern MQTT discovery or moodbox (the integration included),
    but for the one warning Home Assistant logs about every custom integration."""
    lines = []
    for line in log.splitlines():
        if (" WARNING " in line or " ERROR " in line or " CRITICAL " in line) and \
                ("mqtt" in line.lower() or "moodbox" in line.lower()) and integration.CUSTOM_WARNING not in line:
            lines.append(line)
    return lines


def run(hass: Path, work: Path, ha_python: Path) -> int:
    checks = Checks()
    broker = Mosquitto(work / "broker")
    broker.start()
    ha_port = free_port()
    ha_dir = work / "ha"
    ha_dir.mkdir()
    integration.install(ha_dir)
    (ha_dir / "configuration.yaml").write_text(
        "homeassistant:\n  name: moodbox check\n  unit_system: metric\n  time_zone: UTC\n"
        "  latitude: 0\n  longitude: 0\n  elevation: 0\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {ha_port}\n"
        "api:\nconfig:\nonboarding:\nlogger:\n  default: info\n")
    ha_log = ha_dir / "home-assistant.log"
    ha_out = (work / "hass.out").open("wb")
    started = time.monotonic()
    ha_proc = subprocess.Popen([str(hass), "--config", str(ha_dir), "--skip-pip", "--log-file", str(ha_log)],
                               stdout=ha_out, stderr=subprocess.STDOUT)
    box: subprocess.Popen[bytes] | None = None
    ha = HA(ha_port)
    try:
        ha.wait_up(180)
        print(f"Home Assistant up in {time.monotonic() - started:.1f} s", flush=True)
        ha.onboard()
        ha.add_mqtt(broker.port)
        checks.report(True, "onboarded through the REST API and added the MQTT integration")

        library = work / "music"
        write_library(library, seconds=30.0)
        integration.add_covers(library)
        web_port = free_port()
        data = config_data(work / "state", library, str(camera_folder(work / "cam", NO_FACE)),
                           mqtt={"enabled": True, "host": "127.0.0.1", "port": broker.port, "device_id": DEVICE_ID},
                           audio={"output": "null", "start_volume": START_VOLUME, "max_volume": MAX_VOLUME},
                           web={"enabled": True, "bind": "127.0.0.1", "port": web_port,
                                "password": integration.WEB_PASSWORD},
                           logging={"level": "INFO"})
        config = write_config(work, data)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("NOTIFY_SOCKET", None)
        box_log = (work / "moodbox.log").open("wb")
        box = subprocess.Popen([sys.executable, "-m", "moodbox.cli", "run", "--config", str(config)],
                               stdout=box_log, stderr=subprocess.STDOUT, env=env)

        topics = Topics(DEVICE_ID, f"moodbox/{DEVICE_ID}", "homeassistant")
        messages = discovery_messages(topics, MAX_VOLUME)
        expected = [payload["default_entity_id"] for _, payload in messages]
        platform_of = {payload["default_entity_id"]: payload["default_entity_id"].split(".")[0]
                       for _, payload in messages}

        def must_have_state(entity_id: str) -> bool:
            return platform_of[entity_id] not in MAY_BE_UNKNOWN and entity_id not in MAY_BE_UNKNOWN_IDS

        def all_available() -> bool:
            # Diagnostics are not retained: they reach HA with moodbox's answer to HA's birth message
            # (after a random delay of up to a few seconds) or on the next diagnostics tick.
            states = ha.states()
            return all(states.get(e, {}).get("state", "unavailable") != "unavailable" for e in expected) and \
                all(states.get(e, {}).get("state") not in ("unknown", None) for e in expected if must_have_state(e)) and \
                states.get("sensor.moodbox_player_state", {}).get("state") == "playing"

        wait_until(all_available)
        states = ha.states()
        print_table(states, expected)
        missing = [e for e in expected if e not in states]
        checks.report(not missing, f"all {len(expected)} promised entities exist", ", ".join(missing))
        unavailable = [e for e in expected if states.get(e, {}).get("state") == "unavailable"]
        checks.report(not unavailable, "every entity is available", ", ".join(unavailable))
        unknown = [e for e in expected if states.get(e, {}).get("state") in ("unknown", None, "") and must_have_state(e)]
        checks.report(not unknown, "every state-bearing entity has a state", ", ".join(unknown))
        sensible = {
            "number.moodbox_volume": lambda s: float(s) == START_VOLUME,
            "select.moodbox_policy": lambda s: s in POLICIES,
            "select.moodbox_mood_override": lambda s: s == "auto",
            "switch.moodbox_detection": lambda s: s == "on",
            "sensor.moodbox_player_state": lambda s: s == "playing",
            "sensor.moodbox_now_playing": lambda s: " - " in s,
            "sensor.moodbox_faces": lambda s: s == "0",
            "binary_sensor.moodbox_face_present": lambda s: s == "off",
            "sensor.moodbox_age_group": lambda s: s == "none",
            "sensor.moodbox_library_tracks": lambda s: s == "12",
        }
        states = ha.states()
        wrong = [f"{e}={states.get(e, {}).get('state')}" for e, ok in sensible.items()
                 if not _safe(ok, states.get(e, {}).get("state"))]
        checks.report(not wrong, "states are sensible (volume 30, playing, 12 tracks, no face ...)", ", ".join(wrong))
        device_name = states.get("sensor.moodbox_mood", {}).get("attributes", {}).get("friendly_name")
        checks.report(device_name == "moodbox Mood", "friendly names carry the device name", str(device_name))

        def state_of(entity_id: str) -> str | None:
            return ha.states().get(entity_id, {}).get("state")

        current = state_of("select.moodbox_policy")
        other = next(p for p in POLICIES if p != current)
        ha.service("select", "select_option", {"entity_id": "select.moodbox_policy", "option": other})
        checks.report(wait_until(lambda: state_of("select.moodbox_policy") == other, 30),
                      f"select.select_option policy {current} -> {other}", str(state_of("select.moodbox_policy")))
        ha.service("number", "set_value", {"entity_id": "number.moodbox_volume", "value": 45})
        checks.report(wait_until(lambda: _float(state_of("number.moodbox_volume")) == 45, 30),
                      "number.set_value volume 45", str(state_of("number.moodbox_volume")))
        ha.service("number", "set_value", {"entity_id": "number.moodbox_volume", "value": MAX_VOLUME})
        checks.report(wait_until(lambda: _float(state_of("number.moodbox_volume")) == MAX_VOLUME, 30),
                      f"number.set_value volume {MAX_VOLUME} (the maximum)", str(state_of("number.moodbox_volume")))
        ha.service("switch", "turn_off", {"entity_id": "switch.moodbox_detection"})
        checks.report(wait_until(lambda: state_of("switch.moodbox_detection") == "off", 30),
                      "switch.turn_off detection", str(state_of("switch.moodbox_detection")))
        ha.service("switch", "turn_on", {"entity_id": "switch.moodbox_detection"})
        checks.report(wait_until(lambda: state_of("switch.moodbox_detection") == "on", 30),
                      "switch.turn_on detection", str(state_of("switch.moodbox_detection")))
        ha.service("select", "select_option", {"entity_id": "select.moodbox_mood_override", "option": "happy"})
        checks.report(wait_until(lambda: state_of("select.moodbox_mood_override") == "happy", 30),
                      "select.select_option mood override happy", str(state_of("select.moodbox_mood_override")))
        before = state_of("sensor.moodbox_now_playing")
        ha.service("button", "press", {"entity_id": "button.moodbox_next"})
        checks.report(wait_until(lambda: state_of("sensor.moodbox_now_playing") not in (before, None), 30),
                      "button.press next track", f"{before} -> {state_of('sensor.moodbox_now_playing')}")
        ha.service("button", "press", {"entity_id": "button.moodbox_play_pause"})
        checks.report(wait_until(lambda: state_of("sensor.moodbox_player_state") == "paused", 30),
                      "button.press play/pause pauses", str(state_of("sensor.moodbox_player_state")))

        # The moodbox integration: found, added, following and driving the box.
        media = integration.IntegrationCheck(ha, checks.report, f"http://127.0.0.1:{web_port}", ha_python,
                                             work / "moodbox.log")
        if media.add():
            media.follows()
            print_media_player(ha.states())
            media.drives()
            media.library()

        box_text = (work / "moodbox.log").read_text(errors="replace")
        rejected = [line for line in box_text.splitlines() if "rejected" in line.lower() or " ERROR " in line]
        checks.report(not rejected, "moodbox rejected no command from Home Assistant", " | ".join(rejected[:3]))

        box.send_signal(signal.SIGTERM)
        checks.report(box.wait(30) == 0, "moodbox exits 0 on SIGTERM")
        checks.report(wait_until(lambda: all(ha.states().get(e, {}).get("state") == "unavailable"
                                             for e in expected + [integration.ENTITY]), 30),
                      "after SIGTERM every entity is unavailable (the media player too)")
        print_table(ha.states(), expected + [integration.ENTITY])
        log = ha_log.read_text(errors="replace") if ha_log.exists() else ""
        bad = moodbox_log_lines(log)
        for line in bad:
            print("  HA log:", line)
        checks.report(not bad, "HA's log has no warning or error about MQTT or moodbox", f"{len(bad)} lines")
        others = [line for line in log.splitlines() if " ERROR " in line]
        for line in others[:10]:
            print("  HA log (other error):", line)
    except Exception as exc:  # noqa: BLE001
        checks.report(False, f"the check ran to its end: {type(exc).__name__}: {exc}")
        for name in ("home-assistant.log",):
            path = ha_dir / name
            if path.exists():
                print("\n".join(path.read_text(errors="replace").splitlines()[-40:]))
    finally:
        if box is not None and box.poll() is None:
            box.kill()
            box.wait()
        ha_proc.terminate()
        try:
            ha_proc.wait(60)
        except subprocess.TimeoutExpired:
            ha_proc.kill()
            ha_proc.wait()
        broker.stop()
    print(f"\n{'FAILED: ' + '; '.join(checks.failed) if checks.failed else 'ALL CHECKS PASSED'}")
    return 1 if checks.failed else 0


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _safe(check: Callable[[str], bool], value: str | None) -> bool:
    try:
        return value is not None and bool(check(value))
    except ValueError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hass", type=Path, required=True, help="the hass executable in HA's venv")
    parser.add_argument("--ha-python", type=Path, help="HA's Python (default: python beside --hass)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs) and print its path")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="moodbox-ha-"))
    try:
        return run(args.hass, work, args.ha_python or args.hass.parent / "python")
    finally:
        if args.keep:
            print(f"logs kept in {work}")
        else:
            subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    sys.exit(main())
