"""Daemon benchmark: refresh latency (button press -> first audio of the new queue) and memory.

    nice .venv/bin/python bench/daemon.py [--presses 5] [--burst-seconds 1.5] [--burst-fps 4] [--dir DIR]

Refresh latency: a Core with the real parts (folder camera, perception, the demo library, mpv with
null audio) and the GPIO ButtonAdapter on gpiozero's MockFactory. Each press shows the camera the
other face (happy astronaut / sad cameraman), so every press changes the mood and loads a new queue;
the time is from the button release to the player's track_started of the new queue's first track,
split into: press -> capture start, capture (the burst), burst end -> track_started.

Memory: `moodbox run` as its own process with the same config; VmRSS of the daemon and of its mpv
child from /proc once it has been playing for a few seconds.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import yaml

from moodbox.config import GpioConfig, parse_config
from moodbox.core import FACES_DIR, Core, resident_memory_mb
from benchlib import child_pids, machine, process_name

REPO = Path(__file__).resolve().parents[1]
FACES = [FACES_DIR / "astronaut.png", FACES_DIR / "camera.png"]  # happy, sad


def show(folder: Path, image: Path) -> None:
    tmp = folder / "next.tmp.png"
    cv2.imwrite(str(tmp), cv2.imread(str(image), cv2.IMREAD_COLOR))
    tmp.replace(folder / "room.png")


def write_config(work: Path, args: argparse.Namespace) -> Path:
    data = {
        "state_dir": str(work / "state"),
        "camera": {"source": str(work / "cam"), "burst_seconds": args.burst_seconds, "burst_fps": args.burst_fps},
        "perception": {"models_dir": str(REPO / "models_tflite")},
        "audio": {"output": "null"},
        "library": {"path": [], "demo_path": str(work / "demo")},
        "gpio": {"enabled": "off"},
        "mqtt": {"enabled": False},
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Timeline:
    """Core listener that timestamps what the bench waits for."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen: list[tuple[float, str, dict[str, Any]]] = []

    def __call__(self, topic: str, data: dict[str, Any]) -> None:
        if topic != "event":
            return
        with self.cond:
            self.seen.append((time.perf_counter(), data.get("type", ""), data))
            self.cond.notify_all()

    def wait(self, kind: str, since: float, timeout: float = 60.0, match=lambda d: True) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, got, data in self.seen:
                    if at >= since and got == kind and match(data):
                        return at
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no {kind} event within {timeout} s")
                self.cond.wait(0.5)


def refresh_latency(config_path: Path, work: Path, presses: int) -> list[dict[str, float]]:
    from gpiozero.pins.mock import MockFactory

    from moodbox.gpio import ButtonAdapter

    config = parse_config(config_path.read_text(), str(config_path), work)
    core = Core(config)
    timeline = Timeline()
    core.subscribe(timeline)
    factory = MockFactory()
    core.start()
    button = ButtonAdapter(core, GpioConfig(enabled="on", button_pin=17), pin_factory=factory)
    button.start()
    results = []
    try:
        if not core.wait_ready(300):
            raise TimeoutError("the first queue did not come")
        time.sleep(1.0)
        pin = factory.pin(17)
        for number in range(presses):
            show(work / "cam", FACES[number % 2])
            pin.drive_low()
            time.sleep(0.1)
            released = time.perf_counter()
            pin.drive_high()
            capture_on = timeline.wait("capture", released, match=lambda d: d["active"])
            capture_off = timeline.wait("capture", released, match=lambda d: not d["active"])
            timeline.wait("mood_changed", released)
            started = timeline.wait("track_started", released, match=lambda d: d["index"] == 0)
            results.append({"total": started - released, "to_capture": capture_on - released,
                            "capture": capture_off - capture_on, "after_capture": started - capture_off})
            time.sleep(0.5)
    finally:
        button.close()
        core.close()
    return results


def daemon_memory(config_path: Path, settle_s: float) -> dict[str, float | None]:
    proc = subprocess.Popen([sys.executable, "-m", "moodbox.cli", "run", "--config", str(config_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        mpv_pid = None
        while time.monotonic() < deadline and mpv_pid is None:
            time.sleep(0.5)
            mpv_pid = next((pid for pid in child_pids(proc.pid) if process_name(pid) == "mpv"), None)
        time.sleep(settle_s)
        return {"daemon_rss_mb": resident_memory_mb(proc.pid),
                "mpv_rss_mb": resident_memory_mb(mpv_pid) if mpv_pid else None}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presses", type=int, default=5)
    parser.add_argument("--burst-seconds", type=float, default=1.5)
    parser.add_argument("--burst-fps", type=float, default=4.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of playing before reading RSS")
    parser.add_argument("--dir", type=Path, help="work folder (kept; default: a temporary one)")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    work = args.dir or Path(tempfile.mkdtemp(prefix="moodbox-bench-"))
    (work / "cam").mkdir(parents=True, exist_ok=True)
    show(work / "cam", FACES[1])
    config_path = write_config(work, args)
    print(f"machine: {machine()}")
    print(f"config: burst {args.burst_seconds} s at {args.burst_fps} fps, demo library, mpv --ao=null")
    try:
        results = refresh_latency(config_path, work, args.presses)
        print(f"\nrefresh latency, button release -> track_started of the new queue ({len(results)} presses), ms:")
        print(f"{'':16}{'median':>8}{'min':>8}{'max':>8}")
        for key in ("total", "to_capture", "capture", "after_capture"):
            values = [r[key] * 1000 for r in results]
            print(f"{key:16}{statistics.median(values):8.0f}{min(values):8.0f}{max(values):8.0f}")
        memory = daemon_memory(config_path, args.settle)
        print(f"\nresident memory after {args.settle:.0f} s of playing (VmRSS):")
        print(f"  moodbox run: {memory['daemon_rss_mb']:.1f} MiB" if memory["daemon_rss_mb"] else "  moodbox run: ?")
        print(f"  mpv child:   {memory['mpv_rss_mb']:.1f} MiB" if memory["mpv_rss_mb"] else "  mpv child:   ?")
        print(json.dumps({"machine": machine(), "latency_s": results, "memory_mb": memory}))
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
