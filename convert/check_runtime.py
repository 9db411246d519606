"""Load every shipped .tflite with tflite_runtime 2.14 (the frozen predecessor of LiteRT, which the Pi
runs; tests/test_manifest.py runs them on LiteRT) and run one input."""
import sys

import numpy as np

from .common import OUT, load_manifest, log, sha256_file


def main():
    from tflite_runtime.interpreter import Interpreter
    import tflite_runtime
    log(f"tflite_runtime {tflite_runtime.__version__}, numpy {np.__version__}")
    man = load_manifest()
    ok = True
    for name, e in man["models"].items():
        if "ensemble" in e:   # an average of other entries, checked as those
            log(f"OK {name}: ensemble of {', '.join(e['ensemble']['members'])}")
            continue
        path = OUT / e["file"]
        if sha256_file(path) != e["sha256"]:
            log(f"FAIL {name}: sha256 of {e['file']} does not match the manifest")
            ok = False
            continue
        it = Interpreter(model_path=str(path), num_threads=1)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        want = [1] + e["input"]["size"] + [1 if e["input"]["color"] == "gray" else 3]
        if d["shape"].tolist() != want or d["dtype"].__name__ != e["input"]["dtype"]:
            log(f"FAIL {name}: input {d['shape'].tolist()} {d['dtype'].__name__} != manifest {want} "
                f"{e['input']['dtype']}")
            ok = False
        rng = np.random.default_rng(0)
        if d["dtype"] == np.int8:
            x = rng.integers(-128, 128, size=d["shape"], dtype=np.int8)
        else:
            x = rng.uniform(-1, 1, size=d["shape"]).astype(np.float32)
        it.set_tensor(d["index"], x)
        it.invoke()
        outs = [(o["name"], it.get_tensor(o["index"]).shape, o["dtype"].__name__,
                 tuple(float(v) for v in o["quantization"])) for o in it.get_output_details()]
        log(f"OK {name}: {e['file']} in {d['shape'].tolist()} {d['dtype'].__name__} "
            f"q={tuple(float(v) for v in d['quantization'])} out {outs}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
