"""models_tflite/manifest.json: which .tflite file is which model, its checksum and its pre/post-processing."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from moodbox.perception.errors import ModelError

MANIFEST_NAME = "manifest.json"
SUPPORTED_SCHEMA = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """The parsed manifest of one models folder."""

    def __init__(self, models_dir: Path, models: dict[str, dict[str, Any]]):
        self.models_dir = models_dir
        self.models = models

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
        """The manifest entry of model `name`; a clear error if there is none."""
        entry = self.models.get(name)
        if not isinstance(entry, dict):
            known = ", ".join(sorted(self.models)) or "none"
            raise ModelError(f"{self.models_dir / MANIFEST_NAME}: no model named {name!r} (models: {known})")
        for key in ("file", "input", "output"):
            if key not in entry:
                raise ModelError(f"{self.models_dir / MANIFEST_NAME}: model {name!r} has no {key!r}")
        return entry

    def detector_name(self, variant: str) -> str:
        """The name of the face detection model of this variant (full_range or short_range)."""
        for name, entry in self.models.items():
            if isinstance(entry, dict) and entry.get("task") == "face_detection" and entry.get("variant") == variant:
                return name
        raise ModelError(f"{self.models_dir / MANIFEST_NAME}: no face_detection model with variant {variant!r}")

    def verified_file(self, name: str) -> Path:
        """The model file of `name`, after checking that it exists and matches the manifest's sha256."""
        entry = self.entry(name)
        path = self.models_dir / entry["file"]
        if not path.is_file():
            raise ModelError(f"{path}: model file of {name!r} is missing")
        expected = entry.get("sha256")
        if not expected:
            raise ModelError(f"{self.models_dir / MANIFEST_NAME}: model {name!r} has no sha256")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelError(f"{path}: checksum mismatch for {name!r} (sha256 {actual}, manifest says {expected}); "
                             "the file is damaged or from another version: reinstall the models")
        return path
