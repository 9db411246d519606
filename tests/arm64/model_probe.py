"""Where do arm64 and x86-64 readings differ: the image preprocessing (OpenCV) or the TFLite models?

    python model_probe.py dump FOLDER OUT.npz          (on the reference machine)
    python model_probe.py replay FOLDER REF.npz        (on the other one; prints the comparison)

`dump` stores, for each face crop in FOLDER (sorted, the whole image is the face, as
`moodbox analyze --faces-only`), the emotion and age models' input pixels and raw outputs.
`replay` makes its own pixels and compares them with the stored ones, then runs its models on the
stored pixels, so the models are compared on identical input. Outputs are compared in units of the
output tensor's quantization step (LSB) for int8 models. Exit status 1 when the models differ on
identical input by more than --max-lsb.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from moodbox.config import REPO_ROOT, Config
from moodbox.perception import Perception
from moodbox.perception.classifiers import FaceModel

SUFFIXES = {".jpg", ".jpeg", ".png"}


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)


def models(perception: Perception) -> dict[str, FaceModel]:
    """The configured emotion and age models; an ensemble's members one by one."""
    found: dict[str, FaceModel] = {}
    for task, model in (("emotion", perception.emotion), ("age", perception.age)):
        members = getattr(model, "members", None)
        if members is None:
            found[task] = model
        else:
            found.update({f"{task}:{member.name}": member for member in members})
    return found


def raw_output(model: FaceModel, pixels: np.ndarray) -> np.ndarray:
    return model.model.run(pixels)[0].reshape(-1)


def output_step(model: FaceModel) -> float:
    """The output tensor's quantization step (1.0 for a float model: differences stay in raw units)."""
    detail = model.model._outputs[0]  # noqa: SLF001 - a probe, reading the tensor's quantization
    scale = float(detail["quantization"][0])
    return scale if scale > 0 else 1.0


def dump(folder: Path, out: Path, perception: Perception) -> int:
    import cv2

    arrays: dict[str, np.ndarray] = {}
    paths = images(folder)
    for index, path in enumerate(paths):
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        for name, model in models(perception).items():
            pixels = model.crop(frame, None)
            arrays[f"{name}/{index}/pixels"] = pixels
            arrays[f"{name}/{index}/output"] = raw_output(model, pixels)
    np.savez_compressed(out, names=np.array([p.relative_to(folder).as_posix() for p in paths]), **arrays)
    print(f"{len(paths)} images dumped to {out}")
    return 0


def replay(folder: Path, reference: Path, perception: Perception, max_lsb: float) -> int:
    import cv2

    ref = np.load(reference)
    names = [str(n) for n in ref["names"]]
    paths = images(folder)
    if [p.relative_to(folder).as_posix() for p in paths] != names:
        print(f"the images in {folder} are not those of {reference}", file=sys.stderr)
        return 2
    worst_lsb = 0.0
    for name, model in models(perception).items():
        step = output_step(model)
        crops_differ = max_pixel = 0
        same_input_lsb: list[float] = []
        own_input_lsb: list[float] = []
        for index, path in enumerate(paths):
            ref_pixels, ref_out = ref[f"{name}/{index}/pixels"], ref[f"{name}/{index}/output"]
            pixels = model.crop(cv2.imread(str(path), cv2.IMREAD_COLOR), None)
            diff = np.abs(pixels.astype(int) - ref_pixels.astype(int))
            crops_differ += int(diff.any())
            max_pixel = max(max_pixel, int(diff.max()))
            same_input_lsb.append(float(np.abs(raw_output(model, ref_pixels) - ref_out).max()) / step)
            own_input_lsb.append(float(np.abs(raw_output(model, pixels) - ref_out).max()) / step)
        worst_lsb = max(worst_lsb, max(same_input_lsb))
        print(f"{name}: preprocessing: {crops_differ} of {len(paths)} input images differ (largest pixel "
              f"difference {max_pixel}); model on identical input: largest output difference "
              f"{max(same_input_lsb):g} LSB ({sum(v > 0 for v in same_input_lsb)} of {len(paths)} differ); "
              f"end to end: {max(own_input_lsb):g} LSB")
    verdict = "FAIL" if worst_lsb > max_lsb else "ok"
    print(f"{verdict}: {len(paths)} images; largest model output difference on identical input "
          f"{worst_lsb:g} LSB (allowed {max_lsb:g})")
    return 1 if worst_lsb > max_lsb else 0


def use_kernels(kind: str) -> None:
    """Make Perception build its interpreters with other TFLite kernels than its default (XNNPACK)."""
    from moodbox.perception import model

    runtime = model.runtime_module()  # the installed one, or MOODBOX_TFLITE_RUNTIME's
    Interpreter, OpResolverType = runtime.Interpreter, runtime.OpResolverType
    resolver = {"builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, "reference": OpResolverType.BUILTIN_REF}[kind]

    def interpreter(**options: object) -> object:  # the chosen kernels for every model, float ones too
        return Interpreter(**{**options, "experimental_op_resolver_type": resolver})
    model._interpreter_class = lambda: interpreter  # noqa: SLF001 - a probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["dump", "replay"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("npz", type=Path)
    parser.add_argument("--max-lsb", type=float, default=0.0,
                        help="allowed model output difference on identical input, in LSB (default 0: identical)")
    parser.add_argument("--kernels", choices=["default", "builtin", "reference"], default="default",
                        help="default: as moodbox runs (XNNPACK for float models, built-in kernels for int8); builtin: TFLite's optimized kernels "
                             "without XNNPACK; reference: TFLite's plain reference kernels")
    args = parser.parse_args(argv)
    if args.kernels != "default":
        use_kernels(args.kernels)
    defaults = Config().perception   # the models the box runs on its embedded defaults
    perception = Perception(REPO_ROOT / "models_tflite", emotion_model=defaults.emotion_model,
                            age_model=defaults.age_model)
    if args.mode == "dump":
        return dump(args.folder, args.npz, perception)
    return replay(args.folder, args.npz, perception, args.max_lsb)


if __name__ == "__main__":
    sys.exit(main())
