"""The diagnostics state: uptime, CPU temperature, memory, inference timings, player restarts."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CPU_TEMPERATURE_FILE = Path("/sys/class/thermal/thermal_zone0/temp")


def cpu_temperature(path: Path = CPU_TEMPERATURE_FILE) -> float | None:
    """CPU temperature in °C from the kernel's first thermal zone, None where there is none."""
    try:
        return int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def resident_memory_mb(pid: int | str = "self") -> float | None:
    """Resident memory (VmRSS) of a process in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def diagnostics(uptime_s: float, timings_ms: dict[str, float], burst: Any, perception: str, library_tracks: int,
                player_restarts: int, online: dict[str, Any] | None) -> dict[str, Any]:
    """The diagnostics topic; `burst` is the last BurstResult or None, `online` the fallback's status."""
    data: dict[str, Any] = {
        "uptime_s": round(uptime_s),
        "cpu_temperature_c": cpu_temperature(),
        "memory_mb": round(resident_memory_mb() or 0.0, 1),
        "timings_ms": {k: round(v, 1) for k, v in timings_ms.items()},
        "analysis_fps": round(burst.analysis_fps, 2) if burst else None,
        "last_burst_s": round(burst.seconds, 2) if burst else None,
        "perception": perception,
        "library_tracks": library_tracks,
        "player_restarts": player_restarts,
    }
    if online is not None:
        data["online"] = online
    return data
