"""LiteRT (the device runtime) gives the same readings as tflite-runtime 2.14 did: the bundled images
through `moodbox analyze --json`, each runtime in its own process (bench/runtime_parity.py does the same
on 310 dev-set faces and prints the differences)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moodbox.perception.model import RUNTIME_ENV, RUNTIMES, runtime_module, runtime_name

REPO = Path(__file__).resolve().parents[1]
FACES = REPO / "device" / "moodbox" / "data" / "faces"


def installed(runtime: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {RUNTIMES[runtime]}"], capture_output=True).returncode == 0


def analyze(runtime: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "moodbox.cli", "analyze", "--json", "."], cwd=FACES,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, **{RUNTIME_ENV: runtime}))
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"perception ready ({runtime}" in done.stderr  # the runtime asked for is the one that ran
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_litert_is_the_runtime_by_default() -> None:
    assert runtime_name(runtime_module()).startswith("litert ")


def test_an_unknown_or_missing_runtime_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from moodbox.perception.errors import ModelError
    monkeypatch.setenv(RUNTIME_ENV, "tensorflow")
    with pytest.raises(ModelError, match="tensorflow.*one of litert, tflite-runtime"):
        runtime_module()


@pytest.mark.skipif(not installed("tflite-runtime"), reason="tflite-runtime 2.14 not installed (Python 3.11 only)")
def test_litert_readings_equal_tflite_runtime_readings() -> None:
    old, new = analyze("tflite-runtime"), analyze("litert")
    assert sum(len(r["faces"]) for r in old) >= 2
    assert new == old  # bit for bit: int8 models run on the same built-in kernels
