"""convert/recipes: the shipped models' recipes as data, their plan (--dry-run), validation, the
figure check and the provenance block. No TensorFlow needed (the project's .venv); the smoke
recipe's real run is tests/test_train_recipe_smoke.py."""
from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from convert import recipe as recipes  # noqa: E402
from convert.reproduce import matches  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
MANIFEST = json.loads((ROOT / "models_tflite" / "manifest.json").read_text())
FLAG_TO_OPTION = {"--epochs": "epochs", "--lr": "lr", "--batch": "batch", "--seed": "seed", "--threads": "threads",
                  "--patience": "patience", "--distill": "distill", "--smoothing": "smoothing",
                  "--temperature": "temperature", "--class-power": "class_power", "--mixup": "mixup",
                  "--head": "head", "--balance": "balance", "--sigma": "sigma", "--input-size": "input_size",
                  "--stop-after": "stop_after", "--select": "select"}     # the last two: cards made by a recipe


def card_commands(name: str) -> list[dict]:
    """The training command lines of a model card, parsed: {'run', 'arch', 'init', options...}."""
    out = []
    for line in (ROOT / "models_tflite" / "cards" / f"{name}.md").read_text().splitlines():
        line = line.strip()
        if not line.startswith("python -m convert.train emotion") and not line.startswith("python -m convert.train age"):
            continue
        words = shlex.split(line)[4:]
        parsed = {"init": "fresh"}
        for flag, value in zip(words[::2], words[1::2]):
            if flag == "--run":
                parsed["run"] = value
            elif flag == "--arch":
                parsed["arch"] = value
            elif flag == "--init-from":
                parsed["init"] = value
            elif flag == "--max-minutes":
                parsed["max_minutes"] = float(value)
            else:
                parsed[FLAG_TO_OPTION[flag]] = value
        out.append(parsed)
    return out


@pytest.mark.parametrize("name", recipes.SHIPPED)
def test_shipped_recipe_is_the_cards_command_chain(name):
    r = recipes.load(name)
    assert not r.smoke and r.shipped_names() == [name] and name in MANIFEST["models"]
    cards = card_commands(name)
    assert [c["run"] for c in cards] == [s.run for s in r.stages]
    for card, stage in zip(cards, r.stages):
        assert (card["arch"], card["init"]) == (stage.arch, stage.init or "fresh"), stage.run
        for key, value in card.items():
            if key in ("run", "arch", "init", "max_minutes"):
                continue
            assert str(stage.options[key]) == value or float(stage.options[key]) == float(value), (stage.run, key)
        for key in ("epochs", "seed", "threads", "lr", "batch", "patience"):
            assert key in stage.options
        assert "max_minutes" not in stage.options
    # the one run a clock stopped is stopped after the same epoch, whatever the machine
    stopped = {s.run: s.options.get("stop_after") for s in r.stages if s.options.get("stop_after")}
    assert stopped == ({"emotion-resnet4-mix1": 21} if name == "emotion_cnn4_mixup" else {})


def test_dry_run_prints_the_plan_and_its_cpu_time():
    proc = subprocess.run([sys.executable, "-m", "convert.reproduce", "--dry-run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, MOODBOX_CONVERT_WORK=str(ROOT / "convert" / "work" / "no-such")))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in recipes.SHIPPED:
        for stage in recipes.load(name).stages:
            assert f" {stage.run}: " in out
    assert "26 epochs, stop after 21" in out and "threads 2" in out
    hours = [float(h) for h in re.findall(r"expected: [\d.]+ h wall, ([\d.]+) CPU hours", out)]
    assert len(hours) == 2 and 5.5 < hours[0] < 8 and 2 < hours[1] < 3.5
    assert re.search(r"all: [\d.]+ h wall, [\d.]+ CPU hours", out)
    assert "then stretch model=age_wrn80 name=age_wrn80_stretch drop_base=True" in out


def write(tmp_path: Path, text: str) -> Path:
    base = (recipes.RECIPES / "smoke.toml").read_text()
    path = tmp_path / "r.toml"
    path.write_text(text(base) if callable(text) else text)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("threads = 1\n", "", 1), "missing ['threads']"),
    (lambda t: t.replace("epochs = 2\n", "epochs = 2\nmax_minutes = 5\n", 1), "unknown keys ['max_minutes']"),
    (lambda t: t.replace('init = "smoke-emotion-1"', 'init = "smoke-emotion-9"'), "not an earlier stage"),
    (lambda t: t.replace("smoke = true\n", ""), "only in a recipe with smoke = true"),
    (lambda t: t.replace("stop_after = 2", "stop_after = 4"), "stop_after 4 outside 1..epochs (3)"),
    (lambda t: t.replace('do = "ship"', 'do = "deploy"'), "do = 'deploy'"),
    (lambda t: t.replace("class_power = 0.3", "balance = 0.3"), "unknown keys ['balance'] for a emotion stage"),
])
def test_a_bad_recipe_is_refused_with_the_reason(tmp_path, change, message):
    with pytest.raises(recipes.RecipeError, match=re.escape(message)):
        recipes.load(str(write(tmp_path, change)))


