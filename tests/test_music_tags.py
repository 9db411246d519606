"""Tag reading on real files of every supported format (encoded by ffmpeg / soundfile, tagged by mutagen)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import ID3, TIT2, TPE1
from mutagen.mp3 import MP3

from moodbox.music.synth import Style, render, write_audio
from moodbox.music.tagwriter import write_tags
from moodbox.music.tags import TagError, clean_text, parse_explicit, read_tags, title_from_filename

FORMATS = [".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wav"]
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One short untagged file per format."""
    folder = tmp_path_factory.mktemp("templates")
    samples = render(Style(bpm=120), 1.5)
    return {suffix: write_audio(folder / f"tone{suffix}", samples) for suffix in FORMATS}


@needs_ffmpeg
@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_round_trips_all_fields(templates: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"song{suffix}"
    shutil.copy(templates[suffix], path)
    write_tags(path, title="Crème Brûlée", artist="Zoë", album="Ünïcode", album_artist="Various", year=1987,
               genre="Alt Rock", bpm=128, track_number=7, mood="Melancholic", explicit=True,
               replaygain_track_db=-7.25)
    info = read_tags(path)
    assert (info.title, info.artist) == ("Crème Brûlée", "Zoë")
    assert (info.album, info.album_artist) == ("Ünïcode", "Various")
    assert (info.year, info.genre, info.bpm, info.track_number) == (1987, "Alt Rock", 128.0, 7)
    assert info.mood_tag == "Melancholic"
    assert info.explicit is True
    assert info.replaygain_track_db == pytest.approx(-7.25)
    assert info.duration == pytest.approx(1.5, abs=0.1)


@needs_ffmpeg
@pytest.mark.parametrize("suffix", FORMATS)
def test_untagged_file_reads_with_empty_fields(templates: dict[str, Path], suffix: str) -> None:
    info = read_tags(templates[suffix])
    assert info.title == "" and info.artist == "" and info.year is None and not info.explicit
    assert info.duration > 1.0


@needs_ffmpeg
def test_mp4_clean_rating_is_not_explicit(templates: dict[str, Path], tmp_path: Path) -> None:
    from mutagen.mp4 import MP4

    path = tmp_path / "clean.m4a"
    shutil.copy(templates[".m4a"], path)
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    audio.tags["rtng"] = [2]  # 2 = clean version
    audio.save()
    assert read_tags(path).explicit is False


@needs_ffmpeg
def test_latin1_mojibake_and_nuls_are_repaired(templates: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "odd.mp3"
    shutil.copy(templates[".mp3"], path)
    audio = MP3(path)
    if audio.tags is None:
        audio.add_tags()
    tags: ID3 = audio.tags
    # UTF-8 bytes stored as a Latin-1 frame (a common tagger bug), and a NUL-padded artist.
    tags.add(TIT2(encoding=0, text=["Björk Song".encode("utf-8").decode("latin-1")]))
    tags.add(TPE1(encoding=0, text=["Sigur R\xf3s\x00\x00"]))
    audio.save()
    info = read_tags(path)
    assert info.title == "Björk Song"
    assert info.artist == "Sigur Rós"


def test_broken_files_raise_tag_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(np.random.default_rng(1).bytes(4000))
    text = tmp_path / "notes.flac"
    text.write_text("this is not a flac file\n" * 20)
    for path in (garbage, text):
        with pytest.raises(TagError):
            read_tags(path)


@needs_ffmpeg
def test_truncated_file_raises_tag_error(templates: dict[str, Path], tmp_path: Path) -> None:
    for suffix in (".flac", ".ogg", ".m4a"):
        path = tmp_path / f"cut{suffix}"
        path.write_bytes(templates[suffix].read_bytes()[:40])
        with pytest.raises(TagError):
            read_tags(path)


def test_helpers() -> None:
    assert title_from_filename(Path("03 - my_song.mp3")) == "my song"
    assert title_from_filename(Path("2001.mp3")) == "2001"
    assert title_from_filename(Path(b"caf\xe9.mp3".decode("utf-8", "surrogateescape"))) == "café"
    assert clean_text("a\x00b\x07c ") == "a bc"
    assert parse_explicit("1") and parse_explicit("4") and not parse_explicit("2") and not parse_explicit("0")
