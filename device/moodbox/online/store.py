"""Small JSON files in state_dir: answers cached per query (to keep working offline) and bad items.

Files are written to a temporary name and renamed, so a power cut never leaves half a file;
an unreadable file is reported and treated as empty.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from moodbox.files import write_json_atomic

log = logging.getLogger(__name__)

CACHE_MAX_ENTRIES = 64


def read_json(path: Path) -> Any | None:
    """The decoded file, or None when it is missing or unreadable (the latter is logged)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable %s (%s); it will be rewritten", path, exc)
        return None


def write_json(path: Path, data: Any) -> None:
    """Write atomically (moodbox.files)."""
    write_json_atomic(path, data)


class ResultCache:
    """The last good answer per query key ("radio-browser:chillout+90s" -> list of items)."""

    def __init__(self, path: Path, max_entries: int = CACHE_MAX_ENTRIES):
        self.path = path
        self.max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> list[dict[str, Any]] | None:
        entry = self._entries().get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("items"), list):
            return None
        return [item for item in entry["items"] if isinstance(item, dict)]

    def newest(self, prefix: str) -> list[dict[str, Any]] | None:
        """The most recently saved answer whose key starts with `prefix` (e.g. the same mood, other eras)."""
        entries = self._entries()
        keys = sorted((k for k in entries if k.startswith(prefix)), key=lambda k: _saved(entries[k]), reverse=True)
        for key in keys:
            items = self.get(key)
            if items:
                return items
        return None

    def put(self, key: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            entries = self._entries()
            entries[key] = {"saved": time.time(), "items": items}
            if len(entries) > self.max_entries:  # forget the oldest answers
                keep = sorted(entries, key=lambda k: _saved(entries[k]), reverse=True)[: self.max_entries]
                entries = {k: entries[k] for k in keep}
            try:
                write_json(self.path, {"version": 1, "entries": entries})
            except OSError as exc:
                log.warning("cannot write the online cache %s: %s", self.path, exc)

    def _entries(self) -> dict[str, Any]:
        data = read_json(self.path)
        if isinstance(data, dict) and isinstance(data.get("entries"), dict):
            return data["entries"]
        return {}


class BadItems:
    """Items (station uuids, track ids) that failed to play, avoided for `ttl_s` seconds."""

    def __init__(self, path: Path, ttl_s: float):
        self.path = path
        self.ttl_s = ttl_s
        self._lock = threading.Lock()

    def add(self, item_id: str, reason: str = "") -> None:
        with self._lock:
            items = self._fresh()
            items[item_id] = {"until": time.time() + self.ttl_s, "reason": reason}
            try:
                write_json(self.path, {"version": 1, "items": items})
            except OSError as exc:
                log.warning("cannot write the list of bad online items %s: %s", self.path, exc)

    def ids(self) -> set[str]:
        return set(self._fresh())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._fresh()

    def _fresh(self) -> dict[str, Any]:
        data = read_json(self.path)
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, dict):
            return {}
        now = time.time()
        return {k: v for k, v in items.items() if isinstance(v, dict) and _number(v.get("until")) > now}


def _saved(entry: Any) -> float:
    return _number(entry.get("saved")) if isinstance(entry, dict) else 0.0


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
