"""Compare two `moodbox analyze --json` outputs (one JSON object per line): reference vs emulated arm64.

Structure, labels and face counts must be identical; numbers may differ within a tolerance
(int8 kernels can round differently across architectures). Prints the largest differences seen,
per kind of number, so the measured gap can be stated. Exit status 1 when anything is out of bounds.

    python compare_json.py --key-tol probs=0.15 --key-tol age=5 --key-tol box=2 --label-ties x86_64.json aarch64.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def load_lines(path: Path) -> list[Any]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON ({exc.msg}): {line[:120]!r}") from None
    if not records:
        raise SystemExit(f"{path}: no JSON lines")
    return records


class Comparison:
    def __init__(self, tol: float, key_tols: dict[str, float], label_ties: bool = False) -> None:
        self.tol = tol
        self.key_tols = key_tols
        self.label_ties = label_ties
        self.ties: list[str] = []  # labels that differ on a near tie (accepted with --label-ties)
        self.problems: list[str] = []
        self.max_diff: dict[str, float] = {}  # kind of number -> largest difference seen
        self.diffs: dict[str, list[float]] = {}  # kind of number -> every difference (for percentiles)

    def is_near_tie(self, key: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
        """A class that differs only because the numbers it comes from moved within their tolerance:
        an emotion "label" whose two candidates' "probs" are that close in both outputs, or an age
        "group" whose "years" are (39.8 and 40.3 fall on either side of a group boundary). Each class
        must still follow from its own numbers."""
        if not self.label_ties or a.get(key) == b.get(key):
            return False
        from moodbox.readings import age_group

        try:
            if key == "label":  # each label is the top of its own probs, and the two are close in both
                tol = self.key_tols.get("probs", self.tol)
                return (all(float(d["probs"][d["label"]]) == max(map(float, d["probs"].values())) for d in (a, b))
                        and all(abs(float(p[a["label"]]) - float(p[b["label"]])) <= tol for p in (a["probs"], b["probs"])))
            if key == "group":  # each group is the one of its own years, and the years are close
                return (all(age_group(float(d["years"])) == d["group"] for d in (a, b))
                        and abs(float(a["years"]) - float(b["years"])) <= self.key_tols.get("age", self.tol))
        except (KeyError, TypeError, ValueError):
            return False
        return False

    def kind(self, keys: tuple[str, ...]) -> str:
        """The tolerance class of a number: the first key_tols name among its keys, else 'other'."""
        return next((k for k in keys if k in self.key_tols), "other")

    def compare(self, a: Any, b: Any, where: str, keys: tuple[str, ...] = ()) -> None:
        if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
            if a != b:
                self.problems.append(f"{where}: {a!r} != {b!r}")
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
            kind = self.kind(keys)
            diff = abs(float(a) - float(b))
            self.max_diff[kind] = max(self.max_diff.get(kind, 0.0), diff)
            self.diffs.setdefault(kind, []).append(diff)
            if diff > self.key_tols.get(kind, self.tol):
                self.problems.append(f"{where}: {a} vs {b} (difference {diff:.4g} > {self.key_tols.get(kind, self.tol)})")
        elif isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                self.problems.append(f"{where}: keys {sorted(a)} != {sorted(b)}")
                return
            for key in a:
                if self.is_near_tie(key, a, b):
                    self.ties.append(f"{where}.{key}: {a[key]} vs {b[key]}")
                    continue
                self.compare(a[key], b[key], f"{where}.{key}", keys + (key,))
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self.problems.append(f"{where}: {len(a)} items != {len(b)} items")
                return
            for index, (x, y) in enumerate(zip(a, b)):
                self.compare(x, y, f"{where}[{index}]", keys)
        else:
            self.problems.append(f"{where}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--tol", type=float, default=0.02, help="tolerance for numbers without a --key-tol")
    parser.add_argument("--key-tol", action="append", default=[], metavar="KEY=TOL",
                        help="tolerance for numbers under KEY (e.g. age=1.0)")
    parser.add_argument("--label-ties", action="store_true",
                        help="accept a different emotion label when both labels' probabilities are within the probs "
                             "tolerance, and a different age group when the years are within the age tolerance")
    args = parser.parse_args(argv)

    key_tols = {}
    for item in args.key_tol:
        key, _, value = item.partition("=")
        key_tols[key] = float(value)
    reference, other = load_lines(args.reference), load_lines(args.other)
    comparison = Comparison(args.tol, key_tols, args.label_ties)
    if len(reference) != len(other):
        comparison.problems.append(f"{len(reference)} lines != {len(other)} lines")
    for a, b in zip(reference, other):
        label = a.get("path", "?") if isinstance(a, dict) else "?"
        comparison.compare(a, b, str(label))

    faces = sum(len(r.get("faces", [])) for r in reference if isinstance(r, dict))
    for problem in comparison.problems:
        print(f"MISMATCH {problem}")
    for tie in comparison.ties:
        print(f"near tie, accepted: {tie}")
    spread = "; ".join(f"{kind} {percentile(values, 50):.3g} / {percentile(values, 99):.3g} / {max(values):.3g}"
                       for kind, values in sorted(comparison.diffs.items()))
    print(f"differences per number (median / 99th percentile / largest): {spread}")
    diffs = ", ".join(f"{kind} {diff:.4g}" for kind, diff in sorted(comparison.max_diff.items()))
    verdict = "FAIL" if comparison.problems else "ok"
    ties = f"; {len(comparison.ties)} class(es) flipped on a near tie" if comparison.ties else ""
    print(f"{verdict}: {len(reference)} images, {faces} faces; largest differences: {diffs or 'none'}{ties}")
    return 1 if comparison.problems else 0


if __name__ == "__main__":
    sys.exit(main())
