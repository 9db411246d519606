"""The page and API in a real household and against the LAN, on the real server (loopback only):
many live pages, slow and hostile clients, DNS rebinding, sessions, private data, bad input.

Clients that play an attacker connect from 127.0.0.2 (a loopback address of its own), the owner from
127.0.0.1. Speed figures live in bench/web.py; these tests check what happens, not how fast."""
from __future__ import annotations

import json
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from core_testkit import wait_until
from web_testkit import Box, Client

OWNER, STRANGER = "127.0.0.1", "127.0.0.2"


def raw_request(box: Box, request: bytes, source: str = OWNER, timeout: float = 10.0) -> bytes:
    """Send bytes as they are; read the answer until the server closes or it is complete."""
    with socket.create_connection(("127.0.0.1", box.web.port), timeout=timeout, source_address=(source, 0)) as raw:
        raw.sendall(request)
        answer = b""
        while True:
            try:
                chunk = raw.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if length and len(body) >= length[0]:
                break
    return answer


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def get(box: Box, path: str, host: str = "127.0.0.1", extra: str = "") -> bytes:
    return raw_request(box, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode())


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory, library: Path) -> Path:
    folder = tmp_path_factory.mktemp("hardmusic")
    for path in library.iterdir():
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, music: Path) -> Iterator[Box]:
    started = Box(tmp_path_factory.mktemp("hardbox"), music, web={"allowed_hosts": ["music.example.org", ".home.arpa"]})
    yield started
    started.close()


@pytest.fixture
def client(box: Box) -> Client:
    c = box.client()
    c.start_session()
    return c


def open_live_page(box: Box, source: str) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", box.web.port), timeout=10, source_address=(source, 0))
    raw.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return raw


def read_until(raw: socket.socket, marker: bytes, deadline: float) -> bytes:
    data = b""
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([raw], [], [], 0.5)
        if ready:
            chunk = raw.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


# ----- many live pages ----------------------------------------------------------------------------

def test_sixty_live_pages_each_get_every_change(box: Box, client: Client) -> None:
    pages = [open_live_page(box, f"127.0.0.{10 + i % 3}") for i in range(60)]
    try:
        deadline = time.monotonic() + 30
        assert all(b"event: snapshot" in read_until(p, b"\n\n", deadline) for p in pages)
        wait_until(lambda: box.web.feed.page_count == 60, "60 live pages")
        volume = box.core.snapshot()["volume"]["volume"]
        target = 20 if volume != 20 else 25
        assert client.post("/api/v1/commands/volume", {"value": target}).status == 202
        wanted = f'event: volume\ndata: {{"volume":{target},'.encode()
        deadline = time.monotonic() + 30
        got = [wanted in read_until(p, wanted, deadline) for p in pages]
        assert all(got), f"{got.count(False)} of 60 pages missed the change"
    finally:
        for p in pages:
            p.close()
    wait_until(lambda: box.web.feed.page_count == 0, "the pages to be gone")


def test_a_page_beyond_the_limit_is_told_to_poll(box: Box) -> None:
    box.web.feed.max_pages = 0
    try:
        status, body = status_and_json(get(box, "/api/v1/events"))
        assert status == 503 and "refreshes itself" in body["error"]
        assert b"retry-after: 30" in get(box, "/api/v1/events").lower()
    finally:
        box.web.feed.max_pages = 100


def test_a_page_that_stops_reading_is_dropped_not_buffered(box: Box, client: Client) -> None:
    box.web.limits.write_stall_s = 1.0
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", box.web.port))
    stalled.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        wait_until(lambda: box.web.feed.page_count == 1, "the page")
        for i in range(500):  # 10 MB, far more than the socket buffers: it must be cut off, not buffered
            box.web.feed._on_core("diagnostics", {"uptime_s": i, "padding": "x" * 20000})
        wait_until(lambda: box.web.feed.page_count == 0, "the stalled page to be dropped")
        assert box.web.limits.stalled >= 1
    finally:
        stalled.close()
        box.web.limits.write_stall_s = 30.0


# ----- slow and hostile clients --------------------------------------------------------------------

