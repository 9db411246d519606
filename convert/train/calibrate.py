"""Age calibration map for a softmax-expectation model: refit its values table.

The device computes age = sum_i p_i * values_i (manifest output.values). A model that
regresses to the mean (the shipped dlib net: +6 years for teenagers, -10 for 60+) can be
corrected without retraining by choosing new values: minimize, over the UTKFace TRAIN part,
    sum_n w_n * |p_n . v - age_n|  +  lam * ||second difference of v||^2
(IRLS for the L1 term; w_n flattens the age histogram with power `balance` so the rare ends
count), then make v non-decreasing. lam and balance are picked on a fixed 80/20 split of the
train part; the held-out part is only used for the final figures. The result ships as a new
manifest entry that points at the SAME .tflite file with the new values (the model is unchanged).

    python -m convert.train calibrate-age [--model age] [--ship age_calibrated]
"""
from __future__ import annotations

import numpy as np

from ..common import METRICS, OUT, WORK, load_manifest, log, update_manifest, write_json
from ..metrics import years_report
from .datasets import probabilities
from .losses import age_balance_weights

LAMBDAS = (0.1, 1.0, 10.0)
BALANCES = (0.0, 0.25, 0.5)


def fit_values(p: np.ndarray, ages: np.ndarray, start: np.ndarray, lam: float, balance: float,
               iterations: int = 30) -> np.ndarray:
    """IRLS for the weighted L1 fit with a smoothness penalty; monotone, within [0, 116]."""
    k = p.shape[1]
    d2 = np.diff(np.eye(k), 2, axis=0)
    reg = lam * d2.T @ d2
    w = age_balance_weights(ages, balance).astype(np.float64)
    v = start.astype(np.float64).copy()
    for _ in range(iterations):
        r = np.abs(p @ v - ages)
        a = w / np.maximum(r, 0.5)                 # L1 as reweighted least squares
        lhs = (p * a[:, None]).T @ p + reg + 1e-6 * np.eye(k)
        v = np.linalg.solve(lhs, (p * a[:, None]).T @ ages + 1e-6 * start)
    return np.clip(np.maximum.accumulate(v), 0.0, 116.0)


def choose(p: np.ndarray, ages: np.ndarray, start: np.ndarray) -> tuple[float, float, dict]:
    """Pick lam and balance on a fixed 80/20 split of the train part (lowest MAE among the
    settings whose worst band bias is within 3 years, else the lowest worst band bias)."""
    rng = np.random.default_rng(20261121)
    dev = rng.random(len(ages)) < 0.2
    results = {}
    for lam in LAMBDAS:
        for balance in BALANCES:
            v = fit_values(p[~dev], ages[~dev], start, lam, balance)
            rep = years_report(p[dev] @ v, ages[dev])
            results[f"lam={lam},balance={balance}"] = {"mae": rep["mae"], "max_abs_band_bias": rep["max_abs_band_bias"]}
            log(f"  lam {lam:5} balance {balance:4}: dev MAE {rep['mae']:.3f} "
                f"max|band bias| {rep['max_abs_band_bias']:.2f}")
    ok = {k: r for k, r in results.items() if r["max_abs_band_bias"] <= 3.0}
    best = min(ok, key=lambda k: ok[k]["mae"]) if ok else \
        min(results, key=lambda k: results[k]["max_abs_band_bias"])
    lam, balance = (float(part.split("=")[1]) for part in best.split(","))
    return lam, balance, results


def calibrate(name: str = "age", ship_as: str | None = None) -> dict:
    from .export import baseline_figures, beats, comparison_rows, target_check
    entry = load_manifest()["models"][name]
    if entry["output"].get("decode", "softmax_expectation") != "softmax_expectation":
        raise SystemExit(f"{name}: only a softmax_expectation age model has a values table to refit")
    start = np.asarray(entry["output"]["values"], np.float64)
    p_train, y_train = probabilities(name, "train")
    log(f"fitting the values table of {name!r} on {len(y_train)} train-part crops")
    lam, balance, grid = choose(p_train, y_train, start)
    values = fit_values(p_train, y_train, start, lam, balance)
    p_val, y_val = probabilities(name, "heldout")
    before = years_report(p_val @ start, y_val)
    after = years_report(p_val @ values, y_val)
    # the baseline is the same model with its own values, measured here on the same crops
    size_mb = (OUT / entry["file"]).stat().st_size / 1e6
    ms = baseline_figures("age")["latency_ms"] if name == "age" else float("nan")
    base = {"model": name, "report": before, "size_mb": size_mb, "latency_ms": ms}
    out = {"model": name, "file": entry["file"], "chosen": {"lam": lam, "balance": balance},
           "grid_on_train_dev_split": grid, "values": [round(float(v), 3) for v in values],
           "validation": "UTKFace dev held-out part, device-like crops, int8 TFLite",
           "n_val": len(y_val), "before": _strip(before), "after": _strip(after),
           "targets": target_check("age", after, size_mb, ms),
           "comparison": beats("age", after, base),
           "comparison_table": comparison_rows("age", after, size_mb, ms, base, f"{name} + calibrated values"),
           "command": f"python -m convert.train calibrate-age --model {name}"
                      + (f" --ship {ship_as}" if ship_as else "")}
    write_json(WORK / "train" / f"calibrate_{name}.json", out)
    log(f"held-out before: MAE {before['mae']:.3f} max|band bias| {before['max_abs_band_bias']:.2f}; "
        f"after: MAE {after['mae']:.3f} max|band bias| {after['max_abs_band_bias']:.2f}")
    for line in out["comparison_table"]:
        log(line)
    if ship_as:
        if not out["comparison"]["beats_baseline"]:
            raise SystemExit(f"not shipped: the calibrated values do not beat {name!r} {out['comparison']['checks']}")
        add_values_entry(
            ship_as, entry, values, out,
            description=f"{name}'s file, its values table refit on the UTKFace train part (calibration map)",
            made_by={"calibration_map": {"of": name, "method": "IRLS L1 + smoothness, monotone",
                                         "lam": lam, "balance": balance, "data": "UTKFace dev train part"}},
            metrics={"dataset": "UTKFace dev held-out part (20%, hash rule)",
                     "int8": {"mae": round(after["mae"], 3),
                              "mean_signed_error": round(after["mean_signed_error"], 3),
                              "bands": {k: round(b["mean_signed_error"], 3) for k, b in after["bands"].items()}}})
        log(f"manifest model {ship_as!r} added (same file as {name!r}, new values table)")
    return out


def add_values_entry(name: str, entry: dict, values: np.ndarray, details: dict, description: str,
                     made_by: dict, metrics: dict) -> None:
    """Add manifest model `name`: the file and settings of `entry` with a new values table.
    made_by: the key(s) that say how the values were made; details: metrics/<name>.json. NOTICE
    is written again."""
    from ..cards import notice
    new = {k: v for k, v in entry.items() if k not in ("metrics", "description")}
    new["description"] = description
    new["output"] = {**entry["output"], "values": [round(float(v), 3) for v in values]}
    new.update(made_by)
    new["metrics"] = {**metrics, "details": f"metrics/{name}.json"}
    update_manifest(name, new)
    write_json(METRICS / f"{name}.json", details)
    (OUT / "NOTICE").write_text(notice(load_manifest()))


def _strip(rep: dict) -> dict:
    return {k: v for k, v in rep.items() if k != "score"}
