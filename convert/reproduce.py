"""Reproduce the shipped trained models from their recipes (convert/recipes/*.toml), in one command.

    python -m convert.reproduce --dry-run                  # the plan and its expected CPU time
    python -m convert.reproduce                            # emotion_cnn4_mixup and age_wrn80_stretch (~8 CPU hours)
    python -m convert.reproduce age_wrn80_stretch          # one recipe
    python -m convert.reproduce emotion_cnn4_mixup --stage emotion-resnet-1219 --stop-after 1
                                                           # a shortened check of one stage (its own run folder)
    python -m convert.reproduce smoke --out /tmp/models    # the CI-sized recipe, into a copy of models_tflite/

Every stage runs in its own process (`python -m convert.train` semantics: one thread setting and one
seed per process, as the recorded runs had), with the recipe's epochs, seed, threads and
initialisation; a stage whose run folder already holds a finished run of the same configuration is
kept (--fresh trains it again). After each stage its figures are compared with the recipe's: those
it must give again ([stages.expect]: a difference fails the command, --no-check: report only) and
those of the run that first made the model ([stages.history]: shown beside, not checked).
The shipped manifest entries get a `provenance` block: commit, recipe and its sha256, sha256 of the
data archives, of convert/requirements.lock.txt and of the models the training read (teachers,
baselines, the face detector of the age crops), and the stages as they ran.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import recipe as recipes
from .recipe import Recipe, RecipeError, Stage

LOCKFILE = "convert/requirements.lock.txt"
DATA_FILES = {"emotion": ("fer2013/fer2013-dev.tar.gz", "fer2013/labels.csv"),
              "age": ("utkface/utkface-dev.tar.gz", "utkface/labels.csv")}
INPUT_MODELS = {"emotion": ("emotion",), "age": ("age", "face_detector_short")}
# per-epoch figures a recipe can record ({epoch = "figure"}): history.json's loss and validation figures
PER_EPOCH = ("loss", "val_accuracy", "val_macro_f1", "val_mae", "val_max_abs_band_bias")


# ------------------------------------------------------------------ checks
def matches(value: float | int | None, recorded: str | int | float) -> bool:
    """A recorded figure string matches within half a unit of its last digit; ints exactly."""
    if value is None:
        return False
    if isinstance(recorded, int):
        return int(value) == recorded
    text = str(recorded)
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(value) - float(text)) <= 0.5 * 10 ** -decimals + 1e-9


def stage_rows(rec: dict, folder: Path, shortened: int | None) -> list[tuple[str, str, object, bool]]:
    """(figure, recorded, now, match) for the recorded figures (a stage's expect or history) that
    this run can show: a shortened run only the per-epoch ones up to its last epoch."""
    rows = []
    history = json.loads((folder / "history.json").read_text()) if (folder / "history.json").exists() else []
    by_epoch = {row["epoch"]: {"loss": row["loss"], **{f"val_{k}": v for k, v in row["val"].items()}}
                for row in history}
    for key in PER_EPOCH:
        for epoch, want in sorted(rec.get(key, {}).items(), key=lambda kv: int(kv[0])):
            if shortened and int(epoch) > shortened:
                continue
            got = by_epoch.get(int(epoch), {}).get(key)
            label = "training loss" if key == "loss" else f"validation {key[4:]} (float)"
            rows.append((f"epoch {epoch} {label}", want, got, matches(got, want)))
    if shortened:
        return rows
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else {}
    for key in ("epochs_run", "best_epoch"):
        if key in rec:
            rows.append((key, rec[key], run.get(key), matches(run.get(key), rec[key])))
    report = json.loads((folder / "report.json").read_text()) if (folder / "report.json").exists() else {}
    for kind in ("float", "int8"):
        for metric, want in rec.get(kind, {}).items():
            got = report.get(kind, {}).get(metric)
            rows.append((f"{kind} {metric}", want, got, matches(got, want)))
    return rows


def step_rows(step: dict, rec: dict) -> list[tuple[str, str, object, bool]]:
    from .common import METRICS
    path = METRICS / f"{step['name']}.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    now = {"scale": out.get("scale"), "shift": out.get("shift"),
           "cross_fitted_mae": out.get("cross_fitted", {}).get("mae")}
    return [(f"{step['name']} {k}", v, now.get(k), matches(now.get(k), v)) for k, v in rec.items() if k != "source"]


def print_rows(title: str, rows: list, checked: bool = True) -> bool:
    """The table of one comparison; False when a checked figure differs."""
    if not rows:
        return True
    print(f"\n{title}\n| figure | recorded | now | |\n|---|---|---|---|")
    for name, want, got, ok in rows:
        digits = len(str(want).split(".")[1]) + 2 if "." in str(want) else 4
        shown = f"{got:.{digits}f}" if isinstance(got, float) else got
        print(f"| {name} | {want} | {shown} | {'same' if ok else 'DIFFERENT' if checked else 'differs (not checked)'} |")
    return all(ok for *_, ok in rows) or not checked


def compare(title: str, figures: dict, rows_of) -> bool:
    """expect: must match; history: shown beside."""
    ok = print_rows(f"{title}: expected figures (a run of this recipe, {figures['expect'].get('source', '')})",
                    rows_of(figures["expect"])) if figures["expect"] else True
    if figures["history"]:
        print_rows(f"{title}: figures when it was first made ({figures['history'].get('source', '')})",
                   rows_of(figures["history"]), checked=False)
    return ok


# ------------------------------------------------------------------ provenance
def git(*args: str) -> str:
    from .common import ROOT
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment_vs_lockfile() -> list[str] | None:
    """How the running interpreter's `pip freeze` differs from the lockfile: [] when it is the
    lockfile, else lines like 'certifi 2026.10.19.post1 (lock: 2026.10.18)'; None if pip fails."""
    from .common import ROOT
    proc = subprocess.run([sys.executable, "-m", "pip", "freeze", "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return None

    def pins(text: str) -> dict[str, str]:
        rows = (line.split("#")[0].strip() for line in text.splitlines())
        return dict(row.lower().split("==", 1) for row in rows if "==" in row)

    have, lock = pins(proc.stdout), pins((ROOT / LOCKFILE).read_text())
    return [f"{name} {have.get(name, 'missing')} (lock: {lock.get(name, 'not in it')})"
            for name in sorted(set(have) | set(lock)) if have.get(name) != lock.get(name)]


def provenance(r: Recipe, commit: str, clean: bool, runs: list[dict]) -> dict:
    from .common import ROOT, SHARED, load_manifest, sha256_file
    models = load_manifest()["models"]
    return {"made_by": f"python -m convert.reproduce {r.name}",
            "recipe": str(r.path.relative_to(ROOT)) if r.path.is_relative_to(ROOT) else str(r.path),
            "recipe_sha256": r.sha256,
            "commit": commit or None, "worktree_clean": clean,
            "data_sha256": {name: sha256_file(SHARED / name) for name in DATA_FILES[r.task]},
            "lockfile": LOCKFILE, "lockfile_sha256": sha256_file(ROOT / LOCKFILE),
            "environment_vs_lockfile": environment_vs_lockfile(),
            "input_models_sha256": {n: models[n]["sha256"] for n in INPUT_MODELS[r.task] if n in models},
            "caches_sha256": caches_sha256(r),
            "stages": runs,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# ------------------------------------------------------------------ running
def stage_config(st: Stage, run: str | None = None, stop_after: int | None = None, threads: int | None = None):
    from .train.loop import TrainConfig, default_arch
    options = dict(st.options)
    if stop_after:
        options["stop_after"] = stop_after
    if threads:
        options["threads"] = threads
    return TrainConfig(task=st.task, run=run or st.run, arch=default_arch(st.task, st.arch, st.tiny),
                       init_from=st.init, head=options.pop("head", "softmax" if st.task == "emotion" else "dldl"),
                       **options)


def finished(cfg) -> bool:
    path = cfg.dir / "run.json"
    if not path.exists():
        return False
    run = json.loads(path.read_text())
    return "epochs_run" in run and run["config"] == json.loads(json.dumps(cfg.to_json()))


def python_m(*args: str) -> None:
    """A convert module in its own process (its own TensorFlow thread setting and seed)."""
    from .common import ROOT, log
    log("$ python -m " + " ".join(args))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): python -m {' '.join(args)}")


def export_args(r: Recipe, run: str, step: dict | None = None) -> list[str]:
    step = step or {}
    n_calib = step.get("n_calib", 32 if r.smoke else None)
    bench_n = step.get("bench_n", 20 if r.smoke else None)
    return (["convert.train", "export", run] + (["--n-calib", str(n_calib)] if n_calib else [])
            + (["--bench-n", str(bench_n)] if bench_n else []))


def run_recipe(r: Recipe, args) -> bool:
    from .common import log
    stages = [r.stage(args.stage)] if args.stage else r.stages
    shortened = args.stop_after
    commit, clean = git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=no") == ""
    python_m("convert.reproduce", str(r.path), "--prepare-data")
    ok, runs, trained_now = True, [], set()
    for st in stages:
        name = f"{st.run}-first{shortened}" if shortened else st.run
        cfg = stage_config(st, name, shortened, args.threads)
        if cfg.init_from and not (cfg.dir.parent / cfg.init_from / "best.weights.h5").exists():
            raise SystemExit(f"stage {st.run} starts from {cfg.init_from}, which has not run here")
        trained = False
        if finished(cfg) and not args.fresh and cfg.init_from not in trained_now:
            log(f"stage {name}: a finished run of this configuration is here, kept (--fresh trains it again)")
        else:
            cmd = ["convert.reproduce", str(r.path), "--train-stage", st.run]
            cmd += ["--stop-after", str(shortened)] if shortened else []
            cmd += ["--threads", str(args.threads)] if args.threads else []
            python_m(*cmd)
            trained = True
            trained_now.add(st.run)          # the stages that start from it train again too
        if st.export and not shortened and (trained or not (cfg.dir / "report.json").exists()):
            python_m(*export_args(r, name))
        run = json.loads((cfg.dir / "run.json").read_text())
        runs.append({"run": name, "epochs_run": run.get("epochs_run"), "best_epoch": run.get("best_epoch"),
                     "wall_seconds": run.get("wall_seconds"), "threads": cfg.threads})
        ok &= compare(f"{r.name}, stage {name}", {"expect": st.expect, "history": st.history},
                      lambda rec: stage_rows(rec, cfg.dir, shortened))
    if args.stage or shortened:
        return ok
    exported = {st.run for st in stages if st.export}
    for step in r.steps:
        if step["do"] == "export":
            if step["run"] not in exported:
                python_m(*export_args(r, step["run"], step))
        elif step["do"] == "ship":
            python_m("convert.train", "ship", step["run"], "--name", step["name"],
                     *([] if step.get("gate", True) else ["--no-gate"]))
        elif step["do"] == "stretch":
            python_m("convert.train", "stretch-age", "--model", step["model"], "--ship", step["name"],
                     *(["--drop-base"] if step.get("drop_base") else []), *(["--flip"] if step.get("flip") else []),
                     *([] if step.get("gate", True) else ["--no-gate"]),
                     *(["--limit-val", str(step["limit_val"])] if step.get("limit_val") else []))
            ok &= compare(f"{r.name}, stretch", {"expect": step.get("expect", {}), "history": step.get("history", {})},
                          lambda rec: step_rows(step, rec))
    record_provenance(r, provenance(r, commit, clean, runs))
    return ok


def record_provenance(r: Recipe, prov: dict) -> None:
    from .common import OUT, log, update_manifest
    for name in r.shipped_names():
        update_manifest(name, provenance=prov)
        card = OUT / "cards" / f"{name}.md"
        if card.exists():
            card.write_text(with_section(card.read_text(), "## Provenance", provenance_lines(prov)))
    log(f"provenance written into the manifest entries {', '.join(r.shipped_names())}")


def with_section(text: str, heading: str, body: str) -> str:
    """text with its `heading` section (up to the next '## ') replaced by body, or body appended."""
    lines, out, skipping = text.splitlines(), [], False
    for line in lines:
        if line.startswith("## "):
            skipping = line.strip() == heading
        if not skipping:
            out.append(line)
    return "\n".join(out).rstrip("\n") + f"\n\n{heading}\n\n{body}\n"


def provenance_lines(prov: dict) -> str:
    data = ", ".join(f"`{k}` {v[:16]}..." for k, v in prov["data_sha256"].items())
    return (f"Made by `{prov['made_by']}` from `{prov['recipe']}` (sha256 {prov['recipe_sha256'][:16]}...) at commit "
            f"{prov['commit']}{'' if prov['worktree_clean'] else ' (with uncommitted changes)'}; data {data}; "
            f"`{prov['lockfile']}` {prov['lockfile_sha256'][:16]}... ("
            + ("the environment was exactly the lockfile" if prov["environment_vs_lockfile"] == [] else
               f"the environment differed from it: {', '.join(prov['environment_vs_lockfile'] or ['pip freeze failed'])}")
            + "); stages: "
            + ", ".join(f"{s['run']} ({s['epochs_run']} epochs, best {s['best_epoch']})" for s in prov["stages"]) + ".")


def prepare_data(r: Recipe) -> None:
    """The cached arrays the stages read (data splits, crops, teacher soft labels), built before any
    stage in a process of its own on ONE thread: the teacher's soft labels differ in the last bits
    with the thread count of the process that computes them, and every later stage trains on them.
    Writes the list of cache files to caches-<recipe>.json for the provenance."""
    from .common import nice_self, write_json
    from .train.datasets import CACHE, USED
    from .train.loop import load_data, setup_tf, targets_and_weights
    nice_self()
    setup_tf(1, 0)
    seen = set()
    for st in r.stages:
        cfg = stage_config(st)
        key = (cfg.input_shape, cfg.distill > 0, cfg.limit_train, cfg.limit_val)
        if key not in seen:
            seen.add(key)
            train, _ = load_data(cfg)
            targets_and_weights(cfg, train)
    write_json(CACHE / f"caches-{r.name}.json", sorted(p.name for p in USED if p.exists()))


def caches_sha256(r: Recipe) -> dict:
    from .common import sha256_file
    from .train.datasets import CACHE
    listing = CACHE / f"caches-{r.name}.json"
    names = json.loads(listing.read_text()) if listing.exists() else []
    return {name: sha256_file(CACHE / name) for name in names if (CACHE / name).exists()}


def train_stage(r: Recipe, run: str, stop_after: int | None, threads: int | None) -> None:
    """One stage in this process (the parent runs each stage so)."""
    from .common import nice_self
    from .train.loop import train
    nice_self()
    st = r.stage(run)
    train(stage_config(st, f"{run}-first{stop_after}" if stop_after else run, stop_after, threads))


def prepare_out(out: Path) -> None:
    """A trial models folder: a copy of models_tflite/ (baselines, manifest) made on first use.
    Before convert.common is imported: it reads MOODBOX_MODELS_OUT once."""
    if "convert.common" in sys.modules:
        raise RuntimeError("prepare_out after convert.common was imported")
    if not (out / "manifest.json").exists():
        shutil.copytree(Path(__file__).resolve().parent.parent / "models_tflite", out, dirs_exist_ok=True)
    os.environ["MOODBOX_MODELS_OUT"] = str(out.resolve())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m convert.reproduce", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipes", nargs="*", default=list(recipes.SHIPPED),
                    help="recipe names (convert/recipes/NAME.toml) or paths; default: the shipped models' recipes")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and its expected CPU time; run nothing")
    ap.add_argument("--stage", help="only this stage (the stages before it must have run here)")
    ap.add_argument("--stop-after", type=int, help="with --stage: stop after N epochs of its schedule, in a run "
                    "folder of its own (RUN-firstN); checks the figures recorded up to epoch N")
    ap.add_argument("--threads", type=int, help="another thread count than the recipe's (the figures then "
                    "differ from the recorded ones in the last bits: TensorFlow adds in another order)")
    ap.add_argument("--out", type=Path, help="write models, manifest, metrics and cards here (a copy of "
                    "models_tflite/ is made first) instead of models_tflite/")
    ap.add_argument("--fresh", action="store_true", help="train stages again even if their finished run is here")
    ap.add_argument("--no-check", action="store_true", help="report figures that differ from the recorded ones, "
                    "do not fail")
    ap.add_argument("--train-stage", help=argparse.SUPPRESS)
    ap.add_argument("--prepare-data", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stop_after and not (args.stage or args.train_stage):
        ap.error("--stop-after needs --stage")
    if args.out:
        prepare_out(args.out)
    try:
        loaded = [recipes.load(name) for name in args.recipes]
        if args.stage and len(loaded) != 1:
            ap.error("--stage needs exactly one recipe")
        if args.train_stage:
            train_stage(loaded[0], args.train_stage, args.stop_after, args.threads)
            return 0
        if args.prepare_data:
            prepare_data(loaded[0])
            return 0
        if args.dry_run:
            return dry_run(loaded, args)
        from .common import OUT, nice_self, trial_out
        if any(r.smoke for r in loaded) and not trial_out():
            raise SystemExit(f"a smoke recipe ships toy models: give --out DIR (not {OUT})")
        nice_self()
        ok = all([run_recipe(r, args) for r in loaded])
    except RecipeError as exc:
        print(f"recipe error: {exc}", file=sys.stderr)
        return 2
    if not ok:
        print("\nREPRODUCTION DIFFERS from the expected figures (above)" +
              (" (--no-check: not failing)" if args.no_check else ""), file=sys.stderr)
        return 0 if args.no_check else 1
    print("\nreproduced: every expected figure that these runs can show matches")
    return 0


def kept(st: Stage) -> bool:
    """A finished run of this stage's options is here (what run_recipe would keep); numpy-free."""
    from .common import WORK
    path = WORK / "train" / st.run / "run.json"
    if not path.exists():
        return False
    run = json.loads(path.read_text())
    config = run.get("config", {})
    return ("epochs_run" in run and config.get("init_from") == st.init
            and all(config.get(k) == v for k, v in st.options.items()))


def dry_run(loaded: list[Recipe], args) -> int:
    total_wall = total_cpu = 0.0
    for r in loaded:
        stages = [r.stage(args.stage)] if args.stage else r.stages
        done = set() if args.fresh or args.stop_after else {st.run for st in stages if kept(st)}
        lines, wall, cpu = recipes.plan(r, stages, args.stop_after, done, with_steps=not (args.stage or args.stop_after))
        print("\n".join(lines))
        print(f"  expected: {wall / 60:.1f} h wall, {cpu / 60:.1f} CPU hours (1 thread = 1 CPU) on the 2-core "
              "x86-64 workstation the recorded stages ran on\n")
        total_wall += wall
        total_cpu += cpu
    if len(loaded) > 1:
        print(f"all: {total_wall / 60:.1f} h wall, {total_cpu / 60:.1f} CPU hours; stages run one after another")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
