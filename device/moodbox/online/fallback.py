"""OnlineFallback: online music when the local library cannot serve the mood, without ever depending on it.

- Off unless `online.enabled`, and only asked when the library found fewer than
  `online.min_local_matches` tracks for the mood.
- Each good answer is cached in state_dir; when a source fails (network down, timeout, HTTP
  error, garbage), the cached answer for the same tags is served, or nothing (the box stays on
  the local library).
- A failure is logged once per outage (WARNING), the recovery once (INFO); after a failure a
  source is not asked again for `retry_after_s`, so a dead network never slows every request.
- Items that failed to play are avoided for a day (`report_failed`).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any, Protocol, Sequence

from moodbox.config import Config
from moodbox.online.http_json import USER_AGENT
from moodbox.online.jamendo import JamendoSource
from moodbox.online.radio_browser import RadioBrowserSource
from moodbox.online.source import OnlineError, SourceItem
from moodbox.online.store import BadItems, ResultCache
from moodbox.online.tags import era_tags, target_mood
from moodbox.readings import MoodState

log = logging.getLogger(__name__)

BAD_ITEM_TTL_S = 24 * 3600
RETRY_AFTER_S = 60.0


class OnlineSource(Protocol):
    name: str

    def search(self, mood_label: str, eras: Sequence[str], count: int, era_share: float = 0.5) -> list[SourceItem]: ...


@dataclasses.dataclass
class SourceHealth:
    """What the fallback knows about one source, for status() and the log."""

    failing: bool = False
    last_error: str | None = None
    last_error_time: float | None = None
    last_success_time: float | None = None
    retry_at: float = 0.0


class OnlineFallback:
    """Online items for a mood when the library has too few; see the module docstring."""

    def __init__(self, config: Config, sources: Sequence[OnlineSource] | None = None,
                 state_dir: Path | None = None, retry_after_s: float = RETRY_AFTER_S):
        self.config = config
        self.sources: list[OnlineSource] = list(sources) if sources is not None else sources_from_config(config)
        folder = (state_dir if state_dir is not None else config.state_path) / "online"
        self.cache = ResultCache(folder / "cache.json")
        self.bad_items = BadItems(folder / "bad-items.json", BAD_ITEM_TTL_S)
        self.retry_after_s = retry_after_s
        self._health: dict[str, SourceHealth] = {s.name: SourceHealth() for s in self.sources}
        self._last_source: str | None = None
        self._last_from_cache = False
        self._lock = threading.Lock()  # guards _health and the _last_* fields

    @property
    def enabled(self) -> bool:
        return self.config.online.enabled and bool(self.sources)

    def wanted(self, local_matches: int) -> bool:
        """Whether the online fallback should be asked, given how many library tracks fit the mood."""
        return self.enabled and local_matches < self.config.online.min_local_matches

    def items_for(self, mood: MoodState, local_matches: int, count: int, policy: str | None = None) -> list[SourceItem]:
        """Up to `count` online items for the mood, or [] when not wanted or nothing can be had.

        May block for up to about online.timeout_s per request: call it from a worker thread.
        Never raises for network or API problems.
        """
        if count <= 0 or not self.wanted(local_matches):
            return []
        label = target_mood(mood.emotion, policy or self.config.recommend.policy)
        eras = era_tags(mood.ages)
        items: list[SourceItem] = []
        for source in self.sources:
            found = self._from_source(source, label, eras, count - len(items))
            items += [i for i in found if i.uri not in {have.uri for have in items}]
            if len(items) >= count:
                break
        if items:
            log.info("online fallback: %d item(s) for mood %s%s (library had %d match(es))", len(items), label,
                     f", eras {'+'.join(eras)}" if eras else "", local_matches)
        return items[:count]

    def report_failed(self, item_id: str, reason: str = "") -> None:
        """An online item that did not play (e.g. the player's track_failed): avoid it for a day."""
        if item_id:
            log.info("online fallback: avoiding %s for %d h (%s)", item_id, BAD_ITEM_TTL_S // 3600, reason or "failed to play")
            self.bad_items.add(item_id, reason)

    def status(self) -> dict[str, Any]:
        """For MQTT / diagnostics: enabled, state (ok | failing | idle | off), source, last error and success."""
        with self._lock:
            failing = [name for name, h in self._health.items() if h.failing]
            errors = [(h.last_error_time, h.last_error, n) for n, h in self._health.items() if h.last_error_time]
            successes = [h.last_success_time for h in self._health.values() if h.last_success_time]
            last_error = max(errors) if errors else None
            if not self.enabled:
                state = "off"
            elif failing:
                state = "failing"
            else:
                state = "ok" if successes else "idle"
            return {
                "enabled": self.enabled,
                "state": state,
                "source": self._last_source,
                "from_cache": self._last_from_cache,
                "sources": [s.name for s in self.sources],
                "last_error": f"{last_error[2]}: {last_error[1]}" if last_error else None,
                "last_error_time": _iso(last_error[0]) if last_error else None,
                "last_success_time": _iso(max(successes)) if successes else None,
            }

    def _from_source(self, source: OnlineSource, label: str, eras: list[str], count: int) -> list[SourceItem]:
        """Fresh items from the source, else its cached answer for the same tags, else []."""
        key = f"{source.name}:{label}:{'+'.join(eras)}"
        health = self._health.setdefault(source.name, SourceHealth())
        if time.monotonic() >= health.retry_at:
            try:
                # Ask for extra so that items known to be bad can be left out.
                fresh = source.search(label, eras, count + 5, self.config.recommend.era_share)
            except OnlineError as exc:
                self._failed(source.name, health, str(exc))
            except Exception as exc:  # a bug in a source must not stop the music; traceback logged once
                self._failed(source.name, health, f"internal error: {exc!r}", with_traceback=True)
            else:
                self._succeeded(source.name, health)
                self.cache.put(key, [dataclasses.asdict(i) for i in fresh])
                return self._usable(fresh, count, source.name, from_cache=False)
        # Offline: the cached answer for these tags, else the newest one for the same mood (other eras).
        stored = self.cache.get(key) or self.cache.newest(f"{source.name}:{label}:") or []
        cached = [i for i in (_item_from_dict(d) for d in stored) if i is not None]
        if cached:
            log.debug("online fallback: serving %d cached item(s) of %s for %s", len(cached), source.name, key)
        return self._usable(cached, count, source.name, from_cache=True)

    def _usable(self, items: list[SourceItem], count: int, source_name: str, from_cache: bool) -> list[SourceItem]:
        bad = self.bad_items.ids()
        usable = [i for i in items if i.item_id not in bad][:count]
        if usable:
            with self._lock:
                self._last_source, self._last_from_cache = source_name, from_cache
        return usable

    def _failed(self, name: str, health: SourceHealth, error: str, with_traceback: bool = False) -> None:
        with self._lock:
            first = not health.failing
            health.failing = True
            health.last_error, health.last_error_time = error, time.time()
            health.retry_at = time.monotonic() + self.retry_after_s
        if first:
            log.warning("online fallback: %s unavailable: %s; using cached results or the local library "
                        "(retrying at most every %g s, logged again when it recovers)", name, error, self.retry_after_s,
                        exc_info=with_traceback)
        else:
            log.debug("online fallback: %s still unavailable: %s", name, error)

    def _succeeded(self, name: str, health: SourceHealth) -> None:
        with self._lock:
            recovered = health.failing
            health.failing = False
            health.last_success_time = time.time()
            health.retry_at = 0.0
        if recovered:
            log.info("online fallback: %s is reachable again", name)


def sources_from_config(config: Config) -> list[OnlineSource]:
    """The enabled online sources: Radio Browser, and Jamendo when it has a client_id."""
    online = config.online
    sources: list[OnlineSource] = []
    if online.radio_browser.enabled:
        sources.append(RadioBrowserSource(online.radio_browser.base_url, online.timeout_s, USER_AGENT))
    if online.jamendo.enabled:
        if online.jamendo.client_id:
            sources.append(JamendoSource(online.jamendo.base_url, online.jamendo.client_id, online.timeout_s, USER_AGENT))
        else:
            log.warning("online.jamendo.enabled is true but online.jamendo.client_id is not set; Jamendo is skipped "
                        "(get a free client id at https://devportal.jamendo.com)")
    return sources


def _item_from_dict(data: dict[str, Any]) -> SourceItem | None:
    """A SourceItem from the cache file, or None if the entry is not one (old or damaged file)."""
    try:
        item = SourceItem(**data)
    except TypeError:
        return None
    return item if isinstance(item.uri, str) and isinstance(item.title, str) else None


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
