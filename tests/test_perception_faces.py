"""Perception on real images with the real .tflite models: detection, alignment, emotion, age, bad frames."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

import moodbox
from moodbox.config import REPO_ROOT, parse_config
from moodbox.perception import FrameError, Perception
from moodbox.perception.geometry import aligned_crop, eye_angle
from moodbox.readings import EMOTIONS

MODELS = REPO_ROOT / "models_tflite"
FACES = Path(moodbox.__file__).parent / "data" / "faces"
# Eileen Collins' face in astronaut.png (512x512): box checked by eye, eyes near (205,102) and (247,105)
ASTRONAUT_FACE = (175, 70, 280, 175)


@pytest.fixture(scope="module")
def perception() -> Perception:
    return Perception(MODELS)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return cv2.imread(str(FACES / "astronaut.png"))


def face_patch(astronaut: np.ndarray, width: int) -> np.ndarray:
    """The astronaut's head and shoulders, scaled to `width` px wide (face about 60% of the width)."""
    patch = astronaut[20:250, 130:320]
    return cv2.resize(patch, (width, round(width * patch.shape[0] / patch.shape[1])), interpolation=cv2.INTER_AREA)


def compose(background: np.ndarray, patches: list[tuple[np.ndarray, int, int]], size: tuple[int, int]) -> np.ndarray:
    """A size=(w, h) frame: the background scaled to it, each patch pasted at its (x, y)."""
    frame = cv2.resize(background, size, interpolation=cv2.INTER_AREA)
    for patch, x, y in patches:
        frame[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    return frame


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def xyxy(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return x, y, x + w, y + h


@pytest.mark.parametrize("detector", ["full_range", "short_range"])
def test_astronaut_face_emotion_and_age(astronaut: np.ndarray, detector: str) -> None:
    perception = Perception(MODELS, detector=detector)
    readings = perception.analyze(astronaut)
    assert len(readings) == 1
    face = readings[0]
    assert iou(xyxy(face.box), ASTRONAUT_FACE) > 0.6, face.box
    assert face.score > 0.7
    assert list(face.emotion) == list(EMOTIONS)
    assert math.isclose(sum(face.emotion.values()), 1.0, abs_tol=1e-6)
    assert face.emotion_label == "happy"  # she smiles broadly
    assert face.emotion["happy"] > 0.5
    assert 25 <= face.age_years <= 55, face.age_years  # about 42 when photographed
    timings = perception.timings_ms()
    assert set(timings) == {"detector", "emotion", "age"}


def test_no_face_on_a_rocket_launch(perception: Perception) -> None:
    rocket = cv2.imread(str(FACES / "no-face" / "rocket.jpg"))
    assert rocket is not None
    assert perception.analyze(rocket) == []
    assert perception.analyze(np.zeros((240, 320, 3), np.uint8)) == []


def test_three_faces_on_a_composed_frame(perception: Perception, astronaut: np.ndarray) -> None:
    background = cv2.imread(str(FACES / "no-face" / "rocket.jpg"))
    patch = face_patch(astronaut, 160)  # face about 90 px wide
    mirrored = cv2.flip(face_patch(astronaut, 130), 1)
    places = [(patch, 20, 40), (mirrored, 240, 240), (patch, 450, 60)]
    frame = compose(background, places, (640, 480))
    readings = perception.analyze(frame)
    assert len(readings) == 3
    found_x = sorted(r.box[0] + r.box[2] / 2 for r in readings)
    expected_x = sorted(x + p.shape[1] / 2 for p, x, _ in places)
    assert np.allclose(found_x, expected_x, atol=25), (found_x, expected_x)
    assert all(r.emotion_label == "happy" for r in readings)


def test_max_faces_and_min_face_size(astronaut: np.ndarray) -> None:
    background = np.full((480, 640, 3), 90, np.uint8)
    big, small = face_patch(astronaut, 200), face_patch(astronaut, 130)  # faces about 110 and 70 px
    frame = compose(background, [(big, 20, 40), (small, 300, 40), (small, 470, 250)], (640, 480))
    assert len(Perception(MODELS).analyze(frame)) == 3
    best_one = Perception(MODELS, max_faces=1).analyze(frame)
    assert len(best_one) == 1 and best_one[0].box[0] < 100  # the largest face scores best
    only_big = Perception(MODELS, min_face_size=90).analyze(frame)
    assert len(only_big) == 1 and only_big[0].box[2] >= 90


def test_tilted_face_is_found_and_keypoints_follow_the_tilt(perception: Perception, astronaut: np.ndarray) -> None:
    upright = perception.detect(astronaut)[0]
    center = ((upright.box[0] + upright.box[2]) / 2, (upright.box[1] + upright.box[3]) / 2)
    rotation = cv2.getRotationMatrix2D(center, 25, 1.0)  # 25 degrees counter-clockwise on screen
    tilted = cv2.warpAffine(astronaut, rotation, (512, 512))
    faces = perception.detect(tilted)
    assert len(faces) == 1
    change = math.degrees(eye_angle(*faces[0].eyes) - eye_angle(*upright.eyes))
    assert abs(change - (-25)) < 8, change  # image y points down: counter-clockwise is a negative angle
    reading = perception.analyze(tilted)[0]
    assert reading.emotion_label == "happy"  # the aligned crop levels the eyes again


def test_aligned_crop_levels_the_eye_line() -> None:
    """Two bright 'eyes' on a tilted line end up on one row of the crop, centred left/right."""
    image = np.zeros((240, 240, 3), np.uint8)
    eyes = [(100.0, 100.0), (140.0, 120.0)]
    for x, y in eyes:
        cv2.circle(image, (int(x), int(y)), 4, (255, 255, 255), -1)
    angle = eye_angle(*eyes)
    crop = aligned_crop(image, (80, 70, 160, 150), angle, margin=0.0, out_w=64, out_h=64)
    ys, xs = np.nonzero(crop[:, :, 0] > 128)
    left, right = xs < 32, xs >= 32
    assert left.any() and right.any()
    assert abs(ys[left].mean() - ys[right].mean()) < 1.0
    distance = math.dist(*eyes) * 64 / 80
    assert abs((xs[right].mean() - xs[left].mean()) - distance) < 1.5
    # without the rotation the eyes stay tilted
    straight = aligned_crop(image, (80, 70, 160, 150), 0.0, margin=0.0, out_w=64, out_h=64)
    ys, xs = np.nonzero(straight[:, :, 0] > 128)
    assert ys[xs >= 32].mean() - ys[xs < 32].mean() > 10


def test_analyze_face_treats_the_image_as_the_face(perception: Perception, astronaut: np.ndarray) -> None:
    crop = astronaut[40:210, 140:310]
    reading = perception.analyze_face(crop)
    assert reading.box == (0, 0, 170, 170)
    assert reading.score == 1.0
    assert reading.emotion_label == "happy"
    assert 20 <= reading.age_years <= 60
    gray = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert perception.analyze_face(gray).emotion_label == "happy"


@pytest.mark.parametrize("frame, problem", [
    (np.zeros((240, 320, 3), np.float32), "must be uint8"),
    (np.zeros((240, 320), np.uint8), "must be HxWx3"),
    (np.zeros((240, 320, 4), np.uint8), "must be HxWx3"),
    (np.zeros((0, 320, 3), np.uint8), "must be HxWx3"),
    ([[0, 0, 0]], "must be a numpy array"),
    (None, "must be a numpy array"),
])
def test_bad_frames_give_a_clear_error(perception: Perception, frame: object, problem: str) -> None:
    with pytest.raises(FrameError, match=problem):
        perception.analyze(frame)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=problem):  # FrameError is also a ValueError
        perception.analyze_face(frame)  # type: ignore[arg-type]


def test_timings_are_moving_averages_per_model(astronaut: np.ndarray) -> None:
    perception = Perception(MODELS)
    assert perception.timings_ms() == {"detector": 0.0, "emotion": 0.0, "age": 0.0}
    for _ in range(3):
        perception.analyze(astronaut)
    timings = perception.timings_ms()
    assert all(timings[name] > 0 for name in ("detector", "emotion", "age")), timings


def test_from_config_uses_the_perception_keys(tmp_path: Path) -> None:
    config = parse_config(f"perception:\n  models_dir: {MODELS}\n  detector: short_range\n  max_faces: 2\n"
                          "  tiles: 2\n", base_dir=tmp_path)
    perception = Perception.from_config(config)
    assert perception.detector.size == 128
    assert perception.max_faces == 2
    assert perception.tiles == 2


def test_concurrent_calls_give_the_same_readings(perception: Perception, astronaut: np.ndarray) -> None:
    """One interpreter per model is shared: calls from several threads must not mix their tensors."""
    from concurrent.futures import ThreadPoolExecutor

    rocket = cv2.imread(str(FACES / "no-face" / "rocket.jpg"))
    frames = [astronaut, rocket, cv2.flip(astronaut, 1)] * 4
    serial = [perception.analyze(f) for f in frames]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(perception.analyze, frames))
    assert parallel == serial
    assert [len(r) for r in serial[:3]] == [1, 0, 1]


