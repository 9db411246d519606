"""What every bench script prints first: the machine the figures were measured on."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """OS, architecture, CPU model, core count, current load and Python version, on one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]  # other work on the machine inflates every figure
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"load {load:.1f}, Python {platform.python_version()}")


def child_pids(pid: int) -> list[int]:
    """Child process ids of pid, from every thread (the player starts mpv from its own thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return found


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
