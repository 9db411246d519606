"""Finding a Python that can train (TensorFlow): the first of this interpreter, $MOODBOX_TRAIN_PYTHON,
convert/.venv. Training is workstation-only; the training tests skip without one."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def training_python() -> str | None:
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    candidates = [os.environ.get("MOODBOX_TRAIN_PYTHON"), str(ROOT / "convert" / ".venv" / "bin" / "python")]
    for python in filter(None, candidates):
        if Path(python).exists() and subprocess.run([python, "-c", "import tensorflow"],
                                                    capture_output=True, timeout=120).returncode == 0:
            return python
    return None
