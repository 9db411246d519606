"""Recipes: how a trained model is made, kept as data (convert/recipes/<name>.toml).

A recipe is a list of training stages (each a convert.train run: architecture, epochs, seed,
threads, initialisation and the loss options) and the steps after them (export, ship, stretch),
plus figures to compare a new run with:
- [stages.expect]: what this recipe gave with the code as it is (a run of it recorded them); a new
  run on the same kind of machine must give them again, or the command fails;
- [stages.history]: what the stage reached when the model was first made by hand (sessions 1-6);
  shown next to the new figures, never failing: the code and the random state of those runs
  cannot be restored bit for bit (convert/README.md, "Reproducing the shipped models"). No TensorFlow here: loading, validating and planning are plain Python
(`python -m convert.reproduce --dry-run` works without convert/.venv).
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "recipes"
SHIPPED = ("emotion_cnn4_mixup", "age_wrn80_stretch")       # the recipes of the shipped defaults

# stage keys that become convert.train.loop.TrainConfig fields as they are
COMMON = ("epochs", "lr", "batch", "seed", "threads", "patience", "distill", "mixup", "stop_after",
          "limit_train", "limit_val", "weight_decay")
BY_TASK = {"emotion": ("smoothing", "temperature", "class_power"),
           "age": ("head", "balance", "sigma", "input_size", "select")}
REQUIRED = ("run", "arch", "init", "epochs", "lr", "batch", "seed", "threads", "patience")
STAGE_ONLY = ("run", "arch", "init", "tiny", "minutes", "expect", "history", "export")
STEPS = {"export": ("run", "n_calib", "bench_n"),
         "ship": ("run", "name", "gate"),
         "stretch": ("model", "name", "drop_base", "flip", "gate", "limit_val", "expect", "history")}
# minutes on the 2-core workstation for what a stage's minutes do not include (estimates from
# session logs: data caches are built once per work folder and reused)
EXPORT_MINUTES = {"emotion": 3.0, "age": 4.0}
STRETCH_MINUTES = 1.0
CACHE_MINUTES = {"emotion": 2.0, "age": 6.0}


class RecipeError(ValueError):
    pass


@dataclass
class Stage:
    run: str
    task: str
    options: dict                     # TrainConfig fields (epochs, lr, seed, threads, ...)
    arch: str
    init: str | None                  # None: fresh weights; else the run whose best weights start it
    tiny: bool = False                # the SMOKE architecture of `arch` (smoke recipes)
    minutes: float | None = None      # wall minutes when it was made (1 thread = 1 CPU)
    expect: dict = field(default_factory=dict)     # figures a run of this recipe must give again
    history: dict = field(default_factory=dict)    # figures of the run that first made it (not checked)
    export: bool = False              # export (int8 + evaluation) after training: to show int8 figures

    @property
    def threads(self) -> int:
        return int(self.options["threads"])


@dataclass
class Recipe:
    name: str
    task: str
    path: Path
    stages: list[Stage]
    steps: list[dict]
    made: str = ""
    smoke: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def stage(self, run: str) -> Stage:
        for s in self.stages:
            if s.run == run:
                return s
        raise RecipeError(f"{self.name}: no stage {run!r} (stages: {', '.join(s.run for s in self.stages)})")

    def shipped_names(self) -> list[str]:
        """Manifest names the recipe leaves behind (a stretch with drop_base removes its base)."""
        names: list[str] = []
        for step in self.steps:
            if step["do"] == "ship":
                names.append(step["name"])
            elif step["do"] == "stretch":
                if step.get("drop_base") and step["model"] in names:
                    names.remove(step["model"])
                names.append(step["name"])
                if step.get("flip"):
                    names.append(f"{step['name']}_flip")
        return names


def path_of(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        return p.resolve()
    p = RECIPES / f"{name_or_path}.toml"
    if not p.exists():
        known = ", ".join(sorted(q.stem for q in RECIPES.glob("*.toml")))
        raise RecipeError(f"no recipe {name_or_path!r} (known: {known})")
    return p


def load(name_or_path: str) -> Recipe:
    path = path_of(name_or_path)
    with open(path, "rb") as f:
        data = tomllib.load(f)
    where = path.name
    for key in ("name", "task", "stages", "steps"):
        if key not in data:
            raise RecipeError(f"{where}: no {key!r}")
    unknown = set(data) - {"name", "task", "stages", "steps", "made", "smoke"}
    if unknown:
        raise RecipeError(f"{where}: unknown keys {sorted(unknown)}")
    task = data["task"]
    if task not in BY_TASK:
        raise RecipeError(f"{where}: task {task!r} is not emotion or age")
    stages = [_stage(s, task, f"{where} stage {i + 1}") for i, s in enumerate(data["stages"])]
    seen: set[str] = set()
    for st in stages:
        if st.run in seen:
            raise RecipeError(f"{where}: two stages named {st.run!r}")
        if st.init is not None and st.init not in seen:
            raise RecipeError(f"{where}: stage {st.run!r} starts from {st.init!r}, not an earlier stage")
        seen.add(st.run)
    steps = [_step(s, seen, f"{where} step {i + 1}") for i, s in enumerate(data["steps"])]
    recipe = Recipe(data["name"], task, path, stages, steps, data.get("made", ""), bool(data.get("smoke", False)))
    if not recipe.smoke and any(st.tiny or st.options.get("limit_train") for st in stages):
        raise RecipeError(f"{where}: tiny nets or training subsets only in a recipe with smoke = true")
    if not recipe.smoke and any(step.get("gate") is False for step in steps):
        raise RecipeError(f"{where}: gate = false only in a recipe with smoke = true")
    return recipe


def _stage(raw: dict, task: str, where: str) -> Stage:
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise RecipeError(f"{where}: missing {missing} (every stage states its epochs, seed, threads and init)")
    allowed = set(COMMON) | set(BY_TASK[task]) | set(STAGE_ONLY)
    unknown = set(raw) - allowed
    if unknown:
        raise RecipeError(f"{where}: unknown keys {sorted(unknown)} for a {task} stage")
    if "max_minutes" in raw:
        raise RecipeError(f"{where}: max_minutes makes the epochs depend on the machine; use stop_after")
    stop = raw.get("stop_after")
    if stop is not None and not 0 < stop <= raw["epochs"]:
        raise RecipeError(f"{where}: stop_after {stop} outside 1..epochs ({raw['epochs']})")
    options = {k: raw[k] for k in (*COMMON, *BY_TASK[task]) if k in raw}
    expect, history = dict(raw.get("expect", {})), dict(raw.get("history", {}))
    init = None if raw["init"] == "fresh" else raw["init"]
    exported = any(kind in figures for figures in (expect, history) for kind in ("int8", "float"))
    return Stage(run=raw["run"], task=task, options=options, arch=raw["arch"], init=init,
                 tiny=bool(raw.get("tiny", False)), minutes=raw.get("minutes"), expect=expect, history=history,
                 export=bool(raw.get("export", exported)))


def _step(raw: dict, runs: set[str], where: str) -> dict:
    do = raw.get("do")
    if do not in STEPS:
        raise RecipeError(f"{where}: do = {do!r}, not one of {', '.join(STEPS)}")
    unknown = set(raw) - {"do", *STEPS[do]}
    if unknown:
        raise RecipeError(f"{where}: unknown keys {sorted(unknown)} for {do}")
    if do in ("export", "ship") and raw.get("run") not in runs:
        raise RecipeError(f"{where}: {do} of {raw.get('run')!r}, not a stage of this recipe")
    if do in ("ship", "stretch") and "name" not in raw:
        raise RecipeError(f"{where}: {do} needs a manifest name")
    return dict(raw)


# ------------------------------------------------------------------ plan
def stage_minutes(st: Stage, stop_after: int | None = None) -> float | None:
    if st.minutes is None:
        return None
    epochs = st.options["epochs"]
    ran = int(st.history.get("epochs_run", st.options.get("stop_after") or epochs))
    if stop_after:
        return st.minutes * min(stop_after, ran) / ran
    return st.minutes


def plan(recipe: Recipe, stages: list[Stage], stop_after: int | None = None,
         done: set[str] | frozenset = frozenset(), with_steps: bool = True) -> tuple[list[str], float, float]:
    """Lines of the plan, expected wall minutes and CPU minutes (wall x threads) on the 2-core
    workstation the recorded stages ran on."""
    lines = [f"recipe {recipe.name} ({recipe.path.name}, sha256 {recipe.sha256[:16]}...): {recipe.task}"
             + (", SMOKE" if recipe.smoke else "")]
    if recipe.made:
        lines.append(f"  made: {recipe.made}")
    wall = cpu = CACHE_MINUTES[recipe.task] if not recipe.smoke else 0.0
    if wall:
        lines.append(f"  data caches (first use of a work folder): ~{wall:.0f} min")
    for i, st in enumerate(stages, 1):
        o = st.options
        opts = " ".join(f"{k}={v}" for k, v in o.items()
                        if k not in ("epochs", "lr", "batch", "seed", "threads", "patience", "stop_after"))
        stop = stop_after or o.get("stop_after")
        epochs = f"{o['epochs']} epochs" + (f", stop after {stop}" if stop and stop < o["epochs"] else "")
        minutes = stage_minutes(st, stop_after)
        state = "done (kept)" if st.run in done else (
            f"~{minutes:.0f} min x {st.threads} thread{'s' if st.threads > 1 else ''}" if minutes else "time unknown")
        lines.append(f"  stage {i} {st.run}: {st.arch}{' (tiny)' if st.tiny else ''} from "
                     f"{st.init + ' (best weights)' if st.init else 'fresh weights'}; {epochs}, lr {o['lr']:g}, "
                     f"batch {o['batch']}, seed {o['seed']}, threads {o['threads']}, patience {o['patience']}; "
                     f"{opts} -> {state}")
        if st.run not in done and minutes:
            wall += minutes
            cpu += minutes * st.threads
        if st.export and st.run not in done and not stop_after:
            lines.append(f"    export {st.run} (int8 + evaluation, for its int8 figures) "
                         f"~{EXPORT_MINUTES[recipe.task]:.0f} min")
            if not recipe.smoke:
                wall += EXPORT_MINUTES[recipe.task]
                cpu += EXPORT_MINUTES[recipe.task]
    if with_steps:
        for step in recipe.steps:
            what = {k: v for k, v in step.items() if k not in ("do", "expect", "history")}
            extra = 0.0 if recipe.smoke else (EXPORT_MINUTES[recipe.task] if step["do"] == "export" and not any(
                s.run == step["run"] and s.export for s in stages) else STRETCH_MINUTES if step["do"] == "stretch" else 0.0)
            wall += extra
            cpu += extra
            with_stage = step["do"] == "export" and any(s.run == step["run"] and s.export for s in stages)
            lines.append(f"  then {step['do']} {' '.join(f'{k}={v}' for k, v in what.items())}"
                         + (" (done with its stage above)" if with_stage else ""))
        lines.append(f"  leaves in the manifest: {', '.join(recipe.shipped_names())} (with provenance)")
    return lines, wall, cpu
