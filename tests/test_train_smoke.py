"""Smoke training of convert/train: tiny models on tiny real subsets, then int8 export and the
shared evaluation, end to end (about a minute each on the 2-core workstation).

Training needs TensorFlow (workstation only, never on the Pi). The test runs the training in
the first of: this interpreter if it imports tensorflow; $MOODBOX_TRAIN_PYTHON; convert/.venv
(created by convert/build.sh from convert/requirements.txt). Otherwise it is skipped. It also
needs ../shared/data (FER2013, UTKFace dev). The int8 file is then checked here with
tflite-runtime, the device runtime, against the cached validation subset.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RUNS = ROOT / "convert" / "work" / "train"
CACHE = RUNS / "cache"

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


STEM_CHECK = """
import argparse, json
import tensorflow as tf
from convert.train.__main__ import add_training_args, training_config
from convert.train.export import train_command
from convert.train.models import build
p = argparse.ArgumentParser()
add_training_args(p, "age")
out = {}
for name, argv in {"s3": ["--arch", "wrn", "--stem-stride", "3", "--input-size", "120"],
                   "s2": ["--arch", "wrn", "--input-size", "80"]}.items():
    cfg = training_config(p.parse_args(argv + ["--run", "x"]), "age")
    model = build("age", cfg.arch, cfg.input_shape, cfg.outputs, cfg.head)
    pool = next(l for l in model.layers if isinstance(l, tf.keras.layers.GlobalAveragePooling2D))
    out[name] = {"stride": cfg.arch.stem_stride, "command": train_command(cfg),
                 "features": list(pool.input.shape[1:]), "params": model.count_params()}
print(json.dumps(out))
"""


def test_stem_stride_reaches_the_net_and_the_card_command(python):
    """--stem-stride 3 at 120px keeps the inner feature maps (and weights) of the 80px net."""
    proc = subprocess.run([python, "-c", STEM_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["s3"]["stride"] == 3 and r["s2"]["stride"] == 2
    assert "--arch wrn --stem-stride 3 " in r["s3"]["command"]
    assert "--input-size 120 " in r["s3"]["command"]
    assert "--arch wrn " in r["s2"]["command"] and "--stem-stride" not in r["s2"]["command"]
    assert r["s3"]["features"] == r["s2"]["features"] == [5, 5, 128]
    assert r["s3"]["params"] == r["s2"]["params"]


GROWN_CHECK = """
import numpy as np
from convert.train.loop import build, init_weights, load_run, make_callbacks, setup_tf
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
# the weight average: after steps towards constant weights w1 the shadow is m-weighted
cb = make_callbacks(grown, model, None, 1, lambda step: 0.0)
average = cb[1]
average.on_train_begin()
w0 = [w.numpy().copy() for w in model.weights]
for w in model.weights:
    w.assign(w + 1.0)
for _ in range(3):
    average.on_train_batch_end(0)
m = [min(0.9, (1 + t) / (10 + t)) for t in (1, 2, 3)]
kept = np.prod(m)
np.testing.assert_allclose(average.shadow[0].numpy(), w0[0] + (1 - kept), rtol=1e-5, atol=1e-5)
average.swap()
np.testing.assert_allclose(model.weights[0].numpy(), w0[0] + (1 - kept), rtol=1e-5, atol=1e-5)
average.swap()
np.testing.assert_allclose(model.weights[0].numpy(), w0[0] + 1.0, rtol=1e-6)
print("ok", first_fresh, len(dst))
"""


def test_grown_model_starts_from_the_smaller_run_and_keeps_a_weight_average_with_mixup(python, emotion_run):
    proc = subprocess.run([python, "-m", "convert.train", "emotion", "--arch", "resnet4", "--init-from",
                           "pytest-smoke-emotion", "--ema", "0.9", "--mixup", "0.3", "--smoke", "--no-export",
                           "--run", "pytest-smoke-emotion-grown"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "layers with weights from pytest-smoke-emotion" in proc.stdout
    run = json.loads((RUNS / "pytest-smoke-emotion-grown" / "run.json").read_text())
    assert run["config"]["ema"] == 0.9 and run["config"]["arch"]["widths"] == [8, 16, 32]
    assert run["config"]["mixup"] == 0.3
    check = subprocess.run([python, "-c", GROWN_CHECK], cwd=ROOT, capture_output=True, text=True,
                           timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert check.returncode == 0 and check.stdout.splitlines()[-1].startswith("ok "), check.stdout[-3000:] + check.stderr[-3000:]


TEACHER_CHECK = """
import json, sys
import numpy as np
from convert.train.members import members_probs
from convert.train.export import train_command
from convert.train.loop import TrainConfig, default_arch
x = np.load(sys.argv[1])["x"][:16]
probs = members_probs(["emotion_cnn4"], x, None)
cfg = TrainConfig(task="emotion", run="r", arch=default_arch("emotion", "resnet4", False), distill=0.7,
                  teacher=["emotion", "emotion_cnn4"], mixup=0.2)
print(json.dumps({"probs": probs.tolist(), "command": train_command(cfg),
                  "again": TrainConfig.from_json(cfg.to_json()).teacher}))
"""


def test_distillation_teacher_from_members_is_their_flip_averaged_int8_output(python, emotion_run):
    # emotion_run: its smoke run writes the cached 192-image validation subset read here
    val = CACHE / "fer_test_48_n192.npz"
    proc = subprocess.run([python, "-c", TEACHER_CHECK, str(val)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    x = np.load(val)["x"][:16]
    model = ROOT / "models_tflite" / json.loads((ROOT / "models_tflite" / "manifest.json").read_text())[
        "models"]["emotion_cnn4"]["file"]
    direct = 0.5 * (run_int8(model, x) + run_int8(model, x[:, :, ::-1]))
    np.testing.assert_allclose(np.asarray(out["probs"]), direct / direct.sum(1, keepdims=True), atol=2e-3)
    assert "--distill 0.7" in out["command"] and "--teacher emotion emotion_cnn4" in out["command"]
    assert "--mixup 0.2" in out["command"]
    assert out["again"] == ["emotion", "emotion_cnn4"]
