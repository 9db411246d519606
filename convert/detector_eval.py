"""Face-detector evaluation on composed frames, through the ON-DEVICE code
(device/moodbox/perception, imported as moodbox.perception).

Frames: 640x480 BGR (the default camera size). Backgrounds are procedural (smooth noise,
gradients, stripes, random shapes, flat colours, fixed seed) because the shared data has no
face-free photos. Faces: real UTKFace held-out images (the same hash split as the age
evaluation), resized to a face size s (side of the pasted 200x200 aligned face image, whose
BlazeFace box is about the whole image), blended in with a feathered elliptical mask,
1-3 per frame, not overlapping. Empty frames use the same background generator.

A ground-truth face counts as found when a detection overlaps its square with IoU >= 0.3.
Every other detection is a false detection.
"""
import sys
import time

import numpy as np

from .common import METRICS, ROOT, log, write_json
from .data import utk_list

FRAME_W, FRAME_H = 640, 480
SIZES = [24, 32, 48, 64, 96, 128, 192, 256]
N_FACE_FRAMES = 240
N_EMPTY_FRAMES = 240
SEED = 1234
IOU_MATCH = 0.3


def _cv2():
    import cv2
    return cv2


def background(rng):
    cv2 = _cv2()
    kind = rng.integers(0, 5)
    h, w = FRAME_H, FRAME_W
    if kind == 0:  # smooth coloured noise
        small = rng.integers(0, 256, size=(rng.integers(3, 12), rng.integers(4, 16), 3)).astype(np.uint8)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:  # gradient
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, h)[:, None, None]
        img = np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8)
    elif kind == 2:  # stripes / blinds
        period = rng.integers(6, 60)
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        m = ((np.arange(w if rng.random() < 0.5 else h) // period) % 2).astype(bool)
        img = np.empty((h, w, 3), np.uint8)
        if m.size == w:
            img[:] = np.where(m[None, :, None], a, b)
        else:
            img[:] = np.where(m[:, None, None], a, b)
    elif kind == 3:  # random shapes ("furniture")
        img = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
        for _ in range(rng.integers(5, 25)):
            col = tuple(int(c) for c in rng.integers(0, 256, 3))
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            if rng.random() < 0.5:
                cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(10, 200)), y0 + int(rng.integers(10, 200))), col, -1)
            else:
                cv2.circle(img, (x0, y0), int(rng.integers(5, 80)), col, -1)
        img = cv2.GaussianBlur(img, (5, 5), 0)
    else:  # flat colour with sensor noise
        img = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
    noise = rng.normal(0, rng.uniform(0, 8), size=(h, w, 3))
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _mask(s):
    cv2 = _cv2()
    m = np.zeros((s, s), np.float32)
    cv2.ellipse(m, (s // 2, s // 2), (int(s * 0.46), int(s * 0.5)), 0, 0, 360, 1.0, -1)
    k = max(3, (s // 10) | 1)
    return cv2.GaussianBlur(m, (k, k), 0)[..., None]


def compose(rng, faces, n_faces):
    cv2 = _cv2()
    img = background(rng).astype(np.float32)
    gts = []
    tries = 0
    while len(gts) < n_faces and tries < 50:
        tries += 1
        s = int(rng.choice(SIZES))
        if s > min(FRAME_W, FRAME_H):
            continue
        x, y = int(rng.integers(0, FRAME_W - s + 1)), int(rng.integers(0, FRAME_H - s + 1))
        box = (x, y, x + s, y + s)
        if any(_iou(box, g["box"]) > 0 or _overlap(box, g["box"]) for g in gts):
            continue
        path, age = faces[int(rng.integers(0, len(faces)))]
        face = cv2.imread(str(path))
        face = cv2.resize(face, (s, s), interpolation=cv2.INTER_AREA if s < face.shape[0] else cv2.INTER_LINEAR)
        m = _mask(s)
        img[y:y + s, x:x + s] = img[y:y + s, x:x + s] * (1 - m) + face.astype(np.float32) * m
        gts.append({"box": box, "size": s, "age": age})
    return np.clip(img, 0, 255).astype(np.uint8), gts


def _overlap(a, b):
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def frames():
    rng = np.random.default_rng(SEED)
    faces = utk_list("heldout")
    out = []
    for i in range(N_FACE_FRAMES):
        out.append(compose(rng, faces, int(rng.integers(1, 4))))
    for i in range(N_EMPTY_FRAMES):
        out.append((background(rng), []))
    return out


def run_variant(variant, data, min_score):
    sys.path.insert(0, str(ROOT / "device"))
    from moodbox.perception import Perception
    p = Perception(ROOT / "models_tflite", detector=variant, min_face_score=min_score,
                   min_face_size=1, max_faces=20)
    found = {s: [0, 0] for s in SIZES}
    fp_face, fp_empty, scores_tp, t = 0, 0, [], 0.0
    ages_true, ages_pred = [], []
    for img, gts in data:
        t0 = time.perf_counter()
        dets = p.detect(img)
        t += time.perf_counter() - t0
        used = set()
        for g in gts:
            found[g["size"]][1] += 1
            best, bi = 0.0, None
            for j, d in enumerate(dets):
                if j in used:
                    continue
                v = _iou(g["box"], d.box)
                if v > best:
                    best, bi = v, j
            if bi is not None and best >= IOU_MATCH:
                used.add(bi)
                found[g["size"]][0] += 1
                scores_tp.append(dets[bi].score)
                if g["size"] >= 64:
                    ages_pred.append(p.age.predict(img, dets[bi]))
                    ages_true.append(g["age"])
        extra = len(dets) - len(used)
        if gts:
            fp_face += extra
        else:
            fp_empty += extra
    n_gt = sum(v[1] for v in found.values())
    res = {
        "min_score": min_score,
        "recall_by_face_size_px": {str(s): {"recall": (v[0] / v[1]) if v[1] else None, "n": v[1]}
                                   for s, v in found.items()},
        "recall_all": sum(v[0] for v in found.values()) / max(n_gt, 1),
        "false_detections_per_frame_with_faces": fp_face / N_FACE_FRAMES,
        "false_detections_per_empty_frame": fp_empty / N_EMPTY_FRAMES,
        "median_score_true_faces": float(np.median(scores_tp)) if scores_tp else None,
        "detect_ms_per_640x480_frame_x86": t / len(data) * 1000,
    }
    if ages_true:
        from .metrics import age_report
        r = age_report(ages_true, ages_pred)
        res["end_to_end_age_on_detected_faces_ge64px"] = {"n": r["n"], "mae": r["mae"], "cs5": r["cs5"]}
    return res


def evaluate():
    log(f"detector eval: composing {N_FACE_FRAMES} face frames + {N_EMPTY_FRAMES} empty frames "
        f"(seed {SEED})")
    data = frames()
    out = {"what": __doc__.strip(), "frame": [FRAME_W, FRAME_H], "seed": SEED,
           "n_face_frames": N_FACE_FRAMES, "n_empty_frames": N_EMPTY_FRAMES,
           "n_faces": sum(len(g) for _, g in data),
           "code": "device/moodbox/perception (Perception.detect, min_face_size=1, max_faces=20)",
           "command": "python -m convert.evaluate detector", "results": {}}
    for name, variant in [("face_detector_full", "full_range"), ("face_detector_short", "short_range")]:
        for thr in (0.5, 0.6):
            r = run_variant(variant, data, thr)
            out["results"][f"{name}@{thr}"] = r
            rec = {k: (round(v["recall"], 2) if v["recall"] is not None else None)
                   for k, v in r["recall_by_face_size_px"].items()}
            log(f"  {name} thr {thr}: recall {r['recall_all']:.3f} by size {rec}; false/frame "
                f"faces {r['false_detections_per_frame_with_faces']:.3f} empty "
                f"{r['false_detections_per_empty_frame']:.3f}; {r['detect_ms_per_640x480_frame_x86']:.1f} ms")
    write_json(METRICS / "detector.json", out)
    return out


def manifest_metrics(out: dict) -> dict[str, dict]:
    """The summary each detector's manifest entry carries, from evaluate()'s result. A study
    never writes the manifest: convert.build's eval step records this."""
    summary = {}
    for name in ("face_detector_full", "face_detector_short"):
        r = out["results"][f"{name}@0.5"]
        summary[name] = {
            "dataset": "composed 640x480 frames: UTKFace held-out faces on procedural backgrounds",
            "score_threshold": 0.5,
            "recall_by_face_size_px": {k: (round(v["recall"], 3) if v["recall"] is not None else None)
                                       for k, v in r["recall_by_face_size_px"].items()},
            "recall_all": round(r["recall_all"], 3),
            "false_detections_per_empty_frame": round(r["false_detections_per_empty_frame"], 3),
            "false_detections_per_frame_with_faces": round(r["false_detections_per_frame_with_faces"], 3),
            "details": "metrics/detector.json"}
    return summary
