"""The library at hand through the REST API, on the real server and a real Core (mpv with null audio):
browse artists, albums and moods; play or queue what the owner picks; seek; covers from the folder;
undo a mood correction."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC

from core_testkit import HAPPY_FACE, show, wait_until
from moodbox.music.sidecar import SIDECAR_NAME
from web_testkit import Box, Client

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + b"\x08" * 64 + bytes.fromhex("ffd9")


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory, library: Path) -> Path:
    folder = tmp_path_factory.mktemp("librarymusic")
    for path in library.iterdir():
        shutil.copy(path, folder / path.name)
    album = folder / "Night Owls" / "Late Hours"
    album.mkdir(parents=True)
    tone = (0.1 * np.sin(np.arange(8000 * 60) / 8000 * 2 * np.pi * 330)).astype(np.float32)
    for number in (2, 1, 3):  # written out of order: the album lists them by track number
        path = album / f"{number:02d}.flac"
        sf.write(str(path), tone, 8000)
        tags = FLAC(str(path))
        tags.update({"title": f"Hour {number}", "artist": "Night Owls", "album": "Late Hours", "date": "2001",
                     "tracknumber": str(number)})  # no mood tag: moods.csv may decide
        tags.save()
    (album / "cover.jpg").write_bytes(JPEG)
    return folder


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, music: Path) -> Iterator[Box]:
    started = Box(tmp_path_factory.mktemp("librarybox"), music)
    wait_until(lambda: (started.core.snapshot().get("library") or {}).get("tracks") == 15, "the scan")
    yield started
    started.close()


@pytest.fixture
def client(box: Box) -> Client:
    c = box.client()
    c.start_session()
    return c


def late_hours(client: Client) -> dict:
    albums = client.get("/api/v1/library/albums?artist=Night%20Owls").json()["albums"]
    assert [a["title"] for a in albums] == ["Late Hours"]
    return albums[0]


def test_artists_albums_and_moods_are_browsable(client: Client) -> None:
    artists = {a["name"]: a for a in client.get("/api/v1/library/artists").json()["artists"]}
    assert artists["Night Owls"] == {"name": "Night Owls", "albums": 1, "tracks": 3} and len(artists) == 13
    album = late_hours(client)
    assert album["year"] == 2001 and album["tracks"] == 3 and album["cover"].endswith("/cover")
    detail = client.get(f"/api/v1/library/albums/{album['id']}").json()
    assert [t["title"] for t in detail["tracks"]] == ["Hour 1", "Hour 2", "Hour 3"]
    moods = {m["mood"]: m["tracks"] for m in client.get("/api/v1/library/moods").json()["moods"]}
    assert moods["happy"] == 3 and moods["sad"] == 3 and sum(moods.values()) == 15
    happy = client.get("/api/v1/library/tracks?mood=happy").json()["tracks"]
    assert len(happy) == 3 and all(t["mood"] == "happy" for t in happy)
    assert client.get("/api/v1/library/tracks?mood=grumpy").status == 400
    assert client.get("/api/v1/library/albums/99999").status == 404


def test_a_cover_beside_the_files_is_served(client: Client) -> None:
    album = late_hours(client)
    reply = client.get(album["cover"])
    assert reply.status == 200 and reply.headers["Content-Type"] == "image/jpeg" and reply.body == JPEG


def test_play_an_album_now_then_queue_next_and_at_the_end(client: Client, box: Box) -> None:
    album = late_hours(client)
    ids = [t["track_id"] for t in client.get(f"/api/v1/library/albums/{album['id']}").json()["tracks"]]
    reply = client.post("/api/v1/queue", {"track_ids": ids, "where": "now"})
    assert reply.status == 202 and reply.json()["tracks"] == 3
    wait_until(lambda: box.core.snapshot()["player"].get("title") == "Hour 1", "the album to play")
    player = box.core.snapshot()["player"]
    assert player["queue_source"] == "picked" and player["reason"] == "you picked it"
    assert player["cover"] if "cover" in player else client.get("/api/v1/state").json()["player"]["cover"]

    happy = client.get("/api/v1/library/tracks?mood=happy").json()["tracks"]
    assert client.post("/api/v1/queue", {"track_ids": [happy[0]["track_id"]], "where": "next"}).status == 202
    assert client.post("/api/v1/queue", {"track_ids": [happy[1]["track_id"]], "where": "end"}).status == 202
    wait_until(lambda: len(box.core.queue()) == 5, "two more in the queue")
    titles = [e["title"] for e in box.core.queue()]
    assert titles == ["Hour 1", happy[0]["title"], "Hour 2", "Hour 3", happy[1]["title"]]

    show(Path(box.config.camera.source), HAPPY_FACE)  # the room's mood changes: the owner's pick stays
    box.core.refresh_mood("recheck")
    wait_until(lambda: box.core.snapshot()["mood"]["emotion"] == "happy", "a happy room")
    assert [e["title"] for e in box.core.queue()] == titles and box.core.snapshot()["player"]["title"] == "Hour 1"

    for _ in range(5):  # to the end of the picked queue: the box reads the room again
        box.core.next()
    wait_until(lambda: box.core.snapshot()["player"].get("queue_source") == "room", "a queue for the room again")


def test_a_pick_with_an_unknown_track_changes_nothing(client: Client, box: Box) -> None:
    before = [e["title"] for e in box.core.queue()]
    reply = client.post("/api/v1/queue", {"track_ids": [1, 987654321], "where": "now"})
    assert reply.status == 404 and "987654321" in reply.json()["error"]
    assert client.post("/api/v1/queue", {"track_ids": [], "where": "now"}).status == 400
    assert client.post("/api/v1/queue", {"track_ids": [1], "where": "later"}).status == 400
    assert [e["title"] for e in box.core.queue()] == before


def test_seek(client: Client, box: Box) -> None:
    wait_until(lambda: box.core.snapshot()["player"]["state"] == "playing", "playing")
    seen: list[float] = []
    stop = box.core.subscribe(lambda topic, data: seen.append(data.get("position") or 0) if topic == "player" else None)
    assert client.post("/api/v1/player/seek", {"position": 40}).status == 202
    wait_until(lambda: (box.core.player.status().position or 0) >= 40, "the position past 40 s")
    wait_until(lambda: any(p >= 40 for p in seen), "the seek published (live pages, MQTT)")
    stop()
    assert client.post("/api/v1/player/seek", {"position": -1}).status == 400


def test_a_mood_correction_can_be_undone(client: Client, box: Box, music: Path) -> None:
    album = late_hours(client)
    track = client.get(f"/api/v1/library/albums/{album['id']}").json()["tracks"][0]
    assert client.request("PUT", f"/api/v1/tracks/{track['track_id']}/mood", {"mood": "calm"}).status == 202
    sidecar = music / SIDECAR_NAME
    assert "Night Owls/Late Hours/01.flac,calm" in sidecar.read_text()
    wait_until(lambda: box.core.library_album(album["id"])[1][0]["mood"] == "calm", "the corrected mood")
    assert client.request("DELETE", f"/api/v1/tracks/{track['track_id']}/mood").status == 202
    assert "01.flac" not in sidecar.read_text()
    wait_until(lambda: box.core.library_album(album["id"])[1][0]["mood_source"] != "moods.csv", "the mood undone")
