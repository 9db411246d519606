"""Writing files so that a power cut leaves the old file or the new one, never half of either.

The one home of this rule: a temporary file in the same folder, fsync, rename over the target,
fsync the folder; the temporary file is removed when anything fails.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically; `mode` (e.g. 0o600) is set before the data is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a power cut only once the folder is on disk
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError:
        pass  # some file systems cannot fsync a folder; the data itself is safe


def write_json_atomic(path: Path, data: Any, mode: int | None = None) -> None:
    """ASCII JSON: file names that are not UTF-8 (surrogates) are escaped, not an error."""
    write_atomic(path, json.dumps(data, indent=1).encode("ascii"), mode)


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8; a file name that was not UTF-8 goes back as the bytes it was (surrogateescape)."""
    write_atomic(path, text.encode("utf-8", "surrogateescape"))
