"""moodbox.files: atomic writes keep the old file or the new one, and take any file name the disk has."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moodbox import files


def test_json_with_a_name_that_is_not_utf8_is_written(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9-latin1.flac")  # a surrogate in the str, as os.listdir gives it
    files.write_json_atomic(tmp_path / "state.json", {"path": name}, mode=0o600)
    assert json.loads((tmp_path / "state.json").read_text())["path"] == name
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    files.write_text_atomic(tmp_path / "moods.csv", f"path,mood\n{name},calm\n")
    assert b"caf\xe9-latin1.flac,calm" in (tmp_path / "moods.csv").read_bytes()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "player.json"
    files.write_json_atomic(target, {"old": True})

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        files.write_json_atomic(target, {"new": True})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["player.json"]
