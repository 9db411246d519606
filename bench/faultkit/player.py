"""mpv killed (SIGKILL), hung (SIGSTOP), and killed five times in ten seconds, under the running daemon."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from faultkit.harness import Box, Row, wait

TARGET_S = 5.0
NEAR_S = 3.0  # "about the same position": resumed within this many seconds of where it was


def _back(box: Box, path: str, position: float, timeout: float) -> tuple[float, float]:
    """(seconds until `path` plays again at >= position - NEAR_S, the position it resumed at)."""
    began = time.monotonic()
    playing = wait(lambda: (p := box.mpv_playing()) and p[0] == path and p[1] >= position - NEAR_S and p,
                   "the same track playing again", timeout, step=0.05)
    return time.monotonic() - began, playing[1] - position


def _settled(box: Box, settle_s: float) -> tuple[str, float, int]:
    """(path, position, mpv pid) after the track has played settle_s more."""
    box.wait_playing()
    time.sleep(settle_s)
    path, position = box.wait_playing()
    pid = box.mpv_pid()
    assert pid is not None
    return path, position, pid


def kill_row(box: Box) -> Row:
    path, position, pid = _settled(box, 3)
    os.kill(pid, signal.SIGKILL)
    try:
        took, delta = _back(box, path, position, 30)
        figure = f"same track again after {took:.1f} s, {delta:+.1f} s from where it was"
        ok = took <= TARGET_S and abs(delta) <= NEAR_S
    except TimeoutError as exc:
        figure, ok = str(exc), False
    return Row("mpv killed (SIGKILL)", figure, f"<= {TARGET_S:g} s", ok)


def hang_row(box: Box, hang_s: float = 20.0) -> Row:
    path, position, pid = _settled(box, 2)
    os.kill(pid, signal.SIGSTOP)
    began = time.monotonic()
    try:
        def back() -> tuple[str, float] | None:
            if time.monotonic() - began >= hang_s:
                try:
                    os.kill(pid, signal.SIGCONT)  # the hang is over (if the daemon has not killed it by now)
                except ProcessLookupError:
                    pass
            playing = box.mpv_playing()
            return playing if playing and playing[0] == path and playing[1] >= position - NEAR_S else None
        resumed = wait(back, "the same track playing again", hang_s + 30, step=0.1)
        took = time.monotonic() - began
        how = "a new mpv" if box.mpv_pid() != pid else "the same mpv, after SIGCONT"
        figure = f"same track again after {took:.1f} s ({how}), {resumed[1] - position:+.1f} s from where it was"
        ok = took <= TARGET_S
    except TimeoutError as exc:
        figure, ok = f"{exc} (hung {hang_s:g} s)", False
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    return Row(f"mpv hung (SIGSTOP {hang_s:g} s)", figure, f"<= {TARGET_S:g} s", ok)


def kill_storm_row(box: Box, kills: int = 5, within_s: float = 10.0) -> Row:
    box.wait_playing()
    log_start = len(box.log())
    killed: set[int] = set()
    began = time.monotonic()
    while time.monotonic() - began < within_s and len(killed) < kills:
        pid = box.mpv_pid()
        if pid is not None and pid not in killed:  # each new mpv as soon as it is there
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.05)
    spent = time.monotonic() - began
    waits = box.log()[log_start:].count("before restarting")
    up = box.alive()
    try:
        box.wait_playing(timeout=60)
        again = time.monotonic() - began - spent
        figure = (f"{len(killed)} kills in {spent:.0f} s: daemon {'up' if up else 'DOWN'}, {waits} back-off waits, "
                  f"playing {again:.1f} s after the last")
        ok = up and waits >= 1
    except TimeoutError:
        figure, ok = f"{len(killed)} kills: daemon {'up' if up else 'DOWN'}, {waits} back-off waits, not playing again", False
    # the back-off (0, 0.5, 2, 5 s ... after each crash within 2 min) leaves fewer than `kills` mpvs to kill
    return Row(f"mpv killed on sight {within_s:g} s (<= {kills}x)", figure, "up, backs off, plays", ok)


def rows(tmp: Path, short: bool) -> list[Row]:
    box = Box(tmp / "player")
    try:
        box.start()
        out = [kill_row(box), hang_row(box), kill_storm_row(box)]
        if not box.alive():
            out.append(Row("mpv faults: daemon", "daemon exited", "stays up", False))
        return out + [box.log_row("player")]
    finally:
        box.close()
