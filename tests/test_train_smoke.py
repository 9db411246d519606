"""Smoke training of convert/train: tiny models on tiny real subsets, then int8 export and the
shared evaluation, end to end (about a minute each on the 2-core workstation).

Training needs TensorFlow (workstation only, never on the Pi). The test runs the training in
the first of: this interpreter if it imports tensorflow; $MOODBOX_TRAIN_PYTHON; convert/.venv
(created by convert/build.sh from convert/requirements.txt). Otherwise it is skipped. It also
needs ../shared/data (FER2013, UTKFace dev). The int8 file is then checked here with
tflite-runtime, the device runtime, against the cached validation subset.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from train_testkit import training_python

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RUNS = ROOT / "convert" / "work" / "train"
CACHE = RUNS / "cache"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def python() -> str:
    found = training_python()
    if found is None:
        pytest.skip("TensorFlow is not importable (training is workstation-only): install "
                    "convert/requirements.txt (tensorflow-cpu 2.15.1, tf_keras, matplotlib, pillow, "
                    "tflite-runtime) into convert/.venv, or set MOODBOX_TRAIN_PYTHON")
    for sub in ("fer2013", "utkface"):
        if not (SHARED / sub).is_dir():
            pytest.skip(f"{SHARED / sub} is not here (training data)")
    return found


def smoke(python: str, *args: str) -> dict:
    run = f"pytest-smoke-{args[0]}"
    proc = subprocess.run([python, "-m", "convert.train", *args, "--smoke", "--run", run],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    folder = RUNS / run
    for name in ("run.json", "history.json", "best.weights.h5", "last.weights.h5",
                 "model_int8.tflite", "report.json"):
        assert (folder / name).is_file(), f"{name} missing in {folder}"
    return {"folder": folder, "log": proc.stdout,
            "run": json.loads((folder / "run.json").read_text()),
            "history": json.loads((folder / "history.json").read_text()),
            "report": json.loads((folder / "report.json").read_text())}


def device_reading(folder: Path, task: str, tmp_path: Path):
    """The run's model through the device's Perception, declared by the manifest entry that
    `ship` would write (in a copy of models_tflite/, the real one is left alone)."""
    import shutil
    import cv2
    from moodbox.perception import Perception
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models_tflite", models)
    shutil.copy(folder / "model_int8.tflite", models / "model_int8.tflite")
    manifest = json.loads((models / "manifest.json").read_text())
    manifest["models"]["candidate"] = json.loads((folder / "manifest_entry.json").read_text())
    (models / "manifest.json").write_text(json.dumps(manifest))
    names = {"emotion_model": "candidate"} if task == "emotion" else {"age_model": "candidate"}
    perception = Perception(models, **names)
    face = cv2.imread(str(ROOT / "device" / "moodbox" / "data" / "faces" / "astronaut.png"))[40:210, 140:310]
    return perception.analyze_face(face)


def run_int8(path: Path, x_u8: np.ndarray) -> np.ndarray:
    """The exported model on uint8 images, the way the device feeds it (range [-1, 1])."""
    from tflite_runtime.interpreter import Interpreter
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert list(inp["shape"][1:]) == list(x_u8.shape[1:])
    s_in, z_in = inp["quantization"]
    s_out, z_out = out["quantization"]
    rows = []
    for img in x_u8.astype(np.float32) * (2 / 255) - 1:
        it.set_tensor(inp["index"], np.clip(np.round(img / s_in + z_in), -128, 127).astype(np.int8)[None])
        it.invoke()
        rows.append((it.get_tensor(out["index"])[0].astype(np.float32) - z_out) * s_out)
    return np.stack(rows)


@pytest.fixture(scope="module")
def emotion_run(python) -> dict:
    return smoke(python, "emotion", "--distill", "0.5")


def test_emotion_smoke_with_distillation(python, emotion_run, tmp_path):
    r = emotion_run
    cfg = r["run"]["config"]
    assert cfg["distill"] == 0.5 and r["run"]["train_images"] == 384 and r["run"]["val_images"] == 192
    assert [row["epoch"] for row in r["history"]] == [1, 2]
    assert r["run"]["best_epoch"] in (1, 2)
    # the report's int8 accuracy is reproduced here with tflite-runtime on the same images
    val = np.load(CACHE / "fer_test_48_n192.npz")
    probs = run_int8(r["folder"] / "model_int8.tflite", val["x"])
    assert probs.shape == (192, 7) and np.allclose(probs.sum(1), 1, atol=0.05)
    rep = r["report"]["int8"]
    assert rep["accuracy"] == pytest.approx(float((probs.argmax(1) == val["y"]).mean()))
    assert sum(map(sum, rep["confusion"])) == 192
    assert r["report"]["baseline"]["model"] == "emotion"
    assert r["report"]["comparison"]["beats_baseline"] is False    # a 2-epoch toy must not ship
    assert r["report"]["targets"]["passed"]["size"] is True
    manifest = (ROOT / "models_tflite" / "manifest.json").read_bytes()
    refused = subprocess.run([python, "-m", "convert.train", "ship", "pytest-smoke-emotion", "--name",
                              "emotion_smoke"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "does not beat the shipped emotion model" in refused.stderr
    assert (ROOT / "models_tflite" / "manifest.json").read_bytes() == manifest
    assert not (ROOT / "models_tflite" / "emotion_smoke_int8.tflite").exists()
    reading = device_reading(r["folder"], "emotion", tmp_path)
    assert sum(reading.emotion.values()) == pytest.approx(1.0)


def test_age_smoke_coral_at_a_bigger_crop_exports_years(python, tmp_path):
    r = smoke(python, "age", "--head", "coral", "--input-size", "72")
    assert r["run"]["config"]["head"] == "coral" and r["run"]["config"]["input_size"] == 72
    command = subprocess.run([python, "-c", "from convert.train.export import train_command; from convert.train.loop "
                              "import load_run; print(train_command(load_run('pytest-smoke-age')[0]))"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "--input-size 72 " in command.stdout, command.stdout + command.stderr[-2000:]
    val = np.load(CACHE / next(p.name for p in CACHE.glob("utk_heldout_72_m*_n160.npz")))
    assert val["x"].shape[1:] == (72, 72, 3)
    years = run_int8(r["folder"] / "model_int8.tflite", val["x"])
    assert years.shape == (len(val["y"]), 1)                      # decoding is inside the graph
    assert np.all((years >= -1) & (years <= 101))
    mae = float(np.abs(years[:, 0] - val["y"]).mean())
    assert r["report"]["int8"]["mae"] == pytest.approx(mae, rel=1e-4)
    assert set(r["report"]["int8"]["bands"]) == {"0-12", "13-19", "20-39", "40-59", "60+"}
    # the shipped 64px model is compared on the same faces, cut at its own size
    base = np.load(CACHE / next(p.name for p in CACHE.glob("utk_heldout_64_m*_n160.npz")))
    np.testing.assert_array_equal(base["y"], val["y"])
    assert r["report"]["baseline"]["report"]["n"] == len(val["y"])
    entry = json.loads((r["folder"] / "manifest_entry.json").read_text())
    assert entry["output"]["decode"] == "regression" and entry["input"]["size"] == [72, 72]
    reading = device_reading(r["folder"], "age", tmp_path)
    import cv2
    face = cv2.imread(str(ROOT / "device" / "moodbox" / "data" / "faces" / "astronaut.png"))[40:210, 140:310]
    rgb = cv2.cvtColor(cv2.resize(face, (72, 72), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    direct = run_int8(r["folder"] / "model_int8.tflite", rgb[None])[0, 0]
    assert reading.age_years == pytest.approx(max(0.0, float(direct)), abs=1e-3)


GROWN_CHECK = """
import numpy as np
from convert.train.loop import build, init_weights, load_run, setup_tf
small, _ = load_run("pytest-smoke-emotion")
grown, _ = load_run("pytest-smoke-emotion-grown")
tf = setup_tf(1, 1)
source = build(small.task, small.arch, small.input_shape, small.outputs, small.head)
source.load_weights(str(small.dir / "best.weights.h5"))
model = build(grown.task, grown.arch, grown.input_shape, grown.outputs, grown.head)
fresh = [w.numpy().copy() for w in model.weights]
init_weights(model, grown)
src = [l for l in source.layers if l.weights]
dst = [l for l in model.layers if l.weights]
same = [all(np.array_equal(a, b) for a, b in zip(s.get_weights(), d.get_weights()))
        for s, d in zip(src, dst)]
