"""Fixtures shared by several test modules (a module's own fixture of the same name wins)."""
from __future__ import annotations

from pathlib import Path

import pytest

from core_testkit import write_library


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of short tagged tracks, one per mood (core_testkit.write_library), per module."""
    folder = tmp_path_factory.mktemp("music")
    write_library(folder)
    return folder
