"""Radio Browser (https://www.radio-browser.info): a free, keyless directory of internet radio stations.

Stations are searched by tag (`/json/stations/search?tagList=...`): the mood's tags, and the
mood's main tag together with each listener era ("pop,90s"). Only these tags and a User-Agent
are sent.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Sequence

from moodbox.online.http_json import USER_AGENT, build_url, get_json
from moodbox.online.source import OnlineError, SourceItem
from moodbox.online.tags import STATION_TAGS

log = logging.getLogger(__name__)

NAME = "radio-browser"
MAX_PER_QUERY = 100


class RadioBrowserSource:
    """Stations for a music mood and listener eras, most popular working ones first."""

    name = NAME

    def __init__(self, base_url: str, timeout_s: float, user_agent: str = USER_AGENT):
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.user_agent = user_agent

    def search(self, mood_label: str, eras: Sequence[str], count: int, era_share: float = 0.5) -> list[SourceItem]:
        """Up to `count` stations: about `era_share` of them tagged with an era, the rest by mood only.

        Raises OnlineError when a request fails or nothing at all is found.
        """
        mood_tags = STATION_TAGS.get(mood_label, STATION_TAGS["neutral"])
        limit = min(MAX_PER_QUERY, max(10, 3 * count))
        era_items: list[SourceItem] = []
        for era in eras:
            era_items += self._query([mood_tags[0], era], mood_label, limit)
        mood_items: list[SourceItem] = []
        for tag in mood_tags:
            if len(_unique(mood_items)) >= 2 * count:
                break
            mood_items += self._query([tag], mood_label, limit)
        if not era_items and not mood_items:
            raise OnlineError(f"Radio Browser has no working station tagged {', '.join(mood_tags)}")
        return mix(_unique(era_items), _unique(mood_items), count, era_share)

    def _query(self, tags: list[str], mood_label: str, limit: int) -> list[SourceItem]:
        params = {"tagList": ",".join(tags), "order": "clickcount", "reverse": "true",
                  "hidebroken": "true", "limit": limit}
        url = build_url(self.base_url, "/json/stations/search", params)
        log.debug("Radio Browser: searching stations tagged %s", "+".join(tags))
        answer = get_json(url, self.timeout_s, self.user_agent)
        if not isinstance(answer, list):
            raise OnlineError(f"Radio Browser sent a JSON {type(answer).__name__}, expected a list of stations")
        # Most popular first (the API already orders so; this also holds for mirrors that do not).
        ranked = sorted(answer, key=_popularity, reverse=True)
        stations = [s for s in (parse_station(raw, mood_label, tags) for raw in ranked) if s is not None]
        skipped = len(answer) - len(stations)
        if skipped:
            log.debug("Radio Browser: skipped %d of %d stations (broken, no stream URL or malformed)", skipped, len(answer))
        return stations


def parse_station(raw: Any, mood_label: str, tags: Sequence[str]) -> SourceItem | None:
    """A SourceItem for one station of a search answer, or None if it is down or lacks what is needed."""
    if not isinstance(raw, dict):
        return None
    name = raw.get("name")
    uuid = raw.get("stationuuid")
    url = raw.get("url_resolved") or raw.get("url")
    if not (isinstance(name, str) and name.strip() and isinstance(uuid, str) and uuid):
        return None
    if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        return None
    if _int(raw.get("lastcheckok"), 1) != 1:
        return None
    clicks = _int(raw.get("clickcount"), 0)
    return SourceItem(
        uri=url,
        title=name.strip(),
        artist="",
        album="Radio Browser",
        mood=mood_label,
        source="online",
        reason=f"Radio Browser station tagged {'+'.join(tags)} ({clicks} clicks)",
        duration=None,
        item_id=uuid,
        provider=NAME,
    )


def mix(era_items: list[SourceItem], mood_items: list[SourceItem], count: int, era_share: float) -> list[SourceItem]:
    """About era_share x count era items first, then mood items, then whatever is left; no duplicates."""
    era_quota = math.ceil(era_share * count) if era_items else 0
    ordered = era_items[:era_quota] + mood_items + era_items[era_quota:]
    return _unique(ordered)[:count]


def _unique(items: list[SourceItem]) -> list[SourceItem]:
    """Drop repeats of the same station (same id or same stream URL), keeping the first."""
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.item_id in seen or item.uri in seen:
            continue
        seen.update((item.item_id, item.uri))
        unique.append(item)
    return unique


def _popularity(raw: Any) -> tuple[int, int]:
    if not isinstance(raw, dict):
        return (-1, -1)
    return (_int(raw.get("clickcount"), 0), _int(raw.get("votes"), 0))


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default
