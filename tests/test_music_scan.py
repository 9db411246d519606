"""The library scanner on real files: formats, broken files, odd names, symlink loops, incremental rescans, crashes."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moodbox.music import LibraryIndex, scan_library
from moodbox.music.priors import Priors
from moodbox.music.synth import Style, render, write_audio
from moodbox.music.tagwriter import write_tags

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
FORMATS = [".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav"]
NO_PRIORS = Priors()  # scans here test the scanner, not the shipped tables


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("templates")
    samples = render(Style(bpm=100), 1.0)
    return {suffix: write_audio(folder / f"tone{suffix}", samples) for suffix in FORMATS}


def make_track(templates: dict[str, Path], path: Path, **tags: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(templates[path.suffix.lower()], path)
    if tags:
        write_tags(path, **tags)
    return path


@pytest.fixture()
def library(templates: dict[str, Path], tmp_path: Path) -> Path:
    root = tmp_path / "Music"
    for n, suffix in enumerate(FORMATS):
        make_track(templates, root / "Artist" / f"{n:02d} song{suffix}", title=f"Song {n}", artist=f"Band {n}",
                   year=1980 + n, genre="Rock")
    make_track(templates, root / "untagged" / "01 - plain_name.mp3")
    (root / "broken").mkdir()
    (root / "broken" / "random.mp3").write_bytes(os.urandom(3000))
    (root / "broken" / "empty.flac").write_bytes(b"")
    (root / "broken" / "cut.ogg").write_bytes(templates[".ogg"].read_bytes()[:50])
    (root / "cover.jpg").write_bytes(b"\xff\xd8 not audio, not counted")
    return root


def scan(root: Path | list[Path], index: LibraryIndex):
    return scan_library(root if isinstance(root, list) else [root], index, priors=NO_PRIORS)


def test_scan_reads_every_format_and_reports_broken_files(library: Path, tmp_path: Path) -> None:
    with LibraryIndex(tmp_path / "state" / "library.db") as index:
        report = scan(library, index)
        assert report.added == 7 and report.updated == 0 and report.removed == 0
        assert sorted(p.name for p, _ in report.failed) == ["cut.ogg", "empty.flac", "random.mp3"]
        assert all(reason for _, reason in report.failed)
        by_title = {t.title: t for t in index.tracks()}
        assert {f"Song {n}" for n in range(6)} <= set(by_title)
        assert by_title["Song 3"].artist == "Band 3" and by_title["Song 3"].year == 1983
        assert "plain name" in by_title  # no tags: title from the file name
        assert by_title["plain name"].mood_source == "unknown" and by_title["plain name"].mood == "neutral"
        assert [p.name for p, _ in index.failures()] == ["cut.ogg", "empty.flac", "random.mp3"]


def test_rescan_is_incremental(library: Path, templates: dict[str, Path], tmp_path: Path) -> None:
    with LibraryIndex(tmp_path / "library.db") as index:
        scan(library, index)
        ids = {t.path.name: t.id for t in index.tracks()}
        generation = index.generation()
        again = scan(library, index)
        assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 7)
        assert len(again.failed) == 3  # known-broken files are still listed, without being read again
        assert index.generation() == generation  # nothing changed: readers keep their cache

        changed = library / "Artist" / "02 song.ogg"
        write_tags(changed, title="Renamed", artist="Band 2")
        os.utime(changed, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
        (library / "Artist" / "00 song.mp3").unlink()
        make_track(templates, library / "new" / "fresh.flac", title="Fresh")
        (library / "broken" / "random.mp3").unlink()
        third = scan(library, index)
        assert (third.added, third.updated, third.removed, third.unchanged) == (1, 1, 1, 5)
        assert len(third.failed) == 2
        tracks = {t.path.name: t for t in index.tracks()}
        assert tracks["02 song.ogg"].title == "Renamed"
        assert tracks["02 song.ogg"].id == ids["02 song.ogg"]  # same id: history stays attached
        assert "00 song.mp3" not in tracks and "fresh.flac" in tracks
        assert index.generation() > generation


def test_fixed_broken_file_is_picked_up(library: Path, templates: dict[str, Path], tmp_path: Path) -> None:
    with LibraryIndex(tmp_path / "library.db") as index:
        scan(library, index)
        make_track(templates, library / "broken" / "random.mp3", title="Repaired")
        report = scan(library, index)
        assert report.added == 1 and "random.mp3" not in [p.name for p, _ in report.failed]
        assert index.by_path(library / "broken" / "random.mp3").title == "Repaired"


def test_non_utf8_file_name_and_symlink_loop(templates: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    odd_name = os.fsdecode(b"caf\xe9 \xff.mp3")  # Latin-1 bytes: not valid UTF-8
    make_track(templates, root / odd_name, title="Odd Name")
    make_track(templates, root / "Album" / "a.flac", title="In Album")
    os.symlink("..", root / "Album" / "loop")  # Album/loop -> lib (a loop)
    os.symlink(root / "Album", root / "Album link")  # a second way into the same folder
    with LibraryIndex(tmp_path / "library.db") as index:
        report = scan(root, index)
        assert report.added == 2 and not report.failed
        track = index.by_path(root / odd_name)
        assert track is not None and track.title == "Odd Name"
        assert os.fsencode(track.path) == os.fsencode(root / odd_name)  # the exact bytes survive
        assert sorted(t.title for t in index.tracks()) == ["In Album", "Odd Name"]
    # The same index read back from disk in a new process still has the exact path.
    with LibraryIndex(tmp_path / "library.db") as index:
        assert index.by_path(root / odd_name) is not None


def test_untitled_non_utf8_name_gets_a_readable_title(templates: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "lib"
    make_track(templates, root / os.fsdecode(b"01 - Caf\xe9.mp3"))
    with LibraryIndex(tmp_path / "library.db") as index:
        scan(root, index)
        assert [t.title for t in index.tracks()] == ["Café"]


def test_several_roots_and_a_missing_one(templates: dict[str, Path], tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    make_track(templates, first / "x.mp3", title="X")
    make_track(templates, second / "y.ogg", title="Y")
    with LibraryIndex(tmp_path / "library.db") as index:
        report = scan([first, second, tmp_path / "unplugged"], index)
        assert report.added == 2
        assert [(p.name, r) for p, r in report.failed] == [("unplugged", "library folder not found")]
        report = scan([first], index)  # b no longer configured: its tracks go
        assert report.removed == 1 and [t.title for t in index.tracks()] == ["X"]


def test_progress_is_reported_for_every_file(library: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    with LibraryIndex(tmp_path / "library.db") as index:
        scan_library([library], index, progress=lambda done, total, path: calls.append((done, total)),
                     priors=NO_PRIORS)
    assert calls == [(n, 10) for n in range(1, 11)]


def test_interrupted_scan_keeps_a_usable_index(library: Path, tmp_path: Path) -> None:
    def stop_midway(done: int, total: int, path: Path) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with LibraryIndex(tmp_path / "library.db") as index:
        scan(library, index)
        (library / "Artist" / "05 song.wav").unlink()
        with pytest.raises(KeyboardInterrupt):
            scan_library([library], index, progress=stop_midway, priors=NO_PRIORS)
        assert index.integrity_ok() and index.count() == 7  # nothing removed by a partial walk
        assert scan(library, index).removed == 1


SCAN_FOREVER = """
import sys, time
from pathlib import Path
from moodbox.music import LibraryIndex, scan_library
from moodbox.music import scanner
from moodbox.music.priors import Priors
scanner.BATCH_FILES = 3
def slow(done, total, path):
    print(done, flush=True)
    time.sleep(0.02)
