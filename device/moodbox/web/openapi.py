"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json: every operation with an
operationId, its parameters, each response with its schema, every error, and the security scheme
(which operations need a login depends on whether the box has a web password)."""
from __future__ import annotations

from typing import Any

from moodbox.music.moods import MOODS
from moodbox.web.values import RULES

JSON = "application/json"
MAX_TRACK_ID = 2**63 - 1


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str | list[str], **more: Any) -> dict[str, Any]:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return {"type": [*kinds, "null"], **more}


def obj(required: list[str], properties: dict[str, Any], extra: bool = True) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": extra}


ERRORS = {
    "400": "the request is not valid: a parameter or the body is wrong (the error says which)",
    "401": "log in first (POST /api/v1/login)",
    "403": "a change without the session's X-CSRF-Token header, or from a page of another site",
    "404": "no such track, command or file",
    "408": "the body did not arrive in time",
    "409": "the box cannot do this now (the error says why)",
    "413": "the body is larger than 16 KiB",
    "421": "the Host header does not name this box (web.allowed_hosts)",
    "429": "too many wrong passwords from this address; see Retry-After",
    "503": "too many live pages at once; poll GET /api/v1/state instead",
}

SCHEMAS: dict[str, Any] = {
    "Error": obj(["error"], {"error": {"type": "string"}}, extra=False),
    "Session": obj(["csrf_token", "password_required", "logged_in", "camera_view", "version"], {
        "csrf_token": {"type": "string"}, "password_required": {"type": "boolean"},
        "logged_in": {"type": "boolean"}, "camera_view": {"type": "boolean"}, "version": {"type": "string"}}),
    "LoggedIn": obj(["logged_in", "csrf_token"], {"logged_in": {"type": "boolean"}, "csrf_token": {"type": "string"}}),
    "Accepted": obj(["ok", "command", "args"], {"ok": {"const": True}, "command": {"type": "string"},
                                                "args": {"type": "array"}}),
    "MoodSet": obj(["ok", "track_id", "mood", "written"], {
        "ok": {"const": True}, "track_id": {"type": "integer"}, "mood": {"enum": list(MOODS)},
        "written": {"type": "string"}}),
    "Mood": obj([], {
        "emotion": nullable("string"), "confidence": nullable("number"),
        "probs": {"type": "object", "additionalProperties": {"type": "number"}},
        "valence": nullable("number"), "arousal": nullable("number"),
        "faces": {"type": "integer", "description": "only for the owner when the box has a password"},
        "ages": {"type": "array", "items": {"type": "number"}, "description": "only for the owner"},
        "age_groups": {"type": "array", "items": {"type": "string"}, "description": "only for the owner"},
        "source": nullable("string"), "timestamp": nullable("number")}),
    "Player": obj([], {
        "state": {"type": "string"}, "index": nullable("integer"), "queue_length": {"type": "integer"},
        "title": nullable("string"), "artist": nullable("string"), "album": nullable("string"),
        "track_mood": nullable("string"), "source": nullable("string"), "track_id": nullable("integer"),
        "reason": nullable("string", description="why it was chosen; only for the owner with a password"),
        "duration": nullable("number"), "position": nullable("number"),
        "cover": nullable("string", description="URL of the cover picture")}),
    "QueueEntry": obj(["position", "title", "current"], {
        "position": {"type": "integer"}, "title": nullable("string"), "artist": nullable("string"),
        "album": nullable("string"), "track_mood": nullable("string"), "source": nullable("string"),
        "track_id": nullable("integer"), "duration": nullable("number"),
        "reason": nullable("string", description="only for the owner with a password"), "current": {"type": "boolean"}}),
    "Queue": obj(["queue"], {"queue": {"type": "array", "items": ref("QueueEntry")}}),
    "State": obj(["queue"], {
        "mood": ref("Mood"), "player": ref("Player"),
        "volume": obj([], {"volume": {"type": "integer"}, "max": {"type": "integer"}}),
        "policy": obj([], {"policy": {"type": "string"}}),
        "override": obj([], {"active": {"type": "boolean"}, "emotion": nullable("string"), "until": nullable("number")}),
        "detection": obj([], {"enabled": {"type": "boolean"}}),
        "camera": obj([], {"status": {"type": "string"}, "source": nullable("string")}),
        "diagnostics": {"type": "object"}, "library": {"type": "object"},
        "queue": {"type": "array", "items": ref("QueueEntry")}}),
    "Play": obj(["track_id"], {
        "track_id": {"type": "integer"}, "title": nullable("string"), "artist": nullable("string"),
        "mood": nullable("string"), "skipped": {"type": "boolean"}, "at": {"type": "number"},
        "listened_s": nullable("number"), "duration_s": nullable("number"),
        "likes": {"type": "integer"}, "dislikes": {"type": "integer"}}),
    "Plays": obj(["plays"], {"plays": {"type": "array", "items": ref("Play")}}),
    "MoodPoint": obj(["at"], {
        "at": {"type": "number"}, "emotion": nullable("string"), "confidence": nullable("number"),
        "valence": nullable("number"), "arousal": nullable("number"), "faces": nullable("integer"),
        "source": nullable("string")}),
    "MoodPoints": obj(["points"], {"points": {"type": "array", "items": ref("MoodPoint")}}),
    "Track": obj(["track_id", "title", "mood"], {
        "track_id": {"type": "integer"}, "title": nullable("string"), "artist": nullable("string"),
        "album": nullable("string"), "year": nullable("integer"), "genre": nullable("string"),
        "duration": nullable("number"), "mood": {"type": "string"}, "mood_source": nullable("string"),
        "mood_confidence": nullable("number")}),
    "SearchResult": obj(["q", "tracks"], {"q": {"type": "string"}, "tracks": {"type": "array", "items": ref("Track")}}),
    "Artists": obj(["artists"], {"artists": {"type": "array", "items": obj(["name", "albums", "tracks"], {
        "name": {"type": "string"}, "albums": {"type": "integer"}, "tracks": {"type": "integer"}})}}),
    "Album": obj(["id", "title", "artist", "tracks"], {
        "id": {"type": "integer", "description": "for GET /library/albums/{id}"}, "title": {"type": "string"},
        "artist": {"type": "string"}, "year": nullable("integer"), "tracks": {"type": "integer"},
        "duration": {"type": "number"}, "cover": {"type": "string"}}),
    "Albums": obj(["albums"], {"artist": nullable("string"), "albums": {"type": "array", "items": ref("Album")}}),
    "AlbumTracks": obj(["album", "tracks"], {"album": ref("Album"), "tracks": {"type": "array", "items": ref("Track")}}),
    "Moods": obj(["moods"], {"moods": {"type": "array", "items": obj(["mood", "tracks"], {
        "mood": {"enum": list(MOODS)}, "tracks": {"type": "integer"}})}}),
    "MoodTracks": obj(["mood", "tracks"], {"mood": {"enum": list(MOODS)}, "tracks": {"type": "array", "items": ref("Track")}}),
    "Picked": obj(["ok", "tracks", "where"], {"ok": {"const": True}, "tracks": {"type": "integer"},
                                              "where": {"enum": ["now", "next", "end"]}}),
    "Seeked": obj(["ok", "position"], {"ok": {"const": True}, "position": {"type": "number"}}),
    "MoodUndone": obj(["ok", "track_id", "mood", "written"], {"ok": {"const": True}, "track_id": {"type": "integer"},
                                                              "mood": {"type": "null"}, "written": {"type": "string"}}),
}


def _answer(description: str, schema: dict[str, Any] | None = None, mime: str = JSON,
            headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description,
                              "content": {mime: {"schema": schema} if schema is not None else {}}}
    if headers:
        answer["headers"] = headers
    return answer


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _answer(ERRORS[code], ref("Error")) for code in codes}


def _query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": text}


TRACK_ID = {"name": "track_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TRACK_ID}}
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "rows")


def openapi_document(version: str, password_required: bool = False) -> dict[str, Any]:
    owner = [{"session": []}] if password_required else []  # reads that only the owner may make
    change = [{"session": [], "csrf": []}]
    login_or_out = [{"session": [], "csrf": []}]
    changed = {**_errors("400", "403", "408", "413"), **(_errors("401") if password_required else {})}

    def get(operation_id: str, summary: str, answer: dict[str, Any], params: list[dict[str, Any]] | None = None,
            errors: tuple[str, ...] = (), security: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {"operationId": operation_id, "summary": summary,
                              "responses": {"200": answer, **_errors(*errors)}, "security": security or []}
        if params:
            op["parameters"] = params
        return {"get": op}

    def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
        return {"required": required, "content": {JSON: {"schema": schema}}}

    paths: dict[str, Any] = {
        "/api/v1/session": get("getSession", "the CSRF token for changes, and whether a password is needed / given",
                               _answer("the session", ref("Session"))),
        "/api/v1/state": get("getState", "every state topic (mood, player, volume, policy, override, detection, "
                             "camera, library, diagnostics) and the queue; without a login on a box with a password, "
                             "no faces, ages or reasons", _answer("the state", ref("State"))),
        "/api/v1/history": get("getHistory", "recent plays, newest first (skipped, likes, dislikes, room mood)",
                               _answer("plays", ref("Plays")), [LIMIT],
                               ("400", "401") if password_required else ("400",), owner),
        "/api/v1/mood/history": get(
            "getMoodHistory", "the room's mood over the last hours (kept in memory)", _answer("points", ref("MoodPoints")),
            [_query("hours", {"type": "number", "exclusiveMinimum": 0, "maximum": 6, "default": 6}, "how far back")],
            ("400", "401") if password_required else ("400",), owner),
        "/api/v1/library/search": get(
            "searchLibrary", "library tracks by title, artist, album or genre", _answer("tracks", ref("SearchResult")),
            [_query("q", {"type": "string", "maxLength": 200, "pattern": "^[^\\x00-\\x1f]*$"}, "text"), LIMIT],
            ("400",)),
        "/api/v1/tracks/{track_id}/cover": get(
            "getTrackCover", "the picture embedded in the track's file",
            {"description": "the picture", "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}},
            [TRACK_ID], ("404",)),
        "/api/v1/camera/view.jpg": get(
            "getCameraView", "camera aim view: the newest analysed frame (last minute) with face boxes; only with "
            "web.camera_view and a password, for a logged-in session; never stored",
            {"description": "JPEG", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
             "headers": {"X-Frame-Age": {"schema": {"type": "string"}, "description": "seconds"},
                         "X-Faces": {"schema": {"type": "string"}, "description": "faces found"}}},
            errors=("401", "404"), security=[{"session": []}] if password_required else []),
        "/api/v1/openapi.json": get("getOpenApi", "this document", _answer("OpenAPI 3.1", {"type": "object"})),
        "/api/v1/events": get(
            "getEvents", "live updates (Server-Sent Events): 'snapshot' first, then one event per state topic "
            "change, 'event' and 'queue'", _answer("an event stream", obj(["data"], {
                "event": {"enum": ["snapshot", "mood", "player", "queue", "volume", "policy", "override", "detection",
                                   "camera", "library", "diagnostics", "event"]},
                "data": {"type": "string", "contentMediaType": JSON}, "id": {"type": "string"},
                "retry": {"type": "integer"}}), mime="text/event-stream"),
            errors=("503",)),
        "/api/v1/library/artists": get("listArtists", "every artist (the album artist where there is one) with its "
                                       "numbers of albums and tracks", _answer("artists", ref("Artists"))),
        "/api/v1/library/albums": get(
            "listAlbums", "albums, of one artist or all", _answer("albums", ref("Albums")),
            [_query("artist", {"type": "string", "maxLength": 500, "pattern": "^[^\\x00-\\x1f]*$"}, "the artist")],
            ("400",)),
        "/api/v1/library/albums/{album_id}": get(
            "getAlbum", "one album and its tracks in album order", _answer("the album", ref("AlbumTracks")),
            [{"name": "album_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TRACK_ID}}], ("404",)),
        "/api/v1/library/moods": get("listMoods", "how many tracks have each mood", _answer("moods", ref("Moods"))),
        "/api/v1/library/tracks": get(
            "listTracksByMood", "tracks of one mood, surest first", _answer("tracks", ref("MoodTracks")),
            [{"name": "mood", "in": "query", "required": True, "schema": {"enum": list(MOODS)}}, LIMIT], ("400",)),
        "/api/v1/queue": {**get("getQueue", "the play queue, each entry with the reason it was chosen",
                                _answer("the queue", ref("Queue"))), "post": {
            "operationId": "pickTracks",
            "summary": "play library tracks now (a new queue), next, or at the end; the room's mood does not replace "
                       "a picked queue, and when it ends the box reads the room again",
            "security": change,
            "requestBody": body(obj(["track_ids"], {
                "track_ids": {"type": "array", "minItems": 1, "maxItems": 500,
                              "items": {"type": "integer", "minimum": 0, "maximum": MAX_TRACK_ID}},
                "where": {"enum": ["now", "next", "end"], "default": "now"}}, extra=False)),
            "responses": {"202": _answer("queued", ref("Picked")), **changed, **_errors("404")}}},
        "/api/v1/player/seek": {"post": {
            "operationId": "seek", "summary": "go to a position (seconds) in the playing track", "security": change,
            "requestBody": body(obj(["position"], {"position": {"type": "number", "minimum": 0, "maximum": 86400}},
                                    extra=False)),
            "responses": {"202": _answer("done", ref("Seeked")), **changed}}},
        "/api/v1/tracks/{track_id}/mood": {"delete": {
            "operationId": "undoTrackMood", "summary": "undo the owner's mood correction (its moods.csv row goes)",
            "parameters": [TRACK_ID], "security": change,
            "responses": {"202": _answer("removed", ref("MoodUndone")), **changed, **_errors("404", "409")}}, "put": {
            "operationId": "setTrackMood",
            "summary": "correct a track's mood: written to moods.csv in its library folder, then rescanned",
            "parameters": [TRACK_ID], "security": change,
            "requestBody": body(obj(["mood"], {"mood": {"enum": list(MOODS)}}, extra=False)),
            "responses": {"202": _answer("written", ref("MoodSet")), **changed, **_errors("404", "409")}}},
        "/api/v1/login": {"post": {
            "operationId": "logIn", "summary": "log in with the web password (a new session cookie and CSRF token)",
            "security": login_or_out,
            "requestBody": body(obj(["password"], {"password": {"type": "string", "minLength": 1, "maxLength": 1024}},
                                    extra=False)),
            "responses": {"200": _answer("logged in", ref("LoggedIn")),
                          **_errors("400", "401", "403", "408", "413", "429")}}},
        "/api/v1/logout": {"post": {
            "operationId": "logOut", "summary": "log out (this session, or every session with everywhere: true)",
            "security": login_or_out,
            "requestBody": body(obj([], {"everywhere": {"type": "boolean"}}, extra=False), required=False),
            "responses": {"200": _answer("logged out", ref("LoggedIn")), **_errors("400", "403", "408", "413")}}},
    }
    for thing, rule in RULES.items():
        value = (obj([], {"value": {"type": "null"}}, extra=False) if rule.schema is None
                 else obj(["value"], {"value": rule.schema}, extra=False))
        paths[f"/api/v1/commands/{thing}"] = {"post": {
            "operationId": f"command{thing.capitalize()}", "summary": f"{thing}: {rule.summary}",
            "description": "The same command as MQTT's <base>/" + thing + "/set, checked by the same code.",
            "security": change, "requestBody": body(value, required=rule.schema is not None),
            "responses": {"202": _answer("accepted", ref("Accepted")), **changed, **_errors("409")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "moodbox", "version": version,
                 "description": "The box's state and controls. Commands take the same values as the MQTT commands "
                                "(<base>/<thing>/set) and are validated by the same code. Every error is JSON "
                                "{\"error\": why}. Any request whose Host does not name the box gets 421."},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "moodbox_session",
                            "description": "the session cookie (GET /api/v1/session sets one; POST /api/v1/login "
                                           "makes it a logged-in session)"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                         "description": "csrf_token from GET /api/v1/session for the same session cookie"}}},
    }
