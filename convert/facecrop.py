"""Workstation BlazeFace decoder + aligned face crops (mirrors what the device should do).

Used to (a) measure the framing of the training sets relative to a BlazeFace box
and (b) produce device-like crops of UTKFace images for the age model.
"""
import numpy as np
from PIL import Image

from .blazeface import VARIANTS, ssd_anchors
from .common import OUT


def _interp(path):
    from tflite_runtime.interpreter import Interpreter
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    return it


class BlazeFace:
    def __init__(self, name="face_detector_short", score_threshold=0.5, nms_iou=0.3):
        v = VARIANTS[name]
        self.size = v["size"]
        self.anchors = ssd_anchors(v["anchors"])
        self.it = _interp(OUT / v["file"])
        self.inp = self.it.get_input_details()[0]["index"]
        outs = self.it.get_output_details()
        self.reg = [o["index"] for o in outs if o["shape"][-1] == 16][0]
        self.cls = [o["index"] for o in outs if o["shape"][-1] == 1][0]
        self.thr, self.iou = score_threshold, nms_iou

    def __call__(self, rgb):
        """rgb: HxWx3 uint8. Returns list of (score, box[x0,y0,x1,y1] px, kps (6,2) px)."""
        h, w = rgb.shape[:2]
        side = max(h, w)
        canvas = np.zeros((side, side, 3), np.uint8)
        ox, oy = (side - w) // 2, (side - h) // 2
        canvas[oy:oy + h, ox:ox + w] = rgb
        im = Image.fromarray(canvas).resize((self.size, self.size), Image.BILINEAR)
        x = np.asarray(im, np.float32) / 127.5 - 1.0
        self.it.set_tensor(self.inp, x[None])
        self.it.invoke()
        raw = self.it.get_tensor(self.reg)[0].reshape(-1, 8, 2) / self.size
        score = 1 / (1 + np.exp(-np.clip(self.it.get_tensor(self.cls)[0, :, 0].astype(np.float64), -100, 100)))
        keep = np.where(score > self.thr)[0]
        if keep.size == 0:
            return []
        raw = raw[keep]
        sc = score[keep]
        ctr = raw[:, 0] + self.anchors[keep]
        wh = raw[:, 1]
        kps = raw[:, 2:] + self.anchors[keep][:, None, :]
        boxes = np.concatenate([ctr - wh / 2, ctr + wh / 2], 1)
        dets = self._weighted_nms(sc, boxes, kps)
        res = []
        for s, b, k in dets:
            b = b * side - np.array([ox, oy, ox, oy])
            k = k * side - np.array([ox, oy])
            res.append((float(s), b, k))
        return res

    def _weighted_nms(self, sc, boxes, kps):
        order = np.argsort(-sc)
        used = np.zeros(len(sc), bool)
        out = []
        for i in order:
            if used[i]:
                continue
            ious = _iou(boxes[i], boxes)
            grp = np.where((ious > self.iou) & ~used)[0]
            used[grp] = True
            wts = sc[grp][:, None]
            b = (boxes[grp] * wts).sum(0) / wts.sum()
            k = (kps[grp] * wts[:, :, None]).sum(0) / wts.sum()
            out.append((sc[i], b, k))
        return out


def _iou(b, bs):
    x0 = np.maximum(b[0], bs[:, 0]); y0 = np.maximum(b[1], bs[:, 1])
    x1 = np.minimum(b[2], bs[:, 2]); y1 = np.minimum(b[3], bs[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    a = (b[2] - b[0]) * (b[3] - b[1])
    a2 = (bs[:, 2] - bs[:, 0]) * (bs[:, 3] - bs[:, 1])
    return inter / np.maximum(a + a2 - inter, 1e-9)


def aligned_crop(img, box, kps, margin, out_size, aligned=True):
    """Square crop centred on the box centre, side = max(w, h) * (1 + 2 * margin),
    rotated so the eye line (keypoints 0 and 1) is horizontal when aligned=True.
    Outside the image is filled with black. img: PIL image (any mode)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin)
    ang = 0.0
    if aligned:
        # image-left eye is keypoint 0 in an unmirrored frame
        (lx, ly), (rx, ry) = kps[0], kps[1]
        if lx > rx:
            (lx, ly), (rx, ry) = (rx, ry), (lx, ly)
        ang = np.arctan2(ry - ly, rx - lx)
    c, s = np.cos(ang), np.sin(ang)
    k = side / out_size
    # output (u, v) -> input (x, y): rotate by +ang about the centre
    a, b = c * k, -s * k
    d, e = s * k, c * k
    u0 = v0 = out_size / 2
    cx0 = cx - a * u0 - b * v0
    cy0 = cy - d * u0 - e * v0
    return img.transform((out_size, out_size), Image.AFFINE, (a, b, cx0, d, e, cy0),
                         resample=Image.BILINEAR, fillcolor=0)
