"""One .tflite model: interpreter, input scaling from the manifest, int8 (de)quantization, timing."""
from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from moodbox.perception.errors import ModelError


TIMING_WINDOW = 50  # runs in the moving average of timings_ms()


# The TFLite interpreter packages, preferred first: LiteRT (ai-edge-litert, the maintained one, for
# Python 3.11-3.13) and tflite-runtime 2.14 (frozen, Python <= 3.11; kept for the parity check).
RUNTIMES: dict[str, str] = {"litert": "ai_edge_litert.interpreter", "tflite-runtime": "tflite_runtime.interpreter"}
RUNTIME_ENV = "MOODBOX_TFLITE_RUNTIME"  # litert | tflite-runtime: use that one only (bench and parity check)


def runtime_module(name: str | None = None) -> Any:
    """The interpreter module of the named runtime, else of MOODBOX_TFLITE_RUNTIME, else the first installed."""
    import importlib
    import os

    wanted = name or os.environ.get(RUNTIME_ENV) or None
    if wanted is not None and wanted not in RUNTIMES:
        raise ModelError(f"{RUNTIME_ENV}={wanted!r}: one of {', '.join(RUNTIMES)}")
    for runtime in [wanted] if wanted else list(RUNTIMES):
        try:
            return importlib.import_module(RUNTIMES[runtime])
        except ImportError:
            continue
    if wanted:
        raise ModelError(f"the TFLite runtime {wanted!r} is not installed")
    raise ModelError("no TFLite interpreter installed: pip install ai-edge-litert (see requirements.txt)")


def runtime_name(module: Any) -> str:
    """'litert 2.3.0' or 'tflite-runtime 2.14.0' for a module from runtime_module()."""
    import importlib

    name = next((n for n, m in RUNTIMES.items() if m == module.__name__), module.__name__)
    package = importlib.import_module(module.__name__.split(".")[0])
    return f"{name} {getattr(package, '__version__', '?')}"


def _interpreter_class() -> Any:
    return runtime_module().Interpreter


def _interpreter_options(input_spec: dict[str, Any]) -> dict[str, Any]:
    """int8 models run on the runtime's built-in kernels, not LiteRT's default XNNPACK delegate: the
    answers then stay those of tflite-runtime 2.14 but for a rare 1-step int8 rounding (XNNPACK's moved
    an age by up to 11 years on a 48x48 face; bench/runtime_parity.py). Float models keep XNNPACK (3x faster)."""
    resolver = getattr(runtime_module(), "OpResolverType", None)
    if input_spec.get("dtype") == "int8" and resolver is not None:
        return {"experimental_op_resolver_type": resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    return {}


def open_interpreter(path: Path, threads: int = 1, input_dtype: str | None = None) -> Any:
    """An allocated interpreter set up as the device runs it (runtime, kernels); `input_dtype` as in the
    manifest ("int8", "float32"), read from the file when not given. Used by the device and by convert/."""
    interpreter_class = _interpreter_class()
    if input_dtype is None:
        input_dtype = interpreter_class(model_path=str(path)).get_input_details()[0]["dtype"].__name__
    interpreter = interpreter_class(model_path=str(path), num_threads=threads,
                                    **_interpreter_options({"dtype": input_dtype}))
    interpreter.allocate_tensors()
    return interpreter


class MovingAverage:
    """Mean of the last `window` values."""

    def __init__(self, window: int = TIMING_WINDOW):
        self._values: deque[float] = deque(maxlen=window)

    def add(self, value: float) -> None:
        self._values.append(value)

    @property
    def value(self) -> float:
        return sum(self._values) / len(self._values) if self._values else 0.0


def input_scaler(spec: dict[str, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset) so that float input = pixel * scale + offset, from the manifest's input spec.

    "range": [lo, hi] maps pixels 0..255 linearly to lo..hi; "mean"/"std" means (pixel - mean) / std
    (one value or one per channel).
    """
    if "range" in spec:
        low, high = (float(v) for v in spec["range"])
        return np.float32((high - low) / 255.0), np.float32(low)
    if "mean" in spec and "std" in spec:
        mean = np.asarray(spec["mean"], np.float32)
        std = np.asarray(spec["std"], np.float32)
        if np.any(std == 0):
            raise ModelError(f"{where}: input std must not be 0")
        return (1.0 / std).astype(np.float32), (-mean / std).astype(np.float32)
    raise ModelError(f"{where}: input needs 'range' or 'mean' and 'std'")


class TfliteModel:
    """A loaded .tflite model with one image input; outputs come back dequantized as float32."""

    def __init__(self, path: Path, name: str, input_spec: dict[str, Any], threads: int = 1):
        self.name = name
        self.path = path
        try:
            self._interpreter = open_interpreter(path, threads, str(input_spec.get("dtype", "")))
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: cannot load model {name!r}: {exc}") from None
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4:
            raise ModelError(f"{path}: model {name!r} must have one NHWC image input")
        self._input = inputs[0]
        self._outputs = self._interpreter.get_output_details()
        _, self.height, self.width, self.channels = (int(v) for v in self._input["shape"])
        size = input_spec.get("size")
        if size is not None and [int(v) for v in size] != [self.height, self.width]:
            raise ModelError(f"{path}: manifest says input size {size}, the model has {[self.height, self.width]}")
        self._scale, self._offset = input_scaler(input_spec, f"{path} ({name})")
        self.timing = MovingAverage()
        self._first_run = True  # includes one-time setup (XNNPACK packing): kept out of the timing

    def output_index(self, name: str) -> int:
        """Position in run()'s list of the output tensor called `name`."""
        for position, detail in enumerate(self._outputs):
            if detail["name"] == name:
                return position
        raise ModelError(f"{self.path}: model {self.name!r} has no output tensor {name!r}")

    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(v) for v in detail["shape"]) for detail in self._outputs]

    def run(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Run on one HxWxC uint8 image (already the model's size and colour); float32 outputs."""
        values = pixels.astype(np.float32) * self._scale + self._offset
        self._interpreter.set_tensor(self._input["index"], self._quantize(values)[None])
        started = time.perf_counter()
        self._interpreter.invoke()
        if not self._first_run:
            self.timing.add((time.perf_counter() - started) * 1000.0)
        self._first_run = False
        return [self._dequantize(detail) for detail in self._outputs]

    def _quantize(self, values: np.ndarray) -> np.ndarray:
        dtype = self._input["dtype"]
        if dtype == np.float32:
            return values.astype(np.float32)
        scale, zero_point = self._input["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)

    def _dequantize(self, detail: dict[str, Any]) -> np.ndarray:
        raw = self._interpreter.get_tensor(detail["index"])
        if raw.dtype == np.float32:
            return raw.copy()
        scale, zero_point = detail["quantization"]
        return ((raw.astype(np.float32) - zero_point) * scale).astype(np.float32)
