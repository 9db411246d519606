"""Run a TFLite file as the device does (its runtime and kernels: moodbox.perception.model), batched over rows."""
import sys

import numpy as np

from .common import ROOT


class TFL:
    def __init__(self, path, threads=1):
        if str(ROOT / "device") not in sys.path:  # convert/.venv does not install the device package
            sys.path.insert(0, str(ROOT / "device"))
        from moodbox.perception.model import open_interpreter
        self.it = open_interpreter(path, threads)
        self.i = self.it.get_input_details()[0]
        self.o = self.it.get_output_details()[0]

    def quantize_input(self, x):
        if self.i["dtype"] == np.int8:
            s, z = self.i["quantization"]
            return np.clip(np.round(x / s + z), -128, 127).astype(np.int8)
        return x.astype(np.float32)

    def dequantize_output(self, y):
        if self.o["dtype"] == np.int8:
            s, z = self.o["quantization"]
            return (y.astype(np.float32) - z) * s
        return y

    def __call__(self, xs):
        """xs: float array (N, ...) in the float model's input domain."""
        out = []
        for x in xs:
            self.it.set_tensor(self.i["index"], self.quantize_input(x[None]))
            self.it.invoke()
            out.append(self.dequantize_output(self.it.get_tensor(self.o["index"]))[0])
        return np.stack(out)
