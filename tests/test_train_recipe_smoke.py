"""The CI-sized recipes (convert/recipes/smoke.toml, smoke_age.toml) through the one command,
python -m convert.reproduce: emotion in two stages (the second grown from the first, with mixup and
a stop_after), age in one (distillation, best epoch by MAE), export, ship and stretch into a copy of
models_tflite/ with provenance, and every figure the recipes expect given again (training loss to 6
decimals, validation and int8 figures). About two minutes on the 2-core workstation; skipped without
TensorFlow (convert/.venv) or ../shared/data, like tests/test_train_smoke.py."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from train_testkit import training_python

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RUNS = ROOT / "convert" / "work" / "train"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def python() -> str:
    found = training_python()
    if found is None:
        pytest.skip("TensorFlow is not importable (training is workstation-only): convert/.venv or MOODBOX_TRAIN_PYTHON")
    for sub in ("fer2013", "utkface"):
        if not (SHARED / sub).is_dir():
            pytest.skip(f"{SHARED / sub} is not here (training data)")
    return found


def reproduce(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "convert.reproduce", "smoke", "smoke_age", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


@pytest.fixture(scope="module")
def smoke_run(python, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    before = (ROOT / "models_tflite" / "manifest.json").read_bytes()
    proc = reproduce(python, "--fresh", "--out", str(out))
    return {"out": out, "proc": proc, "before": before}


def test_the_smoke_recipe_reproduces_its_recorded_figures(smoke_run):
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    if "avx512f" in flags or not {"avx2", "fma"} <= flags:  # TensorFlow's CPU kernels follow the vector instructions
        pytest.skip("the recipe's figures were recorded on an AVX2/FMA CPU without AVX-512; this one computes otherwise")
    proc = smoke_run["proc"]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    assert "reproduced: every expected figure that these runs can show matches" in proc.stdout
    assert "DIFFERENT" not in proc.stdout
    # the expected figures were really compared: loss and validation per epoch, epochs, best epoch, int8, stretch
    for figure in ("epoch 1 training loss | 10.035830", "epoch 2 validation accuracy (float) | 0.23958",
                   "epoch 2 validation mae (float) | 20.921227", "best_epoch | 1", "int8 accuracy | 0.16667",
                   "int8 mae | 20.816282", "age_smoke_stretch scale | 1.20"):
        assert f"| {figure} |" in proc.stdout, figure
    second = json.loads((RUNS / "smoke-emotion-2" / "run.json").read_text())
    assert second["epochs_run"] == 2 and second["config"]["epochs"] == 3          # stop_after, not a clock
    assert second["config"]["init_from"] == "smoke-emotion-1" and second["config"]["mixup"] == 0.2


def test_it_ships_with_provenance_into_the_given_folder_only(smoke_run):
    out = smoke_run["out"]
    assert (ROOT / "models_tflite" / "manifest.json").read_bytes() == smoke_run["before"]
    assert not (ROOT / "models_tflite" / "emotion_smoke_int8.tflite").exists()
    models = json.loads((out / "manifest.json").read_text())["models"]
    assert "age_smoke" not in models                                   # the stretch dropped its base entry
    lock = hashlib.sha256((ROOT / "convert" / "requirements.lock.txt").read_bytes()).hexdigest()
    for name, recipe, data, runs in (("emotion_smoke", "smoke", "fer2013", ["smoke-emotion-1", "smoke-emotion-2"]),
                                     ("age_smoke_stretch", "smoke_age", "utkface", ["smoke-age-1"])):
        entry = models[name]
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        prov = entry["provenance"]
        assert prov["recipe"] == f"convert/recipes/{recipe}.toml" and len(prov["commit"]) == 40
        assert prov["lockfile_sha256"] == lock
        assert set(prov["data_sha256"]) == {f"{data}/{data}-dev.tar.gz", f"{data}/labels.csv"}
        assert [s["run"] for s in prov["stages"]] == runs
        assert "## Provenance" in (out / "cards" / f"{name}.md").read_text()


def test_a_second_run_keeps_the_finished_stages(python, smoke_run):
    proc = reproduce(python, "--out", str(smoke_run["out"]))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("a finished run of this configuration is here, kept") == 3
