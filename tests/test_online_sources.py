"""Online sources against a local server speaking the Radio Browser and Jamendo formats."""
from __future__ import annotations

import json
import socket
import time
import urllib.parse

import pytest
from werkzeug import Request, Response

from moodbox import __version__
from moodbox.online.http_json import get_json
from moodbox.online.jamendo import JamendoSource
from moodbox.online.radio_browser import RadioBrowserSource
from moodbox.online.source import OnlineError
from moodbox.online.tags import STATION_TAGS, era_tag, era_tags, target_mood
from test_online_fixtures import (api, api_server, base_url, jamendo_answer, jamendo_track,  # noqa: F401 (fixtures)
                                  loopback_only, station)

SEARCH = "/json/stations/search"


# --- tags -----------------------------------------------------------------------------------

@pytest.mark.parametrize("emotion, policy, label", [
    ("happy", "match", "happy"), ("sad", "match", "sad"), ("angry", "match", "tense"),
    ("surprise", "match", "energetic"), ("neutral", "match", "calm"),
    ("sad", "lift", "calm"), ("neutral", "lift", "happy"), ("angry", "lift", "calm"),
    ("happy", "calm", "calm"), ("surprise", "calm", "calm"),
])
def test_target_mood_per_policy(emotion: str, policy: str, label: str) -> None:
    assert target_mood(emotion, policy) == label


def test_station_tags_per_mood() -> None:
    assert STATION_TAGS["calm"][:3] == ("chillout", "ambient", "lounge")
    assert "pop" in STATION_TAGS["happy"] and "dance" in STATION_TAGS["happy"]
    assert "rock" in STATION_TAGS["energetic"] and "edm" in STATION_TAGS["energetic"]
    assert "blues" in STATION_TAGS["sad"]


@pytest.mark.parametrize("age, tag", [
    (45, "90s"),      # 2026 - 45 + 17 = 1998
    (60, "80s"),      # 1983
    (30, "2010s"),    # 2013
    (38, "2000s"),    # 2005
    (70, "70s"),      # 1973
    (90, "50s"),      # 1953
    (100, "oldies"),  # 1943
    (8, None),        # too young to have an era
    (15, None),       # the middle of their era is still to come
])
def test_era_tag_is_the_decade_of_age_10_to_25(age: float, tag: str | None) -> None:
    assert era_tag(age, this_year=2026) == tag


def test_era_tags_most_common_first_at_most_two() -> None:
    assert era_tags([60, 45, 47, 8, 70], this_year=2026) == ["90s", "80s"]
    assert era_tags([], this_year=2026) == []


# --- HTTP -----------------------------------------------------------------------------------

def test_get_json_sends_user_agent(api) -> None:
    api.expect_request("/ua").respond_with_json({"ok": True})
    assert get_json(base_url(api, "/ua"), timeout=5) == {"ok": True}
    request, _ = api.log[-1]
    assert request.headers["User-Agent"].startswith(f"moodbox/{__version__}")


def test_get_json_http_error(api) -> None:
    api.expect_request("/fail").respond_with_data("oops", status=500)
    with pytest.raises(OnlineError, match="HTTP 500"):
        get_json(base_url(api, "/fail"), timeout=5)


def test_get_json_not_json(api) -> None:
    api.expect_request("/html").respond_with_data("<html>maintenance</html>", content_type="text/html")
    with pytest.raises(OnlineError, match="did not send JSON.*maintenance"):
        get_json(base_url(api, "/html"), timeout=5)


def test_get_json_slow_answer_times_out(api) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("[]", content_type="application/json")

    api.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(OnlineError, match="did not answer within 0.3 s"):
        get_json(base_url(api, "/slow"), timeout=0.3)


def test_get_json_trickling_answer_times_out(api) -> None:
    def trickle(request: Request) -> Response:
        def body():
            for _ in range(30):  # one byte every 0.2 s: each read is quick, the whole answer is not
                time.sleep(0.2)
                yield b" "
        return Response(body(), content_type="application/json")

    api.expect_request("/trickle").respond_with_handler(trickle)
    with pytest.raises(OnlineError, match="did not answer within 1 s"):
        get_json(base_url(api, "/trickle"), timeout=1)


def test_get_json_refuses_huge_answers(api) -> None:
    api.expect_request("/huge").respond_with_data(b"[" + b"0," * (3 * 1024 * 1024) + b"0]",
                                                  content_type="application/json")
    with pytest.raises(OnlineError, match="more than 4 MB"):
        get_json(base_url(api, "/huge"), timeout=5)


def test_get_json_nobody_listening() -> None:
    with socket.socket() as sock:  # a free port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OnlineError, match="cannot reach 127.0.0.1"):
        get_json(f"http://127.0.0.1:{port}/json", timeout=2)


# --- Radio Browser --------------------------------------------------------------------------

def _radio(api, timeout: float = 5) -> RadioBrowserSource:
    return RadioBrowserSource(base_url(api), timeout)


def _tag_list(request: Request) -> str:
    return request.args.get("tagList", "")