scan_library([Path(sys.argv[1])], LibraryIndex(sys.argv[2]), progress=slow, priors=Priors())
"""


def test_killed_scan_leaves_a_consistent_index(templates: dict[str, Path], tmp_path: Path) -> None:
    """SIGKILL in the middle of a scan (as close to pulling the power as a test gets)."""
    root = tmp_path / "lib"
    for n in range(40):
        make_track(templates, root / f"{n:02d}.ogg")
    db = tmp_path / "library.db"
    proc = subprocess.Popen([sys.executable, "-c", SCAN_FOREVER, str(root), str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if int(line) >= 20:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with LibraryIndex(db) as index:
        kept = index.count()
        assert 0 < kept < 40  # committed batches survived
        report = scan(root, index)
        assert report.added == 40 - kept and index.count() == 40


def test_terminal_progress_line(capsys: pytest.CaptureFixture) -> None:
    from moodbox.commands.scan import TerminalProgress

    progress = TerminalProgress()
    progress(1, 3, Path("/m/a.mp3"))
    progress(3, 3, Path(os.fsdecode(b"/m/caf\xe9.mp3")))
    err = capsys.readouterr().err
    assert "\rscanning 1/3  33% a.mp3" in err
    assert "scanning 3/3 100% caf" in err and err.endswith("\n")


def test_a_file_that_comes_back_keeps_its_id(library: Path, tmp_path: Path) -> None:
    """An unplugged USB disk must not cost the tracks their likes and skips."""
    track_file = library / "Artist" / "01 song.flac"
    kept = tmp_path / "kept.flac"
    with LibraryIndex(tmp_path / "library.db") as index:
        scan(library, index)
        old_id = index.by_path(track_file).id
        shutil.move(track_file, kept)
        assert scan(library, index).removed == 1
        assert index.get(old_id) is None and index.by_path(track_file) is None
        assert old_id not in {t.id for t in index.tracks()} and index.count() == 6
        shutil.move(kept, track_file)
        assert scan(library, index).added == 1
        assert index.by_path(track_file).id == old_id
        shutil.move(track_file, kept)
        scan(library, index)
        with index.transaction() as tx:
            assert tx.purge_missing(older_than_s=-1) == 1  # long gone: forgotten
        shutil.move(kept, track_file)
        scan(library, index)
        assert index.by_path(track_file).id != old_id


def test_an_index_from_schema_1_is_upgraded(tmp_path: Path, library: Path) -> None:
    db = tmp_path / "library.db"
    with sqlite3.connect(db) as conn:
        from moodbox.music.index import SCHEMA

        conn.executescript(SCHEMA.replace(",\n    missing_since REAL", ""))
    with LibraryIndex(db) as index:
        assert scan(library, index).added == 7 and index.count() == 7
