"""The moodbox custom integration (custom_components/moodbox) in the real Home Assistant: found by
itself through the box's MQTT discovery, added through HA's config-flow REST API, its media player
following the box and driving it (every service). Called by check.py while the box runs.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[2]
ENTITY = "media_player.moodbox"
# The box's web page has a password in the check: queueing and seeking log in with it.
WEB_PASSWORD = "check-web-pw-1"
# Home Assistant says this about every custom integration, whatever it does (loader.CUSTOM_WARNING).
CUSTOM_WARNING = "We found a custom integration moodbox which has not been tested by Home Assistant"
# A 1x1 PNG: the check's tracks carry it as their embedded cover picture.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d4944415478da63f8"
                    "cfc0f01f0005000201e2a1e8f90000000049454e44ae426082")


def install(ha_dir: Path) -> None:
    """Copy the integration where Home Assistant looks for custom integrations (as HACS does)."""
    shutil.copytree(REPO / "custom_components" / "moodbox", ha_dir / "custom_components" / "moodbox",
                    ignore=shutil.ignore_patterns("__pycache__"))


def add_covers(library: Path) -> None:
    """Embed a front cover in every FLAC of the check's library."""
    from mutagen.flac import FLAC, Picture
    for path in sorted(library.glob("*.flac")):
        picture = Picture()
        picture.type, picture.mime, picture.data, picture.width, picture.height = 3, "image/png", PNG, 1, 1
        tags = FLAC(str(path))
        tags.add_picture(picture)
        tags.save()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, poll: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, LookupError, StopIteration, TypeError, ValueError):
            pass  # not there yet
        time.sleep(poll)
    try:
        return predicate()
    except (OSError, LookupError, StopIteration, TypeError, ValueError):
        return False


def http_get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


