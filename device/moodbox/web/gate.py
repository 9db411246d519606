"""The gate every request passes (an ASGI middleware, before any route):

1. Host must name the box (421 otherwise): a DNS-rebinding page arrives under a foreign name.
2. A change (POST/PUT/PATCH/DELETE) must come from the box's own page: Origin, when sent, names the
   box and the browser does not call it cross-site (403). The routes that change things then check
   the X-CSRF-Token header and, with a password, the login (check_change).
3. Every answer gets the security headers; API answers are not cached.
"""
from __future__ import annotations

import asyncio

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moodbox.web.checks import ApiError, error_response
from moodbox.web.hosts import HostPolicy
from moodbox.web.sessions import COOKIE, CSRF_HEADER, Sessions

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MAX_TARGET_BYTES = 4096  # path and query string
MAX_HEADER_BYTES = 16 * 1024
DRAIN_BYTES = 16 * 1024  # a body up to this size is read (and dropped) when a route answers without it
DRAIN_TIMEOUT_S = 2.0
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]


def session_token(request: HTTPConnection) -> str | None:
    token = request.cookies.get(COOKIE)
    return token if token and len(token) <= 128 else None


def set_session_cookie(response: Response, request: Request, token: str, max_age_s: float | None) -> None:
    """HttpOnly, SameSite=Strict, Secure when the page came over TLS; `max_age_s` None: until the browser closes."""
    response.set_cookie(COOKIE, token, max_age=int(max_age_s) if max_age_s else None, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


async def _drain(receive: Receive) -> None:
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            while (await receive()).get("more_body", False):
                pass
    except TimeoutError:
        pass


class Gate:
    def __init__(self, app: ASGIApp, sessions: Sessions, hosts: HostPolicy) -> None:
        self.app, self.sessions, self.hosts = app, sessions, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        refusal = self.check(connection, scope)
        api = str(scope.get("path", "")).startswith("/api/")
        length = connection.headers.get("content-length", "0")
        body_read = length in ("", "0") and "transfer-encoding" not in connection.headers
        small_body = length.isdigit() and int(length) <= DRAIN_BYTES

        async def receive_body() -> Message:
            nonlocal body_read
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read = True
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in names]
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if not body_read and small_body:  # read it, so the connection can carry the next request
                    await _drain(receive_body)
                if not body_read:  # a large body is not read: the connection ends with this answer
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        if refusal is not None:
            await refusal(scope, receive_body, send_with_headers)
            return
        await self.app(scope, receive_body, send_with_headers)

    def check(self, request: HTTPConnection, scope: Scope) -> Response | None:
        if len(scope.get("raw_path", b"")) + len(scope.get("query_string", b"")) > MAX_TARGET_BYTES:
            return error_response(414, f"the address is longer than {MAX_TARGET_BYTES} bytes")
        if sum(len(name) + len(value) for name, value in scope.get("headers", [])) > MAX_HEADER_BYTES:
            return error_response(431, f"the request headers are larger than {MAX_HEADER_BYTES // 1024} KiB")
        local = scope.get("server")
        local_address = str(local[0]) if local else None
        host = request.headers.get("host", "")
        if not self.hosts.allows(host, local_address):
            return error_response(421, f"this box does not answer to the name {host[:100]!r}: open it by its own name "
                                "or address, or add the name to web.allowed_hosts")
        if scope.get("method") not in UNSAFE_METHODS:
            return None
        origin = request.headers.get("origin")
        if origin is not None and not self.hosts.allows_origin(origin, local_address):
            return error_response(403, f"a page from {origin[:100]!r} may not change this box")
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return error_response(403, "a page from another site may not change this box")
        return None


def check_change(request: Request, sessions: Sessions, login_needed: bool = True) -> None:
    """A change needs the session's CSRF token (403) and, with a password, a login (401)."""
    token = session_token(request)
    if not sessions.check_csrf(token, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, f"missing or wrong {CSRF_HEADER} header (GET /api/v1/session gives the token)")
    if login_needed and not sessions.logged_in(token):
        raise ApiError(401, "log in first: this box has a web password")
