"""The demo library and the music commands, end to end: generate, scan, recommend, play with real mpv."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from moodbox.cli import main as cli_main
from moodbox.music import LibraryIndex, scan_library
from moodbox.music.demo import DEMO_TRACKS, make_demo_library
from moodbox.music.tags import read_tags

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    written, present = make_demo_library(folder)
    assert (written, present) == (len(DEMO_TRACKS), 0)
    return folder


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ogg") if not p.name.startswith("."))


def test_demo_library_is_small_tagged_and_varied(demo: Path) -> None:
    files = audio_files(demo)
    assert 16 <= len(files) <= 24
    assert sum(p.stat().st_size for p in files) < 5 * 1024 * 1024
    infos = [read_tags(p) for p in files]
    assert all(i.title and i.artist and i.album and i.genre is not None for i in infos)
    assert all(20 <= i.duration <= 40 for i in infos)
    decades = {i.year // 10 for i in infos if i.year}
    assert len(decades) >= 5
    assert sum(i.explicit for i in infos) == 1
    assert 0 < sum(bool(i.mood_tag) for i in infos) < len(infos)


def test_demo_library_is_idempotent(demo: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in audio_files(demo)}
    assert make_demo_library(demo) == (0, len(DEMO_TRACKS))
    assert {p: p.stat().st_mtime_ns for p in audio_files(demo)} == before
    missing = audio_files(demo)[3]
    missing.unlink()
    assert make_demo_library(demo) == (1, len(DEMO_TRACKS) - 1)
    assert missing.exists()


def test_demo_library_shows_every_kind_of_mood_source(demo: Path, tmp_path: Path) -> None:
    with LibraryIndex(tmp_path / "library.db") as index:
        report = scan_library([demo], index)
        assert report.added == len(DEMO_TRACKS) and not report.failed
        sources = index.source_counts()
        moods = index.mood_counts()
    assert {"tag", "sidecar", "folder", "genre", "year"} <= set(sources)
    assert {"happy", "energetic", "calm", "sad", "tense"} <= set(moods)


@pytest.mark.skipif(shutil.which("mpv") is None, reason="mpv not installed")
def test_mpv_plays_a_demo_track(demo: Path) -> None:
    track = audio_files(demo)[0]
    result = subprocess.run(["mpv", "--no-config", "--ao=null", "--vo=null", "--really-quiet", "--length=2",
                             str(track)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture()
def config_file(demo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\nlibrary:\n  path: {tmp_path / 'empty'}\n"
                    f"  demo_path: {demo}\nrecommend:\n  artist_gap: 2\n")
    return path


def test_scan_command_falls_back_to_the_demo_library(config_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["scan", "--config", str(config_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == len(DEMO_TRACKS) and report["failed"] == []
    assert report["mood_sources"]["tag"] > 0
    # The demo's tracks with only a year tag get the audio estimate (halved trust), not the year prior.
    assert report["mood_confidence"]["tag"] == 1 and 0 < report["mood_confidence"]["audio"] <= 0.5
    assert "year" not in report["mood_sources"] and report["audio"]["failed"] == []
    assert cli_main(["scan", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert f"{len(DEMO_TRACKS)} unchanged" in out and "mood from:" in out


def test_recommend_command(config_file: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["recommend", "--config", str(config_file), "--emotion", "happy", "--age", "34", "--age", "8",
            "--count", "5", "--seed", "1", "--json"]
    assert cli_main(args) == 0  # scans first: the index is empty
    out = capsys.readouterr().out
    queue = json.loads(out[out.index("["):])
    assert len(queue) == 5
    assert not any(entry["explicit"] for entry in queue)  # a child is present
    assert all(entry["reason"] for entry in queue)
    assert queue[0]["mood"] in ("happy", "energetic")
    assert cli_main(args) == 0
    again = capsys.readouterr().out
    assert json.loads(again[again.index("["):]) == queue  # same seed, same queue
    assert cli_main(["recommend", "--config", str(config_file), "--emotion", "sad", "--policy", "lift",
                     "--count", "4", "--seed", "2"]) == 0
    text = capsys.readouterr().out
    assert " 1. " in text and "lifting the room (step 1 of " in text
    assert "sad room, lift: from sad to uplifting" in text


def test_demo_library_command_skips_what_is_there(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(demo, folder)
    assert cli_main(["demo-library", str(folder)]) == 0
    assert f"0 tracks written, {len(DEMO_TRACKS)} already there" in capsys.readouterr().out


def test_without_any_encoder_the_demo_library_is_wav(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Pi without ffmpeg and without soundfile still gets a playable (larger) demo library."""
    import importlib.util

    from moodbox.music import synth

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    monkeypatch.setattr(synth.importlib.util, "find_spec",
                        lambda name, *a: None if name == "soundfile" else real_find_spec(name, *a))
    folder = tmp_path / "demo"
    assert make_demo_library(folder) == (len(DEMO_TRACKS), 0)
    files = sorted(folder.rglob("*.wav"))
    assert len(files) == len(DEMO_TRACKS) and not list(folder.rglob("*.ogg"))
    info = read_tags(files[0])
    assert info.title and info.artist and info.duration > 20
