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
SCREENSHOT = REPO / "docs" / "web-search.png"
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
    assert page.text_content("#reason").startswith("Why this track: ")
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
        expect(pg.locator("#reason")).to_contain_text("Why this track: ")
        expect(pg.locator("#link")).to_have_text("live")
    finally:
        context.close()
        box.close()


def test_the_page_is_served_with_its_first_state(box: Box) -> None:
    html = box.client().get("/").body.decode()
    assert '<script type="application/json" id="initial-state">{"' in html
    assert box.core.snapshot()["player"]["title"] in html  # no empty shell filled in later
    assert 'rel="manifest"' in html and '<meta name="description"' in html
    manifest = box.client().get("/static/manifest.webmanifest")
    assert manifest.status == 200 and manifest.headers["Content-Type"].startswith("application/manifest+json")
    assert box.client().get("/static/icon.svg").headers["Content-Type"].startswith("image/svg+xml")


def test_the_player_moves_seeks_and_marks_the_current_track(page, box: Box) -> None:
    expect(page.locator("#queue li").first).to_contain_text("▶ Now playing: ")
    assert page.get_attribute("#cover", "src").startswith("data:image/svg+xml")  # no cover: a generated one
    first = page.text_content("#elapsed")
    page.wait_for_timeout(2200)
    assert page.text_content("#elapsed") != first  # the time moves between state events
    page.fill("#seek", "30")
    page.dispatch_event("#seek", "change")
    wait_until(lambda: (box.core.player.status().position or 0) >= 29, "the box to seek")
    expect(page.locator("#total")).not_to_have_text("–:––")


def test_the_room_card_says_what_the_last_reading_saw_and_what_came_of_it(page, box: Box) -> None:
    box.core.refresh_mood("test")
    expect(page.locator("#reading")).to_contain_text("Last reading")
    expect(page.locator("#reading")).to_contain_text("No faces seen: keeping")


def test_browse_albums_and_play_one_now(page, box: Box) -> None:
    page.click("[data-browse=albums]")
    expect(page.locator("#browse-title")).to_have_text("Albums")
    row = page.locator("#results li").filter(has_text="Sad Album").first
    title = row.locator("button").first.text_content()
    row.get_by_role("button", name="Play now: Sad Album").click()
    expect(page.locator("#message")).to_contain_text("playing now")
    wait_until(lambda: box.core.snapshot()["player"].get("queue_source") == "picked", "the picked album")
    expect(page.locator("#queue-source")).to_contain_text("You picked this queue")
    assert box.core.snapshot()["player"]["album"] == "Sad Album" and title
    page.click("[data-browse=moods]")
    page.locator("#results li button").filter(has_text="calm").first.click()
    expect(page.locator("#browse-title")).to_have_text("Mood: calm")


def test_like_shows_its_result_at_once_and_keys_control_the_player(page, box: Box) -> None:
    page.click("button[aria-label=like]")
    expect(page.locator("#message")).to_contain_text("Liked")
    assert "error" not in (page.get_attribute("#message", "class") or "")
    before = box.core.snapshot()["player"]["title"]
    page.click("h1")
    page.keyboard.press("n")
    wait_until(lambda: box.core.snapshot()["player"]["title"] != before, "n to skip to the next track")


@pytest.mark.parametrize("scheme", ["dark", "light"])
@pytest.mark.parametrize("size", [(390, 844), (1280, 900)], ids=["phone", "laptop"])
def test_layouts_and_themes(browser, box: Box, scheme: str, size: tuple[int, int]) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, color_scheme=scheme)
    try:
        pg = context.new_page()
        pg.goto(box.url + "/")
        pg.wait_for_selector("body[data-ready='1']", timeout=15000)
        background = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(17, 20, 24)" if scheme == "dark" else "rgb(243, 244, 246)")
        columns = pg.evaluate("getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length")
        assert columns == (1 if size[0] < 900 else 3)
        tallest = pg.evaluate("Math.max(...[...document.querySelectorAll('.controls button')].map(b => b.offsetHeight))")
        assert tallest <= 60
        if os.environ.get("MOODBOX_SCREENSHOT"):
            pg.wait_for_timeout(500)
            pg.screenshot(path=str(REPO / "docs" / f"web-{'phone' if size[0] < 900 else 'laptop'}-{scheme}.png"),
                          full_page=size[0] < 900)
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["dark", "light"])
@pytest.mark.parametrize("size", [(390, 844), (1280, 900)], ids=["phone", "laptop"])
def test_no_serious_accessibility_problem(browser, box: Box, scheme: str, size: tuple[int, int]) -> None:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, color_scheme=scheme)
    try:
        pg = context.new_page()
        pg.goto(box.url + "/")
        pg.wait_for_selector("body[data-ready='1']", timeout=15000)
        pg.click("[data-browse=albums]")  # with the library list open too
        expect(pg.locator("#results li").first).to_be_visible()
        results = axe.Axe().run(pg)
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
        assert bad == [], bad
    finally:
        context.close()
