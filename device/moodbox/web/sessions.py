"""Sessions on the server: who is logged in, until when, and the CSRF token of every visitor.

The browser holds a random token in the `moodbox_session` cookie (HttpOnly, SameSite=Strict, Secure
over TLS). A logged-in session is a record on the box (state_dir/web_sessions.json, mode 0600,
holding only SHA-256 hashes of tokens), so logging out ends it on the box, "log out everywhere"
ends them all, and a session made under another password is void. A visitor who is not logged in
gets a token too, kept nowhere: its CSRF token is an HMAC of it with the box's secret.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from moodbox.files import write_atomic, write_json_atomic

log = logging.getLogger(__name__)

SECRET_FILE = "web_secret"
SESSIONS_FILE = "web_sessions.json"
COOKIE = "moodbox_session"
CSRF_HEADER = "X-CSRF-Token"
MAX_SESSIONS = 100  # logged-in sessions kept; the oldest goes first


def secret_key(state_dir: Path) -> bytes:
    """The box's secret (state_dir/web_secret, 0600): signs CSRF tokens and password fingerprints."""
    path = state_dir / SECRET_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    data = secrets.token_bytes(32)
    try:
        write_atomic(path, data, mode=0o600)
    except OSError as exc:
        log.warning("web: cannot keep the session secret in %s (%s): logins last until a restart", path, exc)
    return data


@dataclass
class Session:
    created: float
    expires: float
    password: str  # fingerprint of the password it was opened with


class Sessions:
    def __init__(self, state_dir: Path, password: str | None, lifetime_s: float) -> None:
        self.password = password or None
        self.lifetime_s = lifetime_s
        self._path = state_dir / SESSIONS_FILE
        self._secret = secret_key(state_dir)
        self._fingerprint = self._mac("password", self.password or "")
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = self._load()

    @property
    def password_required(self) -> bool:
        return self.password is not None

    # ----- tokens -----

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    def csrf_token(self, token: str) -> str:
        return self._mac("csrf", token)

    def check_csrf(self, token: str | None, sent: str | None) -> bool:
        return bool(token and sent) and hmac.compare_digest(self.csrf_token(token or ""), sent or "")

    def check_password(self, password: str) -> bool:
        if self.password is None:
            return True
        return hmac.compare_digest(password.encode("utf-8"), self.password.encode("utf-8"))

    # ----- logged-in sessions -----

    def logged_in(self, token: str | None) -> bool:
        if self.password is None:
            return True
        return self.session(token) is not None

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        key = self._hash(token)
        with self._lock:
            found = self._sessions.get(key)
            if found is None:
                return None
            if found.expires <= time.time() or found.password != self._fingerprint:
                del self._sessions[key]
                return None
            return found

    def open(self) -> str:
        """A new logged-in session; returns its token (the old token of the browser is not reused)."""
        token = self.new_token()
        now = time.time()
        with self._lock:
            self._sessions[self._hash(token)] = Session(now, now + self.lifetime_s, self._fingerprint)
            while len(self._sessions) > MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].created)
                del self._sessions[oldest]
        self._save()
        return token

    def close(self, token: str | None) -> None:
        if token:
            with self._lock:
                removed = self._sessions.pop(self._hash(token), None)
            if removed is not None:
                self._save()

    def close_all(self) -> int:
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
        self._save()
        return count

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._sessions)

    # ----- the file -----

    def _load(self) -> dict[str, Session]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
            sessions = {str(k): Session(float(v["created"]), float(v["expires"]), str(v["password"]))
                        for k, v in raw["sessions"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("web: ignoring unreadable %s (%s): everyone logs in again", self._path, exc)
            return {}
        now = time.time()
        kept = {k: s for k, s in sessions.items() if s.expires > now and s.password == self._fingerprint}
        if len(kept) != len(sessions):
            log.info("web: %d session(s) ended (expired or opened under another password)", len(sessions) - len(kept))
            self._sessions = kept
            self._save()
        return kept

    def _save(self) -> None:
        with self._lock:
            data = {"sessions": {k: asdict(s) for k, s in self._sessions.items()}}
        try:
            write_json_atomic(self._path, data, mode=0o600)
        except OSError as exc:
            log.warning("web: cannot write %s (%s): logins last until a restart", self._path, exc)

    def _mac(self, purpose: str, text: str) -> str:
        return hmac.new(self._secret, f"{purpose}:{text}".encode("utf-8"), hashlib.sha256).hexdigest()

    @staticmethod
    def _hash(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
