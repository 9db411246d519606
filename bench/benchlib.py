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
