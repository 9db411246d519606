"""The library at hand: browse artists, albums and moods, play or queue what the owner picks, seek,
and undo a mood correction. Routes for the WebApp (web/app.py), on the same checks as every change."""
from __future__ import annotations

import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from moodbox.core import CoreApi, TrackMoodTagged, UnknownTrack
from moodbox.music.moods import MOODS
from moodbox.web.checks import (MAX_LIMIT, MAX_TRACK_ID, ApiError, Json, int_param, read_json, text_param,
                                 track_id_param)
from moodbox.web.gate import check_change
from moodbox.web.sessions import Sessions

MAX_PICK = 500
WHERE = ("now", "next", "end")


class Browse:
    def __init__(self, core: CoreApi, sessions: Sessions) -> None:
        self.core = core
        self.sessions = sessions

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/library/artists", self.artists, methods=["GET"]),
            Route("/api/v1/library/albums", self.albums, methods=["GET"]),
            Route("/api/v1/library/albums/{album_id}", self.album, methods=["GET"]),
            Route("/api/v1/library/moods", self.moods, methods=["GET"]),
            Route("/api/v1/library/tracks", self.tracks, methods=["GET"]),
            Route("/api/v1/player/seek", self.seek, methods=["POST"]),
        ]

    def _cover(self, album: dict[str, Any]) -> dict[str, Any]:
        return {**album, "cover": f"/api/v1/tracks/{album['id']}/cover"}

    async def artists(self, request: Request) -> Response:
        return Json({"artists": await run_in_threadpool(self.core.library_artists)})

    async def albums(self, request: Request) -> Response:
        artist = text_param(request, "artist", 500) or None
        albums = await run_in_threadpool(self.core.library_albums, artist)
        return Json({"artist": artist, "albums": [self._cover(a) for a in albums]})

    async def album(self, request: Request) -> Response:
        album_id = track_id_param(request, "album_id")
        found = await run_in_threadpool(self.core.library_album, album_id)
        if found is None:
            raise ApiError(404, f"no album with id {album_id}")
        album, tracks = found
        return Json({"album": self._cover(album), "tracks": tracks})

    async def moods(self, request: Request) -> Response:
        counts = await run_in_threadpool(self.core.library_moods)
        return Json({"moods": [{"mood": mood, "tracks": counts.get(mood, 0)} for mood in MOODS]})

    async def tracks(self, request: Request) -> Response:
        mood = text_param(request, "mood", 20)
        if mood not in MOODS:
            raise ApiError(400, f"mood must be one of {', '.join(MOODS)}")
        limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
        return Json({"mood": mood, "tracks": await run_in_threadpool(self.core.tracks_with_mood, mood, limit)})

    async def pick(self, request: Request) -> Response:
        check_change(request, self.sessions)
        body = await read_json(request, {"track_ids", "where"})
        ids, where = body.get("track_ids"), body.get("where", "now")
        if (not isinstance(ids, list) or not 0 < len(ids) <= MAX_PICK
                or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_TRACK_ID for i in ids)):
            raise ApiError(400, f"track_ids must be a list of 1 to {MAX_PICK} track ids")
        if where not in WHERE:
            raise ApiError(400, f"where must be one of {', '.join(WHERE)}")
        try:
            await run_in_threadpool(self.core.play_tracks, ids, where)
        except UnknownTrack as exc:
            raise ApiError(404, str(exc)) from exc
        return Json({"ok": True, "tracks": len(ids), "where": where}, status_code=202)

    async def seek(self, request: Request) -> Response:
        check_change(request, self.sessions)
        body = await read_json(request, {"position"})
        position = body.get("position")
        if (isinstance(position, bool) or not isinstance(position, (int, float)) or not math.isfinite(position)
                or not 0 <= position <= 86400):
            raise ApiError(400, "position must be the seconds into the track (0 to 86400)")
        await run_in_threadpool(self.core.seek, float(position))
        return Json({"ok": True, "position": float(position)}, status_code=202)

    async def undo_mood(self, request: Request) -> Response:
        check_change(request, self.sessions)
        track_id = track_id_param(request)
        try:
            path = await run_in_threadpool(self.core.set_track_mood, track_id, None)
        except UnknownTrack as exc:
            raise ApiError(404, str(exc)) from exc
        except TrackMoodTagged as exc:
            raise ApiError(409, str(exc)) from exc
        except OSError as exc:
            raise ApiError(409, f"cannot write the library's moods.csv: {exc.strerror or exc}") from exc
        return Json({"ok": True, "track_id": track_id, "mood": None, "written": path.name}, status_code=202)
