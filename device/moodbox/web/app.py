"""The Starlette app: the page, the REST API under /api/v1 and live updates as Server-Sent Events.

Commands are validated by the same code as MQTT commands (same messages). Every error, whatever
its cause, is JSON {"error": ...} with a 4xx status; no request input reaches a traceback.
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from moodbox import __version__
from moodbox.config import Config
from moodbox.core import THINGS, CommandError, CoreApi, TrackMoodTagged, UnknownTrack, parse_command
from moodbox.music.cover import find_cover
from moodbox.music.moods import MOODS
from moodbox.web.browse import Browse
from moodbox.web.cameraview import CameraView
from moodbox.web.checks import (MAX_LIMIT, ApiError, Json, error_response, int_param, number_param, read_json,
                                 text_param, track_id_param)
from moodbox.web.gate import Gate, check_change, session_token, set_session_cookie
from moodbox.web.hosts import HostPolicy
from moodbox.web.live import LiveFeed, TooManyPages, sse
from moodbox.web.logins import LoginLimiter, TooManyAttempts
from moodbox.web.openapi import openapi_document
from moodbox.web.privacy import redact_state, redact_topic
from moodbox.web.sessions import Sessions
from moodbox.web.values import value_problem

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_SEARCH = 200
INITIAL_STATE = '<script type="application/json" id="initial-state">{}</script>'
MEDIA_TYPES = {".webmanifest": "application/manifest+json", ".svg": "image/svg+xml"}
STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(css|js|png|svg|webmanifest|ico)$")


class WebApp:
    """The routes, bound to the core and the web adapter's parts."""

    def __init__(self, core: CoreApi, config: Config, sessions: Sessions, hosts: HostPolicy,
                 camera_view: CameraView | None = None) -> None:
        self.core, self.config, self.sessions = core, config, sessions
        self.feed = LiveFeed(core, self.prepare, redact_topic if sessions.password_required else None)
        self.camera_view = camera_view
        self.logins = LoginLimiter()
        self._page = (STATIC / "index.html").read_text(encoding="utf-8")  # read once: it ships with the box
        self._covers: dict[int, bool] = {}  # track id -> has an embedded picture (the page asks only for those)
        browse = Browse(core, sessions)
        routes = [
            Route("/", self.index, methods=["GET"]),
            Route("/static/{name}", self.static_file, methods=["GET"]),
            Route("/api/v1/session", self.session_info, methods=["GET"]),
            Route("/api/v1/state", self.state, methods=["GET"]),
            Route("/api/v1/queue", by_method(GET=self.queue, POST=browse.pick), methods=["GET", "POST"]),
            Route("/api/v1/history", self.history, methods=["GET"]),
            Route("/api/v1/mood/history", self.mood_history, methods=["GET"]),
            Route("/api/v1/library/search", self.search, methods=["GET"]),
            Route("/api/v1/tracks/{track_id}/cover", self.cover, methods=["GET"]),
            Route("/api/v1/tracks/{track_id}/mood", by_method(PUT=self.track_mood, DELETE=browse.undo_mood),
                  methods=["PUT", "DELETE"]),
            Route("/api/v1/camera/view.jpg", self.camera_picture, methods=["GET"]),
            Route("/api/v1/openapi.json", self.openapi, methods=["GET"]),
            Route("/api/v1/events", self.events, methods=["GET"]),
            Route("/api/v1/login", self.login, methods=["POST"]),
            Route("/api/v1/logout", self.logout, methods=["POST"]),
            Route("/api/v1/commands/{thing}", self.command, methods=["POST"]),
            *browse.routes(),
        ]
        handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
            ApiError: self._api_error, HTTPException: self._http_error,
            Exception: self._crash}
        self.app = Starlette(routes=routes, exception_handlers=handlers,
                             middleware=[Middleware(Gate, sessions=sessions, hosts=hosts),
                                         Middleware(GZipMiddleware, minimum_size=1024)])
        self.routes = routes

    # ----- errors -----

    async def _api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.headers)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: f"nothing at {request.url.path[:200]!r} (the API is under /api/v1; see /api/v1/openapi.json)",
                   405: f"{request.method[:20]} is not allowed here"}.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message, dict(exc.headers or {}))

    async def _crash(self, request: Request, exc: Exception) -> Response:
        log.error("web: %s %s failed: %s", request.method, request.url.path[:200], exc, exc_info=exc)
        return error_response(500, "the box could not answer this; its log says why")

    # ----- helpers -----

    def private(self, request: Request) -> bool:
        """Whether this request may see what only the owner may (no password: everyone on the LAN)."""
        return self.sessions.logged_in(session_token(request))

    def with_cover(self, player: dict[str, Any]) -> dict[str, Any]:
        player = dict(player or {})
        track_id = player.get("track_id")
        url = None
        if isinstance(track_id, int) and player.get("source", "library") == "library":
            if track_id not in self._covers:
                path = self.core.track_file(track_id)
                if len(self._covers) > 5000:
                    self._covers.clear()
                self._covers[track_id] = path is not None and find_cover(path) is not None
            url = f"/api/v1/tracks/{track_id}/cover" if self._covers.get(track_id) else None
        player["cover"] = url
        return player

    def full_state(self) -> dict[str, Any]:
        state = self.core.snapshot()
        return {**state, "player": self.with_cover(state.get("player") or {}), "queue": self.core.queue()}

    def prepare(self, topic: str, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """One change of the core as live events (runs in a worker thread)."""
        if topic == "player":
            return [("player", self.with_cover(data)), ("queue", {"queue": self.core.queue()})]
        return [(topic, data)]

    # ----- the page -----

    async def index(self, request: Request) -> Response:
        """The page with the state it opens on written into it (no empty shell filled in later: no layout shift)."""
        state = await run_in_threadpool(self.full_state)
        data = json.dumps(state if self.private(request) else redact_state(state), separators=(",", ":"))
        data = data.replace("<", "\\u003c")  # nothing in it can end the script element
        page = self._page.replace(INITIAL_STATE, INITIAL_STATE[:-11] + data + "</script>", 1)
        return Response(page, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    async def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not STATIC_NAME.match(name) or not (STATIC / name).is_file():
            raise ApiError(404, f"no file {name[:100]!r}")
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"},
                            media_type=MEDIA_TYPES.get(Path(name).suffix))

    # ----- reading -----

    async def session_info(self, request: Request) -> Response:
        token = session_token(request) or self.sessions.new_token()
        response = Json({"csrf_token": self.sessions.csrf_token(token),
                         "password_required": self.sessions.password_required,
                         "logged_in": self.sessions.logged_in(token), "camera_view": self.camera_view is not None,
                         "version": __version__})
        if token != session_token(request):
            set_session_cookie(response, request, token, None)
        return response

    async def state(self, request: Request) -> Response:
        state = await run_in_threadpool(self.full_state)
        return Json(state if self.private(request) else redact_state(state))

    async def queue(self, request: Request) -> Response:
        entries = await run_in_threadpool(self.core.queue)
        if not self.private(request):
            entries = redact_state({"queue": entries})["queue"]
        return Json({"queue": entries})

    async def history(self, request: Request) -> Response:
        self.need_owner(request, "what was played")
        limit = int_param(request, "limit", 50, 1, MAX_LIMIT)
        return Json({"plays": await run_in_threadpool(self.core.recent_plays, limit)})

    async def mood_history(self, request: Request) -> Response:
        self.need_owner(request, "the room's mood over time")
        hours = number_param(request, "hours", 6.0, 0.0, 6.0,
                             "hours must be more than 0 and at most 6 (the box keeps six hours, in memory)")
        return Json({"points": self.feed.mood_history(hours * 3600)})

    async def search(self, request: Request) -> Response:
        text = text_param(request, "q", MAX_SEARCH)
        limit = int_param(request, "limit", 50, 1, MAX_LIMIT)
        return Json({"q": text, "tracks": await run_in_threadpool(self.core.search_library, text, limit)})

    async def cover(self, request: Request) -> Response:
        track_id = track_id_param(request)
        found = await run_in_threadpool(self._cover, track_id)
        if found is None:
            raise ApiError(404, f"track {track_id} has no cover picture (none in the file, no cover.jpg or folder.jpg beside it)")
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "max-age=3600"})

    def _cover(self, track_id: int) -> tuple[bytes, str] | None:
        path = self.core.track_file(track_id)
        return find_cover(path) if path is not None else None

    async def camera_picture(self, request: Request) -> Response:
        if self.camera_view is None:
            raise ApiError(404, "the camera view is off (web.camera_view, which needs a web password)")
        if not self.sessions.password_required or not self.sessions.session(session_token(request)):
            raise ApiError(401, "log in first: the camera view is for the box's owner")
        found = await run_in_threadpool(self.camera_view.jpeg)
        if found is None:
            raise ApiError(404, "no camera picture in the last minute: read the room (refresh) to take some")
        data, age_s, faces = found
        return Response(data, media_type="image/jpeg", headers={
            "Cache-Control": "no-store", "X-Frame-Age": f"{age_s:.1f}", "X-Faces": str(faces)})

    async def openapi(self, request: Request) -> Response:
        return Json(openapi_document(__version__, self.sessions.password_required))

    async def events(self, request: Request) -> Response:
        token = session_token(request)
        try:
            page = self.feed.connect(self.private(request), token)
        except TooManyPages as exc:
            raise ApiError(503, str(exc), {"Retry-After": "30"}) from exc
        try:
            state = await run_in_threadpool(self.full_state)
        except BaseException:
            self.feed.disconnect(page)
            raise
        first = sse("snapshot", state if page.private else redact_state(state))

        async def stream() -> Any:
            try:
                async for message in page.stream(first):
                    yield message
            finally:
                self.feed.disconnect(page)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ----- changing (the Gate has checked the CSRF token and, with a password, the login) -----

    async def login(self, request: Request) -> Response:
        check_change(request, self.sessions, login_needed=False)
        body = await read_json(request, {"password"})
        password = body.get("password")
        if not isinstance(password, str) or not 0 < len(password) <= 1024:
            raise ApiError(400, 'send {"password": "..."} (at most 1024 characters)')
        address = request.client.host if request.client else "?"
        try:
            right = await self.logins.attempt(address, self.sessions.check_password(password))
        except TooManyAttempts as exc:
            raise ApiError(429, str(exc), {"Retry-After": str(math.ceil(exc.retry_after_s))}) from exc
        if not right:
            log.warning("web: wrong password from %s", address)
            raise ApiError(401, "wrong password")
        token = self.sessions.open() if self.sessions.password_required else (session_token(request) or
                                                                                 self.sessions.new_token())
        response = Json({"logged_in": True, "csrf_token": self.sessions.csrf_token(token)})
        set_session_cookie(response, request, token, self.sessions.lifetime_s if self.sessions.password_required
                           else None)
        return response

    async def logout(self, request: Request) -> Response:
        check_change(request, self.sessions, login_needed=False)
        body = await read_json(request, {"everywhere"})
        everywhere = body.get("everywhere", False)
        if not isinstance(everywhere, bool):
            raise ApiError(400, "everywhere must be true or false")
        token = session_token(request)
        if everywhere:
            count = await run_in_threadpool(self.sessions.close_all)
            self.feed.end_private()
            log.info("web: logged out everywhere (%d session(s) ended)", count)
        else:
            await run_in_threadpool(self.sessions.close, token)
            self.feed.end_private(token)
        new = self.sessions.new_token()
        response = Json({"logged_in": self.sessions.logged_in(new), "csrf_token": self.sessions.csrf_token(new)})
        set_session_cookie(response, request, new, None)
        return response

    async def command(self, request: Request) -> Response:
        thing = request.path_params["thing"]
        if thing not in THINGS:
            raise ApiError(404, f"unknown command {thing[:50]!r}; known: {', '.join(THINGS)}")
        check_change(request, self.sessions)
        body = await read_json(request)
        value = body.get("value")
        try:  # the MQTT parser first, so a bad value gets the same message as over MQTT
            parse_command(thing, _payload(value), 0, 100, "web")
        except CommandError as exc:
            raise ApiError(400, str(exc)) from exc
        problem = value_problem(thing, body)  # then exactly what the API document says
        if problem is not None:
            raise ApiError(400, problem)
        try:
            parsed = await run_in_threadpool(self.core.command, thing, _payload(value), "web")
        except CommandError as exc:
            raise ApiError(400, str(exc)) from exc
        except ValueError as exc:  # the core refusing it
            raise ApiError(409, str(exc)) from exc
        log.info("web command %s: %s%s", thing, parsed.method, list(parsed.args) if parsed.args else "")
        return Json({"ok": True, "command": parsed.method, "args": list(parsed.args)}, status_code=202)

    async def track_mood(self, request: Request) -> Response:
        check_change(request, self.sessions)
        track_id = track_id_param(request)
        body = await read_json(request, {"mood"})
        mood = body.get("mood")
        if not isinstance(mood, str) or mood not in MOODS:
            raise ApiError(400, f"mood must be one of {', '.join(MOODS)}")
        try:
            path = await run_in_threadpool(self.core.set_track_mood, track_id, mood)
        except UnknownTrack as exc:
            raise ApiError(404, str(exc)) from exc
        except TrackMoodTagged as exc:  # the file's own tag decides
            raise ApiError(409, str(exc)) from exc
        except OSError as exc:
            raise ApiError(409, f"cannot write the library's moods.csv: {exc.strerror or exc}") from exc
        return Json({"ok": True, "track_id": track_id, "mood": mood, "written": str(path.name)}, status_code=202)

    def need_owner(self, request: Request, what: str) -> None:
        if not self.private(request):
            raise ApiError(401, f"log in first: {what} is for the box's owner")


def by_method(**handlers: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """One endpoint for a path whose methods have handlers of their own (one route: a right Allow header)."""
    async def endpoint(request: Request) -> Response:
        return await handlers[request.method if request.method != "HEAD" else "GET"](request)
    return endpoint


def _payload(value: Any) -> bytes:
    """An API value as the MQTT payload the shared command parser reads."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"ON" if value else b"OFF"
    if isinstance(value, (int, float, str)):
        return str(value).encode("utf-8")
    return json.dumps(value).encode("utf-8")


