"""On-device perception: BlazeFace face detection, eye-aligned crops, emotion and age (TFLite).

    perception = Perception.from_config(config)
    readings = perception.analyze(frame_bgr)     # list[FaceReading]

Models and their pre/post-processing are described by models_tflite/manifest.json.
"""
from moodbox.perception.errors import FrameError, ModelError, PerceptionError
from moodbox.perception.runtime import Perception

__all__ = ["FrameError", "ModelError", "Perception", "PerceptionError"]