def test_two_hundred_half_open_connections_do_not_keep_the_owner_out(box: Box) -> None:
    idle = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", box.web.port), timeout=5, source_address=(STRANGER, 0))
            s.sendall(b"GET /api/v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes its headers
            idle.append(s)
        page = get(box, "/")
        state = get(box, "/api/v1/state")
        assert page.startswith(b"HTTP/1.1 200") and b"<title>moodbox</title>" in page
        assert state.startswith(b"HTTP/1.1 200")
        assert box.web.limits.open.get(STRANGER, 0) <= box.web.limits.per_address
        assert box.web.limits.refused >= 200 - box.web.limits.per_address
    finally:
        for s in idle:
            s.close()


def test_dripping_header_bytes_does_not_extend_the_deadline(box: Box) -> None:
    box.web.limits.header_timeout_s = 1.0
    try:
        with socket.create_connection(("127.0.0.1", box.web.port), timeout=5, source_address=(STRANGER, 0)) as s:
            started, closed = time.monotonic(), False
            for byte in b"GET /api/v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
                try:
                    s.sendall(bytes([byte]))
                    ready, _, _ = select.select([s], [], [], 0.2)
                    if ready and s.recv(1) == b"":
                        closed = True
                        break
                except OSError:
                    closed = True
                    break
            assert closed, "the connection was still open after 20 s of dripping"
            assert time.monotonic() - started < 10
    finally:
        box.web.limits.header_timeout_s = 10.0


def test_a_huge_body_is_refused_before_it_is_read(box: Box, client: Client) -> None:
    declared = 200 * 1024 * 1024
    head = (f"POST /api/v1/commands/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-CSRF-Token: {client.csrf}\r\nCookie: {cookie(client)}\r\nContent-Length: {declared}\r\n\r\n").encode()
    status, body = status_and_json(raw_request(box, head))
    assert status == 413 and "16 KiB" in body["error"]
    # A GET with a body: answered, then the connection ends; what the client goes on sending is not kept.
    with socket.create_connection(("127.0.0.1", box.web.port), timeout=10) as s:
        s.sendall(f"GET /api/v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n\r\n".encode())
        sent, refused = 0, False
        chunk = b"x" * 65536
        while sent < declared:
            try:
                s.sendall(chunk)
            except OSError:
                refused = True
                break
            sent += len(chunk)
            if sent > 64 * 1024 * 1024:
                break
        assert refused and sent < 64 * 1024 * 1024, f"the server took {sent} bytes of a body it does not need"


def test_no_body_is_read_slower_than_its_deadline(box: Box, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    import moodbox.web.checks as checks

    monkeypatch.setattr(checks, "BODY_TIMEOUT_S", 1.0)
    head = (f"POST /api/v1/commands/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-CSRF-Token: {client.csrf}\r\nCookie: {cookie(client)}\r\nContent-Length: 100\r\n\r\n{{").encode()
    status, body = status_and_json(raw_request(box, head))
    assert status == 408 and "did not arrive" in body["error"]


def cookie(client: Client) -> str:
    jar = next(h.cookiejar for h in client.opener.handlers if hasattr(h, "cookiejar"))
    return "; ".join(f"{c.name}={c.value}" for c in jar)


# ----- DNS rebinding and CSRF ----------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "moodbox.local.evil",
                                  "10.9.8.7", ""])
def test_a_foreign_host_name_gets_421(box: Box, host: str) -> None:
    status, body = status_and_json(get(box, "/api/v1/state", host=host))
    assert status == 421 and "web.allowed_hosts" in body["error"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:8080", "[::1]:8080", "music.example.org",
                                  "kitchen.home.arpa", socket.gethostname(), socket.gethostname().split(".")[0] + ".local"])
def test_the_box_own_names_are_served(box: Box, host: str) -> None:
    assert get(box, "/api/v1/state", host=host).startswith(b"HTTP/1.1 200")


