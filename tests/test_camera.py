"""Frame sources on real images and a real video file; the Pi camera through a fake Picamera2 object
(the hardware boundary: no camera module on the test machine)."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import moodbox.camera as camera_module
import moodbox.camera.device as device_module
import moodbox.camera.picamera as picamera_module
from moodbox.camera import (
    CameraError,
    ImageFolderSource,
    OpenCVSource,
    Picamera2Source,
    fit_frame,
    lores_to_bgr,
    open_camera,
    redact_url,
)
from moodbox.config import CameraConfig


def solid(value: int, width: int = 64, height: int = 48) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "faces"
    (folder / "b_sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.png"), solid(10))
    cv2.imwrite(str(folder / "b_sub" / "c.jpg"), solid(200, 800, 600))
    cv2.imwrite(str(folder / "b.png"), np.full((48, 64), 100, np.uint8))  # greyscale file
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_folder_source_cycles_sorted_skips_broken_and_fits_size(image_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = ImageFolderSource(image_folder, width=320, height=240)
    values = []
    for _ in range(6):
        frame = source.read()
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        assert frame.shape[0] <= 240 and frame.shape[1] <= 320
        values.append(int(frame.mean().round()))
    # sorted order: a.png, b.png, b_sub/c.jpg (broken.jpg skipped), then again
    assert values[:3] == pytest.approx([10, 100, 200], abs=3)
    assert values[3:] == values[:3]
    assert "broken.jpg" in caplog.text
    big = ImageFolderSource(image_folder / "b_sub", width=320, height=240).read()
    assert big.shape == (240, 320, 3)  # 800x600 scaled down, aspect kept


def test_folder_source_errors(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="no such folder"):
        ImageFolderSource(tmp_path / "missing")
    with pytest.raises(CameraError, match="no images"):
        ImageFolderSource(tmp_path)
    (tmp_path / "x.jpg").write_bytes(b"junk")
    source = ImageFolderSource(tmp_path)
    with pytest.raises(CameraError, match="none of the images can be read"):
        source.read()


def write_video(path: Path, values: list[int], size: tuple[int, int] = (320, 240)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for value in values:
        writer.write(np.full((size[1], size[0], 3), value, np.uint8))
    writer.release()
    return path


def test_opencv_source_reads_a_video_file_and_loops(tmp_path: Path) -> None:
    video = write_video(tmp_path / "room.avi", [30, 90, 150, 210])
    source = OpenCVSource(str(video), width=160, height=160, capture_timeout_s=10)
    means = [int(source.read().mean().round()) for _ in range(6)]
    assert means == pytest.approx([30, 90, 150, 210, 30, 90], abs=4)
    frame = source.read()
    assert frame.shape == (120, 160, 3)  # 320x240 fitted into 160x160
    source.close()
    assert int(source.read().mean().round()) == pytest.approx(30, abs=4)  # reopened from the start
    source.close()


def test_opencv_source_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="no such file"):
        OpenCVSource(str(tmp_path / "nope.avi"))
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(CameraError, match="cannot open the video file"):
        OpenCVSource(str(junk), capture_timeout_s=10).read()
    with pytest.raises(CameraError, match="no such device"):
        OpenCVSource("/dev/video97", capture_timeout_s=10).read()


def test_open_camera_by_source_kind(tmp_path: Path, image_folder: Path) -> None:
    video = write_video(tmp_path / "v.avi", [60, 120])
    assert open_camera(CameraConfig(source=str(image_folder)), None).name == f"folder:{image_folder}"
    source = open_camera(CameraConfig(source=str(video)), None)
    assert source.name == f"opencv:{video}" and source.read().shape == (240, 320, 3)
    source.close()
    with pytest.raises(CameraError, match="no such file or folder: .*missing.*camera.source"):
        open_camera(CameraConfig(source=str(tmp_path / "missing")), None)
    with pytest.raises(CameraError, match="picamera2 is not available"):
        open_camera(CameraConfig(source="picamera2"), None)


def test_auto_falls_back_to_the_folder_and_says_how_to_configure(image_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    if Path("/dev/video0").exists():
        pytest.skip("this machine has /dev/video0")
    caplog.set_level(logging.INFO)
    source = open_camera(CameraConfig(source="auto"), image_folder)
    assert source.name == f"folder:{image_folder}"
    assert "no camera found" in caplog.text and "camera.source" in caplog.text
    with pytest.raises(CameraError, match="no camera found"):
        open_camera(CameraConfig(source="auto"), None)


# ----- the Pi camera through a fake Picamera2 (true hardware boundary) ------------------------


class FakePicamera2:
    """Mimics the parts of picamera2.Picamera2 that Picamera2Source uses."""

    instances: list["FakePicamera2"] = []
    busy_opens = 0  # the next N constructions fail like a camera held by another process
    hang_next = False
    fail_next = 0
    open_gate: threading.Event | None = None  # when set up: construction waits for it (a hung open)
    stride_pad = 64

    def __init__(self, camera_num: int = 0) -> None:
        if FakePicamera2.busy_opens:
            FakePicamera2.busy_opens -= 1
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        if FakePicamera2.open_gate is not None:
            FakePicamera2.open_gate.wait(30)
        self.camera_num = camera_num
        self.config: dict[str, Any] = {}
        self.started = False
        self.closed = False
        self.captures = 0
        self.release_hang = threading.Event()
        FakePicamera2.instances.append(self)

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return [{"Model": "imx708", "Num": 0}]

    def create_video_configuration(self, main: dict[str, Any], lores: dict[str, Any], controls: dict[str, Any]) -> dict[str, Any]:
        return {"main": main, "lores": lores, "controls": controls}

    def configure(self, config: dict[str, Any]) -> None:
        # libcamera may round stream sizes (e.g. the width to a multiple of 32 here)
        width, height = config["lores"]["size"]
        config["lores"] = {**config["lores"], "size": (width // 32 * 32, height)}
        self.config = config

    def camera_configuration(self) -> dict[str, Any]:
        return self.config

    def start(self) -> None:
        self.started = True

    def capture_array(self, name: str = "main") -> np.ndarray:
        assert name == "lores" and self.started
        if FakePicamera2.hang_next:
            FakePicamera2.hang_next = False
            self.release_hang.wait(30)  # like libcamera's "Dequeue timer expired" hang
        if FakePicamera2.fail_next:
            FakePicamera2.fail_next -= 1
            raise RuntimeError("Camera frontend has timed out!")
        self.captures += 1
        width, height = self.config["lores"]["size"]
        # YUV420: Y plane (height rows) + U and V (height/2 rows), rows padded to a stride
        yuv = np.full((height * 3 // 2, width + self.stride_pad), 128, np.uint8)
        yuv[:height, :width] = np.tile(np.arange(width, dtype=np.uint8), (height, 1))
        yuv[:height, width:] = 255  # stride padding must not leak into the image
        return yuv

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_picamera2() -> Any:
    FakePicamera2.instances = []
    FakePicamera2.busy_opens = 0
    FakePicamera2.hang_next = False
    FakePicamera2.fail_next = 0
    FakePicamera2.open_gate = None
    yield FakePicamera2
    if FakePicamera2.open_gate is not None:
        FakePicamera2.open_gate.set()
    for cam in FakePicamera2.instances:
        cam.release_hang.set()


def test_picamera2_lores_yuv_becomes_grey_bgr(fake_picamera2: Any) -> None:
    source = Picamera2Source(320, 240, capture_timeout_s=5, picamera2_class=fake_picamera2)
    frame = source.read()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert (frame[:, :, 0] == frame[:, :, 2]).all()  # grey in all three channels
    assert frame[10, 5, 1] == 5 and frame[0, 255, 0] == 255 and frame[0, 319, 0] == 319 % 256
    cam = fake_picamera2.instances[0]
    assert cam.config["lores"] == {"size": (320, 240), "format": "YUV420"}
    assert cam.config["controls"]["FrameDurationLimits"][1] >= 100000  # may slow down in a dim room
    assert cam.captures == camera_module.PICAMERA2_SETTLE_FRAMES + 1  # settling frames dropped
    source.close()
    assert cam.closed and not cam.started


def test_picamera2_uses_the_lores_size_libcamera_chose(fake_picamera2: Any) -> None:
    source = Picamera2Source(330, 240, capture_timeout_s=5, picamera2_class=fake_picamera2)
    frame = source.read()
    assert frame.shape == (240, 320, 3)  # 330 rounded down to 320 by the (fake) libcamera
    assert frame[0, 319, 0] == 319 % 256  # the last image column, not stride padding
    source.close()


def test_picamera2_capture_timeout_then_reopen(fake_picamera2: Any) -> None:
    source = Picamera2Source(64, 48, capture_timeout_s=5, picamera2_class=fake_picamera2)
    source.read()
    fake_picamera2.hang_next = True
    with pytest.raises(CameraError, match="no frame within 0.3 s"):
        source.read(timeout=0.3)
    first = fake_picamera2.instances[0]
    assert not first.closed  # never released under a capture that is still running
    first.release_hang.set()
    frame = source.read(timeout=10)  # a new camera object
    assert frame.shape == (48, 64, 3)
    assert len(fake_picamera2.instances) == 2
    wait_for(lambda: first.closed)
    source.close()


def test_picamera2_hung_for_good_is_released_anyway(fake_picamera2: Any) -> None:
    source = Picamera2Source(64, 48, capture_timeout_s=5, picamera2_class=fake_picamera2)
    source.force_release_after_s = 0.3
    source.read()
    fake_picamera2.hang_next = True  # and never released: "Dequeue timer expired" for good
    with pytest.raises(CameraError, match="no frame within"):
        source.read(timeout=0.3)
    assert source.read(timeout=10).shape == (48, 64, 3)
    first, second = fake_picamera2.instances
    assert first.closed and not second.closed
    source.close()


def test_picamera2_hung_open_is_released_when_it_returns(fake_picamera2: Any) -> None:
    source = Picamera2Source(64, 48, capture_timeout_s=5, picamera2_class=fake_picamera2)
    fake_picamera2.open_gate = threading.Event()
    with pytest.raises(CameraError, match="did not open in time"):
        source.read(timeout=0.3)
    fake_picamera2.open_gate.set()
    fake_picamera2.open_gate = None
    assert source.read(timeout=10).shape == (48, 64, 3)
    late, used = fake_picamera2.instances
    assert late.closed and not used.closed  # the late camera was not leaked
    source.close()


def test_picamera2_failed_capture_reopens_once(fake_picamera2: Any) -> None:
    source = Picamera2Source(64, 48, capture_timeout_s=5, picamera2_class=fake_picamera2)
    source.read()
    fake_picamera2.fail_next = 1
    assert source.read().shape == (48, 64, 3)
    assert len(fake_picamera2.instances) == 2 and fake_picamera2.instances[0].closed
    fake_picamera2.fail_next = 5
    with pytest.raises(CameraError, match="frontend has timed out"):
        source.read()


def test_picamera2_busy_camera_is_a_clear_error_and_retried(fake_picamera2: Any) -> None:
    source = Picamera2Source(64, 48, capture_timeout_s=5, picamera2_class=fake_picamera2)
    fake_picamera2.busy_opens = 1
    with pytest.raises(CameraError, match="busy: another program uses it"):
        source.read()
    assert source.read().shape == (48, 64, 3)  # the next read opens it again


def test_auto_prefers_the_pi_camera(fake_picamera2: Any, image_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(picamera_module, "_import_picamera2", lambda: fake_picamera2)
    source = open_camera(CameraConfig(source="auto", width=160, height=120), image_folder)
    assert source.name == "picamera2"
    assert source.read().shape == (120, 160, 3)
    source.close()


def test_fit_frame_and_lores_shapes() -> None:
    assert fit_frame(np.zeros((100, 50), np.uint8), 640, 480).shape == (100, 50, 3)  # never upscaled
    assert fit_frame(np.zeros((1000, 500, 4), np.uint8), 640, 480).shape == (480, 240, 3)
    rgb = np.zeros((240, 320, 4), np.uint8)
    rgb[..., 2] = 7
    assert lores_to_bgr(rgb, 320, 240)[0, 0].tolist() == [0, 0, 7]
    with pytest.raises(CameraError, match="smaller than"):
        lores_to_bgr(np.zeros((100, 100), np.uint8), 320, 240)


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_opencv_source_reads_an_http_stream(tmp_path: Path, httpserver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "cam.avi", [40, 160])
    httpserver.expect_request("/cam.avi").respond_with_data(video.read_bytes(), content_type="video/x-msvideo")
    source = OpenCVSource(httpserver.url_for("/cam.avi"), width=320, height=240, capture_timeout_s=20)
    assert source.name.startswith("opencv:http://")
    assert int(source.read().mean().round()) == pytest.approx(40, abs=4)
    monkeypatch.setattr(device_module, "STALE_AFTER_S", 0.0)  # as if the last burst was long ago
    assert int(source.read().mean().round()) == pytest.approx(40, abs=4)  # reconnected: a live frame, not 160
    source.close()
    assert len([entry for entry in httpserver.log if entry[0].path == "/cam.avi"]) >= 2

    missing = OpenCVSource(httpserver.url_for("/missing.avi"), capture_timeout_s=20)
    with pytest.raises(CameraError, match="cannot connect to the stream"):
        missing.read()


def test_stream_names_hide_passwords() -> None:
    assert redact_url("rtsp://admin:s3cret@192.168.1.9:554/stream1") == "rtsp://admin:***@192.168.1.9:554/stream1"
    assert redact_url("http://cam.local/video.mjpg") == "http://cam.local/video.mjpg"
    assert redact_url("rtsp://viewer@cam/x?a=b@c") == "rtsp://viewer@cam/x?a=b@c"
    assert "s3cret" not in OpenCVSource("rtsp://admin:s3cret@127.0.0.1:9/x").name