def test_a_recorded_figure_matches_within_half_a_unit_of_its_last_digit():
    assert matches(0.41295, "0.413") and matches(0.4134, "0.413")
    assert not matches(0.4136, "0.413") and not matches(0.302, "0.413") and not matches(None, "0.413")
    assert matches(5.6996, "5.700") and not matches(5.7006, "5.700")
    assert matches(21, 21) and not matches(20, 21)


def test_the_data_sample_seed_has_one_home():
    files = [p.relative_to(ROOT) for p in (ROOT / "convert").rglob("*.py")]
    homes = [p.as_posix() for p in files if not {".venv", "work"} & set(p.parts) and "20261121" in (ROOT / p).read_text()]
    assert homes == ["convert/common.py"]


STUDIES = ("framing.py", "robustness.py", "detector_eval.py", "cards.py")
WRITERS = {"update_manifest", "remove_manifest_entry", "full_int8", "MANIFEST", "write_manifest_entry", "ship",
           "add_values_entry"}


@pytest.mark.parametrize("module", STUDIES)
def test_studies_read_models_and_never_write_them(module):
    tree = ast.parse((ROOT / "convert" / module).read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not names & WRITERS, f"{module} uses {sorted(names & WRITERS)}"
    text = (ROOT / "convert" / module).read_text()
    assert ".tflite\").write" not in text and "shutil" not in text


@pytest.mark.skipif(not (SHARED / "fer2013").is_dir(), reason="../shared/data is not here")
def test_provenance_goes_into_the_manifest_entries_the_recipe_leaves(tmp_path):
    out = tmp_path / "models"
    script = f"""
import json, sys
from pathlib import Path
from convert.reproduce import prepare_out
prepare_out(Path({str(out)!r}))
from convert import recipe
from convert.reproduce import provenance, record_provenance
r = recipe.load("emotion_cnn4_mixup")
record_provenance(r, provenance(r, "abc123", True, [{{"run": "x", "epochs_run": 5, "best_epoch": 4}}]))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    entry = json.loads((out / "manifest.json").read_text())["models"]["emotion_cnn4_mixup"]
    prov = entry["provenance"]
    import hashlib
    sha = lambda p: hashlib.sha256(Path(p).read_bytes()).hexdigest()
    assert prov["commit"] == "abc123" and prov["recipe"] == "convert/recipes/emotion_cnn4_mixup.toml"
    assert prov["recipe_sha256"] == sha(recipes.RECIPES / "emotion_cnn4_mixup.toml")
    assert prov["data_sha256"] == {n: sha(SHARED / n) for n in ("fer2013/fer2013-dev.tar.gz", "fer2013/labels.csv")}
    assert prov["lockfile_sha256"] == sha(ROOT / "convert" / "requirements.lock.txt")
    assert prov["input_models_sha256"] == {"emotion": MANIFEST["models"]["emotion"]["sha256"]}
    assert "## Provenance" in (out / "cards" / "emotion_cnn4_mixup.md").read_text()
    # the repository's own manifest is untouched
    assert json.loads((ROOT / "models_tflite" / "manifest.json").read_text()) == MANIFEST


def test_a_smoke_recipe_never_ships_into_models_tflite():
    proc = subprocess.run([sys.executable, "-m", "convert.reproduce", "smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "a smoke recipe ships toy models: give --out DIR" in proc.stderr
