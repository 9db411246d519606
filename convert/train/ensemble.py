"""Ensembles and test-time flip averaging of int8 models, on the same validation images.

    python -m convert.train ensemble emotion --members emotion emotion-resnet-ft1
    python -m convert.train ensemble age --members age age_wrn --weights 1 2

A member is a manifest model name (models_tflite/) or a training run with an exported
model_int8.tflite (convert/work/train/RUN). Every non-empty subset of the members is evaluated
with and without flip averaging: probabilities (emotion) or years (age) are averaged, weighted
by --weights. Cost per face is the sum of the members' times, doubled with flips, measured side
by side on one thread. Writes convert/work/train/ensembles/<task>.{json,md}.

    python -m convert.train ensemble emotion --members emotion emotion_cnn --flip --ship emotion_mix

adds an evaluated ensemble of manifest models to the manifest (no file of its own; the device
averages its members, see device/moodbox/perception/classifiers.py), with metrics and NOTICE,
only if it beats the shipped model alone on the same images.
"""
from __future__ import annotations

import itertools
import json

import numpy as np

from ..common import OUT, load_manifest, log, write_json
from ..metrics import years_report
from .export import beats, target_check
from .loop import RUNS, emotion_report
from .members import Member, combine


def report(task: str, out: np.ndarray, y: np.ndarray) -> dict:
    rep = emotion_report(out, y) if task == "emotion" else years_report(out, y)
    return {k: v for k, v in rep.items() if k != "score"}


def passes(task: str, rep: dict, ms: float) -> bool:
    """All project targets; an ensemble has no file of its own (its members' sizes are checked alone)."""
    return target_check(task, rep, 0.0, ms)["all_passed"]


def row(task: str, label: str, rep: dict, ms: float) -> str:
    if task == "emotion":
        return (f"| {label} | {rep['accuracy']:.4f} | {rep['macro_f1']:.4f} | {rep['min_recall']:.3f} | "
                f"{ms:.2f} | {'yes' if passes(task, rep, ms) else 'no'} |")
    bands = " | ".join(f"{b['mean_signed_error']:+.2f}" for b in rep["bands"].values())
    return (f"| {label} | {rep['mae']:.3f} | {rep['cs5']:.3f} | {bands} | {ms:.2f} | "
            f"{'yes' if passes(task, rep, ms) else 'no'} |")


def header(task: str) -> list[str]:
    if task == "emotion":
        head = "| members | accuracy | macro-F1 | min class recall | ms/face (x86, 1 thread) | all targets |"
    else:
        head = ("| members | MAE | CS5 | bias 0-12 | bias 13-19 | bias 20-39 | bias 40-59 | bias 60+ | "
                "ms/face (x86, 1 thread) | all targets |")
    return [head, "|" + "---|" * (head.count("|") - 1)]


def evaluate(task: str, names: list[str], weights: list[float] | None = None) -> dict:
    from .datasets import age_split, emotion_split
    weights = weights or [1.0] * len(names)
    if len(weights) != len(names):
        raise SystemExit(f"{len(weights)} weights for {len(names)} members")
    members = [Member(n) for n in names]
    for m in members:
        if m.task != task:
            raise SystemExit(f"{m.name} is a {m.task} model, not {task}")
    if task == "emotion":
        val = emotion_split("test")
        inputs = {m.name: val.x for m in members}
    else:   # the same faces, each age member's crops cut at its own input size
        splits = {side: age_split("heldout", size=side) for side in sorted({m.size for m in members})}
        val = next(iter(splits.values()))
        inputs = {m.name: splits[m.size].x for m in members}
    log(f"{task}: {len(val)} validation images, members {', '.join(names)}")
    outputs: dict[tuple[str, bool], np.ndarray] = {}
    for m in members:
        for flip in (False, True):
            outputs[(m.name, flip)] = m.predict(inputs[m.name], flip)
            log(f"  {m.name}{' flipped' if flip else ''}: {len(val)} images")
    ms = {m.name: m.ms_per_face(inputs[m.name]) for m in members}
    rows, results = header(task), []
    for k in range(1, len(members) + 1):
        for subset in itertools.combinations(range(len(members)), k):
            for flip in (False, True):
                picked = [members[i].name for i in subset]
                outs = [outputs[(n, False)] for n in picked]
                if flip:
                    outs = [0.5 * (o + outputs[(n, True)]) for o, n in zip(outs, picked)]
                rep = report(task, combine(outs, [weights[i] for i in subset]), val.y)
                cost = sum(ms[n] for n in picked) * (2 if flip else 1)
                label = " + ".join(f"{n}" + (f" x{weights[i]:g}" if len(set(weights)) > 1 else "")
                                   for n, i in zip(picked, subset)) + (" (+flip)" if flip else "")
                results.append({"members": picked, "weights": [weights[i] for i in subset], "flip": flip,
                                "report": rep, "ms_per_face": cost, "all_targets": passes(task, rep, cost)})
                rows.append(row(task, label, rep, cost))
                log(rows[-1])
    out = {"task": task, "n_val": len(val), "ms_per_member": ms, "results": results, "table": rows,
           "machine": "workstation x86-64 (2 shared cores), tflite-runtime 2.14.0, 1 thread",
           "command": f"python -m convert.train ensemble {task} --members {' '.join(names)}"
                      + (f" --weights {' '.join(f'{w:g}' for w in weights)}" if len(set(weights)) > 1 else "")}
    folder = RUNS / "ensembles"
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / f"{task}.json", out)
    (folder / f"{task}.md").write_text("\n".join(rows) + "\n")
    log(f"-> {folder / task}.json / .md")
    return out


