"""OnlineFallback end to end against a local server: when it is used, cache, bad stations, reporting once."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from werkzeug import Request, Response

from moodbox.online import OnlineFallback, SourceItem, to_play_item
from moodbox.player import PlayItem
from moodbox.readings import MoodState
from test_online_fixtures import (api, api_server, jamendo_answer, jamendo_track,  # noqa: F401 (fixtures)
                                  loopback_only, online_config, station)

SEARCH = "/json/stations/search"
SAD_45 = MoodState.from_emotion("sad", source="camera", ages=(45.0,))  # wants sad music, era 90s (in 2026)
HAPPY = MoodState.from_emotion("happy", source="camera")


def _serve_stations(api, prefix: str = "st") -> None:
    """Every search gets two stations named after its tags."""
    def handler(request: Request) -> Response:
        tags = request.args.get("tagList", "")
        key = tags.replace(",", "-").replace(" ", "_")
        body = [station(f"{prefix}-{key}-{n}", f"{tags} radio {n}", tags, clicks=100 - n) for n in range(2)]
        return Response(json.dumps(body), content_type="application/json")

    api.expect_request(SEARCH).respond_with_handler(handler)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("moodbox.online") and r.levelno == logging.WARNING]


def test_not_used_when_disabled(api, tmp_path: Path) -> None:
    _serve_stations(api)
    fallback = OnlineFallback(online_config(tmp_path, api, enabled=False))
    assert fallback.items_for(SAD_45, local_matches=0, count=5) == []
    assert api.log == []  # nothing was asked
    assert fallback.status()["state"] == "off"


def test_not_used_when_the_library_has_enough(api, tmp_path: Path) -> None:
    _serve_stations(api)
    fallback = OnlineFallback(online_config(tmp_path, api, min_local_matches=5))
    assert fallback.items_for(SAD_45, local_matches=5, count=5) == []
    assert api.log == []
    assert fallback.items_for(SAD_45, local_matches=4, count=5) != []


def test_stations_for_mood_and_era(api, tmp_path: Path) -> None:
    _serve_stations(api)
    fallback = OnlineFallback(online_config(tmp_path, api))
    items = fallback.items_for(SAD_45, local_matches=0, count=4)
    asked = [r.args["tagList"] for r, _ in api.log]
    assert asked[0] == f"blues,{_era_of_45()}"  # the main sad tag with the listener's era first
    assert set(asked[1:]) <= {"blues", "acoustic", "soul"}
    assert len(items) == 4 and all(i.source == "online" and i.mood == "sad" for i in items)
    assert [i.item_id for i in items[:2]] == [f"st-blues-{_era_of_45()}-0", f"st-blues-{_era_of_45()}-1"]
    status = fallback.status()
    assert status["state"] == "ok" and status["source"] == "radio-browser" and status["from_cache"] is False
    assert status["last_success_time"] is not None and status["last_error"] is None
    # The cache is plain JSON in state_dir.
    cache = json.loads((tmp_path / "online" / "cache.json").read_text())
    assert any(key.startswith("radio-browser:sad:") for key in cache["entries"])


def test_play_item_says_source_and_station() -> None:
    station_item = SourceItem(uri="http://127.0.0.1:9/s", title="Blues FM", artist="", mood="sad", source="online",
                              reason="r", duration=None, item_id="uuid-1", provider="radio-browser", album="Radio Browser")
    play = to_play_item(station_item)
    assert isinstance(play, PlayItem)
    assert (play.path, play.title, play.source, play.track_id, play.duration, play.mood) == (
        "http://127.0.0.1:9/s", "Blues FM", "online", "uuid-1", None, "sad")
    assert play.label == "Blues FM"
    library_item = SourceItem(uri="/music/a.flac", title="A", artist="B", mood="calm", source="library",
                              reason="r", duration=180.0, item_id="42")
    assert to_play_item(library_item).track_id == 42 and to_play_item(library_item).source == "library"


@pytest.mark.parametrize("failure", ["http_500", "garbage", "wrong_shape", "empty", "slow"])
def test_failure_serves_the_cache_and_is_reported_once(api, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                         failure: str) -> None:
    config = online_config(tmp_path, api, timeout_s=0.5)
    _serve_stations(api)
    first = OnlineFallback(config, retry_after_s=0).items_for(HAPPY, local_matches=0, count=3)
    assert len(first) == 3

    api.clear()
    calls = _break(api, failure)
    fallback = OnlineFallback(config, retry_after_s=0)  # a fresh start: the cache on disk is all it has
    caplog.set_level(logging.DEBUG, logger="moodbox.online")
    for _ in range(3):
        again = fallback.items_for(HAPPY, local_matches=0, count=3)
        assert [i.item_id for i in again] == [i.item_id for i in first]
    assert len(calls) >= 3  # it did try each time (retry_after_s=0)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "radio-browser unavailable" in warnings[0]
    status = fallback.status()
    assert status["state"] == "failing" and status["from_cache"] is True and status["last_error"]

    api.clear()
    _serve_stations(api)
    caplog.clear()
    assert fallback.items_for(HAPPY, local_matches=0, count=3)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "reachable again" in r.getMessage()]
    assert fallback.status()["state"] == "ok" and fallback.status()["from_cache"] is False


def _break(api, failure: str) -> list[str]:
    """Make every search fail in the given way; the returned list grows by one per request received."""
    calls: list[str] = []

    def handler(request: Request) -> Response:
        calls.append(request.args.get("tagList", ""))
        if failure == "http_500":
            return Response("Internal Server Error", status=500)
        if failure == "garbage":
            return Response("\x00\x01 not json", content_type="application/json")
        if failure == "wrong_shape":
            return Response(json.dumps({"stations": []}), content_type="application/json")
        if failure == "slow":
            time.sleep(1.5)  # beyond the 0.5 s timeout
        return Response("[]", content_type="application/json")

    api.expect_request(SEARCH).respond_with_handler(handler)
    return calls


def test_offline_with_other_listeners_serves_the_same_mood_from_cache(api, tmp_path: Path) -> None:
    _serve_stations(api)
    config = online_config(tmp_path, api)
    first = OnlineFallback(config).items_for(SAD_45, local_matches=0, count=3)
    api.clear()
    api.expect_request(SEARCH).respond_with_data("down", status=502)
    older = MoodState.from_emotion("sad", source="camera", ages=(70.0,))  # another era: no cache for its tags
    again = OnlineFallback(config).items_for(older, local_matches=0, count=3)
    assert [i.item_id for i in again] == [i.item_id for i in first]
    happy = OnlineFallback(config).items_for(HAPPY, local_matches=0, count=3)
    assert happy == []  # another mood: sad stations are not served for it


def test_failure_without_cache_stays_on_the_library(api, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    api.expect_request(SEARCH).respond_with_data("down", status=503)
    fallback = OnlineFallback(online_config(tmp_path, api), retry_after_s=0)
    caplog.set_level(logging.INFO, logger="moodbox.online")
    assert fallback.items_for(HAPPY, local_matches=0, count=3) == []
    assert fallback.items_for(HAPPY, local_matches=0, count=3) == []
    assert len(_warnings(caplog)) == 1 and "HTTP 503" in _warnings(caplog)[0]
    assert "HTTP 503" in fallback.status()["last_error"]


def test_after_a_failure_the_api_is_left_alone_for_a_while(api, tmp_path: Path) -> None:
    api.expect_request(SEARCH).respond_with_data("down", status=500)
    fallback = OnlineFallback(online_config(tmp_path, api), retry_after_s=3600)
    fallback.items_for(HAPPY, local_matches=0, count=3)
    asked = len(api.log)
    assert asked == 1  # it stops at the first failed request
    fallback.items_for(HAPPY, local_matches=0, count=3)
    assert len(api.log) == asked


def test_bad_stations_are_avoided_and_remembered(api, tmp_path: Path) -> None:
    _serve_stations(api)
    config = online_config(tmp_path, api)
    fallback = OnlineFallback(config)
    items = fallback.items_for(HAPPY, local_matches=0, count=3)
    fallback.report_failed(items[0].item_id, "stream did not start")
    assert items[0].item_id not in [i.item_id for i in fallback.items_for(HAPPY, local_matches=0, count=3)]
    restarted = OnlineFallback(config)  # persisted in state_dir
    assert items[0].item_id not in [i.item_id for i in restarted.items_for(HAPPY, local_matches=0, count=3)]
    bad = json.loads((tmp_path / "online" / "bad-items.json").read_text())
    assert bad["items"][items[0].item_id]["until"] > time.time()


def test_bad_station_ttl_expires(api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve_stations(api)
    fallback = OnlineFallback(online_config(tmp_path, api))
    first = fallback.items_for(HAPPY, local_matches=0, count=3)[0]
    fallback.report_failed(first.item_id)
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + 2 * 24 * 3600)
    assert first.item_id in [i.item_id for i in fallback.items_for(HAPPY, local_matches=0, count=3)]


def test_damaged_state_files_are_ignored(api, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "online"
    folder.mkdir()
    (folder / "cache.json").write_text("{not json")
    (folder / "bad-items.json").write_text('{"items": {"x": "not a dict"}}')
    api.expect_request(SEARCH).respond_with_data("down", status=500)
    fallback = OnlineFallback(online_config(tmp_path, api))
    assert fallback.items_for(HAPPY, local_matches=0, count=3) == []
    assert any("unreadable" in m for m in _warnings(caplog))


def test_jamendo_when_enabled_with_client_id(api, tmp_path: Path) -> None:
    api.expect_request("/v3.0/tracks/").respond_with_json(jamendo_answer([
        jamendo_track("7", "Sunny", "Cleo", ["happy"], duration=150)]))
    config = online_config(tmp_path, api, radio_browser=False, jamendo=True, client_id="abc123")
    items = OnlineFallback(config).items_for(HAPPY, local_matches=0, count=3)
    assert [(i.title, i.artist, i.provider, i.duration) for i in items] == [("Sunny", "Cleo", "jamendo", 150.0)]
    assert to_play_item(items[0]).artist == "Cleo"


def test_jamendo_without_client_id_is_skipped(api, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = online_config(tmp_path, api, radio_browser=False, jamendo=True, client_id=None)
    fallback = OnlineFallback(config)
    assert fallback.sources == [] and not fallback.enabled
    assert fallback.items_for(HAPPY, local_matches=0, count=3) == []
    assert any("client_id is not set" in m for m in _warnings(caplog))
    assert api.log == []


def test_radio_browser_failing_jamendo_still_serves(api, tmp_path: Path) -> None:
    api.expect_request(SEARCH).respond_with_data("down", status=500)
    api.expect_request("/v3.0/tracks/").respond_with_json(jamendo_answer([
        jamendo_track("8", "Sunny", "Cleo", ["happy"])]))
    config = online_config(tmp_path, api, jamendo=True, client_id="abc123")
    fallback = OnlineFallback(config, retry_after_s=0)
    items = fallback.items_for(HAPPY, local_matches=0, count=3)
    assert [i.provider for i in items] == ["jamendo"]
    assert fallback.status()["state"] == "failing"  # Radio Browser is down, and status says so


def _era_of_45() -> str:
    from moodbox.online.tags import era_tag
    return era_tag(45) or ""


class _BuggySource:
    """A source with a bug (not an OnlineError): the fallback must survive it."""

    name = "buggy"

    def __init__(self) -> None:
        self.calls = 0

    def search(self, mood_label: str, eras: list[str], count: int, era_share: float = 0.5) -> list[SourceItem]:
        self.calls += 1
        raise KeyError("url_resolved")


def test_a_bug_in_a_source_is_logged_once_with_traceback(api, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    buggy = _BuggySource()
    fallback = OnlineFallback(online_config(tmp_path, api), sources=[buggy], retry_after_s=0)
    assert fallback.items_for(HAPPY, local_matches=0, count=3) == []
    assert fallback.items_for(HAPPY, local_matches=0, count=3) == []
    assert buggy.calls == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("moodbox.online")]
    assert len(warnings) == 1 and warnings[0].exc_info is not None
    status = fallback.status()
    assert status["last_error"].startswith("buggy: internal error: KeyError")
    json.dumps(status)  # MQTT-ready
