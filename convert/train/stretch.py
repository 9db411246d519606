"""Age end-bias fix without retraining: a linear stretch of the predicted years around 50,

    age' = 50 + shift + scale * (age - 50)

A model that regresses to the mean (teenagers read too old, people over 60 too young) gets
scale > 1. The device computes age = sum_i p_i * values_i, so the stretch is exact when applied
to the manifest's values table: the result ships as a new entry that points at the SAME .tflite
file (and, with --flip, an ensemble entry that also averages the mirrored crop).

    python -m convert.train stretch-age --model age_wrn80 --ship age_wrn80_stretch --drop-base   # the default

The two numbers are chosen on the UTKFace validation split (the only held-out faces here; a fit
on the train part does not transfer, the net fits its own training faces too well) with the
training selection score: MAE plus every year of worst band bias beyond 3. The figures reported
are 2-fold cross-fitted (each half corrected with the stretch chosen on the other half, fixed
seeded halves), so they are not tuned on the images they are measured on; the shipped stretch
is then chosen on the whole split.
"""
from __future__ import annotations

import numpy as np

from ..common import (METRICS, OUT, SEED, load_manifest, log, remove_manifest_entry, require_trial_out, update_manifest,
                      write_json)
from ..metrics import years_report

PIVOT = 50.0
SCALES = np.round(np.arange(1.0, 1.2001, 0.01), 2)
SHIFTS = np.round(np.arange(-4.0, 4.0001, 0.25), 2)


