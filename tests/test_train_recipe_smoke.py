"""The CI-sized recipe (convert/recipes/smoke.toml) through the one command, python -m convert.reproduce:
two stages (the second grown from the first, with mixup and a stop_after), export, ship into a copy
of models_tflite/ with provenance, and every figure the recipe recorded reproduced. About two
minutes on the 2-core workstation; skipped without TensorFlow (convert/.venv) or ../shared/data,
like tests/test_train_smoke.py."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RUNS = ROOT / "convert" / "work" / "train"

pytestmark = pytest.mark.slow


def training_python() -> str | None:
    if importlib.util.find_spec("tensorflow") is not None:
        return sys.executable
    candidates = [os.environ.get("MOODBOX_TRAIN_PYTHON"), str(ROOT / "convert" / ".venv" / "bin" / "python")]
    for python in filter(None, candidates):
        if Path(python).exists() and subprocess.run([python, "-c", "import tensorflow"],
                                                    capture_output=True, timeout=120).returncode == 0:
            return python
    return None


@pytest.fixture(scope="module")
def python() -> str:
    found = training_python()
    if found is None:
        pytest.skip("TensorFlow is not importable (training is workstation-only): convert/.venv or MOODBOX_TRAIN_PYTHON")
    if not (SHARED / "fer2013").is_dir():
        pytest.skip(f"{SHARED / 'fer2013'} is not here (training data)")
    return found


def reproduce(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "convert.reproduce", "smoke", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


@pytest.fixture(scope="module")
def smoke_run(python, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    before = (ROOT / "models_tflite" / "manifest.json").read_bytes()
    proc = reproduce(python, "--fresh", "--out", str(out))
    return {"out": out, "proc": proc, "before": before}


def test_the_smoke_recipe_reproduces_its_recorded_figures(smoke_run):
    proc = smoke_run["proc"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    assert "reproduced: every recorded figure that these runs can show matches" in proc.stdout
    assert "DIFFERENT" not in proc.stdout
    # the recorded figures were really compared: per-epoch validation, epochs, best epoch, int8
    for figure in ("epoch 1 validation accuracy", "epoch 2 validation accuracy", "epochs_run", "best_epoch",
                   "int8 accuracy"):
        assert f"| {figure}" in proc.stdout, figure
    second = json.loads((RUNS / "smoke-emotion-2" / "run.json").read_text())
    assert second["epochs_run"] == 2 and second["config"]["epochs"] == 3          # stop_after, not a clock
    assert second["config"]["init_from"] == "smoke-emotion-1" and second["config"]["mixup"] == 0.2


def test_it_ships_with_provenance_into_the_given_folder_only(smoke_run):
    out = smoke_run["out"]
    assert (ROOT / "models_tflite" / "manifest.json").read_bytes() == smoke_run["before"]
    assert not (ROOT / "models_tflite" / "emotion_smoke_int8.tflite").exists()
    entry = json.loads((out / "manifest.json").read_text())["models"]["emotion_smoke"]
    assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    prov = entry["provenance"]
    assert prov["recipe"] == "convert/recipes/smoke.toml" and len(prov["commit"]) == 40
    assert prov["lockfile_sha256"] == hashlib.sha256((ROOT / "convert" / "requirements.lock.txt").read_bytes()).hexdigest()
    assert set(prov["data_sha256"]) == {"fer2013/fer2013-dev.tar.gz", "fer2013/labels.csv"}
    assert [s["run"] for s in prov["stages"]] == ["smoke-emotion-1", "smoke-emotion-2"]
    assert "## Provenance" in (out / "cards" / "emotion_smoke.md").read_text()


def test_a_second_run_keeps_the_finished_stages(python, smoke_run):
    proc = reproduce(python, "--out", str(smoke_run["out"]))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("a finished run of this configuration is here, kept") == 2
