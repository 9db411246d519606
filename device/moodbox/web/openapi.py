"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""
from __future__ import annotations

from typing import Any

from moodbox.music.moods import MOODS
from moodbox.core import THINGS

ERROR = {"description": "rejected: {\"error\": why}", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
OBJECT = {"type": "object", "additionalProperties": True}


def _get(summary: str, schema: dict[str, Any] | None = None, params: list[dict[str, Any]] | None = None,
         mime: str = "application/json") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary,
                          "responses": {"200": {"description": "OK", "content": {mime: {"schema": schema or OBJECT}}}}}
    if params:
        op["parameters"] = params
    return {"get": op}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


def openapi_document(version: str, password_required: bool = False) -> dict[str, Any]:
    csrf = [{"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "csrf_token from GET /api/v1/session (same session cookie)"}]
    track_id = {"name": "track_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    changed = {"202": {"description": "accepted", "content": {"application/json": {"schema": OBJECT}}},
               "400": ERROR, "401": ERROR, "403": ERROR}
    return {
        "openapi": "3.1.0",
        "info": {"title": "moodbox", "version": version,
                 "description": "The box's state and controls. Commands take the same values as the MQTT "
                                "commands (<base>/<thing>/set) and are validated by the same code."},
        "paths": {
            "/api/v1/session": _get("CSRF token and whether a password is needed / given"),
            "/api/v1/state": _get("every state topic (mood, player, volume, policy, override, detection, camera, "
                                  "library, diagnostics) and the queue with reasons"),
            "/api/v1/queue": _get("the play queue, each entry with the reason it was chosen"),
            "/api/v1/history": _get("recent plays, newest first (skipped, likes, dislikes, room mood)",
                                    params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "rows")]),
            "/api/v1/mood/history": _get("the room's mood over the last hours (in memory)",
                                         params=[_query("hours", {"type": "number", "exclusiveMinimum": 0, "maximum": 6},
                                                        "how far back")]),
            "/api/v1/library/search": _get("library tracks by title, artist, album or genre",
                                           params=[_query("q", {"type": "string", "maxLength": 200}, "text"),
                                                   _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "rows")]),
            "/api/v1/tracks/{track_id}/cover": {"get": {
                "summary": "the picture embedded in the track's file", "parameters": [track_id],
                "responses": {"200": {"description": "image", "content": {"image/*": {}}}, "404": ERROR}}},
            "/api/v1/camera/view.jpg": {"get": {
                "summary": "camera aim view: the newest analysed frame (last minute) with face boxes; only with "
                           "web.camera_view and a password, for a logged-in session; never stored",
                "responses": {"200": {"description": "JPEG; X-Frame-Age (s), X-Faces",
                                      "content": {"image/jpeg": {}}}, "401": ERROR, "404": ERROR}}},
            "/api/v1/tracks/{track_id}/mood": {"put": {
                "summary": "correct a track's mood: written to moods.csv in its library folder, then rescanned",
                "parameters": [track_id, *csrf],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["mood"], "properties": {"mood": {"enum": list(MOODS)}}}}}},
                "responses": {**changed, "404": ERROR, "409": ERROR}}},
            "/api/v1/commands/{thing}": {"post": {
                "summary": "a command: player (play|pause|toggle|next|previous|stop), volume (0-100, +N, -N; "
                           "never above audio.max_volume), policy, override (emotion|auto|{emotion,timeout}), "
                           "detection (true|false), refresh, like, dislike, rescan (no value)",
                "parameters": [{"name": "thing", "in": "path", "required": True, "schema": {"enum": list(THINGS)}},
                               *csrf],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"value": {}}}}}},
                "responses": {**changed, "404": ERROR}}},
            "/api/v1/login": {"post": {"summary": "log in with the web password", "parameters": csrf,
                                       "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                           "type": "object", "required": ["password"],
                                           "properties": {"password": {"type": "string"}}}}}},
                                       "responses": {"200": {"description": "logged in"}, "401": ERROR, "403": ERROR}}},
            "/api/v1/logout": {"post": {"summary": "log out", "parameters": csrf,
                                        "responses": {"200": {"description": "logged out"}, "403": ERROR}}},
            "/api/v1/events": _get("live updates (Server-Sent Events): 'snapshot' first, then one event per "
                                   "state topic change, 'event' and 'queue'", {"type": "string"}, mime="text/event-stream"),
            "/api/v1/openapi.json": _get("this document"),
        },
        "components": {"schemas": {"Error": {"type": "object", "required": ["error"],
                                             "properties": {"error": {"type": "string"}}}}},
    }
