"""convert/robustness.py: the image changes, and the shipped models run by its harness give
what the device's own perception code gives (so its figures describe the device)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from convert import robustness as rb
from moodbox.perception.manifest import Manifest
from moodbox.perception.classifiers import AgeModel, EmotionModel
from moodbox.readings import EMOTIONS

ROOT = rb.OUT.parent
ASTRONAUT = ROOT / "device" / "moodbox" / "data" / "faces" / "astronaut.png"


def gradient(channels: int = 1) -> np.ndarray:
    x = np.tile(np.linspace(40, 220, 64, dtype=np.float32), (64, 1))
    return np.repeat(x[..., None], channels, axis=2).astype(np.uint8)


def test_brightness_and_contrast():
    img = gradient()
    assert rb.brightness(img, 0.5).mean() == pytest.approx(img.mean() * 0.5, abs=1)
    low = rb.contrast(img, 0.4)
    assert low.std() == pytest.approx(img.std() * 0.4, rel=0.05)
    assert low.mean() == pytest.approx(img.mean(), abs=1)
    assert rb.brightness(img, 3.0).max() == 255          # clipped, still uint8
    assert rb.brightness(img, 1.0).tobytes() == img.tobytes()


def test_blur_and_noise():
    img = np.zeros((64, 64, 1), np.uint8)
    img[::2] = 255                                        # stripes: all high frequency
    assert rb.blur(img, 2.0).std() < 0.1 * img.std()
    a = rb.noise(gradient(), 25, np.random.default_rng(1))
    b = rb.noise(gradient(), 25, np.random.default_rng(1))
    assert a.tobytes() == b.tobytes()
    assert (a.astype(float) - gradient()).std() == pytest.approx(25, rel=0.15)


def test_rotation_and_bands():
    img = gradient(3)
    assert rb.rotate(img, 0).tobytes() == img.tobytes()
    turned = rb.rotate(img, 20)
    assert turned.shape == img.shape and turned[0, 0].sum() == 0   # black corner
    eyes = rb.band(img, 0.375, 0.25, 0)
    assert (eyes[16:32] == 0).all() and eyes[:16].tobytes() == img[:16].tobytes() \
        and eyes[32:].tobytes() == img[32:].tobytes()


def test_conditions_are_fixed_and_cover_the_families():
    conds = rb.conditions(0.4, 0.8)
    assert conds[0].name == "clean"
    assert {c.family for c in conds} == {"clean", "brightness", "contrast", "blur", "noise",
                                         "rotation", "occlusion"}
    img = gradient()
    for c in conds:                                       # deterministic per image index
        assert c.apply(img, 3).tobytes() == c.apply(img, 3).tobytes()
    rot = next(c for c in conds if c.name == "rotation +-20 deg")
    assert rot.apply(img, 0).tobytes() != rot.apply(img, 1).tobytes()   # left / right


def face_crop(size: int, gray: bool) -> np.ndarray:
    frame = cv2.imread(str(ASTRONAUT))
    crop = cv2.resize(frame[40:210, 140:310], (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[..., None] if gray else crop


def test_harness_matches_the_device_emotion_model():
    manifest = Manifest.load(rb.OUT)
    harness = rb.ShippedModel("emotion")
    bgr = cv2.cvtColor(face_crop(harness.size, gray=True)[..., 0], cv2.COLOR_GRAY2BGR)
    device = EmotionModel(manifest.verified_file("emotion"), "emotion", manifest.entry("emotion"))
    by_device = device.predict(bgr, None)
    probs = harness(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[None, ..., None])[0]
    probs = probs / probs.sum()
    ours = dict(zip(harness.labels, probs))
    assert max(ours, key=ours.get) == max(by_device, key=by_device.get)
    assert all(abs(ours[e] - by_device[e]) < 1e-5 for e in EMOTIONS)


def test_harness_matches_the_device_age_model():
    manifest = Manifest.load(rb.OUT)
    harness = rb.ShippedModel("age")
    bgr = face_crop(harness.size, gray=False)
    device = AgeModel(manifest.verified_file("age"), "age", manifest.entry("age"))
    years = harness(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[None])[0]
    assert 10 < years < 80
    assert years == pytest.approx(device.predict(bgr, None), abs=1e-4)


def test_card_section_is_replaced_not_repeated(tmp_path, monkeypatch):
    monkeypatch.setattr(rb, "OUT", tmp_path)
    (tmp_path / "cards").mkdir()
    card = tmp_path / "cards" / "age.md"
    card.write_text("# age\n\n## Limits\n- few children\n")
    assert rb.update_card("age", f"{rb.CARD_HEADING}\n{rb.CARD_BEGIN}\nfirst\n{rb.CARD_END}")
    assert rb.update_card("age", f"{rb.CARD_HEADING}\n{rb.CARD_BEGIN}\nsecond\n{rb.CARD_END}")
    text = card.read_text()
    assert text.count(rb.CARD_HEADING) == 1 and "second" in text and "first" not in text
    assert text.startswith("# age\n\n## Limits\n- few children\n")
    assert not rb.update_card("emotion", "x")            # no card, nothing written
