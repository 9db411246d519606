"""Who may change things: an optional password, a signed session cookie, and a CSRF token.

Every state change (POST/PUT) must carry the session's token in the X-CSRF-Token header, so another
site a browser visits cannot drive the box; with a password set, it must also come from a logged-in
session. Reads are open (the page shows what the box shows in Home Assistant; never a picture).
"""
from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from pathlib import Path

from flask import session

SECRET_FILE = "web_secret"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_DELAY_S = 1.0  # after a wrong password, per attempt


def secret_key(state_dir: Path) -> bytes:
    """The key that signs session cookies, kept in the state folder (mode 0600) so logins survive restarts."""
    path = state_dir / SECRET_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    data = secrets.token_bytes(32)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except OSError:
        pass  # a read-only state folder: sessions then last until a restart
    return data


class Guard:
    def __init__(self, password: str | None) -> None:
        self.password = password
        self._login_lock = threading.Lock()

    @property
    def password_required(self) -> bool:
        return bool(self.password)

    def csrf_token(self) -> str:
        token = session.get("csrf")
        if not token:
            token = session["csrf"] = secrets.token_urlsafe(24)
        return str(token)

    def logged_in(self) -> bool:
        return not self.password_required or bool(session.get("auth"))

    def check_csrf(self, sent: str | None) -> bool:
        expected = session.get("csrf")
        return bool(expected and sent and hmac.compare_digest(str(expected), sent))

    def login(self, password: str) -> bool:
        if not self.password_required:
            return True
        with self._login_lock:  # one guess at a time, each wrong one slowed down
            if hmac.compare_digest(password.encode("utf-8"), self.password.encode("utf-8")):  # type: ignore[union-attr]
                session["auth"] = True
                return True
            time.sleep(LOGIN_DELAY_S)
            return False

    def logout(self) -> None:
        session.pop("auth", None)
