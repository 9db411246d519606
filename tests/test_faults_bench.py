"""The fault suite (bench/faults.py --short) as a test: every row must pass.

The whole --short suite takes ~2 min 15 s on 2 cores, so this runs the player, fuzz, scan, state and
media groups (~80 s); the broker outages have their own tests (tests/test_mqtt_adapter.py) and the
camera group is left to the bench. All of them: .venv/bin/python bench/faults.py --short
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GROUPS = "player,fuzz,scan,state,media"


@pytest.mark.skipif(shutil.which("mpv") is None, reason="mpv not installed")
def test_fault_suite_short_passes() -> None:
    result = subprocess.run([sys.executable, str(REPO / "bench" / "faults.py"), "--short", "--only", GROUPS],
                            capture_output=True, text=True, timeout=400, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    assert "FAIL" not in result.stdout and " rows pass" in result.stdout, result.stdout