def stretched(years: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """The stretch, never below 0 years (for the values table: exact while no value is clipped,
    and the device's expectation of clipped values differs from the clipped expectation only by
    the probability on the clipped youngest bins times at most a year)."""
    return np.maximum(PIVOT + shift + scale * (years - PIVOT), 0.0)


def score(years: np.ndarray, ages: np.ndarray) -> float:
    return -years_report(years, ages)["score"]          # lower is better here


def choose(years: np.ndarray, ages: np.ndarray) -> tuple[float, float]:
    """The (scale, shift) of the grid with the best selection score on these images."""
    grid = [(float(a), float(b)) for a in SCALES for b in SHIFTS]
    return min(grid, key=lambda g: (score(stretched(years, *g), ages), abs(g[0] - 1) + abs(g[1])))


def fold_parts(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The two fixed, seeded halves of n validation images."""
    half = np.random.default_rng(SEED).random(n) < 0.5
    return half, ~half


def cross_fitted(years: np.ndarray, ages: np.ndarray) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Each half stretched with the (scale, shift) chosen on the other half."""
    chosen = [choose(years[~part], ages[~part]) for part in fold_parts(len(ages))]
    return with_fold_stretches(years, chosen), chosen


def with_fold_stretches(years: np.ndarray, chosen: list[tuple[float, float]]) -> np.ndarray:
    """Each half stretched with its own (scale, shift): another reading of the same faces (the model
    without flip) measured with the stretches cross_fitted chose."""
    out = np.empty_like(years)
    for part, g in zip(fold_parts(len(years)), chosen):
        out[part] = stretched(years[part], *g)
    return out


def _brief(rep: dict) -> dict:
    return {"mae": round(rep["mae"], 3), "cs5": round(rep["cs5"], 3),
            "max_abs_band_bias": round(rep["max_abs_band_bias"], 2),
            "bands": {k: round(b["mean_signed_error"], 2) for k, b in rep["bands"].items()}}


def _line(label: str, rep: dict) -> str:
    bands = " | ".join(f"{b['mean_signed_error']:+.2f}" for b in rep["bands"].values())
    return f"| {label} | {rep['mae']:.3f} | {rep['cs5']:.3f} | {bands} |"


def stretch_age(model: str = "age_wrn80", flip: bool = False, ship_as: str | None = None,
                drop_base: bool = False, gate: bool = True, limit_val: int | None = None) -> dict:
    """gate=False (smoke recipes, trial models folder only) ships a stretch that does not improve;
    limit_val: a fixed subset of the validation split (smoke recipes)."""
    from .datasets import age_split
    from .members import Member
    entry = load_manifest()["models"].get(model)
    if entry is None or entry.get("ensemble") or entry.get("task") != "age":
        raise SystemExit(f"{model!r}: give a single age model of models_tflite/manifest.json")
    if entry["output"].get("decode", "softmax_expectation") != "softmax_expectation":
        raise SystemExit(f"{model}: only a softmax_expectation age model has a values table to stretch")
    member = Member(model)
    val = age_split("heldout", limit_val, size=member.size)
    ages = val.y.astype(np.float64)
    single = member.predict(val.x, False).astype(np.float64)
    years = 0.5 * (single + member.predict(val.x, True)) if flip else single
    label = model + (" (+flip)" if flip else "")
    before = years_report(years, ages)
    crossed, fold_choices = cross_fitted(years, ages)
    after = years_report(crossed, ages)
    scale, shift = choose(years, ages)
    in_sample = years_report(stretched(years, scale, shift), ages)
    table = ["| model | MAE | CS5 | bias 0-12 | bias 13-19 | bias 20-39 | bias 40-59 | bias 60+ |",
             "|---|---|---|---|---|---|---|---|",
             _line(label, before),
             _line(f"{label}, stretched, 2-fold cross-fitted", after),
             _line(f"{label}, stretch chosen on all of it (in-sample)", in_sample)]
    single_figures = None
    if flip:      # the stretched file alone (no flip) is shipped too: its own figures, same stretches
        single_figures = {"before": years_report(single, ages),
                          "cross_fitted": years_report(with_fold_stretches(single, fold_choices), ages)}
        table += [_line(f"{model} alone (no flip)", single_figures["before"]),
                  _line(f"{model} alone, the same stretches, 2-fold cross-fitted", single_figures["cross_fitted"])]
    for line in table:
        log(line)
    log(f"stretch on all images: scale {scale:.2f} shift {shift:+.2f}; per half {fold_choices}")
    out = {"model": model, "flip": flip, "pivot": PIVOT, "scale": scale, "shift": shift,
           "fold_choices": [list(g) for g in fold_choices], "n_val": len(ages),
           "validation": "UTKFace dev held-out part, device-like crops, int8 TFLite",
           "before": _brief(before), "cross_fitted": _brief(after), "in_sample": _brief(in_sample),
           "single": {k: _brief(v) for k, v in single_figures.items()} if single_figures else None,
           "table": table,
           "command": f"python -m convert.train stretch-age --model {model}" + (" --flip" if flip else "")
                      + (f" --ship {ship_as}" if ship_as else "") + (" --drop-base" if ship_as and drop_base else "")}
    if ship_as:
        if not gate:
            require_trial_out("stretch-age without the gate")
        elif -after["score"] >= -before["score"]:
            raise SystemExit(f"not shipped: the cross-fitted stretch does not improve {label}'s "
                             f"selection score ({-before['score']:.3f} -> {-after['score']:.3f})")
        ship(ship_as, model, entry, out, drop_base)
        if drop_base:  # the stretched entry keeps the file; the unstretched one leaves the manifest
            remove_manifest_entry(model)
            log(f"manifest model {model!r} removed (its file stays, {ship_as!r} uses it)")
    return out


def ship(name: str, model: str, entry: dict, out: dict, drop_base: bool = False) -> None:
    """`name`: the model's file with stretched values; with flip also `name`_flip, the ensemble."""
    values = stretched(np.asarray(entry["output"]["values"], np.float64), out["scale"], out["shift"])
    flipped = f"{name}_flip" if out["flip"] else None

    def metrics(fig: dict) -> dict:
        return {"dataset": "UTKFace dev held-out part, 2-fold cross-fitted",
                "int8": {"mae": fig["mae"], "bands": fig["bands"]}}

    add_values_entry(
        name, entry, values, out,
        description=(f"{model}'s file, its values table stretched around {PIVOT:g} years "
                     f"(x{out['scale']:.2f}, {out['shift']:+.2f} y) against its end-of-range bias"),
        made_by={"stretch": {"of": model, "pivot": PIVOT, "scale": out["scale"], "shift": out["shift"],
                             "chosen_on": "UTKFace dev held-out part"}},
        metrics=metrics(out["single"]["cross_fitted"] if flipped else out["cross_fitted"]))
    names = [name]
    if flipped:
        update_manifest(flipped, {"task": "age", "ensemble": {"members": [name], "weights": [1.0], "flip": True},
                                  "description": f"{name} on the crop and on its mirror image, averaged",
                                  "metrics": {**metrics(out["cross_fitted"]), "details": f"metrics/{flipped}.json"}})
        write_json(METRICS / f"{flipped}.json", out)
        names.append(flipped)
    write_card(names, out, drop_base)
    log(f"manifest models {', '.join(names)} added (the file of {model!r}, new values table)")


def write_card(names: list[str], out: dict, drop_base: bool = False) -> None:
    """The stretched model's card; with drop_base the base model's card becomes a section of it."""
    lines = [f"# {' / '.join(names)}", "",
             f"`{names[0]}`: the file of `{out['model']}` "
             + ("(the network, below)" if drop_base else f"(see cards/{out['model']}.md)") + " with its values table "
             f"stretched around {out['pivot']:g} years: age' = {out['pivot']:g} {out['shift']:+.2f} + "
             f"{out['scale']:.2f} x (age - {out['pivot']:g}). A fix for the bias at the ends of the age range "
             "without retraining."
             + (f" `{names[1]}`: the same on the crop and its mirror image, averaged (two runs per face)."
                if len(names) > 1 else ""), "",
             f"Validation: {out['validation']}, n={out['n_val']}. The stretch is chosen on this split by the "
             "training selection score (MAE + every year of worst band bias beyond 3); the cross-fitted row "
             "is the honest figure (each half corrected with the stretch chosen on the other half: "
             f"{out['fold_choices']}).", "",
             *out["table"], "",
             f"Command: `{out['command']}`."]
    cards = OUT / "cards"
    cards.mkdir(exist_ok=True)
    base = cards / f"{out['model']}.md"
    if drop_base and base.exists():
        lines += ["", f"## The network: {out['model']}", *base.read_text().splitlines()[1:]]
        base.unlink()
        (METRICS / f"{out['model']}.json").unlink(missing_ok=True)
    from ..cards import keep_foreign_sections        # a robustness section stays until measured again
    for n in names:
        (cards / f"{n}.md").write_text(keep_foreign_sections(cards / f"{n}.md", "\n".join(lines) + "\n"))


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
