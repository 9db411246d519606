"""Player benchmark: mpv start, load -> track_started, next -> track_started, crash -> resumed, close.

    nice .venv/bin/python bench/player.py [--rounds 5] [--output null]

Real mpv on generated wav files (null audio output unless --output says otherwise). Prints the
median and worst of each measure over the rounds, plus mpv's resident memory while playing.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from moodbox.config import AudioConfig
from moodbox.player import MpvPlayer, PlayItem
from benchlib import machine


class Waiter:
    def __init__(self) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.cond = threading.Condition()

    def __call__(self, name: str, data: dict[str, Any]) -> None:
        with self.cond:
            self.events.append((time.monotonic(), name, data))
            self.cond.notify_all()

    def wait(self, name: str, after: float, timeout: float = 30.0) -> float:
        """Seconds from `after` to the first `name` event at or after it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, event, _ in self.events:
                    if event == name and at >= after:
                        return at - after
                if time.monotonic() > deadline:
                    raise TimeoutError(name)
                self.cond.wait(0.5)


def wait_position_past(player: MpvPlayer, seconds: float, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while (player.mpv_property("time-pos") or 0.0) <= seconds:
        if time.monotonic() - start > timeout:
            raise TimeoutError("position")
        time.sleep(0.01)
    return time.monotonic() - start


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", default="null", help="audio.output (null, auto or a device)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="moodbox-bench-player-"))
    rate = 44100
    t = np.arange(60 * rate) / rate
    paths = []
    for number, freq in enumerate((330, 440, 550)):
        path = folder / f"tone{number}.wav"
        sf.write(str(path), (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
        paths.append(path)
    items = [PlayItem(path=str(p), title=p.stem) for p in paths]

    results: dict[str, list[float]] = {name: [] for name in ("start", "load->started", "next->started", "kill->restarted", "kill->playing again", "close")}
    memory: list[float] = []
    for _ in range(args.rounds):
        waiter = Waiter()
        player = MpvPlayer(AudioConfig(output=args.output), on_event=waiter)
        began = time.monotonic()
        player.start()
        results["start"].append(time.monotonic() - began)

        began = time.monotonic()
        player.load(items, play=True)
        results["load->started"].append(waiter.wait("track_started", began))
        wait_position_past(player, 0.5)
        memory.append(rss_mb(player.pid or 0))

        began = time.monotonic()
        player.next()
        results["next->started"].append(waiter.wait("track_started", began))
        wait_position_past(player, 1.0)

        began = time.monotonic()
        os.kill(player.pid or 0, signal.SIGKILL)
        results["kill->restarted"].append(waiter.wait("player_restarted", began))
        position = player.status().position
        wait_position_past(player, position)
        results["kill->playing again"].append(time.monotonic() - began)

        began = time.monotonic()
        player.close()
        results["close"].append(time.monotonic() - began)

    for path in paths:
        path.unlink()
    folder.rmdir()
    print(f"machine: {machine()}")
    print(f"mpv output: {args.output}; rounds: {args.rounds}")
    print(f"{'measure':<22} {'median ms':>10} {'worst ms':>10}")
    for name, values in results.items():
        print(f"{name:<22} {statistics.median(values) * 1000:>10.0f} {max(values) * 1000:>10.0f}")
    print(f"{'mpv RSS while playing':<22} {statistics.median(memory):>9.1f}M")


if __name__ == "__main__":
    main()
