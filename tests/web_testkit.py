"""A real Core (real library, mpv with null audio, folder camera) with the real web server on loopback,
and a small HTTP client that keeps the session cookie like a browser."""
from __future__ import annotations

import http.cookiejar
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from core_testkit import NO_FACE, camera_folder, config_data, make_config, wait_until
from moodbox.core import Core
from moodbox.web import WebAdapter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    body: bytes
    headers: Message  # case-insensitive, as HTTP headers are

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.csrf = ""
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None, csrf: bool = True,
                timeout: float = 10.0) -> Reply:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=timeout) as response:
                reply = Reply(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            reply = Reply(exc.code, exc.read(), exc.headers)
        if reply.headers.get("Content-Type") == "application/json":  # a login or logout gives a new token
            data = reply.json()
            if isinstance(data, dict) and isinstance(data.get("csrf_token"), str):
                self.csrf = data["csrf_token"]
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body if body is not None else {}, **kwargs)

    def start_session(self) -> dict[str, Any]:
        info = self.get("/api/v1/session").json()
        self.csrf = info["csrf_token"]
        return info


class Box:
    """Core + WebAdapter, started; close() stops both."""

    def __init__(self, tmp: Path, library: Path, web: dict[str, Any] | None = None, camera_image: Path = NO_FACE) -> None:
        port = free_port()
        # No mDNS announcement here (tests/test_web_announce.py checks it): it would outlive short tests.
        sections = {"web": {"enabled": True, "bind": "127.0.0.1", "port": port, "announce": False, **(web or {})}}
        camera = camera_folder(tmp / "cam", camera_image)
        self.config = make_config(tmp, config_data(tmp / "state", library, str(camera), **sections))
        self.core = Core(self.config)
        self.core.start()
        self.web = WebAdapter(self.core, self.config)
        self.web.start()
        self.url = f"http://127.0.0.1:{port}"
        wait_until(lambda: (self.core.snapshot().get("player") or {}).get("state") == "playing", "a track playing")

    def client(self) -> Client:
        return Client(self.url)

    def close(self) -> None:
        self.web.stop()
        self.core.close()
