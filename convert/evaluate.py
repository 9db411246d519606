"""Evaluation of float sources vs shipped int8 TFLite, with quality gates.

python -m convert.evaluate [emotion|age|detector ...]
"""
import sys

import numpy as np

from .common import METRICS, log, nice_self, update_manifest, write_json
from .data import EMOTION_LABELS, emotion_float_input, fer_image, fer_list
from .gates import GATE_EMOTION_ACC_POINTS, GateFailure, bench_ms
from .metrics import classification_report


def _plot_confusions(reps, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(reps), figsize=(6.2 * len(reps), 5.4))
    for ax, (name, rep) in zip(np.atleast_1d(axes), reps.items()):
        cm = np.array(rep["confusion"], float)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.2f}", ha="center", va="center",
                        fontsize=7, color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(EMOTION_LABELS)), EMOTION_LABELS, rotation=45)
        ax.set_yticks(range(len(EMOTION_LABELS)), EMOTION_LABELS)
        ax.set_xlabel("predicted"); ax.set_ylabel("true")
        ax.set_title(f"{name}: acc {rep['accuracy']:.3f}, macro-F1 {rep['macro_f1']:.3f}")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def eval_emotion():
    from .emotion import FLOAT_TFLITE, INT8_TFLITE, load_keras
    from .tfl import TFL
    rows = fer_list("test")
    log(f"emotion: FER2013 PublicTest n={len(rows)}")
    x = emotion_float_input(np.stack([fer_image(p) for p, _ in rows]))
    y = np.array([l for _, l in rows])
    model = load_keras()
    p_keras = model.predict(x, batch_size=256, verbose=0)
    log("keras float done")
    p_float_tfl = TFL(FLOAT_TFLITE)(x)
    log("float32 tflite done")
    int8 = TFL(INT8_TFLITE)
    p_int8 = int8(x)
    log("int8 tflite done")
    reps = {"float": classification_report(y, p_keras.argmax(1), EMOTION_LABELS),
            "int8": classification_report(y, p_int8.argmax(1), EMOTION_LABELS)}
    float_tfl = classification_report(y, p_float_tfl.argmax(1), EMOTION_LABELS)
    agree = float((p_keras.argmax(1) == p_int8.argmax(1)).mean())
    ms_f = bench_ms(TFL(FLOAT_TFLITE), x)
    ms_q = bench_ms(int8, x)
    drop = (reps["float"]["accuracy"] - reps["int8"]["accuracy"]) * 100
    out = {
        "dataset": "FER2013 PublicTest (fer2013-dev.tar.gz test/), all images",
        "preprocessing": "48x48 gray -> 64x64 bilinear -> (x/255 - 0.5) * 2",
        "float": reps["float"], "int8": reps["int8"],
        "float32_tflite_accuracy": float_tfl["accuracy"],
        "top1_agreement_float_vs_int8": agree,
        "max_abs_prob_diff_float_vs_int8": float(np.abs(p_keras - p_int8).max()),
        "accuracy_drop_points": drop,
        "gate": {"max_accuracy_drop_points": GATE_EMOTION_ACC_POINTS,
                 "passed": bool(drop <= GATE_EMOTION_ACC_POINTS)},
        "latency_ms_x86_1thread": {"float32_tflite": ms_f, "int8_tflite": ms_q,
                                   "machine": "workstation x86-64 (2 shared cores), "
                                              "tflite-runtime 2.14.0, not the Pi"},
        "command": "python -m convert.evaluate emotion",
    }
    write_json(METRICS / "emotion.json", out)
    _plot_confusions(reps, METRICS / "emotion_confusion.png",
                     "Emotion on FER2013 PublicTest: Keras float (fer 25.10.3) vs int8 TFLite")
    brief = lambda r: {"accuracy": round(r["accuracy"], 4), "macro_f1": round(r["macro_f1"], 4),
                       "n": r["n"]}
    update_manifest("emotion", metrics={
        "dataset": "FER2013 PublicTest", "float": brief(reps["float"]),
        "int8": brief(reps["int8"]), "accuracy_drop_points": round(drop, 3),
        "details": "metrics/emotion.json"})
    log(f"emotion float acc {reps['float']['accuracy']:.4f} macroF1 {reps['float']['macro_f1']:.4f} | "
        f"int8 acc {reps['int8']['accuracy']:.4f} macroF1 {reps['int8']['macro_f1']:.4f} | "
        f"drop {drop:.2f} pts | agreement {agree:.4f}")
    if drop > GATE_EMOTION_ACC_POINTS:
        raise GateFailure(f"GATE FAILED: emotion int8 loses {drop:.2f} accuracy points "
                          f"(> {GATE_EMOTION_ACC_POINTS})")
    return out


def main(argv=None, record_detector: bool = False):
    """record_detector: convert.build's eval step records the detector study's summary in the
    manifest (the study itself, python -m convert.evaluate detector, writes metrics/ only)."""
    nice_self()
    what = (argv if argv is not None else sys.argv[1:]) or ["emotion", "age", "detector"]
    for w in what:
        if w == "emotion":
            eval_emotion()
        elif w == "age":
            from .age import evaluate as age_eval
            age_eval()
        elif w == "detector":
            from .common import update_manifest
            from .detector_eval import evaluate as det_eval, manifest_metrics
            summary = manifest_metrics(det_eval())
            if record_detector:
                for name, metrics in summary.items():
                    update_manifest(name, metrics=metrics)
        else:
            raise SystemExit(f"unknown evaluation {w}")


if __name__ == "__main__":
    main()
