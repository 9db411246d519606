"""Trained run -> full-int8 TFLite -> the same evaluation as the shipped models -> report.

    python -m convert.train export RUN            # convert/work/train/RUN/model_int8.tflite + report.json
    python -m convert.train ship RUN --name NAME  # only if it beats the shipped model

The int8 conversion follows convert/emotion.py (TFLiteConverter, Optimize.DEFAULT, a
representative set of 400 training images, int8 input and output). Evaluation uses
convert.tfl.TFL (tflite-runtime, 1 thread) and convert.metrics on the
same validation data as convert.evaluate: all of FER2013 PublicTest; the UTKFace held-out part
with device-like crops at the shipped age model's margin.
"""
from __future__ import annotations

import json
import shutil

import numpy as np

from ..common import (METRICS, OUT, SEED, full_int8, load_manifest, log, require_trial_out, sha256_file,
                      update_manifest, write_json)
from ..data import EMOTION_LABELS
from ..metrics import years_report
from . import losses
from .datasets import age_margin, age_split, to_model_input
from .loop import RUNS, TrainConfig, brief, emotion_report, load_data, load_model, load_run

N_CALIB = 400
TARGETS = {
    "emotion": {"accuracy_min": 0.72, "macro_f1_min": 0.70, "class_recall_min": 0.50},
    "age": {"mae_max": 5.0, "band_bias_abs_max": 3.0},
    "size_mb_max": 3.0, "latency_ms_max": 3.0,
}
BASELINE = {"emotion": "emotion", "age": "age"}   # manifest names of the borrowed models


def device_model(model, cfg: TrainConfig):
    """Training model + decoding layers: emotion/dldl -> softmax probabilities,
    coral -> age = AGE_MIN + sum(sigmoid), l1 -> age in years (one value)."""
    import tensorflow as tf
    L = tf.keras.layers
    z = model.output
    if cfg.task == "emotion" or cfg.head == "dldl":
        out = L.Softmax(name="probabilities")(z)
    elif cfg.head == "coral":
        out = L.Lambda(lambda t: losses.AGE_MIN + tf.reduce_sum(tf.sigmoid(t), axis=1, keepdims=True),
                       name="age")(z)
    else:
        out = L.Lambda(lambda t: losses.L1_CENTER + losses.L1_SCALE * t, name="age")(z)
    return tf.keras.Model(model.input, out, name=f"{model.name}_device")


def to_int8(model, calib_x: np.ndarray, path) -> None:
    import tensorflow as tf

    path.write_bytes(full_int8(tf.lite.TFLiteConverter.from_keras_model(model), calib_x))
    log(f"int8 tflite -> {path} ({path.stat().st_size} B)")


