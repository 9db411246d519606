"""models_tflite/manifest.json: which .tflite file is which model, its checksum and its pre/post-processing."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodbox.perception.errors import ModelError

MANIFEST_NAME = "manifest.json"
SUPPORTED_SCHEMA = 1
ENSEMBLE_KEYS = ("members", "weights", "flip")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class EnsembleSpec:
    """A manifest entry that combines other models of its task: weighted mean, optionally with flips."""

    task: str
    members: tuple[str, ...]
    weights: tuple[float, ...]  # positive, one per member (not normalized)
    flip: bool  # also run each member on the mirrored crop and average the two


class Manifest:
    """The parsed manifest of one models folder."""

    def __init__(self, models_dir: Path, models: dict[str, dict[str, Any]]):
        self.models_dir = models_dir
        self.models = models

    @property
    def path(self) -> Path:
        return self.models_dir / MANIFEST_NAME

    @classmethod
    def load(cls, models_dir: Path) -> Manifest:
        path = Path(models_dir) / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: model manifest not found (is perception.models_dir right?)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path}: cannot read the model manifest: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}:{exc.lineno}: the model manifest is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ModelError(f"{path}: the model manifest has no 'models' mapping")
        if data.get("schema") != SUPPORTED_SCHEMA:
            raise ModelError(f"{path}: manifest schema {data.get('schema')!r} is not supported (expected {SUPPORTED_SCHEMA})")
        return cls(Path(models_dir), data["models"])

    def entry(self, name: str) -> dict[str, Any]:
        """The manifest entry of model `name`; a clear error if there is none.

        A model has a file, input and output; an ensemble has "ensemble" and "task" instead.
        """
        entry = self.models.get(name)
        if not isinstance(entry, dict):
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelError(f"{self.path}: no model named {name!r} (models: {known})")
        for key in ("ensemble", "task") if "ensemble" in entry else ("file", "input", "output"):
            if key not in entry:
                raise ModelError(f"{self.path}: model {name!r} has no {key!r}")
        return entry

    def ensemble(self, name: str) -> EnsembleSpec | None:
        """The checked ensemble spec of `name`; None when `name` is a single model."""
        entry = self.entry(name)
        if "ensemble" not in entry:
            return None
        where = f"{self.path}: ensemble {name!r}"
        spec = entry["ensemble"]
        if not isinstance(spec, dict):
            raise ModelError(f"{where}: 'ensemble' must be a mapping with {', '.join(ENSEMBLE_KEYS)}")
        unknown = sorted(set(spec) - set(ENSEMBLE_KEYS))
        if unknown:
            raise ModelError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} in 'ensemble' "
                             f"(allowed: {', '.join(ENSEMBLE_KEYS)})")
        members = spec.get("members")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            raise ModelError(f"{where}: 'members' must be a non-empty list of model names, not {members!r}")
        task = entry["task"]
        for index, member in enumerate(members):
            if member in members[:index]:
                raise ModelError(f"{where}: member {member!r} is listed twice (use weights instead)")
            if member not in self.models:
                known = ", ".join(sorted(self.models))
                raise ModelError(f"{where}: unknown member {member!r} (models: {known})")
            member_entry = self.entry(member)
            if "ensemble" in member_entry:
                raise ModelError(f"{where}: member {member!r} is itself an ensemble (ensembles do not nest)")
            if member_entry.get("task") != task:
                raise ModelError(f"{where}: member {member!r} has task {member_entry.get('task')!r}, "
                                 f"not the ensemble's {task!r}")
        weights = spec.get("weights", [1.0] * len(members))
        if not isinstance(weights, list) or len(weights) != len(members):
            raise ModelError(f"{where}: 'weights' must be a list of one weight per member ({len(members)}), "
                             f"not {weights!r}")
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w > 0
                   for w in weights):
            raise ModelError(f"{where}: weights must be positive numbers, not {weights}")
        flip = spec.get("flip", False)
        if not isinstance(flip, bool):
            raise ModelError(f"{where}: 'flip' must be true or false, not {flip!r}")
        return EnsembleSpec(str(task), tuple(members), tuple(float(w) for w in weights), flip)

    def detector_name(self, variant: str) -> str:
        """The name of the face detection model of this variant (full_range or short_range)."""
        for name, entry in self.models.items():
            if isinstance(entry, dict) and entry.get("task") == "face_detection" and entry.get("variant") == variant:
                return name
        raise ModelError(f"{self.path}: no face_detection model with variant {variant!r}")

    def verified_file(self, name: str) -> Path:
        """The model file of `name`, after checking that it exists and matches the manifest's sha256."""
        entry = self.entry(name)
        if "ensemble" in entry:
            raise ModelError(f"{self.path}: {name!r} is an ensemble and has no file of its own (check its members)")
        path = self.models_dir / entry["file"]
        if not path.is_file():
            raise ModelError(f"{path}: model file of {name!r} is missing")
        expected = entry.get("sha256")
        if not expected:
            raise ModelError(f"{self.path}: model {name!r} has no sha256")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelError(f"{path}: checksum mismatch for {name!r} (sha256 {actual}, manifest says {expected}); "
                             "the file is damaged or from another version: reinstall the models")
        return path
