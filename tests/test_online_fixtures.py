"""Fixtures shared by the online tests (imported by tests/test_online_*.py): a local API server,
a guard that fails any connection to a non-loopback host, and a config pointing at the server."""
from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import pytest
from pytest_httpserver import HTTPServer

from moodbox.config import Config

LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No request may leave the machine: resolving any other host fails the test."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            pytest.fail(f"test tried to reach {host!r}; only the local test server is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture(scope="module")
def api_server() -> Iterator[HTTPServer]:
    """Our own threaded server, so that a deliberately slow answer blocks no other test."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def api(api_server: HTTPServer) -> Iterator[HTTPServer]:
    api_server.clear()
    yield api_server
    api_server.clear()


def base_url(server: HTTPServer, path: str = "") -> str:
    url = server.url_for(path).rstrip("/")
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1"  # never a real API
    return url


def online_config(state_dir: Path, server: HTTPServer, enabled: bool = True, timeout_s: float = 2.0,
                  jamendo: bool = False, client_id: str | None = None, min_local_matches: int = 5,
                  radio_browser: bool = True) -> Config:
    return Config.model_validate({
        "state_dir": str(state_dir),
        "recommend": {"policy": "match", "era_share": 0.5},
        "online": {
            "enabled": enabled,
            "min_local_matches": min_local_matches,
            "timeout_s": timeout_s,
            "radio_browser": {"enabled": radio_browser, "base_url": base_url(server)},
            "jamendo": {"enabled": jamendo, "client_id": client_id, "base_url": base_url(server, "/v3.0")},
        },
    })


def station(uuid: str, name: str, tags: str, clicks: int = 100, votes: int = 10, ok: int = 1,
            url: str | None = None) -> dict[str, Any]:
    """One station in the format of Radio Browser's /json/stations/search answer."""
    stream = url if url is not None else f"http://127.0.0.1:9/stream/{uuid}"
    return {
        "changeuuid": f"c-{uuid}", "stationuuid": uuid, "serveruuid": None, "name": name,
        "url": stream, "url_resolved": stream, "homepage": "", "favicon": "", "tags": tags,
        "country": "Germany", "countrycode": "DE", "state": "", "language": "english", "languagecodes": "en",
        "votes": votes, "lastchangetime_iso8601": "2024-01-01T00:00:00Z", "codec": "MP3", "bitrate": 128,
        "hls": 0, "lastcheckok": ok, "lastchecktime_iso8601": "2024-06-01T00:00:00Z",
        "clickcount": clicks, "clicktrend": 0, "ssl_error": 0, "has_extended_info": False,
    }


def jamendo_track(track_id: str, name: str, artist: str, vartags: list[str], duration: int = 200) -> dict[str, Any]:
    """One track in the format of Jamendo's /v3.0/tracks answer with include=musicinfo."""
    return {
        "id": track_id, "name": name, "duration": duration, "artist_id": "1", "artist_name": artist,
        "album_name": "Album", "album_id": "2", "license_ccurl": "http://creativecommons.org/licenses/by/3.0/",
        "position": 1, "releasedate": "2015-05-01", "audio": f"http://127.0.0.1:9/jamendo/{track_id}.mp3",
        "audiodownload": "", "shareurl": "", "image": "",
        "musicinfo": {"vocalinstrumental": "instrumental", "lang": "", "gender": "", "acousticelectric": "",
                      "speed": "medium", "tags": {"genres": ["lounge"], "instruments": ["piano"], "vartags": vartags}},
    }


def jamendo_answer(results: list[dict[str, Any]], status: str = "success", code: int = 0, message: str = "") -> dict[str, Any]:
    return {"headers": {"status": status, "code": code, "error_message": message, "warnings": "",
                        "results_count": len(results)}, "results": results}
