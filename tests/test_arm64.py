"""The arm64 emulation check (tests/arm64/run.sh) and its helpers.

The helpers are tested on every run, on real `moodbox analyze --json` output from the shipped models.
The emulated run itself takes many minutes and needs root: only with MOODBOX_ARM64=1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moodbox.config import REPO_ROOT

ARM64 = REPO_ROOT / "tests" / "arm64"
COMPARE = ARM64 / "compare_json.py"
SAMPLE = ARM64 / "sample_faces.py"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
FACES = REPO_ROOT / "device" / "moodbox" / "data" / "faces"


@pytest.fixture(scope="module")
def analyze_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host's `moodbox analyze --json` on the bundled faces (the reference run.sh compares with)."""
    result = subprocess.run([sys.executable, "-m", "moodbox.cli", "analyze", "--json", str(FACES)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    path = tmp_path_factory.mktemp("analyze") / "x86_64.json"
    path.write_text(result.stdout)
    return path


def compare(reference: Path, other: Path) -> subprocess.CompletedProcess[str]:
    """compare_json.py with run.sh's default tolerances."""
    return subprocess.run([sys.executable, str(COMPARE), "--tol", "0.02", "--key-tol", "probs=0.15",
                           "--key-tol", "age=5", "--key-tol", "box=2", "--label-ties", str(reference), str(other)],
                          capture_output=True, text=True, timeout=60)


def edited(source: Path, target: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    records = [json.loads(line) for line in source.read_text().splitlines()]
    edit(records)
    target.write_text("".join(json.dumps(r) + "\n" for r in records))
    return target


def first_face(records: list[dict]) -> dict:
    return next(r["faces"][0] for r in records if r.get("faces"))


def test_identical_outputs_match(analyze_output: Path) -> None:
    records = [json.loads(line) for line in analyze_output.read_text().splitlines()]
    faces = sum(len(r["faces"]) for r in records)
    assert faces >= 1, "the bundled faces must give at least one face to compare"
    result = compare(analyze_output, analyze_output)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith(f"ok: {len(records)} images, {faces} faces")
    assert "probs 0 / 0 / 0" in result.stdout  # no difference at all: median, 99th percentile and largest


def test_small_differences_within_tolerance_pass(analyze_output: Path, tmp_path: Path) -> None:
    def nudge(records: list[dict]) -> None:
        face = first_face(records)
        face["age"]["years"] += 4.0
        label = face["emotion"]["label"]
        face["emotion"]["probs"][label] -= 0.14
        face["box"][0] += 1

    result = compare(analyze_output, edited(analyze_output, tmp_path / "nudged.json", nudge))
    assert result.returncode == 0, result.stdout
    assert "age 4" in result.stdout and "box 1" in result.stdout and "probs 0.14" in result.stdout  # gaps reported


def test_a_label_flipped_on_a_near_tie_is_accepted_and_reported(analyze_output: Path, tmp_path: Path) -> None:
    def near_tie(records: list[dict]) -> None:
        for record in records:  # a tie in both files: the top two classes 0.05 apart
            for face in record["faces"]:
                face["emotion"].update(label="happy", probs={e: 0.0 for e in face["emotion"]["probs"]})
                face["emotion"]["probs"].update(happy=0.5, sad=0.45)

    reference = edited(analyze_output, tmp_path / "tie.json", near_tie)
    flipped = edited(reference, tmp_path / "flipped.json",
                     lambda r: first_face(r)["emotion"].update(label="sad", probs={**first_face(r)["emotion"]["probs"],
                                                                                  "happy": 0.44, "sad": 0.51}))
    result = compare(reference, flipped)
    assert result.returncode == 0, result.stdout
    assert "near tie, accepted" in result.stdout and "1 class(es) flipped" in result.stdout


def test_an_age_group_flipped_at_a_boundary_is_accepted(analyze_output: Path, tmp_path: Path) -> None:
    def at_boundary(records: list[dict], years: float, group: str) -> None:
        first_face(records)["age"].update(years=years, group=group)

    reference = edited(analyze_output, tmp_path / "a.json", lambda r: at_boundary(r, 39.8, "young_adult"))
    other = edited(analyze_output, tmp_path / "b.json", lambda r: at_boundary(r, 40.3, "adult"))
    result = compare(reference, other)
    assert result.returncode == 0, result.stdout
    assert "age.group: young_adult vs adult" in result.stdout


@pytest.mark.parametrize("what, edit, expected", [
    ("age beyond 5 years", lambda f: f["age"].update(years=f["age"]["years"] + 6.0), "age.years"),
    ("probability beyond 0.15", lambda f: f["emotion"]["probs"].update(
        {f["emotion"]["label"]: f["emotion"]["probs"][f["emotion"]["label"]] - 0.2}), "emotion.probs"),
    ("another age group, same years", lambda f: f["age"].update(group="senior" if f["age"]["group"] != "senior"
                                                                else "child"), "age.group"),
    ("another label, no tie", lambda f: f["emotion"].update(label="fear" if f["emotion"]["label"] != "fear" else "sad"),
     "emotion.label"),
    ("a box moved 3 pixels", lambda f: f["box"].__setitem__(1, f["box"][1] + 3), "box[1]"),
    ("the face score beyond 0.02", lambda f: f.update(score=f["score"] - 0.05), "score"),
])
def test_differences_beyond_tolerance_fail(analyze_output: Path, tmp_path: Path, what: str, edit, expected: str) -> None:  # type: ignore[no-untyped-def]
    result = compare(analyze_output, edited(analyze_output, tmp_path / "changed.json", lambda r: edit(first_face(r))))
    assert result.returncode == 1, f"{what}: {result.stdout}"
    assert "MISMATCH" in result.stdout and expected in result.stdout


def test_a_missing_face_fails(analyze_output: Path, tmp_path: Path) -> None:
    def drop(records: list[dict]) -> None:
        next(r for r in records if r.get("faces"))["faces"].pop()

    result = compare(analyze_output, edited(analyze_output, tmp_path / "dropped.json", drop))
    assert result.returncode == 1
    assert "items !=" in result.stdout


def test_output_that_is_not_json_is_named(analyze_output: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(analyze_output.read_text() + "Traceback (most recent call last):\n")
    result = compare(analyze_output, broken)
    assert result.returncode != 0
    assert "broken.json:" in result.stderr and "not JSON" in result.stderr


@pytest.mark.skipif(not (SHARED_DATA / "fer2013" / "fer2013-dev.tar.gz").is_file(), reason="../shared/data absent")
def test_dataset_sample_is_fixed(tmp_path: Path) -> None:
    names = []
    for run in ("a", "b"):
        result = subprocess.run([sys.executable, str(SAMPLE), str(SHARED_DATA), str(tmp_path / run),
                                 "--per-emotion", "2", "--ages", "5"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        names.append(sorted(p.relative_to(tmp_path / run).as_posix() for p in (tmp_path / run).rglob("*.jpg")))
    assert names[0] == names[1]
    assert sum(n.startswith("fer2013/") for n in names[0]) == 14  # 2 for each of the 7 emotions


def test_model_probe_replay_on_the_same_machine_is_identical_and_catches_a_change(tmp_path: Path) -> None:
    probe = [sys.executable, str(ARM64 / "model_probe.py")]
    reference = tmp_path / "ref.npz"
    subprocess.run(probe + ["dump", str(FACES), str(reference)], check=True, capture_output=True, timeout=300)
    result = subprocess.run(probe + ["replay", str(FACES), str(reference)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: 3 images; largest model output difference on identical input 0 LSB" in result.stdout

    import numpy as np
    arrays = dict(np.load(reference))
    # "age/0/output", or "age:MEMBER/0/output" when the default age model is an ensemble
    key = next(k for k in sorted(arrays) if k.startswith("age") and k.endswith("/0/output"))
    arrays[key] = arrays[key] + 0.05  # as if the other machine's age model differed
    changed = tmp_path / "changed.npz"
    np.savez(changed, **arrays)
    result = subprocess.run(probe + ["replay", str(FACES), str(changed)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout
    age_line = next(line for line in result.stdout.splitlines() if line.startswith(key.split("/")[0] + ":"))
    assert "largest output difference 0 LSB" not in age_line and "(1 of 3 differ)" in age_line
    assert result.stdout.splitlines()[-1].startswith("FAIL: 3 images")


def test_run_sh_is_valid_bash_and_documents_itself() -> None:
    subprocess.run(["bash", "-n", str(ARM64 / "run.sh")], check=True, timeout=30)
    result = subprocess.run(["bash", str(ARM64 / "run.sh"), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--fresh" in result.stdout
    result = subprocess.run(["bash", str(ARM64 / "run.sh"), "--bogus"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "unknown option '--bogus'" in result.stderr


@pytest.mark.skipif(os.environ.get("MOODBOX_ARM64") != "1", reason="set MOODBOX_ARM64=1 (root, 15-40 min)")
def test_emulated_arm64_run() -> None:
    result = subprocess.run(["bash", str(ARM64 / "run.sh")], capture_output=True, text=True, timeout=3 * 3600)
    print(result.stdout, result.stderr[-5000:], sep="\n")
    assert result.returncode == 0, result.stdout + result.stderr[-5000:]
    for check in ("platform", "check-config", "analyze-vs-x86_64", "reference-kernels", "music", "daemon"):
        assert any(line.split()[:2] == [check, "ok"] for line in result.stdout.splitlines()), check