def test_crop_center_offset_moves_the_crop(perception: Perception) -> None:
    """The manifest's crop center_offset (in box sides, negative y = up) shifts the crop window."""
    from moodbox.perception.classifiers import EmotionModel
    from moodbox.perception.detector import Detection

    def model_with(offset: list[float]) -> EmotionModel:
        entry = {"input": {"size": [64, 64], "color": "gray", "range": [-1, 1],
                           "crop": {"margin": 0.0, "aligned": False, "center_offset": offset}},
                 "output": {"labels": perception.emotion.labels, "activation": "softmax"}}
        return EmotionModel(perception.emotion.model.path, "emotion", entry)

    image = np.zeros((200, 200, 3), np.uint8)
    image[:100] = 255  # upper half white
    face = Detection((50.0, 50.0, 150.0, 150.0), 0.9, np.array([[80.0, 90.0], [120.0, 90.0]]))
    centred = model_with([0.0, 0.0]).crop(image, face)[:, :, 0]
    moved_up = model_with([0.0, -0.5]).crop(image, face)[:, :, 0]
    assert abs(centred.mean() - 127.5) < 10  # rows 50..150: half white
    assert moved_up.mean() > 250  # rows 0..100: all white


def test_tile_windows_cover_the_frame_with_overlap() -> None:
    from moodbox.perception.detector import tile_windows

    assert tile_windows(640, 480, 1) == []
    windows = tile_windows(640, 480, 2)
    assert len(windows) == 4
    assert {(x0, y0) for x0, y0, _, _ in windows} == {(0, 0), (274, 0), (0, 206), (274, 206)}
    assert all(x1 <= 640 and y1 <= 480 for _, _, x1, y1 in windows)
    assert max(x1 for _, _, x1, _ in windows) == 640 and max(y1 for _, _, _, y1 in windows) == 480
    width = windows[0][2]
    assert windows[1][0] < width  # neighbours overlap (by a quarter of a window)
    assert len(tile_windows(640, 480, 3)) == 9
    assert all(x1 > x0 and y1 > y0 for x0, y0, x1, y1 in tile_windows(1, 2, 3))  # tiny frames: no empty window


