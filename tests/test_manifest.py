"""models_tflite/manifest.json is complete, matches the shipped files, and the files run on
the device's TFLite runtime (LiteRT). Also checks convert/metrics.py (numpy-only metric code) on tiny examples."""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models_tflite"
MANIFEST = json.loads((MODELS / "manifest.json").read_text())
sys.path.insert(0, str(ROOT))

EXPECTED = {"face_detector_full", "face_detector_short", "emotion", "age"}


def test_schema_and_models():
    assert MANIFEST["schema"] == 1
    assert EXPECTED <= set(MANIFEST["models"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entry_keys_and_checksum(name):
    e = MANIFEST["models"][name]
    for key in ("file", "sha256", "task", "source", "license", "attribution", "input", "output",
                "quantization"):
        assert key in e, key
    for key in ("registry", "package", "version", "archive", "archive_sha256", "member"):
        assert key in e["source"], key
    path = MODELS / e["file"]
    assert path.is_file()
    assert path.stat().st_size < 5_000_000
    assert hashlib.sha256(path.read_bytes()).hexdigest() == e["sha256"]
    inp = e["input"]
    assert inp["layout"] == "NHWC"
    assert ("range" in inp) or ("mean" in inp and "std" in inp)
    assert (MODELS / "cards" / f"{name}.md").exists()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_runs_on_the_device_runtime(name):
    from moodbox.perception.model import runtime_module
    interp = runtime_module()
    e = MANIFEST["models"][name]
    it = interp.Interpreter(model_path=str(MODELS / e["file"]), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    channels = 1 if e["input"]["color"] == "gray" else 3
    assert d["shape"].tolist() == [1, *e["input"]["size"], channels]
    assert d["dtype"].__name__ == e["input"]["dtype"]
    x = np.zeros(d["shape"], d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    outs = [it.get_tensor(o["index"]) for o in it.get_output_details()]
    if e["task"] == "emotion":
        assert outs[0].size == len(e["output"]["labels"]) == 7
    if e["task"] == "age":
        assert outs[0].size == len(e["output"]["values"]) == 81


def test_emotion_and_age_specs():
    emo = MANIFEST["models"]["emotion"]
    assert emo["output"]["labels"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert emo["input"]["range"] == [-1.0, 1.0] and emo["input"]["color"] == "gray"
    age = MANIFEST["models"]["age"]
    assert age["input"]["color"] == "RGB" and age["input"]["size"] == [64, 64]
    assert age["output"]["values"][0] == 0.25 and age["output"]["values"][1:] == list(range(1, 81))
    for m in (emo, age):
        assert m["quantization"] == "int8" and m["input"]["dtype"] == "int8"
        assert 0.0 <= m["input"]["crop"]["margin"] < 1.0


@pytest.mark.parametrize("name", ["face_detector_full", "face_detector_short"])
def test_detector_anchor_count(name):
    from convert.blazeface import ssd_anchors
    e = MANIFEST["models"][name]
    assert len(ssd_anchors(e["output"]["anchors"])) == e["output"]["num_boxes"]


def test_quality_gates_recorded():
    emo = json.loads((MODELS / "metrics" / "emotion.json").read_text())
    age = json.loads((MODELS / "metrics" / "age.json").read_text())
    assert emo["gate"]["passed"] and emo["accuracy_drop_points"] <= 1.0
    assert age["gate"]["passed"] and age["mae_increase_int8_vs_float"] <= 0.3


def test_classification_metrics():
    from convert.metrics import classification_report
    r = classification_report([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert r["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert r["accuracy"] == pytest.approx(0.6)
    assert r["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert r["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert r["per_class"]["b"]["recall"] == pytest.approx(1.0)
    assert r["per_class"]["c"]["f1"] == 0.0
    assert r["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_age_metrics():
    from convert.metrics import age_report
    r = age_report([5, 15, 30, 50, 70], [7, 15, 40, 46, 70])
    assert r["mae"] == pytest.approx((2 + 0 + 10 + 4 + 0) / 5)
    assert r["cs5"] == pytest.approx(4 / 5)
    assert r["bands"]["0-12"]["mean_signed_error"] == pytest.approx(2)
    assert r["bands"]["40-59"]["mean_signed_error"] == pytest.approx(-4)
    assert r["bands"]["60+"]["n"] == 1
