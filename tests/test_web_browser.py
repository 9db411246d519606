"""The page in a real headless Chromium (Debian's, driven by Playwright): it shows the box's state
and its controls change the box. setup.sh --test installs chromium on x86-64."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from core_testkit import HAPPY_FACE, REPO, wait_until
from web_testkit import Box

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = REPO / "docs" / "web-page.png"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium (./setup.sh --test installs it)")
# Chromium on a machine with no network: no background connections, no first-run work.
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def expect(locator):  # Playwright's retrying assertions (the page's CSP forbids wait_for_function's eval)
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, library: Path) -> Iterator[Box]:
    started = Box(tmp_path_factory.mktemp("browserbox"), library)
    yield started
    started.close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, box: Box) -> Iterator:
    context = browser.new_context(viewport={"width": 412, "height": 915})  # a phone
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.goto(box.url + "/")
    pg.wait_for_selector("body[data-ready='1']", timeout=15000)
    yield pg
    context.close()
    assert errors == [], errors


def test_the_page_shows_what_plays_and_why(page, box: Box) -> None:
    player = box.core.snapshot()["player"]
    expect(page.locator("#title")).to_have_text(player["title"])
    assert page.text_content("#reason").startswith("Why: ")
    assert page.locator("#queue li").count() == len(box.core.queue())
    assert page.is_visible("#open-warning")  # no password: the page says anyone can control it
    assert page.text_content("#link") == "live"
    assert page.text_content("#volume-cap") == "(cap 60)"


def test_next_pause_and_play_from_the_page(page, box: Box) -> None:
    before = box.core.snapshot()["player"]["title"]
    page.click("button[aria-label=next]")
    wait_until(lambda: box.core.snapshot()["player"]["title"] != before, "the next track")
    now = box.core.snapshot()["player"]["title"]
    expect(page.locator("#title")).to_have_text(now)
    page.click("#playpause")
    wait_until(lambda: box.core.snapshot()["player"]["state"] == "paused", "paused")
    expect(page.locator("#playpause")).to_have_attribute("data-state", "paused")
    page.click("#playpause")
    wait_until(lambda: box.core.snapshot()["player"]["state"] == "playing", "playing again")


def test_policy_override_detection_and_volume_from_the_page(page, box: Box) -> None:
    page.select_option("#policy", "calm")
    wait_until(lambda: box.core.snapshot()["policy"] == {"policy": "calm"}, "policy calm")
    page.select_option("#override", "sad")
    wait_until(lambda: box.core.snapshot()["override"].get("emotion") == "sad", "override sad")
    expect(page.locator("#mood-emotion")).to_have_text("sad")
    page.select_option("#override", "auto")
    page.uncheck("#detection")
    wait_until(lambda: box.core.snapshot()["detection"] == {"enabled": False}, "detection off")
    page.check("#detection")
    wait_until(lambda: box.core.snapshot()["detection"] == {"enabled": True}, "detection on")
    page.fill("#volume", "55")  # a range input: sets the value and fires input + change
    page.dispatch_event("#volume", "change")
    wait_until(lambda: box.core.snapshot()["volume"]["volume"] == 55, "volume 55")
    page.select_option("#policy", "match")


def test_search_and_correct_a_mood_then_screenshot(page, box: Box) -> None:
    page.fill("#q", "Song")
    page.click("#search button")
    page.wait_for_selector("#results li select")
    assert page.locator("#results li").count() == 12
    if os.environ.get("MOODBOX_SCREENSHOT"):
        page.wait_for_timeout(500)
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_the_owner_logs_in_and_aims_the_camera(browser, tmp_path: Path, library: Path) -> None:
    owned = Box(tmp_path, library, web={"password": "pw", "camera_view": True}, camera_image=HAPPY_FACE)
    context = browser.new_context(viewport={"width": 412, "height": 915})
    try:
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto(owned.url + "/")
        pg.wait_for_selector("body[data-ready='1']", timeout=15000)
        assert pg.is_hidden("#open-warning") and pg.is_hidden("#aim")  # locked: no camera view
        assert pg.is_disabled("button[aria-label=next]")
        pg.fill("#password", "pw")
        pg.click("#login button")
        expect(pg.locator("#logout")).to_be_visible()
        assert pg.is_enabled("button[aria-label=next]")
        pg.click("#aim summary")
        pg.click("#aim-look")  # reads the room: the burst's frames reach the view
        expect(pg.locator("#aim-img")).to_be_visible(timeout=20000)
        assert pg.evaluate("document.getElementById('aim-img').naturalWidth") == 480
        expect(pg.locator("#aim-note")).to_contain_text("face(s)")
        pg.click("#logout")
        expect(pg.locator("#aim")).to_be_hidden()
        assert errors == [], errors
    finally:
        context.close()
        owned.close()


def test_a_page_refused_a_live_stream_polls_and_says_so(browser, box: Box) -> None:
    box.web.feed.max_pages = 0  # as if 100 other pages were open
    context = browser.new_context(viewport={"width": 412, "height": 915})
    try:
        pg = context.new_page()
        pg.goto(box.url + "/")
        pg.wait_for_selector("body[data-ready='1']", timeout=15000)  # the first state came by polling
        expect(pg.locator("#link")).to_contain_text("not live")
        expect(pg.locator("#link")).to_contain_text("refreshing every 5 s")
        expect(pg.locator("#title")).to_have_text(box.core.snapshot()["player"]["title"])
        box.core.set_volume(33)
        expect(pg.locator("#volume-value")).to_have_text("33", timeout=15000)  # the next poll shows it
    finally:
        box.web.feed.max_pages = 100
        context.close()


def test_a_logged_out_page_on_a_box_with_a_password_shows_no_personal_data(browser, tmp_path: Path,
                                                                           library: Path) -> None:
    box = Box(tmp_path, library, web={"password": "pw"})
    context = browser.new_context(viewport={"width": 412, "height": 915})
    try:
        pg = context.new_page()
        pg.goto(box.url + "/")
        pg.wait_for_selector("body[data-ready='1']", timeout=15000)
        expect(pg.locator("#history")).to_contain_text("Log in to see what was played")
        expect(pg.locator("#chart-legend")).to_contain_text("Log in")
        assert pg.text_content("#reason") == "" and "ages" not in (pg.text_content("#mood-why") or "")
        pg.fill("#password", "pw")
        pg.click("#login button[type=submit]")
        expect(pg.locator("#reason")).to_contain_text("Why: ")
        expect(pg.locator("#link")).to_have_text("live")
    finally:
        context.close()
        box.close()