first_fresh = same.index(False)
assert first_fresh > 0 and not any(same[first_fresh:]), same
assert all(np.array_equal(a, b) for a, b in zip(fresh[-2:], [w.numpy() for w in model.weights[-2:]]))
print("ok", first_fresh, len(dst))
"""


def test_grown_model_starts_from_the_smaller_run_with_mixup(python, emotion_run):
    proc = subprocess.run([python, "-m", "convert.train", "emotion", "--arch", "resnet4", "--init-from",
                           "pytest-smoke-emotion", "--mixup", "0.3", "--smoke", "--no-export",
                           "--run", "pytest-smoke-emotion-grown"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "layers with weights from pytest-smoke-emotion" in proc.stdout
    run = json.loads((RUNS / "pytest-smoke-emotion-grown" / "run.json").read_text())
    assert "ema" not in run["config"] and run["config"]["arch"]["widths"] == [8, 16, 32]
    assert run["config"]["mixup"] == 0.3
    check = subprocess.run([python, "-c", GROWN_CHECK], cwd=ROOT, capture_output=True, text=True,
                           timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert check.returncode == 0 and check.stdout.splitlines()[-1].startswith("ok "), check.stdout[-3000:] + check.stderr[-3000:]


RETIRED_CHECK = """
import json
from convert.train.export import train_command
from convert.train.loop import TrainConfig, default_arch
cfg = TrainConfig(task="emotion", run="r", arch=default_arch("emotion", "resnet4", False), distill=0.7, mixup=0.2)
old = {**cfg.to_json(), "teacher": [], "ema": 0.0}     # a run.json from before session 25, options unused
errors = {}
for key, value in {"teacher": ["emotion"], "ema": 0.999}.items():
    try:
        TrainConfig.from_json({**old, key: value})
    except SystemExit as exc:
        errors[key] = str(exc)
print(json.dumps({"command": train_command(TrainConfig.from_json(old)), "errors": errors}))
"""


def test_old_runs_load_and_a_run_with_a_retired_option_is_named(python):
    proc = subprocess.run([python, "-c", RETIRED_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert "--distill 0.7" in out["command"] and "--mixup 0.2" in out["command"]
    assert "--teacher" not in out["command"] and "--ema" not in out["command"]
    assert out["errors"] == {key: f"run 'r' used --{key}, an option retired in session 25 (convert/train/HISTORY.md)"
                             for key in ("teacher", "ema")}
