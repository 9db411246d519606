"""The REST API and live updates against the real web server (waitress) on a real Core with a real
library, mpv (null audio) and a folder camera."""
from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC, Picture

from core_testkit import HAPPY_FACE, wait_until
from moodbox.core import THINGS, CommandError, parse_command
from moodbox.music.sidecar import SIDECAR_NAME
from web_testkit import Box, Client

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory, library: Path) -> Path:
    """The test library (copied: this module writes moods.csv into it) plus a track with a cover."""
    folder = tmp_path_factory.mktemp("webmusic")
    for path in library.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    cover = folder / "covered.flac"
    sf.write(str(cover), (0.1 * np.sin(np.arange(8000 * 30) / 8000 * 2 * np.pi * 300)).astype(np.float32), 8000)
    tags = FLAC(str(cover))
    tags.update({"title": "Picture Song", "artist": "Cover Band"})  # no mood tag: moods.csv decides
    picture = Picture()
    picture.type, picture.mime, picture.data = 3, "image/png", PNG
    tags.add_picture(picture)
    tags.save()
    return folder


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, music: Path) -> Iterator[Box]:
    started = Box(tmp_path_factory.mktemp("webbox"), music)
    yield started
    started.close()


@pytest.fixture
def client(box: Box) -> Client:
    c = box.client()
    c.start_session()
    return c