class IntegrationCheck:
    def __init__(self, ha: Any, report: Callable[..., bool], box_url: str, ha_python: Path, box_log: Path) -> None:
        self.ha, self.report, self.box_url, self.box_log = ha, report, box_url, box_log
        self.ha_python = ha_python

    def attrs(self) -> dict[str, Any]:
        return self.ha.states().get(ENTITY, {}).get("attributes", {})

    def state(self, entity_id: str = ENTITY) -> str | None:
        return self.ha.states().get(entity_id, {}).get("state")

    def service(self, name: str, data: dict[str, Any] | None = None, domain: str = "media_player") -> None:
        self.ha.service(domain, name, {"entity_id": ENTITY, **(data or {})})

    def box_commands(self, text: str) -> int:
        return self.box_log.read_text(errors="replace").count(text)

    def websocket(self, message: dict[str, Any]) -> dict[str, Any]:
        # The script on stdin: HA's Python may run in a root file system of its own (run.sh --ha).
        out = subprocess.run([str(self.ha_python), "-", self.ha.base, self.ha.token, json.dumps(message)],
                             input=Path(__file__).with_name("ws.py").read_text(), capture_output=True, text=True,
                             timeout=60)
        return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {"error": out.stderr[-300:]}

    def browse(self, content_id: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "media_player/browse_media", "entity_id": ENTITY}
        if content_id:
            message.update(media_content_id=content_id, media_content_type="music")
        return self.websocket(message)

    # ----- the checks -----

    def add(self) -> bool:
        """The flow HA started by itself from the box's MQTT discovery, completed through the REST API."""
        flows: list[dict[str, Any]] = []

        def found() -> bool:
            # In-progress flows are listed on the websocket API only (what the UI's "Discovered" card reads).
            answer = self.websocket({"type": "config_entries/flow/progress"})
            flows[:] = [f for f in answer.get("result") or [] if f["handler"] == "moodbox"]
            return bool(flows)
        ok = wait_until(found, 30, poll=1.0)
        source = flows[0].get("context", {}).get("source") if flows else None
        if not self.report(ok and source == "mqtt", "the box is found by itself (a moodbox config flow from its MQTT discovery)",
                           f"source {source}, {len(flows)} flow(s)"):
            return False
        result = self.ha.call("POST", f"/api/config/config_entries/flow/{flows[0]['flow_id']}",
                              {"password": WEB_PASSWORD})
        entry = result.get("result") or {}
        self.report(result.get("type") == "create_entry",
                    "config flow completed through the REST API (the confirm step, with the box's web password)",
                    f"{result.get('type')}: {entry.get('title')}")
        entries = self.ha.call("GET", "/api/config/config_entries/entry?domain=moodbox")
        return self.report(wait_until(lambda: any(e["state"] == "loaded" for e in
                                                  self.ha.call("GET", "/api/config/config_entries/entry?domain=moodbox")), 30)
                           and wait_until(lambda: self.state() not in (None, "unavailable"), 30),
                           f"the integration is loaded and {ENTITY} is available",
                           f"{[e['state'] for e in entries]}, {self.state()}")

    def follows(self) -> None:
        """The media player shows what the MQTT entities (the box) show."""
        def same() -> bool:
            a, s = self.attrs(), self.ha.states()
            player = s["sensor.moodbox_player_state"]["state"]
            return (self.state() == {"playing": "playing", "paused": "paused"}.get(player, "idle")
                    and f"{a.get('media_artist')} - {a.get('media_title')}" == s["sensor.moodbox_now_playing"]["state"]
                    and abs(a.get("volume_level", -1) * 100 - float(s["number.moodbox_volume"]["state"])) < 0.5
                    and a.get("sound_mode") == s["select.moodbox_policy"]["state"])
        a = self.attrs()
        self.report(wait_until(same, 15), "the media player follows the box: state, title/artist, volume, policy "
                    "as sound mode", f"{self.state()}, {a.get('media_artist')} - {a.get('media_title')}, "
                    f"volume {a.get('volume_level')}, sound mode {a.get('sound_mode')}")
        a = self.attrs()
        self.report(bool(a.get("media_album_name")) and (a.get("media_duration") or 0) > 0
                    and isinstance(a.get("media_position"), int) and a.get("sound_mode_list") == ["match", "lift", "calm"]
                    and a.get("max_volume") == 0.6,
                    "album, duration, position, sound modes, the volume cap", f"{a.get('media_album_name')}, "
                    f"{a.get('media_duration')} s, at {a.get('media_position')} s, cap {a.get('max_volume')}")
        picture = a.get("entity_picture")
        status, body, kind = http_get(self.ha.base + picture) if picture else (0, b"", "")
        self.report(status == 200 and body == PNG and kind.startswith("image/png"),
                    "cover art: entity_picture serves the track's embedded picture (through HA's proxy)",
                    f"{picture and picture.split('?')[0]}: {status} {kind}, {len(body)} bytes")

    def drives(self) -> None:
        """Every service of the media player changes the box."""
        def player() -> str | None:
            return self.state("sensor.moodbox_player_state")

        def title() -> str | None:
            return self.attrs().get("media_title")

        for service, want in (("media_play", "playing"), ("media_pause", "paused"), ("media_play_pause", "playing"),
                              ("media_stop", "stopped"), ("media_play", "playing")):
            self.service(service)
            ok = wait_until(lambda: player() == want and self.state() == {"stopped": "idle"}.get(want, want))
            self.report(ok, f"media_player.{service}: the box is {want}", f"box {player()}, player {self.state()}")
        before = title()
        self.service("media_next_track")
        self.report(wait_until(lambda: title() not in (before, None)), "media_player.media_next_track",
                    f"{before} -> {title()}")
        after = title()
        self.service("media_previous_track")
        self.report(wait_until(lambda: title() == before), "media_player.media_previous_track", f"{after} -> {title()}")
        volume = lambda: self.state("number.moodbox_volume")  # noqa: E731
        for level, want in ((0.45, 45), (1.0, 60)):
            self.service("volume_set", {"volume_level": level})
            self.report(wait_until(lambda: volume() is not None and float(volume()) == want
                                   and self.attrs().get("volume_level") == want / 100),
                        f"media_player.volume_set {level} -> box volume {want}"
                        + (" (never above the cap, 60)" if level == 1.0 else ""), f"{volume()}")
        self.service("volume_down")
        self.report(wait_until(lambda: float(volume()) == 55), "media_player.volume_down -> 55", f"{volume()}")
        self.service("volume_up")
        self.report(wait_until(lambda: float(volume()) == 60), "media_player.volume_up -> 60 (the cap)", f"{volume()}")
        for mode in ("calm", "match"):
            self.service("select_sound_mode", {"sound_mode": mode})
            self.report(wait_until(lambda: self.state("select.moodbox_policy") == mode
                                   and self.attrs().get("sound_mode") == mode),
                        f"media_player.select_sound_mode {mode} -> the box's policy", f"{self.state('select.moodbox_policy')}")
        for service, method in (("like", "MQTT command like: like"), ("refresh_mood", "MQTT command refresh: refresh_mood"),
                                ("dislike", "MQTT command dislike: dislike")):
            before_count, before_title = self.box_commands(method), title()
            self.service(service, domain="moodbox")
            ok = wait_until(lambda: self.box_commands(method) > before_count)
            if service == "dislike":  # a dislike skips the track too
                ok = ok and wait_until(lambda: title() not in (before_title, None))
            self.report(ok, f"moodbox.{service} reaches the box" + (" (and skips the track)" if service == "dislike" else ""),
                        f"'{method}' in the box's log")

    def library(self) -> None:
        """Browsing and play_media through the box's REST API, or a clear answer where the box has none yet."""
        status, _, _ = http_get(f"{self.box_url}/api/v1/library/artists")
        root = self.browse()
        if status == 404:
            error = (root.get("error") or {}).get("message", "") if isinstance(root.get("error"), dict) else str(root)
            self.report(root.get("success") is False and "no library browsing" in error,
                        "media browsing on a box without the library API: a clear error, no crash", error)
            print("SKIP  browsing and play_media of a track/album: this moodbox has no GET /api/v1/library/artists "
                  "yet (issue 29)", flush=True)
            return
        sections = {c["title"]: c["media_content_id"] for c in (root.get("result") or {}).get("children") or []}
        artists = (self.browse(sections.get("Artists", "")).get("result") or {}).get("children") or []
        if not self.report(root.get("success") is True and bool(artists), "media browsing: the library's artists",
                           f"sections {sorted(sections)}, {len(artists)} artists"):
            return
        albums = (self.browse(artists[0]["media_content_id"]).get("result") or {}).get("children") or []
        album = self.browse(albums[0]["media_content_id"]).get("result") if albums else None
        tracks = (album or {}).get("children") or []
        self.report(bool(albums) and bool(tracks) and all(t["can_play"] for t in tracks),
                    "media browsing: an artist's albums, an album's tracks",
                    f"{artists[0]['title']}: {len(albums)} album(s); {album and album['title']}: {len(tracks)} tracks")
        moods = (self.browse(sections.get("Moods", "")).get("result") or {}).get("children") or []
        mood = self.browse(moods[0]["media_content_id"]).get("result") if moods else None
        self.report(bool(moods) and bool((mood or {}).get("children")), "media browsing: moods, a mood's tracks",
                    f"{[m['title'] for m in moods]}; {mood and mood['title']}: {len((mood or {}).get('children') or [])} tracks")
        if not tracks:
            return
        self.service("play_media", {"media_content_type": "music", "media_content_id": album["media_content_id"]})
        first = tracks[0]["title"]
        self.report(wait_until(lambda: self.attrs().get("media_title") == first and self.state() == "playing"),
                    "media_player.play_media of an album plays its first track (logged in with the web password)", f"{first}: {self.attrs().get('media_title')}")
        track = (mood or {}).get("children", [None])[-1] or tracks[-1]
        self.service("play_media", {"media_content_type": "music", "media_content_id": track["media_content_id"],
                                    "enqueue": "next"})
        track_id = int(track["media_content_id"].rsplit("/", 1)[1])

        def queued_next() -> bool:
            _, body, _ = http_get(f"{self.box_url}/api/v1/queue")
            queue = json.loads(body).get("queue", [])
            current = next(i for i, e in enumerate(queue) if e.get("current"))
            return queue[current + 1]["track_id"] == track_id
        self.report(wait_until(queued_next), "media_player.play_media of a track with enqueue=next queues it next",
                    track["title"])
        self.service("media_seek", {"seek_position": 12})

        def box_position() -> float:
            _, body, _ = http_get(f"{self.box_url}/api/v1/state")
            return float(json.loads(body)["player"]["position"] or 0)
        self.report(wait_until(lambda: 12 <= box_position() <= 20 and 12 <= (self.attrs().get("media_position") or 0) <= 20),
                    "media_player.media_seek 12 s (the box's position and the player's)",
                    f"box at {box_position():.1f} s, player at {self.attrs().get('media_position')} s")