def test_radio_browser_era_and_mood_queries(api) -> None:
    api.expect_request(SEARCH, query_string={"tagList": "chillout,90s", "order": "clickcount", "reverse": "true",
                                             "hidebroken": "true", "limit": "12"}).respond_with_json(
        [station("era-1", "Chill 90s", "chillout,90s", clicks=50), station("era-2", "Lounge Nineties", "90s,chillout", clicks=80)])
    api.expect_request(SEARCH, query_string={"tagList": "chillout", "order": "clickcount", "reverse": "true",
                                             "hidebroken": "true", "limit": "12"}).respond_with_json(
        [station(f"calm-{i}", f"Calm {i}", "chillout", clicks=1000 - i) for i in range(10)])
    items = _radio(api).search("calm", ["90s"], count=4, era_share=0.5)
    assert [i.item_id for i in items] == ["era-2", "era-1", "calm-0", "calm-1"]  # era share first, most clicked first
    first = items[0]
    assert first.source == "online" and first.provider == "radio-browser" and first.duration is None
    assert first.title == "Lounge Nineties" and first.uri.endswith("/stream/era-2") and first.mood == "calm"
    assert "chillout+90s" in first.reason
    # Enough mood stations from the first tag: "ambient" and "lounge" were not asked for.
    assert [_tag_list(r) for r, _ in api.log] == ["chillout,90s", "chillout"]


def test_radio_browser_skips_broken_and_malformed_stations(api) -> None:
    answer = [
        station("down", "Down FM", "pop", clicks=9999, ok=0),
        station("no-url", "No URL", "pop", clicks=9000, url=""),
        station("ftp", "FTP FM", "pop", clicks=8000, url="ftp://example.invalid/stream"),
        {"name": "no uuid", "url_resolved": "http://127.0.0.1:9/x"},
        "not a station",
        station("good", "Good FM", "pop", clicks=10),
        station("good-again", "Good FM mirror", "pop", clicks=5, url="http://127.0.0.1:9/stream/good"),
    ]
    api.expect_request(SEARCH).respond_with_json(answer)
    items = _radio(api).search("happy", [], count=5)
    assert [i.item_id for i in items] == ["good"]  # the same stream URL twice counts once


def test_radio_browser_uses_other_mood_tags_when_the_first_is_thin(api) -> None:
    api.expect_request(SEARCH).respond_with_handler(
        lambda r: Response(json.dumps([station(f"{_tag_list(r)}-1", _tag_list(r).title(), _tag_list(r))]),
                           content_type="application/json"))
    items = _radio(api).search("sad", [], count=5)
    assert [i.item_id for i in items] == ["blues-1", "acoustic-1", "soul-1"]


@pytest.mark.parametrize("body, message", [
    ({"error": "no"}, "sent a JSON dict, expected a list"),
    ([], "no working station tagged blues, acoustic, soul"),
])
def test_radio_browser_wrong_shape_or_empty(api, body: object, message: str) -> None:
    api.expect_request(SEARCH).respond_with_json(body)
    with pytest.raises(OnlineError, match=message):
        _radio(api).search("sad", [], count=5)


# --- Jamendo --------------------------------------------------------------------------------

def test_jamendo_tracks(api) -> None:
    api.expect_request("/v3.0/tracks/").respond_with_json(jamendo_answer([
        jamendo_track("101", "Slow Morning", "Ann", ["relaxing", "calm"], duration=185),
        jamendo_track("102", "", "Nameless", []),
        {"id": "103", "name": "No audio"},
        jamendo_track("104", "Evening", "Bob", ["piano"]),
    ]))
    items = JamendoSource(base_url(api, "/v3.0"), "test-client", 5).search("calm", ["90s"], count=5)
    assert [(i.item_id, i.title, i.artist, i.duration) for i in items] == [
        ("101", "Slow Morning", "Ann", 185.0), ("104", "Evening", "Bob", 200.0)]
    assert items[0].provider == "jamendo" and items[0].source == "online" and "relaxing+calm" in items[0].reason
    request, _ = api.log[-1]
    query = urllib.parse.parse_qs(request.query_string.decode())
    assert query["client_id"] == ["test-client"] and query["format"] == ["json"]
    assert query["fuzzytags"] == ["relaxing calm chillout ambient"] and query["audioformat"] == ["mp32"]


@pytest.mark.parametrize("body, message", [
    (jamendo_answer([], status="failed", code=5, message="Your credential is not authorized."), "code 5.*not authorized"),
    (jamendo_answer([]), "no track tagged"),
    ([1, 2, 3], "sent a JSON list"),
    ({"headers": {"status": "success"}, "results": "nope"}, "no list of results"),
])
def test_jamendo_errors(api, body: object, message: str) -> None:
    api.expect_request("/v3.0/tracks/").respond_with_json(body)
    with pytest.raises(OnlineError, match=message):
        JamendoSource(base_url(api, "/v3.0"), "test-client", 5).search("happy", [], count=5)


def test_guard_stops_requests_to_real_hosts() -> None:
    with pytest.raises(pytest.fail.Exception, match="only the local test server"):
        get_json("http://de1.api.radio-browser.info/json/stats", timeout=1)
