"""The Flask app: the page, REST API under /api/v1 and live updates as Server-Sent Events.

Commands are validated by the same code as MQTT commands (same messages); errors are JSON
{"error": ...} with a 4xx status. The only camera picture is the aim view (web.camera_view with a
password, logged-in sessions only), from memory.
"""
from __future__ import annotations

import json
import logging
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from moodbox import __version__
from moodbox.config import Config
from moodbox.core import THINGS, CoreApi, TrackMoodTagged
from moodbox.music.cover import embedded_cover
from moodbox.music.moods import MOODS
from moodbox.web.cameraview import CameraView
from moodbox.web.live import LiveFeed, TooManyClients
from moodbox.web.openapi import openapi_document
from moodbox.web.security import CSRF_HEADER, Guard

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_REQUEST_BYTES = 16 * 1024
HEARTBEAT_S = 15.0
MAX_LIMIT = 500


def create_app(core: CoreApi, config: Config, feed: LiveFeed, guard: Guard, secret: bytes,
               camera_view: CameraView | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config.update(SECRET_KEY=secret, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_NAME="moodbox_session")

    covers: dict[int, bool] = {}  # track id -> has an embedded picture (the page asks only for those)

    def with_cover(state: dict[str, Any]) -> dict[str, Any]:
        player = dict(state.get("player") or {})
        track_id = player.get("track_id")
        url = None
        if isinstance(track_id, int) and player.get("source", "library") == "library":
            if track_id not in covers:
                path = core.track_file(track_id)
                covers[track_id] = path is not None and embedded_cover(path) is not None
                if len(covers) > 5000:
                    covers.clear()
            url = f"/api/v1/tracks/{track_id}/cover" if covers.get(track_id) else None
        player["cover"] = url
        return {**state, "player": player}

    def error(status: int, message: str) -> Response:
        response = jsonify({"error": message})
        response.status_code = status
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/api/"):
            return error(exc.code or 500, exc.description or exc.name)
        return exc  # type: ignore[return-value]

    @app.before_request
    def guard_changes() -> Response | None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        if not guard.check_csrf(request.headers.get(CSRF_HEADER)):
            return error(403, f"missing or wrong {CSRF_HEADER} header (GET /api/v1/session gives the token)")
        if request.path not in ("/api/v1/login", "/api/v1/logout") and not guard.logged_in():
            return error(401, "log in first: this box has a web password")
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'")
        if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    # ----- the page ---------------------------------------------------------------------------

    @app.get("/")
    def index() -> Response:
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        return send_from_directory(STATIC, name)  # refuses paths outside the folder (404)

    # ----- reading ----------------------------------------------------------------------------

    @app.get("/api/v1/session")
    def session_info() -> Response:
        return jsonify({"csrf_token": guard.csrf_token(), "password_required": guard.password_required,
                        "logged_in": guard.logged_in(), "camera_view": camera_view is not None,
                        "version": __version__})

    @app.get("/api/v1/state")
    def state() -> Response:
        return jsonify(with_cover({**core.snapshot(), "queue": core.queue()}))

    @app.get("/api/v1/queue")
    def queue_entries() -> Response:
        return jsonify({"queue": core.queue()})

    @app.get("/api/v1/history")
    def history() -> Response:
        return jsonify({"plays": core.recent_plays(_limit(request.args.get("limit"), 50))})

    @app.get("/api/v1/mood/history")
    def mood_history() -> Response:
        try:
            hours = float(request.args.get("hours", "6"))
        except ValueError:
            return error(400, "hours must be a number")
        if not 0 < hours <= 6:
            return error(400, "hours must be more than 0 and at most 6 (the box keeps six hours, in memory)")
        return jsonify({"points": feed.mood_history(hours * 3600)})

    @app.get("/api/v1/library/search")
    def search() -> Response:
        text = request.args.get("q", "").strip()
        if len(text) > 200:
            return error(400, "q is at most 200 characters")
        return jsonify({"q": text, "tracks": core.search_library(text, _limit(request.args.get("limit"), 50))})

    @app.get("/api/v1/tracks/<int:track_id>/cover")
    def cover(track_id: int) -> Response:
        path = core.track_file(track_id)
        found = embedded_cover(path) if path is not None else None
        if found is None:
            return error(404, f"track {track_id} has no embedded cover picture")
        response = Response(found[0], mimetype=found[1])
        response.headers["Cache-Control"] = "max-age=3600"
        return response

    @app.get("/api/v1/camera/view.jpg")
    def camera_picture() -> Response:
        if camera_view is None:
            return error(404, "the camera view is off (web.camera_view, which needs a web password)")
        if not guard.password_required or not guard.logged_in():
            return error(401, "log in first: the camera view is for the box's owner")
        found = camera_view.jpeg()
        if found is None:
            return error(404, "no camera picture in the last minute: read the room (refresh) to take some")
        data, age_s, faces = found
        response = Response(data, mimetype="image/jpeg")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Age"] = f"{age_s:.1f}"
        response.headers["X-Faces"] = str(faces)
        return response

    @app.get("/api/v1/openapi.json")
    def openapi() -> Response:
        return jsonify(openapi_document(__version__))

    @app.get("/api/v1/events")
    def events() -> Response:
        try:
            client = feed.connect()
        except TooManyClients as exc:
            return error(503, str(exc))

        def stream() -> Iterator[str]:
            try:
                yield _sse("snapshot", with_cover({**core.snapshot(), "queue": core.queue()}))
                while True:
                    try:
                        topic, data = client.get(timeout=HEARTBEAT_S)
                    except queue.Empty:
                        yield ": keep-alive\n\n"
                        continue
                    yield _sse(topic, with_cover({"player": data})["player"] if topic == "player" else data)
                    if topic == "player":
                        yield _sse("queue", {"queue": core.queue()})
            finally:
                feed.disconnect(client)

        response = Response(stream(), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Accel-Buffering"] = "no"
        return response

    # ----- changing -----------------------------------------------------------------------------

    @app.post("/api/v1/login")
    def login() -> Response:
        body = _json_body()
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(password, str):
            return error(400, 'send {"password": "..."}')
        if not guard.login(password):
            log.warning("web: wrong password from %s", request.remote_addr)
            return error(401, "wrong password")
        return jsonify({"logged_in": True})

    @app.post("/api/v1/logout")
    def logout() -> Response:
        guard.logout()
        return jsonify({"logged_in": guard.logged_in()})

    @app.post("/api/v1/commands/<thing>")
    def command(thing: str) -> Response:
        if thing not in THINGS:
            return error(404, f"unknown command {thing!r}; known: {', '.join(THINGS)}")
        body = _json_body()
        value = body.get("value") if isinstance(body, dict) else None
        try:
            parsed = core.command(thing, _payload(value), "web")
        except ValueError as exc:  # CommandError (a bad value) or the core refusing it
            return error(400, str(exc))
        log.info("web command %s: %s%s", thing, parsed.method, list(parsed.args) if parsed.args else "")
        return _accepted({"command": parsed.method, "args": list(parsed.args)})

    @app.put("/api/v1/tracks/<int:track_id>/mood")
    def track_mood(track_id: int) -> Response:
        body = _json_body()
        mood = body.get("mood") if isinstance(body, dict) else None
        if mood not in MOODS:
            return error(400, f"mood must be one of {', '.join(MOODS)}")
        try:
            path = core.set_track_mood(track_id, mood)
        except TrackMoodTagged as exc:  # the file's own tag decides
            return error(409, str(exc))
        except ValueError as exc:
            status = 404 if "no library track" in str(exc) else 400
            return error(status, str(exc))
        except OSError as exc:
            return error(409, f"cannot write the library's moods.csv: {exc.strerror or exc}")
        return _accepted({"track_id": track_id, "mood": mood, "written": str(path.name)})

    return app


def _accepted(data: dict[str, Any]) -> Response:
    response = jsonify({"ok": True, **data})
    response.status_code = 202
    return response


def _json_body() -> Any:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if body is None:
        from werkzeug.exceptions import BadRequest
        raise BadRequest("the body must be JSON")
    return body


def _payload(value: Any) -> bytes:
    """An API value as the MQTT payload the shared command parser reads."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"ON" if value else b"OFF"
    if isinstance(value, (int, float, str)):
        return str(value).encode("utf-8")
    return json.dumps(value).encode("utf-8")


def _limit(text: str | None, default: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        value = default
    return max(1, min(value, MAX_LIMIT))


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