@pytest.mark.parametrize("tiles", [1, 3])
@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3, 3), (10, 2000, 3), (3000, 4000, 3)])
def test_odd_frame_sizes_work(tiles: int, shape: tuple[int, int, int]) -> None:
    perception = Perception(MODELS, tiles=tiles)
    assert perception.analyze(np.zeros(shape, np.uint8)) == []
    assert perception.analyze_face(np.zeros(shape, np.uint8)).box == (0, 0, shape[1], shape[0])


def test_tiles_find_small_faces_the_whole_frame_misses(astronaut: np.ndarray) -> None:
    patch = face_patch(astronaut, 70)  # faces about 36 px: 11 px once 640x480 is letterboxed to 192
    places = [(patch, 10, 10), (cv2.flip(patch, 1), 300, 200), (patch, 540, 360)]
    frame = compose(np.full((480, 640, 3), 110, np.uint8), places, (640, 480))
    whole = Perception(MODELS).analyze(frame)
    tiled = Perception(MODELS, tiles=2).analyze(frame)
    assert len(whole) < 3
    assert len(tiled) == 3
    found = sorted((r.box[0] + r.box[2] / 2, r.box[1] + r.box[3] / 2) for r in tiled)
    expected = sorted((x + p.shape[1] / 2, y + p.shape[0] * 0.45) for p, x, y in places)
    assert np.allclose(found, expected, atol=15), (found, expected)
    # a big face seen by the whole frame and by several windows is still one face
    [face] = Perception(MODELS, tiles=2).analyze(astronaut)
    assert iou(xyxy(face.box), ASTRONAUT_FACE) > 0.6