def test_a_change_from_another_site_is_refused(box: Box, client: Client) -> None:
    def post(extra: str) -> tuple[int, dict]:
        body = b'{"value": "calm"}'
        return status_and_json(raw_request(box, (
            f"POST /api/v1/commands/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-CSRF-Token: {client.csrf}\r\nCookie: {cookie(client)}\r\n{extra}Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body))

    assert post("Origin: http://evil.example\r\n")[0] == 403
    assert post("Origin: null\r\n")[0] == 403
    assert post("Sec-Fetch-Site: cross-site\r\n")[0] == 403
    assert post("Origin: http://127.0.0.1:8080\r\nSec-Fetch-Site: same-origin\r\n")[0] == 202
    status, body = status_and_json(raw_request(box, (
        "POST /api/v1/commands/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Cookie: {cookie(client)}\r\nContent-Length: 17\r\nConnection: close\r\n\r\n").encode() + b'{"value": "calm"}'))
    assert status == 403 and "X-CSRF-Token" in body["error"]  # the CSRF header is still needed


# ----- sessions ------------------------------------------------------------------------------------

def test_sessions_end_on_logout_on_a_new_password_and_everywhere(tmp_path: Path, music: Path) -> None:
    box = Box(tmp_path, music, web={"password": "first"})
    try:
        owner = box.client()
        owner.start_session()
        reply = owner.post("/api/v1/login", {"password": "first"})
        set_cookie = reply.headers["Set-Cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie.replace("Strict", "strict")
        assert "Max-Age=2592000" in set_cookie and "Secure" not in set_cookie  # 30 days; no TLS here
        saved = cookie(owner)
        owner.post("/api/v1/logout")
        replayed = raw_request(box, (
            "POST /api/v1/commands/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-CSRF-Token: {box.web.sessions.csrf_token(saved.split('=', 1)[1])}\r\nCookie: {saved}\r\n"
            "Content-Length: 17\r\nConnection: close\r\n\r\n").encode() + b'{"value": "calm"}')
        assert status_and_json(replayed)[0] == 401  # the cookie saved before logging out is worth nothing

        phone, laptop = box.client(), box.client()
        for c in (phone, laptop):
            c.start_session()
            assert c.post("/api/v1/login", {"password": "first"}).status == 200
        assert phone.post("/api/v1/logout", {"everywhere": True}).status == 200
        assert laptop.post("/api/v1/commands/policy", {"value": "calm"}).status == 401

        assert laptop.post("/api/v1/login", {"password": "first"}).status == 200
    finally:
        box.close()
    box = Box(tmp_path, music, web={"password": "first"})  # the same state folder: a restart
    try:
        laptop.base = box.url
        assert laptop.post("/api/v1/commands/policy", {"value": "lift"}).status == 202  # logins survive a restart
    finally:
        box.close()
    box = Box(tmp_path, music, web={"password": "second"})  # the owner changed the password
    try:
        laptop.base = box.url
        assert laptop.post("/api/v1/commands/policy", {"value": "calm"}).status == 401
        assert box.web.sessions.count == 0
    finally:
        box.close()


def test_a_session_ends_after_its_lifetime(tmp_path: Path, music: Path) -> None:
    box = Box(tmp_path, music, web={"password": "pw", "session_days": 1.5 / 86400})  # 1.5 s
    try:
        c = box.client()
        c.start_session()
        assert c.post("/api/v1/login", {"password": "pw"}).status == 200
        assert c.post("/api/v1/commands/policy", {"value": "calm"}).status == 202
        saved = cookie(c)
        time.sleep(2.0)  # the browser forgets the cookie (Max-Age); one kept by hand is refused by the box
        replayed = raw_request(box, (
            "POST /api/v1/commands/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-CSRF-Token: {c.csrf}\r\nCookie: {saved}\r\nContent-Length: 18\r\nConnection: close\r\n\r\n").encode()
            + b'{"value": "match"}')
        assert status_and_json(replayed)[0] == 401
    finally:
        box.close()


def test_the_cookie_is_secure_over_tls(tmp_path: Path, music: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (./setup.sh --test installs it)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    box = Box(tmp_path, music, web={"password": "pw", "tls_certificate": str(cert), "tls_key": str(key)})
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        url = box.url.replace("http://", "https://")
        with urllib.request.urlopen(urllib.request.Request(url + "/api/v1/session"), context=context) as r:
            assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
        with pytest.raises(Exception):  # plain HTTP is not served on the TLS port
            urllib.request.urlopen(box.url + "/api/v1/session", timeout=5).read()
    finally:
        box.close()


# ----- login guessing ------------------------------------------------------------------------------

def test_guessing_is_slowed_per_address_and_never_stalls_the_others(tmp_path: Path, music: Path) -> None:
    box = Box(tmp_path, music, web={"password": "right"})
    try:
        guesser = box.client()
        guesser.start_session()
        body = json.dumps({"password": "wrong"}).encode()
        request = ("POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"X-CSRF-Token: {guesser.csrf}\r\nCookie: {cookie(guesser)}\r\nContent-Length: {len(body)}\r\n"
                   "Connection: close\r\n\r\n").encode() + body
        answers: list[int] = []
        threads = [threading.Thread(target=lambda: answers.append(
            status_and_json(raw_request(box, request, source=STRANGER, timeout=60))[0])) for _ in range(16)]
        for t in threads:
            t.start()
        owner_states = [box.client().get("/api/v1/state").status for _ in range(20)]
        still_guessing = sum(t.is_alive() for t in threads)
        for t in threads:
            t.join(60)
        assert owner_states == [200] * 20 and still_guessing > 0  # the owner was served while the guesses waited
        assert sorted(answers).count(401) == 5 and sorted(answers).count(429) == 11, answers
        locked = status_and_json(raw_request(box, request, source=STRANGER))
        assert locked[0] == 429 and "try again" in locked[1]["error"]
        owner = box.client()
        owner.start_session()
        assert owner.post("/api/v1/login", {"password": "right"}).status == 200  # another address is not locked out
    finally:
        box.close()


# ----- what a logged-out page sees -----------------------------------------------------------------

def test_with_a_password_personal_data_needs_a_login(tmp_path: Path, music: Path) -> None:
    box = Box(tmp_path, music, web={"password": "pw"})
    try:
        visitor = box.client()
        visitor.start_session()
        state = visitor.get("/api/v1/state").json()
        assert state["mood"]["emotion"] and not {"faces", "ages", "age_groups"} & set(state["mood"])
        assert "reason" not in state["player"] and all("reason" not in e for e in state["queue"])
        assert visitor.get("/api/v1/history").status == 401
        assert visitor.get("/api/v1/mood/history").status == 401
        live = read_until(open_live_page(box, OWNER), b"\n\n", time.monotonic() + 10)
        assert b"event: snapshot" in live and b'"ages"' not in live and b'"reason"' not in live

        assert visitor.post("/api/v1/login", {"password": "pw"}).status == 200
        state = visitor.get("/api/v1/state").json()
        assert {"faces", "ages", "age_groups"} <= set(state["mood"]) and "reason" in state["player"]
        assert visitor.get("/api/v1/history").status == 200
    finally:
        box.close()


# ----- bad input -----------------------------------------------------------------------------------

BAD_REQUESTS = [
    ("GET", "/api/v1/tracks/9223372036854775808/cover", None, 404),
    ("GET", "/api/v1/tracks/99999999999999999999999999/cover", None, 404),
    ("PUT", "/api/v1/tracks/9223372036854775808/mood", b'{"mood": "calm"}', 404),
    ("POST", "/api/v1/commands/player", b"[" * 1000 + b"]" * 1000, 400),
    ("POST", "/api/v1/commands/player", b'{"value": ' + b"[" * 1000 + b"]" * 1000 + b"}", 400),
    ("PUT", "/api/v1/tracks/1/mood", b'{"mood": ' + b"{\"a\":" * 1000 + b"1" + b"}" * 1000 + b"}", 400),
    ("POST", "/api/v1/login", b'{"password": ' + b"[" * 1000 + b"]" * 1000 + b"}", 400),
    ("POST", "/api/v1/commands/volume", b'{"value": [1, 2]}', 400),
    ("POST", "/api/v1/commands/volume", b'{"value": {"a": 1}}', 400),
    ("POST", "/api/v1/commands/volume", b'{"value": true}', 400),
    ("POST", "/api/v1/commands/detection", b'{"value": 1}', 400),
    ("POST", "/api/v1/commands/player", b'{"value": "play", "extra": 1}', 400),
    ("POST", "/api/v1/commands/player", b'\xff\xfe{"value": "play"}', 400),
    ("POST", "/api/v1/commands/volume", b'{"value": NaN}', 400),
    ("POST", "/api/v1/commands/volume", b'{"value": ' + b"9" * 5000 + b"}", 400),
    ("GET", "/api/v1/history?limit=705", None, 400),
    ("GET", "/api/v1/history?limit=null", None, 400),
    ("GET", "/api/v1/history?limit=5&limit=6", None, 400),
    ("GET", "/api/v1/mood/history?hours=nan", None, 400),
    ("GET", "/api/v1/mood/history?hours=1e309", None, 400),
    ("GET", "/api/v1/library/search?q=" + "x" * 201, None, 400),
    ("GET", "/api/v1/library/search?q=%00", None, 400),
    ("GET", "/api/v1/%FF%FE/state", None, 404),
    ("GET", "/static/%FF.js", None, 404),
    ("GET", "/api/v1/state?" + "a=1&" * 5000, None, 414),
    ("GET", "/api/v1/" + "a" * 9000, None, 414),
    ("TRACE", "/api/v1/state", None, 405),
    ("DELETE", "/api/v1/state", None, 405),
]


@pytest.mark.parametrize("method, path, body, expected", BAD_REQUESTS,
                         ids=[f"{m} {p[:40]} {(b or b'')[:12]!r}" for m, p, b, _ in BAD_REQUESTS])
def test_bad_input_gets_a_clear_4xx_and_no_traceback(box: Box, client: Client, method: str, path: str,
                                                     body: bytes | None, expected: int,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    data = body or b""
    answer = raw_request(box, (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-CSRF-Token: {client.csrf}\r\n"
        f"Cookie: {cookie(client)}\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data)
    status, reply = status_and_json(answer)
    assert status == expected and reply["error"], (status, reply)
    if status == 405:
        allow = [line for line in answer.lower().split(b"\r\n") if line.startswith(b"allow:")]
        assert allow and b"get" in allow[0]
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= 40]


def test_bytes_that_are_not_http_get_a_json_400(box: Box) -> None:
    for junk in (b"GET /api/v1/\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n"):
        status, reply = status_and_json(raw_request(box, junk))
        assert status == 400 and "HTTP" in reply["error"]
    status, reply = status_and_json(raw_request(
        box, b"GET /api/v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n"))
    assert status in (400, 431) and reply["error"]


def test_a_command_without_a_body_takes_its_default(client: Client, box: Box) -> None:
    reply = client.request("POST", "/api/v1/commands/refresh", raw=b"")
    assert reply.status == 202 and reply.json()["command"] == "refresh_mood"


SAMPLE_VALUES = [None, True, False, 0, 1, 48, 48.0, 48.5, 100, 101, -1, "+5", "-5", "+1000", "5", "play", "PLAY", "next",
                 "calm", "match", "auto", "happy", "HAPPY", "disgust", "press", "", [], [1], {}, {"emotion": "sad"},
                 {"emotion": "sad", "timeout": 60}, {"emotion": "sad", "timeout": None}, {"emotion": "auto"},
                 {"emotion": None}, {"emotion": "auto", "timeout": 5}, {"emotion": "sad", "timeout": 0},
                 {"emotion": "sad", "timeout": 10**9}, {"emotion": "sad", "extra": 1}, {"timeout": 5}]


@pytest.mark.parametrize("thing", ["player", "volume", "policy", "override", "detection", "refresh", "like"])
def test_each_command_value_is_taken_exactly_when_the_document_says(box: Box, thing: str) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # schemathesis's validator
    from moodbox.web.values import value_problem

    doc = box.client().get("/api/v1/openapi.json").json()
    schema = doc["paths"][f"/api/v1/commands/{thing}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for value in SAMPLE_VALUES:
        for body in ({"value": value}, {}):
            documented = jsonschema_rs.Draft202012Validator(schema).is_valid(body)
            assert documented == (value_problem(thing, body) is None), (thing, body)
