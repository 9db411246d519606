"""Listening history: plays, early skips, likes and dislikes per mood, persisted in SQLite."""
from __future__ import annotations

import threading
from pathlib import Path

from moodbox.music import History
from moodbox.music.history import Feedback


def test_skips_likes_and_completions_are_counted_per_mood(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as history:
        history.record_play(1, "happy", 12.0, 180.0, skipped=True)   # early skip
        history.record_play(1, "happy", 29.9, 180.0, skipped=True)   # still early
        history.record_play(1, "happy", 95.0, 180.0, skipped=True)   # late skip: no verdict
        history.record_play(1, "sad", 180.0, 180.0, skipped=False)   # played through
        history.record_play(2, "happy", 100.0, 180.0, skipped=False)  # stopped before the end: no verdict
        history.like(2, "happy")
        history.dislike(3, "sad")
        assert history.feedback("happy") == {1: Feedback(early_skips=2), 2: Feedback(likes=1)}
        assert history.feedback("sad") == {1: Feedback(completions=1), 3: Feedback(dislikes=1)}
        assert history.disliked_anywhere() == {3}
        assert history.recent_track_ids(3) == [2, 1, 1]
        assert history.recent_track_ids(0) == []
        assert history.play_count() == 5
    with History(tmp_path / "history.db") as reopened:
        assert reopened.feedback("happy")[1].early_skips == 2
        assert reopened.play_count() == 5


def test_feedback_score_is_bounded() -> None:
    assert Feedback(likes=10).score == 5.0
    assert Feedback(dislikes=10).score == -5.0
    assert Feedback(likes=1, early_skips=1).score == 1.0
    assert Feedback(early_skips=1).describe() == "skipped early 1x"


def test_history_is_thread_safe(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as history:
        def worker(track_id: int) -> None:
            for _ in range(50):
                history.record_play(track_id, "neutral", 1.0, 100.0, skipped=True)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert history.play_count() == 200
        assert all(fb.early_skips == 50 for fb in history.feedback("neutral").values())


def test_damaged_files_are_moved_aside_not_fatal(tmp_path: Path, caplog) -> None:
    from moodbox.music import LibraryIndex

    for name in ("history.db", "library.db"):
        (tmp_path / name).write_bytes(b"this is not a database" * 100)
    with History(tmp_path / "history.db") as history, LibraryIndex(tmp_path / "library.db") as index:
        history.like(1, "happy")
        assert history.feedback("happy")[1].likes == 1
        assert index.count() == 0 and index.integrity_ok()
    assert len(list(tmp_path.glob("history.db.damaged-*"))) == 1
    assert len(list(tmp_path.glob("library.db.damaged-*"))) == 1
    assert "moved aside" in caplog.text
