"""A small JSON-over-HTTP GET with a timeout and errors that say what went wrong (standard library only)."""
from __future__ import annotations

import http.client
import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping

from moodbox import __version__
from moodbox.online.source import OnlineError

log = logging.getLogger(__name__)

USER_AGENT = f"moodbox/{__version__} (mood music box for Raspberry Pi)"
# Answers larger than this are refused (a station list of 100 entries is about 100 kB).
MAX_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 64 * 1024


def build_url(base_url: str, path: str, params: Mapping[str, str | int] | None = None) -> str:
    """base_url + path + ?query (base_url may end with a slash or not)."""
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    if params:
        url += "?" + urllib.parse.urlencode(params)
    return url


def get_json(url: str, timeout: float, user_agent: str = USER_AGENT) -> Any:
    """GET `url` and decode its JSON body; raise OnlineError with a specific message otherwise.

    `timeout` bounds the whole request, also against a server that trickles its answer.
    """
    request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "application/json"})
    host = urllib.parse.urlsplit(url).netloc
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = _read_until(response, deadline, host, timeout)
    except urllib.error.HTTPError as exc:
        raise OnlineError(f"{host} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise OnlineError(f"{host} did not answer within {timeout:g} s") from None
        raise OnlineError(f"cannot reach {host}: {exc.reason}") from None
    except (TimeoutError, socket.timeout):
        raise OnlineError(f"{host} did not answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:  # connection reset, bad URL, broken HTTP framing
        raise OnlineError(f"request to {host} failed: {exc}") from None
    if len(body) > MAX_BYTES:
        raise OnlineError(f"{host} sent more than {MAX_BYTES // (1024 * 1024)} MB; answer ignored")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        start = body[:60].decode("utf-8", "replace").strip()
        raise OnlineError(f"{host} did not send JSON ({exc.__class__.__name__}: {exc}); it began with {start!r}") from None


def _read_until(response: http.client.HTTPResponse, deadline: float, host: str, timeout: float) -> bytes:
    """The body, read in chunks: at most MAX_BYTES + 1 bytes, and no longer than the deadline."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BYTES:
        if time.monotonic() > deadline:
            raise OnlineError(f"{host} did not answer within {timeout:g} s")
        chunk = response.read1(min(CHUNK_BYTES, MAX_BYTES + 1 - size))  # returns what has arrived
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
