"""LocalLibrarySource over the real music package: real FLAC files with mutagen tags, scanned and recommended."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from mutagen.flac import FLAC

from moodbox.config import RecommendConfig
from moodbox.music import History, LibraryIndex, Recommender, scan_library
from moodbox.online import to_play_item
from moodbox.online import LocalLibrarySource, count_matches
from moodbox.readings import MoodState


def _write_track(path: Path, title: str, artist: str, mood: str, genre: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(22050) / 22050
    soundfile.write(path, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, format="FLAC")
    tags = FLAC(path)
    tags.update({"title": title, "artist": artist, "mood": mood, "genre": genre, "date": "1998"})
    tags.save()


@pytest.fixture
def library(tmp_path: Path) -> Recommender:
    root = tmp_path / "music"
    for n in range(4):
        _write_track(root / f"happy{n}.flac", f"Sunny {n}", f"Band {n}", "Happy", "Pop")
    _write_track(root / "sad.flac", "Rain", "Grey", "Melancholic", "Slowcore")
    index = LibraryIndex(tmp_path / "library.db")
    report = scan_library([root], index)
    assert report.total >= 5
    history = History(tmp_path / "history.db")
    yield Recommender(index, history, RecommendConfig(seed=1, artist_gap=0))
    history.close()
    index.close()


def test_library_items_and_matches(library: Recommender) -> None:
    source = LocalLibrarySource(library)
    sad_room = MoodState.from_emotion("sad")
    items = source.candidates(sad_room, 3)
    assert len(items) == 3
    assert items[0].title == "Rain" and items[0].source == "library" and items[0].provider == "library"
    assert Path(items[0].uri).is_file() and items[0].duration and items[0].duration > 0.9
    play = to_play_item(items[0])
    assert play.source == "library" and isinstance(play.track_id, int) and play.path == items[0].uri

    # One track fits a sad room, four fit a happy one: the sad room is where the online fallback helps.
    entries = library.recommend(sad_room, count=5)
    assert count_matches(entries, sad_room) == 1
    happy_room = MoodState.from_emotion("happy")
    assert count_matches(library.recommend(happy_room, count=5), happy_room) == 4
