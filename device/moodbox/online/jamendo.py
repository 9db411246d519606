"""Jamendo (https://developer.jamendo.com): free Creative Commons tracks; needs a free client_id.

Tracks are searched by mood tags (`/tracks/?fuzzytags=...`); eras are not used (the catalogue
is mostly recent independent music). Sent: the client_id, the tags and a User-Agent.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

from moodbox.online.http_json import USER_AGENT, build_url, get_json
from moodbox.online.source import OnlineError, SourceItem
from moodbox.online.tags import JAMENDO_TAGS

log = logging.getLogger(__name__)

NAME = "jamendo"
MAX_LIMIT = 200  # the API's maximum page size


class JamendoSource:
    """Popular Jamendo tracks whose tags fit a music mood."""

    name = NAME

    def __init__(self, base_url: str, client_id: str, timeout_s: float, user_agent: str = USER_AGENT):
        self.base_url = base_url
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.user_agent = user_agent

    def search(self, mood_label: str, eras: Sequence[str], count: int, era_share: float = 0.5) -> list[SourceItem]:
        """Up to `count` tracks; raises OnlineError when the request fails or finds nothing."""
        tags = JAMENDO_TAGS.get(mood_label, JAMENDO_TAGS["neutral"])
        params = {"client_id": self.client_id, "format": "json", "limit": min(MAX_LIMIT, max(10, 2 * count)),
                  "fuzzytags": " ".join(tags), "include": "musicinfo", "audioformat": "mp32",
                  "order": "popularity_month"}
        url = build_url(self.base_url, "/tracks/", params)
        log.debug("Jamendo: searching tracks tagged %s", "+".join(tags))
        answer = get_json(url, self.timeout_s, self.user_agent)
        results = _results(answer)
        tracks = [t for t in (parse_track(raw, mood_label, tags) for raw in results) if t is not None]
        if len(tracks) < len(results):
            log.debug("Jamendo: skipped %d of %d malformed tracks", len(results) - len(tracks), len(results))
        if not tracks:
            raise OnlineError(f"Jamendo has no track tagged {', '.join(tags)}")
        return tracks[:count]


def _results(answer: Any) -> list[Any]:
    """The `results` list of an answer, or OnlineError with Jamendo's own message (e.g. a bad client_id)."""
    if not isinstance(answer, dict):
        raise OnlineError(f"Jamendo sent a JSON {type(answer).__name__}, expected an object with headers and results")
    headers = answer.get("headers")
    if isinstance(headers, dict) and headers.get("status") not in (None, "success"):
        message = headers.get("error_message") or "no message"
        raise OnlineError(f"Jamendo refused the request (code {headers.get('code')}): {message}")
    results = answer.get("results")
    if not isinstance(results, list):
        raise OnlineError("Jamendo's answer has no list of results")
    return results


def parse_track(raw: Any, mood_label: str, tags: Sequence[str]) -> SourceItem | None:
    """A SourceItem for one track of an answer, or None if it lacks a name or a stream URL."""
    if not isinstance(raw, dict):
        return None
    track_id, name, audio = raw.get("id"), raw.get("name"), raw.get("audio")
    if not (isinstance(track_id, (str, int)) and isinstance(name, str) and name.strip()):
        return None
    if not (isinstance(audio, str) and audio.startswith(("http://", "https://"))):
        return None
    duration = raw.get("duration")
    duration_s = float(duration) if isinstance(duration, (int, float, str)) and _is_number(duration) else None
    artist = raw.get("artist_name") if isinstance(raw.get("artist_name"), str) else ""
    matched = [t for t in _vartags(raw) if t in tags]
    why = f"mood tags {'+'.join(matched)}" if matched else f"search {'+'.join(tags)}"
    return SourceItem(
        uri=audio,
        title=name.strip(),
        artist=artist.strip(),
        album="Jamendo",
        mood=mood_label,
        source="online",
        reason=f"Jamendo track, {why}",
        duration=duration_s if duration_s and duration_s > 0 else None,
        item_id=str(track_id),
        provider=NAME,
    )


def _vartags(raw: dict[str, Any]) -> list[str]:
    musicinfo = raw.get("musicinfo")
    tags = musicinfo.get("tags") if isinstance(musicinfo, dict) else None
    vartags = tags.get("vartags") if isinstance(tags, dict) else None
    return [t for t in vartags if isinstance(t, str)] if isinstance(vartags, list) else []


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
