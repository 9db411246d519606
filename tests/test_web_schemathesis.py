"""schemathesis (pinned in requirements-dev.txt) against the real server and its own OpenAPI document:
every check (server errors, status codes and schemas as documented, bad input rejected, good input
accepted, auth honoured), with and without a valid session, on a box without and with a password."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from web_testkit import Box

ST = Path(sys.executable).with_name("st")
EXAMPLES = os.environ.get("MOODBOX_SCHEMATHESIS_EXAMPLES", "25")
CONFIG = """
[auth.openapi.session]
api_key = "${MOODBOX_SESSION}"

[auth.openapi.csrf]
api_key = "${MOODBOX_CSRF}"
"""

pytestmark = pytest.mark.skipif(not ST.exists(), reason="schemathesis is not installed (./setup.sh --test installs it)")


def run_schemathesis(box: Box, tmp: Path, session: tuple[str, str] | None) -> subprocess.CompletedProcess[str]:
    config = tmp / "schemathesis.toml"
    config.write_text(CONFIG if session else "")
    env = {**os.environ, "MOODBOX_SESSION": session[0] if session else "", "MOODBOX_CSRF": session[1] if session else ""}
    return subprocess.run(
        [str(ST), "--config-file", str(config), "run", f"{box.url}/api/v1/openapi.json", "--checks", "all",
         "--max-examples", EXAMPLES, "--request-timeout", "20", "--seed", "20261208", "--no-color"],
        capture_output=True, text=True, timeout=900, env=env, cwd=tmp)


def logged_in_session(box: Box, password: str | None) -> tuple[str, str]:
    client = box.client()
    client.start_session()
    if password:
        assert client.post("/api/v1/login", {"password": password}).status == 200
    jar = next(h.cookiejar for h in client.opener.handlers if hasattr(h, "cookiejar"))
    return next(c.value for c in jar if c.name == "moodbox_session"), client.csrf


@pytest.fixture(params=[None, "pw"], ids=["no-password", "password"], scope="module")
def password(request: pytest.FixtureRequest) -> str | None:
    return request.param


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory, library: Path, password: str | None) -> Iterator[Box]:
    folder = tmp_path_factory.mktemp("stmusic")
    for path in library.iterdir():
        shutil.copy(path, folder / path.name)  # mood corrections write moods.csv here
    started = Box(tmp_path_factory.mktemp("stbox"), folder, web={"password": password} if password else None)
    yield started
    started.close()


@pytest.mark.slow
@pytest.mark.parametrize("with_session", [False, True], ids=["anonymous", "session"])
def test_schemathesis_finds_nothing(box: Box, password: str | None, with_session: bool, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    session = logged_in_session(box, password) if with_session else None
    result = run_schemathesis(box, tmp_path, session)
    summary = result.stdout[-3000:]
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    assert " passed" in summary and "failure" not in summary.split("SUMMARY")[-1], summary
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelname == "ERROR"]