def decode_device_output(out: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    """Device-model output -> class probabilities (emotion) or years (age)."""
    if cfg.task == "emotion":
        return out
    if cfg.head == "dldl":   # as the device: int8 softmax does not sum to 1, renormalize
        p = np.clip(out.astype(np.float64), 0.0, None)
        p /= np.maximum(p.sum(1, keepdims=True), 1e-12)
        return p @ losses.AGE_VALUES.astype(np.float64)
    return out[:, 0].astype(np.float64)


def report_of(cfg: TrainConfig, out: np.ndarray, y: np.ndarray) -> dict:
    if cfg.task == "emotion":
        return emotion_report(out, y)
    return years_report(decode_device_output(out, cfg), y)


def target_check(task: str, rep: dict, size_mb: float, latency_ms: float) -> dict:
    t = TARGETS[task]
    if task == "emotion":
        checks = {"accuracy": rep["accuracy"] >= t["accuracy_min"],
                  "macro_f1": rep["macro_f1"] >= t["macro_f1_min"],
                  "class_recall": rep["min_recall"] >= t["class_recall_min"]}
    else:
        checks = {"mae": rep["mae"] <= t["mae_max"],
                  "band_bias": rep["max_abs_band_bias"] <= t["band_bias_abs_max"]}
    checks["size"] = size_mb <= TARGETS["size_mb_max"]
    checks["latency"] = latency_ms <= TARGETS["latency_ms_max"]
    return {"targets": {**t, "size_mb_max": TARGETS["size_mb_max"],
                        "latency_ms_max": TARGETS["latency_ms_max"]},
            "passed": checks, "all_passed": all(checks.values())}


def baseline_figures(task: str, val=None) -> dict:
    """The shipped borrowed model's int8 figures: measured now on `val` (same images, same
    code as the candidate) when given, else as stored by convert.evaluate (metrics/<task>.json)."""
    details = json.loads((METRICS / f"{task}.json").read_text())
    entry = load_manifest()["models"][BASELINE[task]]
    size_mb = (OUT / entry["file"]).stat().st_size / 1e6
    ms = details["latency_ms_x86_1thread"]["int8_tflite"]
    if val is not None:
        from ..shipped import ShippedModel
        model = ShippedModel(BASELINE[task])
        x = val.x
        if task == "age" and x.shape[1] != model.size:
            raise ValueError(f"{model.name} takes {model.size}px crops, given {x.shape[1]}px")
        if x.shape[1] != model.size:   # FER 48x48 -> 64x64 exactly as convert.data.fer_image does
            from PIL import Image
            x = np.stack([np.asarray(Image.fromarray(img[..., 0]).resize((model.size, model.size),
                                                                          Image.BILINEAR))
                          for img in x])[..., None]
        out = model(x)
        rep = emotion_report(out, val.y) if task == "emotion" else years_report(out, val.y)
        return {"model": BASELINE[task], "report": rep, "size_mb": size_mb, "latency_ms": ms,
                "figures": "measured in this run on the same validation images"}
    rep = details["int8"]
    if task == "emotion":
        rep = {**rep, "min_recall": min(c["recall"] for c in rep["per_class"].values())}
    else:
        rep = {**rep, "max_abs_band_bias": max(abs(b["mean_signed_error"]) for b in rep["bands"].values())}
    return {"model": BASELINE[task], "report": rep, "size_mb": size_mb, "latency_ms": ms,
            "figures": f"stored in metrics/{task}.json"}


def beats(task: str, rep: dict, base: dict) -> dict:
    """Measurably better: emotion on accuracy AND macro-F1; age on MAE AND worst band bias."""
    b = base["report"]
    if task == "emotion":
        checks = {"accuracy": rep["accuracy"] > b["accuracy"], "macro_f1": rep["macro_f1"] > b["macro_f1"]}
    else:
        checks = {"mae": rep["mae"] < b["mae"], "band_bias": rep["max_abs_band_bias"] < b["max_abs_band_bias"]}
    return {"checks": checks, "beats_baseline": all(checks.values())}


def comparison_rows(task: str, rep: dict, size_mb: float, ms: float, base: dict, label: str) -> list[str]:
    b = base["report"]
    if task == "emotion":
        head = "| model | accuracy | macro-F1 | min class recall | size MB | ms/face (x86, 1 thread) |"
        row = lambda n, r, s, t: (f"| {n} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
                                  f"{r['min_recall']:.3f} | {s:.2f} | {t:.2f} |")
    else:
        head = "| model | MAE | CS5 | max abs band bias | " + " | ".join(
            f"bias {k}" for k in b["bands"]) + " | size MB | ms/face (x86, 1 thread) |"
        row = lambda n, r, s, t: (f"| {n} | {r['mae']:.3f} | {r['cs5']:.3f} | {r['max_abs_band_bias']:.2f} | "
                                  + " | ".join(f"{v['mean_signed_error']:+.2f}" for v in r["bands"].values())
                                  + f" | {s:.2f} | {t:.2f} |")
    sep = "|" + "---|" * (head.count("|") - 1)
    return [head, sep, row(f"{base['model']} (shipped, int8)", b, base["size_mb"], base["latency_ms"]),
            row(f"{label} (int8)", rep, size_mb, ms)]


def bench_pair(candidate, baseline, n: int, rounds: int = 3) -> tuple[float, float]:
    """ms per face of two TFL models, measured in alternating rounds (the workstation is shared:
    only figures taken side by side compare). Inputs are random, in each model's input shape."""
    import time
    rng = np.random.default_rng(0)
    times = {id(candidate): [], id(baseline): []}
    xs = {id(m): rng.uniform(-1, 1, (n, *m.i["shape"][1:])).astype(np.float32) for m in (candidate, baseline)}
    for m in (candidate, baseline):
        m(xs[id(m)][:3])                            # first invoke is not timed
    for _ in range(rounds):
        for m in (candidate, baseline):
            t = time.perf_counter()
            m(xs[id(m)])
            times[id(m)].append((time.perf_counter() - t) / n * 1000)
    return float(np.median(times[id(candidate)])), float(np.median(times[id(baseline)]))


def export(run: str, n_calib: int = N_CALIB, bench_n: int = 200) -> dict:
    """Convert the best checkpoint of a run to int8, evaluate it, compare with the shipped model."""
    from ..tfl import TFL
    cfg, summary = load_run(run)
    model = device_model(load_model(cfg), cfg)
    train, val = load_data(cfg)
    calib = to_model_input(train.subset(n_calib, SEED).x)
    path = cfg.dir / "model_int8.tflite"
    to_int8(model, calib, path)
    x = to_model_input(val.x)
    keras_rep = report_of(cfg, model.predict(x, batch_size=256, verbose=0), val.y)
    tfl = TFL(path)
    rep = report_of(cfg, tfl(x), val.y)
    base_entry = load_manifest()["models"][BASELINE[cfg.task]]
    base_val, base_side = val, int(base_entry["input"]["size"][0])
    if cfg.task == "age" and cfg.input_shape[0] != base_side:   # the same faces at its own size
        base_val = age_split("heldout", cfg.limit_val, base_side)
    base = baseline_figures(cfg.task, base_val)
    log(f"shipped {base['model']} on the same images: {brief(base['report'])}")
    ms, base_ms = bench_pair(tfl, TFL(OUT / base_entry["file"]), min(bench_n, len(x)))
    base["latency_ms"] = base_ms
    base["latency_note"] = "measured side by side with the candidate in this run"
    size_mb = path.stat().st_size / 1e6
    out = {"run": run, "task": cfg.task, "arch": summary["config"]["arch"], "head": cfg.head,
           "epochs_run": summary.get("epochs_run"), "best_epoch": summary.get("best_epoch"),
           "train_wall_seconds": summary.get("wall_seconds"),
           "validation": ("FER2013 PublicTest, all images" if cfg.task == "emotion" else
                          f"UTKFace dev held-out part, BlazeFace crops margin {age_margin()}"),
           "n_val": len(val), "float": _strip(keras_rep), "int8": _strip(rep),
           "size_mb": size_mb, "latency_ms_x86_1thread": ms,
           "latency_machine": "workstation x86-64 (2 shared cores), tflite-runtime 2.14.0, not the Pi",
           "targets": target_check(cfg.task, rep, size_mb, ms),
           "baseline": {**base, "report": _strip(base["report"])},
           "comparison": beats(cfg.task, rep, base)}
    out["comparison_table"] = comparison_rows(cfg.task, rep, size_mb, ms, base, run)
    write_json(cfg.dir / "report.json", out)
    # the manifest entry `ship` would write (file name and sha256 of this run's file)
    write_json(cfg.dir / "manifest_entry.json",
               manifest_entry(cfg, out, path, base_entry))
    (cfg.dir / "report.md").write_text("\n".join(out["comparison_table"]) + "\n")
    log(f"float: {brief(keras_rep)}")
    log(f"int8 : {brief(rep)} | {size_mb:.2f} MB | {ms:.2f} ms/face")
    for line in out["comparison_table"]:
        log(line)
    log(f"targets all passed: {out['targets']['all_passed']} {out['targets']['passed']}; "
        f"beats the shipped model: {out['comparison']['beats_baseline']} {out['comparison']['checks']}")
    return out


def _strip(rep: dict) -> dict:
    return {k: v for k, v in rep.items() if k != "score"}


# ------------------------------------------------------------------ shipping
def ship(run: str, name: str, gate: bool = True) -> None:
    """Copy a run's int8 model into models_tflite/ under a new manifest name, with metrics and a
    model card, ONLY if its report says it beats the shipped model and fits size and latency.
    gate=False (smoke recipes) skips those checks and is refused outside a trial models folder."""
    cfg, summary = load_run(run)
    report_path = cfg.dir / "report.json"
    if not report_path.exists():
        raise SystemExit(f"{report_path}: missing, run `python -m convert.train export {run}` first")
    rep = json.loads(report_path.read_text())
    if name in BASELINE.values():
        raise SystemExit(f"{name!r} is the borrowed model's name; ship under a new name")
    if not gate:
        require_trial_out("ship without the gate")
    elif not rep["comparison"]["beats_baseline"]:
        raise SystemExit(f"not shipped: {run} does not beat the shipped {cfg.task} model "
                         f"{rep['comparison']['checks']}")
    if gate and not (rep["targets"]["passed"]["size"] and rep["targets"]["passed"]["latency"]):
        raise SystemExit(f"not shipped: {run} is over the size or latency limit {rep['targets']['passed']}")
    dest = OUT / f"{name}_int8.tflite"
    shutil.copy(cfg.dir / "model_int8.tflite", dest)
    base_entry = load_manifest()["models"][BASELINE[cfg.task]]
    entry = manifest_entry(cfg, rep, dest, base_entry)
    update_manifest(name, entry)
    write_json(METRICS / f"{name}.json", {**rep, "command": f"python -m convert.train export {run}"})
    write_card(name, cfg, rep, summary)
    from ..cards import notice
    (OUT / "NOTICE").write_text(notice(load_manifest()))
    log(f"shipped {dest} as manifest model {name!r} (manifest, metrics, card, NOTICE)")


def manifest_entry(cfg: TrainConfig, rep: dict, path, base_entry: dict) -> dict:
    h, w, c = cfg.input_shape
    inp = {"size": [w, h], "color": "gray" if c == 1 else "RGB", "range": [-1.0, 1.0],
           "layout": "NHWC", "dtype": "int8", "resize": "bilinear",
           "crop": base_entry["input"]["crop"]}          # trained on the same framing
    if cfg.task == "emotion":
        inp["gray_from_rgb"] = base_entry["input"].get("gray_from_rgb")
        out = {"labels": EMOTION_LABELS, "activation": "softmax", "dtype": "int8"}
        data = "FER2013 Training split (fer2013-dev.tar.gz train/), research-use terms"
    elif cfg.head == "dldl":
        out = {"decode": "softmax_expectation", "activation": "softmax", "dtype": "int8",
               "values": losses.AGE_VALUES.tolist()}
        data = "UTKFace dev, train part of convert's fixed split, non-commercial research terms"
    else:
        out = {"decode": "regression", "activation": "none", "dtype": "int8",
               "note": "one value: age in years (decoding is inside the graph)"}
        data = "UTKFace dev, train part of convert's fixed split, non-commercial research terms"
    key = "accuracy" if cfg.task == "emotion" else "mae"
    return {"file": path.name, "sha256": sha256_file(path), "task": cfg.task,
            "source": {"trained": "convert/train", "run": cfg.run, "arch": rep["arch"],
                       "head": cfg.head, "data": data},
            "license": "weights trained by the moodbox project; training data terms: " + data,
            "attribution": f"trained with `python -m convert.train {cfg.task}` on {data}",
            "input": inp, "output": out, "quantization": "int8",
            "calibration": {"dataset": "training split", "n": N_CALIB, "seed": SEED},
            "metrics": {"dataset": rep["validation"], "int8": {key: rep["int8"][key]},
                        "details": f"metrics/{path.stem.replace('_int8', '')}.json"}}


def arch_options(cfg: TrainConfig) -> str:
    """--arch KEY of models.ARCHS that builds this run's architecture (+ --width/--depth for another wrn)."""
    from .models import ARCHS
    for key, arch in ARCHS[cfg.task].items():
        if arch == cfg.arch:
            return f"--arch {key}"
    if cfg.arch.name == "wrn":
        return f"--arch wrn --width {cfg.arch.width} --depth {cfg.arch.depth}"
    return f"--arch {cfg.arch.name}"


def train_command(cfg: TrainConfig) -> str:
    """The training command line that reproduces a run's configuration."""
    parts = [f"python -m convert.train {cfg.task}", arch_options(cfg), f"--epochs {cfg.epochs}",
             f"--lr {cfg.lr:g}", f"--batch {cfg.batch}", f"--seed {cfg.seed}", f"--threads {cfg.threads}",
             f"--patience {cfg.patience}", f"--distill {cfg.distill:g}"]
    if cfg.task == "age":
        parts += [f"--head {cfg.head}", f"--balance {cfg.balance:g}", f"--sigma {cfg.sigma:g}"]
        if cfg.input_size:
            parts.append(f"--input-size {cfg.input_size}")
        if cfg.select != "score":
            parts.append(f"--select {cfg.select}")
    else:
        parts += [f"--smoothing {cfg.smoothing:g}", f"--temperature {cfg.temperature:g}",
                  f"--class-power {cfg.class_power:g}"]
    if cfg.max_minutes:
        parts.append(f"--max-minutes {cfg.max_minutes:g}")
    if cfg.stop_after:
        parts.append(f"--stop-after {cfg.stop_after}")
    if cfg.mixup:
        parts.append(f"--mixup {cfg.mixup:g}")
    if cfg.init_from:
        parts.append(f"--init-from {cfg.init_from}")
    return " ".join(parts + [f"--run {cfg.run}"])


def command_chain(cfg: TrainConfig) -> list[str]:
    """The training commands from scratch to this run: each --init-from run first."""
    chain = [cfg]
    while chain[0].init_from and (RUNS / chain[0].init_from / "run.json").exists():
        chain.insert(0, load_run(chain[0].init_from)[0])
    return [train_command(c) for c in chain]


def write_card(name: str, cfg: TrainConfig, rep: dict, summary: dict) -> None:
    cards = OUT / "cards"
    cards.mkdir(exist_ok=True)
    lines = [f"# {name}", "",
             f"Trained by `python -m convert.train {cfg.task}` (run `{cfg.run}`), architecture "
             f"{rep['arch']}, head {cfg.head}; {summary.get('epochs_run')} epochs, best epoch "
             f"{summary.get('best_epoch')}, {summary.get('wall_seconds')} s on the workstation CPU.", "",
             f"Validation: {rep['validation']} (n={rep['n_val']}).", "",
             *rep["comparison_table"], "",
             f"Targets: {rep['targets']['passed']}", "",
             "Commands (each run starts from the best weights of the one before):", "",
             *[f"    {c}" for c in command_chain(cfg)], "",
             f"then `python -m convert.train export {cfg.run}` and "
             f"`python -m convert.train ship {cfg.run} --name {name}`.", "",
             "Caveats: the validation data above also chose the best epoch (early stopping), so the "
             "figures are slightly optimistic; the untouched test data (FER2013 PrivateTest, the "
             "UTKFace hold-out outside the dev archive) was not available here. Trained from scratch "
             "on about 15k (age) / 29k (emotion) pre-cropped internet faces: expect a domain gap on "
             "camera frames.", "",
             "Training data terms: see ../shared/data/README.md (research use). "
             "Frames from the device are never used for training."]
    from ..cards import keep_foreign_sections        # a robustness section stays until measured again
    path = cards / f"{name}.md"
    path.write_text(keep_foreign_sections(path, "\n".join(lines) + "\n"))


def summary_table(task: str) -> list[str]:
    """Markdown table of every exported run of a task (convert/work/train/*/report.json)."""
    from .loop import RUNS
    rows = []
    for path in sorted(RUNS.glob("*/report.json")):
        rep = json.loads(path.read_text())
        if rep["task"] != task:
            continue
        cfg = json.loads((path.parent / "run.json").read_text())["config"]
        r = rep["int8"]
        what = (f"{cfg['arch']['name']} {cfg.get('head', '')}, distill {cfg['distill']}, "
                f"{'subset ' + str(cfg['limit_train']) if cfg['limit_train'] else 'full train'}, "
                f"{rep['epochs_run']} ep, {rep['train_wall_seconds'] or 0:.0f} s")
        fig = (f"{r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['min_recall']:.3f}" if task == "emotion"
               else f"{r['mae']:.3f} | {r['cs5']:.3f} | {r['max_abs_band_bias']:.2f}")
        b = rep["baseline"]["report"]
        base = (f"{b['accuracy']:.4f}" if task == "emotion" else f"{b['mae']:.3f}")
        rows.append(f"| {rep['run']} | {what} | {fig} | {rep['size_mb']:.2f} | "
                    f"{rep['latency_ms_x86_1thread']:.2f} / {rep['baseline']['latency_ms']:.2f} | {base} | "
                    f"{'yes' if rep['comparison']['beats_baseline'] else 'no'} |")
    head = ("| run | what | int8 accuracy | macro-F1 | min recall |" if task == "emotion"
            else "| run | what | int8 MAE | CS5 | max abs band bias |")
    head += " MB | ms/face run / shipped (side by side) | shipped on same images | beats shipped |"
    return [head, "|" + "---|" * (head.count("|") - 1), *rows]
