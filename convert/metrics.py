"""numpy-only metric code (no sklearn)."""
import numpy as np

AGE_BANDS = [("0-12", 0, 12), ("13-19", 13, 19), ("20-39", 20, 39), ("40-59", 40, 59),
             ("60+", 60, 10 ** 6)]


def confusion(y_true, y_pred, k):
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm  # rows = true, cols = predicted


def classification_report(y_true, y_pred, labels):
    k = len(labels)
    cm = confusion(y_true, y_pred, k)
    tp = np.diag(cm).astype(float)
    support = cm.sum(1)
    predicted = cm.sum(0)
    prec = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    rec = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(k), where=(prec + rec) > 0)
    return {
        "n": int(cm.sum()),
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "macro_f1": float(f1.mean()),
        "per_class": {lab: {"precision": float(prec[i]), "recall": float(rec[i]),
                            "f1": float(f1[i]), "support": int(support[i])}
                      for i, lab in enumerate(labels)},
        "confusion": cm.tolist(),
    }


def age_report(y_true, y_pred):
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    err = p - t
    out = {"n": int(t.size), "mae": float(np.abs(err).mean()),
           "cs5": float((np.abs(err) <= 5).mean()),
           "mean_signed_error": float(err.mean()), "bands": {}}
    for name, lo, hi in AGE_BANDS:
        m = (t >= lo) & (t <= hi)
        out["bands"][name] = {"n": int(m.sum()),
                              "mae": float(np.abs(err[m]).mean()) if m.any() else None,
                              "mean_signed_error": float(err[m].mean()) if m.any() else None,
                              "cs5": float((np.abs(err[m]) <= 5).mean()) if m.any() else None}
    return out


def years_report(years: np.ndarray, y: np.ndarray) -> dict:
    """age_report of predicted years, with the worst band bias and 'score'."""
    rep = age_report(y, years)
    rep["max_abs_band_bias"] = max(abs(b["mean_signed_error"]) for b in rep["bands"].values()
                                   if b["mean_signed_error"] is not None)
    # selection follows the targets: MAE, plus every year of worst band bias beyond 3
    rep["score"] = -(rep["mae"] + max(0.0, rep["max_abs_band_bias"] - 3.0))
    return rep