def test_state_has_every_topic_and_the_queue_with_reasons(client: Client, box: Box) -> None:
    reply = client.get("/api/v1/state")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    state = reply.json()
    assert set(state) >= {"mood", "player", "volume", "policy", "override", "detection", "camera", "library",
                          "diagnostics", "queue"}
    assert state["volume"] == {"volume": 30, "max": 60}
    assert state["player"]["state"] == "playing" and state["player"]["reason"]
    has_picture = state["player"]["title"] == "Picture Song"  # the one track with an embedded picture
    assert state["player"]["cover"] == (f"/api/v1/tracks/{state['player']['track_id']}/cover" if has_picture else None)
    assert state["queue"] and all(q["reason"] for q in state["queue"])
    assert sum(q["current"] for q in state["queue"]) == 1
    assert set(state["mood"]["probs"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}


def test_a_command_without_the_csrf_token_is_refused(client: Client, box: Box) -> None:
    reply = client.post("/api/v1/commands/policy", {"value": "calm"}, csrf=False)
    assert reply.status == 403 and "X-CSRF-Token" in reply.json()["error"]
    other = box.client()  # a token from another session does not count either
    other.csrf = client.csrf + "x"
    assert other.post("/api/v1/commands/policy", {"value": "calm"}).status == 403
    assert box.core.snapshot()["policy"] == {"policy": "match"}


def test_commands_change_the_box_and_volume_never_passes_the_cap(client: Client, box: Box) -> None:
    reply = client.post("/api/v1/commands/volume", {"value": 45})
    assert reply.status == 202 and reply.json() == {"ok": True, "command": "set_volume", "args": [45]}
    wait_until(lambda: box.core.snapshot()["volume"]["volume"] == 45, "volume 45")
    assert client.post("/api/v1/commands/volume", {"value": 100}).json()["args"] == [60]
    wait_until(lambda: box.core.snapshot()["volume"]["volume"] == 60, "volume at the cap")
    assert client.post("/api/v1/commands/volume", {"value": "+10"}).json()["args"] == [60]
    assert client.post("/api/v1/commands/volume", {"value": "-20"}).json()["args"] == [40]
    wait_until(lambda: box.core.snapshot()["volume"]["volume"] == 40, "volume 40")
    assert client.post("/api/v1/commands/policy", {"value": "lift"}).status == 202
    wait_until(lambda: box.core.snapshot()["policy"] == {"policy": "lift"}, "policy lift")
    assert client.post("/api/v1/commands/override", {"value": {"emotion": "sad", "timeout": 600}}).status == 202
    wait_until(lambda: box.core.snapshot()["override"].get("emotion") == "sad", "override sad")
    assert client.post("/api/v1/commands/override", {"value": "auto"}).status == 202
    assert client.post("/api/v1/commands/detection", {"value": False}).status == 202
    wait_until(lambda: box.core.snapshot()["detection"] == {"enabled": False}, "detection off")
    assert client.post("/api/v1/commands/detection", {"value": True}).status == 202
    wait_until(lambda: box.core.snapshot()["detection"] == {"enabled": True}, "detection on")
    client.post("/api/v1/commands/policy", {"value": "match"})


@pytest.mark.parametrize("thing, value", [("volume", "loud"), ("volume", 101), ("player", "jump"),
                                          ("policy", "party"), ("override", {"emotion": "bored"}),
                                          ("detection", "maybe"), ("like", "now")])
def test_bad_values_get_the_same_error_as_over_mqtt(client: Client, thing: str, value: object) -> None:
    reply = client.post(f"/api/v1/commands/{thing}", {"value": value})
    assert reply.status == 400
    payload = json.dumps(value).encode() if isinstance(value, dict) else str(value).encode()
    with pytest.raises(CommandError) as mqtt_error:
        parse_command(thing, payload, 30, 60)
    assert reply.json() == {"error": str(mqtt_error.value)}


def test_unknown_commands_bodies_and_sizes_are_clear_errors(client: Client) -> None:
    reply = client.post("/api/v1/commands/teleport", {"value": 1})
    assert reply.status == 404 and "known: player, volume" in reply.json()["error"]
    reply = client.request("POST", "/api/v1/commands/policy", raw=b"{not json")
    assert reply.status == 400 and reply.json()["error"] == "the body must be JSON (UTF-8)"
    reply = client.request("POST", "/api/v1/commands/policy", raw=b'{"value": "' + b"x" * 20000 + b'"}')
    assert reply.status == 413 and "error" in reply.json()
    assert client.get("/api/v1/nothing").status == 404
    assert client.request("DELETE", "/api/v1/state").status == 405


def test_no_directory_traversal_through_any_path(client: Client, box: Box) -> None:
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2f..%2fconfig.py",
                 "/static//etc/passwd", "/api/v1/tracks/..%2f..%2fetc%2fpasswd/cover", "/api/v1/tracks/-1/cover"):
        reply = client.get(path)
        assert reply.status == 404, (path, reply.status)
        assert b"root:" not in reply.body and b"create_app" not in reply.body
    with socket.create_connection(("127.0.0.1", box.web.port), timeout=5) as raw:  # not normalised by a client
        raw.sendall(b"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = raw.recv(65536)
    assert b"root:" not in answer and answer.split(b" ")[1] in (b"404", b"400")


def test_live_updates_as_server_sent_events(client: Client, box: Box) -> None:
    with socket.create_connection(("127.0.0.1", box.web.port), timeout=10) as raw:
        raw.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        buffer = b""
        while not re.search(rb"event: snapshot\ndata: .*\n\n", buffer):
            buffer += raw.recv(65536)
        assert b"text/event-stream" in buffer.split(b"\r\n\r\n")[0]
        assert client.post("/api/v1/commands/policy", {"value": "calm"}).status == 202
        deadline = time.monotonic() + 10
        while b"event: policy" not in buffer and time.monotonic() < deadline:
            buffer += raw.recv(65536)
    event = re.search(rb"event: policy\ndata: (.*)\n\n", buffer)
    assert event and json.loads(event.group(1)) == {"policy": "calm"}
    wait_until(lambda: box.web.feed.page_count == 0, "the stream to end with its socket")
    client.post("/api/v1/commands/policy", {"value": "match"})


def test_history_shows_a_skip(client: Client, box: Box) -> None:
    def skips() -> list[dict]:
        return [p for p in client.get("/api/v1/history?limit=50").json()["plays"] if p["skipped"]]
    player = box.core.snapshot()["player"]
    if player["index"] >= player["queue_length"] - 1:  # "next" on the last track ends the queue instead
        assert client.post("/api/v1/commands/player", {"value": "previous"}).status == 202
        wait_until(lambda: box.core.snapshot()["player"]["index"] < player["index"], "the track before")
    # a skip counts once the track has really started playing
    wait_until(lambda: (box.core.snapshot()["player"].get("position") or 0) > 0.3, "the track to play")
    before = len(skips())
    assert client.post("/api/v1/commands/player", {"value": "next"}).status == 202
    wait_until(lambda: len(skips()) > before, "the skip in the history")
    newest = skips()[0]
    assert newest["title"] and newest["listened_s"] < 30 and {"likes", "dislikes", "mood", "at"} <= set(newest)
    assert newest["track_id"] in {t["track_id"] for t in client.get("/api/v1/library/search?q=Song").json()["tracks"]}


def test_search_cover_and_mood_correction_written_to_moods_csv(client: Client, box: Box, music: Path) -> None:
    found = client.get("/api/v1/library/search?q=picture").json()["tracks"]
    assert [t["title"] for t in found] == ["Picture Song"]
    track = found[0]
    cover = client.get(f"/api/v1/tracks/{track['track_id']}/cover")
    assert cover.status == 200 and cover.headers["Content-Type"] == "image/png" and cover.body == PNG
    happy = client.get("/api/v1/library/search?q=Happy%20Song%201").json()["tracks"][0]
    assert client.get(f"/api/v1/tracks/{happy['track_id']}/cover").status == 404
    assert client.get("/api/v1/library/search?q=" + "x" * 300).status == 400
    reply = client.request("PUT", f"/api/v1/tracks/{track['track_id']}/mood", {"mood": "sad"})
    assert reply.status == 202, reply.body
    assert (music / SIDECAR_NAME).read_text().splitlines() == ["path,mood,valence,energy", "covered.flac,sad,,"]
    def corrected() -> bool:
        [t] = client.get("/api/v1/library/search?q=picture").json()["tracks"]
        return t["mood"] == "sad" and t["mood_source"] == "sidecar"
    wait_until(corrected, "the rescan to take the correction")
    assert client.request("PUT", f"/api/v1/tracks/{track['track_id']}/mood", {"mood": "bored"}).status == 400
    assert client.request("PUT", "/api/v1/tracks/999999/mood", {"mood": "sad"}).status == 404
    tagged = client.request("PUT", f"/api/v1/tracks/{happy['track_id']}/mood", {"mood": "sad"})
    assert tagged.status == 409 and "mood tag" in tagged.json()["error"]


def test_mood_history_is_kept_in_memory(client: Client) -> None:
    points = client.get("/api/v1/mood/history?hours=1").json()["points"]
    assert points and {"at", "emotion", "confidence", "valence", "arousal"} <= set(points[-1])
    assert client.get("/api/v1/mood/history?hours=24").status == 400


def test_openapi_lists_every_route(client: Client, box: Box) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for route in box.web.web.routes:
        if route.path.startswith("/api/v1/"):
            paths = [route.path.replace("{thing}", t) for t in THINGS] if "{thing}" in route.path else [route.path]
            served |= {(path, m.lower()) for path in paths for m in route.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


def test_security_headers(client: Client) -> None:
    page = client.get("/")
    assert page.status == 200 and b"<title>moodbox</title>" in page.body
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def _answers(box: Box) -> bool:
    try:
        return box.client().get("/api/v1/session").status == 200
    except OSError:
        return False


def test_a_server_that_stops_by_itself_is_started_again_and_the_music_plays_on(
        box: Box, caplog: pytest.LogCaptureFixture) -> None:
    server = box.web._server
    server.should_exit = True  # uvicorn's loop ends as if it had stopped on its own
    wait_until(lambda: "web server stopped by itself" in caplog.text, "the restart to be logged")
    wait_until(lambda: box.web._server is not server and _answers(box), "the server to answer again")
    assert box.core.snapshot()["player"]["state"] == "playing"


def test_a_crashed_server_is_started_again_and_the_music_plays_on(
        box: Box, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    crashes = []
    real_main_loop = uvicorn.Server.main_loop

    async def crash_once(self: uvicorn.Server) -> None:
        if not crashes:
            crashes.append(self)
            raise RuntimeError("injected crash")
        await real_main_loop(self)

    monkeypatch.setattr(uvicorn.Server, "main_loop", crash_once)
    box.web._server.should_exit = True  # the next server start crashes once
    wait_until(lambda: "web server crashed; starting it again" in caplog.text, "the crash to be logged")
    wait_until(lambda: _answers(box), "the server to answer again")
    assert "injected crash" in caplog.text and box.core.snapshot()["player"]["state"] == "playing"


def test_with_a_password_controls_need_a_login(tmp_path: Path, music: Path) -> None:
    box = Box(tmp_path, music, web={"password": "s3cret"})
    try:
        c = box.client()
        info = c.start_session()
        assert info["password_required"] is True and info["logged_in"] is False
        assert c.get("/api/v1/state").status == 200  # reading stays open
        reply = c.post("/api/v1/commands/player", {"value": "pause"})
        assert reply.status == 401 and "log in" in reply.json()["error"]
        assert c.post("/api/v1/login", {"password": "wrong"}).status == 401
        assert c.post("/api/v1/login", {"password": "s3cret"}, csrf=False).status == 403
        assert c.post("/api/v1/login", {"password": "s3cret"}).json()["logged_in"] is True
        assert c.post("/api/v1/commands/player", {"value": "pause"}).status == 202
        wait_until(lambda: box.core.snapshot()["player"]["state"] == "paused", "paused")
        assert c.post("/api/v1/logout").json()["logged_in"] is False
        assert c.post("/api/v1/commands/player", {"value": "play"}).status == 401
    finally:
        box.close()


def test_the_camera_view_is_off_without_a_password(tmp_path: Path, music: Path, client: Client,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    assert client.get("/api/v1/camera/view.jpg").status == 404  # web.camera_view is off by default
    box = Box(tmp_path, music, web={"camera_view": True}, camera_image=HAPPY_FACE)
    try:
        c = box.client()
        assert c.start_session()["camera_view"] is False
        assert "web.camera_view needs a web password" in caplog.text
        box.core.refresh_mood()
        wait_until(lambda: (box.core.snapshot()["mood"] or {}).get("source") == "camera", "a reading")
        reply = c.get("/api/v1/camera/view.jpg")
        assert reply.status == 404 and "needs a web password" in reply.json()["error"]
    finally:
        box.close()


def test_the_camera_view_shows_the_faces_to_a_logged_in_owner_and_stores_nothing(tmp_path: Path, music: Path) -> None:
    import cv2

    box = Box(tmp_path, music, web={"camera_view": True, "password": "pw"}, camera_image=HAPPY_FACE)
    try:
        c = box.client()
        assert c.start_session()["camera_view"] is True
        assert c.get("/api/v1/camera/view.jpg").status == 401
        assert c.post("/api/v1/login", {"password": "pw"}).status == 200
        assert c.post("/api/v1/commands/refresh").status == 202
        wait_until(lambda: c.get("/api/v1/camera/view.jpg").status == 200, "a camera picture")
        reply = c.get("/api/v1/camera/view.jpg")
        assert reply.headers["Content-Type"] == "image/jpeg" and reply.headers["Cache-Control"] == "no-store"
        assert int(reply.headers["X-Faces"]) >= 1 and float(reply.headers["X-Frame-Age"]) < 60
        image = cv2.imdecode(np.frombuffer(reply.body, np.uint8), cv2.IMREAD_COLOR)
        height, width = image.shape[:2]  # the frame as analysed: fitted inside camera.width x height
        assert (height, width) == (480, 480) and (box.config.camera.height, box.config.camera.width) == (480, 640)
        assert not [p for p in tmp_path.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                    and "cam" not in p.parts]  # no picture written anywhere but the camera's own folder
        c.post("/api/v1/logout")
        assert c.get("/api/v1/camera/view.jpg").status == 401
    finally:
        box.close()