def ship(task: str, name: str, members: list[str], flip: bool) -> None:
    """Add the evaluated ensemble `members` (+flip) to the manifest as `name`: only manifest models
    can be members, and only if it beats the shipped model alone on the same images."""
    from ..cards import notice
    from ..common import METRICS
    from .export import BASELINE
    path = RUNS / "ensembles" / f"{task}.json"
    if not path.exists():
        raise SystemExit(f"{path}: missing, run `python -m convert.train ensemble {task} --members ...` first")
    data = json.loads(path.read_text())
    models = load_manifest()["models"]
    unknown = [m for m in members if m not in models]
    if unknown:
        raise SystemExit(f"ship the members first ({', '.join(unknown)} not in the manifest)")
    pick = [r for r in data["results"] if r["members"] == members and r["flip"] == flip]
    base = [r for r in data["results"] if r["members"] == [BASELINE[task]] and not r["flip"]]
    if not pick or not base:
        raise SystemExit(f"{path} has no result for {members} flip={flip} and the shipped "
                         f"{BASELINE[task]} alone: evaluate them together first")
    rep, b = pick[0]["report"], base[0]["report"]
    better = beats(task, rep, {"report": b})
    if not better["beats_baseline"]:
        raise SystemExit(f"not shipped: the ensemble does not beat the shipped {BASELINE[task]} {better['checks']}")
    key = "accuracy" if task == "emotion" else "mae"
    entry = {"task": task,
             "ensemble": {"members": members, "weights": pick[0]["weights"], "flip": flip},
             "description": ((f"{members[0]} on the crop and on its mirror image, averaged" if len(members) == 1 else
                              f"average of {' + '.join(members)}" + (", each also on the mirrored crop" if flip else ""))
                             + f": {pick[0]['ms_per_face']:.1f} ms/face on the x86 workstation, 1 thread"),
             "metrics": {"dataset": "FER2013 PublicTest, all images" if task == "emotion"
                         else "UTKFace dev held-out part", "int8": {key: rep[key]},
                         "details": f"metrics/{name}.json"}}
    from ..common import update_manifest
    update_manifest(name, entry)
    write_json(METRICS / f"{name}.json", {"task": task, "name": name, "ensemble": entry["ensemble"],
                                           "report": rep, "baseline": b, "ms_per_face": pick[0]["ms_per_face"],
                                           "all_targets": pick[0]["all_targets"], "table": data["table"],
                                           "machine": data["machine"], "command": data["command"]})
    (OUT / "NOTICE").write_text(notice(load_manifest()))
    write_card(name, entry, data, pick[0])
    log(f"manifest model {name!r}: {entry['description']} ({key} {rep[key]:.4f}, shipped alone {b[key]:.4f})")


def write_card(name: str, entry: dict, data: dict, result: dict) -> None:
    """models_tflite/cards/<name>.md: what the ensemble is, and every combination measured with it."""
    members = ", ".join(f"`{m}` (cards/{m}.md)" for m in entry["ensemble"]["members"])
    lines = [f"# {name}", "",
             f"An ensemble entry of models_tflite/manifest.json: {entry['description']}. No file of its own; "
             f"members: {members}, weights {entry['ensemble']['weights']}, flip {entry['ensemble']['flip']}.", "",
             f"Validation: {entry['metrics']['dataset']}, n={data['n_val']}, int8 members with tflite-runtime; "
             f"cost per face = the members' times added (doubled with flip), {data['machine']}.", "",
             "Every combination measured in the same run (the shipped borrowed model alone is the first row):", "",
             *data["table"], "",
             f"Meets all project targets: {'yes' if result['all_targets'] else 'no'}.", "",
             f"Commands: `{data['command']}`, then `python -m convert.train ensemble {entry['task']} --members "
             f"{' '.join(entry['ensemble']['members'])}{' --flip' if entry['ensemble']['flip'] else ''} --ship {name}`."]
    cards = OUT / "cards"
    cards.mkdir(exist_ok=True)
    (cards / f"{name}.md").write_text("\n".join(lines) + "\n")
