"""What every route needs of a request and an answer: errors as JSON, and request input checked
(bodies within a size and a deadline, query and path parameters within their documented ranges)."""
from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

MAX_BODY_BYTES = 16 * 1024
BODY_TIMEOUT_S = 10.0
MAX_LIMIT = 500
MAX_TRACK_ID = 2**63 - 1


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class Json(JSONResponse):
    """JSON that a browser can parse: NaN and infinities become null instead of failing the answer."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text = json.dumps(_finite(content), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Json:
    return Json({"error": message}, status_code=status, headers=headers)


async def read_json(request: Request, keys: set[str] | None = None) -> dict[str, Any]:
    """The body as a JSON object ({} when empty): at most MAX_BODY_BYTES, read within BODY_TIMEOUT_S;
    with `keys`, no other key."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise ApiError(413, f"the body is at most {MAX_BODY_BYTES // 1024} KiB")
    chunks: list[bytes] = []
    size = 0

    async def read() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ApiError(413, f"the body is at most {MAX_BODY_BYTES // 1024} KiB")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(read(), BODY_TIMEOUT_S)
    except asyncio.TimeoutError as exc:
        raise ApiError(408, f"the body did not arrive within {BODY_TIMEOUT_S:.0f} s") from exc
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except RecursionError as exc:
        raise ApiError(400, "the body is nested too deeply") from exc
    except ValueError as exc:
        raise ApiError(400, "the body must be JSON (UTF-8)") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    if keys is not None and not set(body) <= keys:
        unknown = ", ".join(repr(k[:40]) for k in sorted(set(body) - keys)[:5])
        raise ApiError(400, f"unknown key(s) {unknown}; this takes {', '.join(sorted(keys))}")
    return body


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"give {name} once")
    return values[0] if values else None


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = _one(request, name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", text) or not low <= int(text) <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}")
    return int(text)


def number_param(request: Request, name: str, default: float, above: float, high: float, message: str) -> float:
    text = _one(request, name)
    if text is None:
        return default
    try:
        value = float(text) if len(text) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and above < value <= high):
        raise ApiError(400, message)
    return value


def text_param(request: Request, name: str, max_length: int) -> str:
    text = (_one(request, name) or "").strip()
    if len(text) > max_length:
        raise ApiError(400, f"{name} is at most {max_length} characters")
    if any(ord(c) < 32 for c in text):
        raise ApiError(400, f"{name} must not contain control characters")
    return text


def track_id_param(request: Request, name: str = "track_id") -> int:
    text = request.path_params[name]
    if not re.fullmatch(r"[0-9]{1,19}", text) or int(text) > MAX_TRACK_ID:
        raise ApiError(404, f"no library track with id {text[:40]!r}")
    return int(text)
