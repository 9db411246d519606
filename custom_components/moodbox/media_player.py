"""The box as a media player: what plays, its cover and progress, volume up to the box's cap, the
policy as sound mode, the library to browse and play."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from homeassistant.components.media_player import (
    BrowseError,
    BrowseMedia,
    MediaClass,
    MediaPlayerEnqueue,
    MediaPlayerEntity,
    MediaPlayerEntityFeature,
    MediaPlayerState,
    MediaType,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_platform
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .box import BoxApiError, MissingApi, MoodboxBox
from .const import DOMAIN, MQTT_IDENTIFIER, POLICIES, SERVICE_DISLIKE, SERVICE_LIKE, SERVICE_REFRESH_MOOD

_LOGGER = logging.getLogger(__name__)

STATES = {"playing": MediaPlayerState.PLAYING, "paused": MediaPlayerState.PAUSED,
          "stopped": MediaPlayerState.IDLE, "idle": MediaPlayerState.IDLE}
BASE_FEATURES = (MediaPlayerEntityFeature.PLAY | MediaPlayerEntityFeature.PAUSE | MediaPlayerEntityFeature.STOP
                 | MediaPlayerEntityFeature.NEXT_TRACK | MediaPlayerEntityFeature.PREVIOUS_TRACK
                 | MediaPlayerEntityFeature.VOLUME_SET | MediaPlayerEntityFeature.VOLUME_STEP
                 | MediaPlayerEntityFeature.SELECT_SOUND_MODE)
REST_FEATURES = (MediaPlayerEntityFeature.BROWSE_MEDIA | MediaPlayerEntityFeature.PLAY_MEDIA
                 | MediaPlayerEntityFeature.MEDIA_ENQUEUE | MediaPlayerEntityFeature.SEEK)
WHERE = {MediaPlayerEnqueue.PLAY: "now", MediaPlayerEnqueue.REPLACE: "now", MediaPlayerEnqueue.NEXT: "next",
         MediaPlayerEnqueue.ADD: "end"}
# media_content_id of what the library browser shows: "moodbox://library", "moodbox://artists",
# "moodbox://artist/<name>", "moodbox://album/<id>", "moodbox://moods", "moodbox://mood/<mood>",
# "moodbox://track/<id>".
PREFIX = "moodbox://"
ROOT = f"{PREFIX}library"
ARTISTS = f"{PREFIX}artists"
MOODS = f"{PREFIX}moods"
MOOD_TRACKS = 100  # a mood plays (and lists) at most this many of its tracks


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback) -> None:
    box: MoodboxBox = hass.data[DOMAIN][entry.entry_id]
    async_add_entities([MoodboxPlayer(box)])
    platform = entity_platform.async_get_current_platform()
    platform.async_register_entity_service(SERVICE_LIKE, {}, "async_like")
    platform.async_register_entity_service(SERVICE_DISLIKE, {}, "async_dislike")
    platform.async_register_entity_service(SERVICE_REFRESH_MOOD, {}, "async_refresh_mood")


class MoodboxPlayer(MediaPlayerEntity):
    """One box."""

    _attr_has_entity_name = True
    _attr_name = None  # the device's name: media_player.moodbox
    _attr_should_poll = False
    _attr_media_content_type = MediaType.MUSIC
    _attr_sound_mode_list = POLICIES

    def __init__(self, box: MoodboxBox) -> None:
        self.box = box
        self._attr_unique_id = f"moodbox_{box.device_id}_media_player"
        # The same device as the box's MQTT entities (the same identifier and names as its discovery's device
        # block): one "moodbox" device with all of them, also when this entry comes before the MQTT entities.
        self._attr_device_info = DeviceInfo(identifiers={("mqtt", MQTT_IDENTIFIER.format(device_id=box.device_id))},
                                            name="moodbox", manufacturer="moodbox project", model="moodbox")
        self._attr_supported_features = BASE_FEATURES | (REST_FEATURES if box.url else MediaPlayerEntityFeature(0))

    async def async_added_to_hass(self) -> None:
        self.async_on_remove(self.box.add_listener(self._changed))

    @callback
    def _changed(self) -> None:
        self.async_write_ha_state()

    # ----- state -----

    @property
    def _player(self) -> dict[str, Any]:
        return self.box.states["player"]

    @property
    def available(self) -> bool:
        return self.box.available and bool(self._player)

    @property
    def state(self) -> MediaPlayerState | None:
        return STATES.get(str(self._player.get("state")), MediaPlayerState.IDLE)

    @property
    def media_title(self) -> str | None:
        return self._player.get("title")

    @property
    def media_artist(self) -> str | None:
        return self._player.get("artist")

    @property
    def media_album_name(self) -> str | None:
        return self._player.get("album")

    @property
    def media_content_id(self) -> str | None:
        track_id = self._player.get("track_id")
        return f"{PREFIX}track/{track_id}" if track_id is not None else None

    @property
    def media_duration(self) -> int | None:
        duration = self._player.get("duration")
        return int(duration) if isinstance(duration, (int, float)) else None

    @property
    def media_position(self) -> int | None:
        position = self._player.get("position")
        return int(position) if isinstance(position, (int, float)) else None

    @property
    def media_position_updated_at(self) -> datetime | None:
        return self.box.player_updated_at

    @property
    def volume_level(self) -> float | None:
        volume = self.box.states["volume"].get("volume")
        return volume / 100 if isinstance(volume, (int, float)) else None

    @property
    def _max_volume(self) -> int:
        cap = self.box.states["volume"].get("max")
        return int(cap) if isinstance(cap, (int, float)) else 100

    @property
    def sound_mode(self) -> str | None:
        return self.box.states["policy"].get("policy")

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        return {"max_volume": self._max_volume / 100, "reason": self._player.get("reason"),
                "track_mood": self._player.get("track_mood")}

    @property
    def media_image_hash(self) -> str | None:
        track_id = self._player.get("track_id")
        return str(track_id) if track_id is not None and self.box.url else None

    async def async_get_media_image(self) -> tuple[bytes | None, str | None]:
        track_id = self._player.get("track_id")
        if track_id is None:
            return None, None
        return await self.box.async_get_bytes(f"/api/v1/tracks/{int(track_id)}/cover")

    # ----- control (MQTT) -----

    async def async_media_play(self) -> None:
        await self.box.async_command("player", "play")

    async def async_media_pause(self) -> None:
        await self.box.async_command("player", "pause")

    async def async_media_play_pause(self) -> None:
        await self.box.async_command("player", "toggle")

    async def async_media_stop(self) -> None:
        await self.box.async_command("player", "stop")

    async def async_media_next_track(self) -> None:
        await self.box.async_command("player", "next")

    async def async_media_previous_track(self) -> None:
        await self.box.async_command("player", "previous")

    async def async_set_volume_level(self, volume: float) -> None:
        # Never above the box's cap (audio.max_volume); the box enforces it too.
        await self.box.async_command("volume", str(max(0, min(round(volume * 100), self._max_volume))))

    async def async_volume_up(self) -> None:
        await self.box.async_command("volume", "+5")

    async def async_volume_down(self) -> None:
        await self.box.async_command("volume", "-5")

    async def async_select_sound_mode(self, sound_mode: str) -> None:
        if sound_mode not in POLICIES:
            raise HomeAssistantError(f"moodbox policies are {', '.join(POLICIES)}, not {sound_mode!r}")
        await self.box.async_command("policy", sound_mode)

    async def async_like(self) -> None:
        await self.box.async_command("like", "PRESS")

    async def async_dislike(self) -> None:
        await self.box.async_command("dislike", "PRESS")

    async def async_refresh_mood(self) -> None:
        await self.box.async_command("refresh", "PRESS")

    # ----- the library (REST) -----

    async def async_play_media(self, media_type: str, media_id: str, enqueue: MediaPlayerEnqueue | None = None,
                               **kwargs: Any) -> None:
        kind, _, value = media_id.removeprefix(PREFIX).partition("/")
        if kind == "track" and value.isdigit():
            track_ids = [int(value)]
        elif kind in ("album", "mood") and value:
            try:
                tracks = await self._tracks(kind, value)
            except BrowseError as exc:
                raise HomeAssistantError(str(exc)) from exc
            track_ids = [int(t["track_id"]) for t in tracks]
        else:
            raise HomeAssistantError(f"moodbox plays moodbox://track/<id>, moodbox://album/<id> or "
                                     f"moodbox://mood/<mood> from its library (browse it), not {media_id!r}")
        if not track_ids:
            raise HomeAssistantError(f"moodbox: nothing to play in {media_id}")
        where = WHERE.get(enqueue or MediaPlayerEnqueue.PLAY, "now")
        try:
            await self.box.async_post_json("/api/v1/queue", {"track_ids": track_ids, "where": where})
        except MissingApi as exc:
            self.box.log_missing_once("/api/v1/queue", "queue API (POST /api/v1/queue)")
            raise HomeAssistantError("this moodbox cannot queue music from Home Assistant yet: update it") from exc

    async def async_media_seek(self, position: float) -> None:
        try:
            await self.box.async_post_json("/api/v1/player/seek", {"position": max(0.0, float(position))})
        except MissingApi as exc:
            self.box.log_missing_once("/api/v1/player/seek", "seek API (POST /api/v1/player/seek)")
            raise HomeAssistantError("this moodbox cannot seek from Home Assistant yet: update it") from exc
        # The box publishes no new player state for a jump in position alone: show it here.
        self.box.states["player"] = {**self._player, "position": max(0.0, float(position))}
        self.box.player_updated_at = dt_util.utcnow()
        self.async_write_ha_state()

    async def _tracks(self, kind: str, value: str) -> list[dict[str, Any]]:
        """The tracks of an album or a mood, in order."""
        if kind == "album":
            answer = await self._library(f"/api/v1/library/albums/{quote(unquote(value), safe='')}", "browsing albums")
        else:
            answer = await self._library("/api/v1/library/tracks", "browsing moods",
                                         {"mood": unquote(value), "limit": str(MOOD_TRACKS)})
        return [t for t in answer.get("tracks", []) if isinstance(t, dict) and isinstance(t.get("track_id"), int)]

    async def _library(self, path: str, what: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            return await self.box.async_get_json(path, params)
        except MissingApi as exc:
            self.box.log_missing_once(path.rsplit("/", 1)[0] if "/albums/" in path else path, f"library API ({what})")
            raise BrowseError("this moodbox has no library browsing yet: update it") from exc
        except BoxApiError as exc:
            raise BrowseError(str(exc)) from exc

    async def async_browse_media(self, media_content_type: str | None = None,
                                 media_content_id: str | None = None) -> BrowseMedia:
        content_id = media_content_id or ROOT
        if content_id == ROOT:
            await self._library("/api/v1/library/artists", "browsing artists")  # an older box: say so here
            children = [self._node(MediaClass.DIRECTORY, ARTISTS, "Artists", False, True),
                        self._node(MediaClass.DIRECTORY, MOODS, "Moods", False, True)]
            return self._node(MediaClass.DIRECTORY, ROOT, "moodbox library", False, True, children,
                              children_class=MediaClass.DIRECTORY)
        if content_id == ARTISTS:
            answer = await self._library("/api/v1/library/artists", "browsing artists")
            children = [self._node(MediaClass.ARTIST, f"{PREFIX}artist/{quote(a['name'], safe='')}",
                                   f"{a['name']} ({a.get('tracks', '?')})", can_play=False, can_expand=True)
                        for a in answer.get("artists", []) if isinstance(a, dict) and a.get("name")]
            return self._node(MediaClass.DIRECTORY, ARTISTS, "Artists", False, True, children,
                              children_class=MediaClass.ARTIST)
        if content_id == MOODS:
            answer = await self._library("/api/v1/library/moods", "browsing moods")
            children = [self._node(MediaClass.GENRE, f"{PREFIX}mood/{quote(m['mood'], safe='')}",
                                   f"{m['mood']} ({m.get('tracks', 0)})", True, True)
                        for m in answer.get("moods", []) if isinstance(m, dict) and m.get("mood") and m.get("tracks")]
            return self._node(MediaClass.DIRECTORY, MOODS, "Moods", False, True, children,
                              children_class=MediaClass.GENRE)
        kind, _, value = content_id.removeprefix(PREFIX).partition("/")
        if kind == "mood":
            children = [self._track(t, with_artist=True) for t in await self._tracks(kind, value)]
            return self._node(MediaClass.GENRE, content_id, unquote(value), True, True, children,
                              children_class=MediaClass.TRACK)
        if kind == "artist":
            artist = unquote(value)
            answer = await self._library("/api/v1/library/albums", "browsing albums", {"artist": artist})
            children = [self._album(a) for a in answer.get("albums", []) if isinstance(a, dict) and "id" in a]
            return self._node(MediaClass.ARTIST, content_id, artist, False, True, children,
                              children_class=MediaClass.ALBUM)
        if kind == "album":
            answer = await self._library(f"/api/v1/library/albums/{quote(unquote(value), safe='')}", "browsing albums")
            album = answer.get("album") or {}
            children = [self._track(t, with_artist=False) for t in answer.get("tracks", [])
                        if isinstance(t, dict) and isinstance(t.get("track_id"), int)]
            node = self._album({**album, "id": album.get("id", unquote(value))})
            node.children = children
            node.children_media_class = MediaClass.TRACK
            return node
        raise BrowseError(f"moodbox: unknown library item {content_id!r}")

    def _track(self, track: dict[str, Any], with_artist: bool) -> BrowseMedia:
        title = str(track.get("title") or track["track_id"])
        if with_artist and track.get("artist"):
            title = f"{track['artist']} - {title}"
        content_id = f"{PREFIX}track/{track['track_id']}"
        return self._node(MediaClass.TRACK, content_id, title, True, False, thumbnail=self._thumb(content_id))

    def _album(self, album: dict[str, Any]) -> BrowseMedia:
        content_id = f"{PREFIX}album/{quote(str(album['id']), safe='')}"
        title = str(album.get("title") or album["id"])
        if album.get("year"):
            title = f"{title} ({album['year']})"
        return self._node(MediaClass.ALBUM, content_id, title, True, True,
                          thumbnail=self._thumb(content_id) if album.get("cover") else None)

    def _thumb(self, content_id: str) -> str | None:
        return self.get_browse_image_url(MediaType.MUSIC, content_id) if self.box.url else None

    async def async_get_browse_image(self, media_content_type: str, media_content_id: str,
                                     media_image_id: str | None = None) -> tuple[bytes | None, str | None]:
        kind, _, value = media_content_id.removeprefix(PREFIX).partition("/")
        if kind == "track" and value.isdigit():
            return await self.box.async_get_bytes(f"/api/v1/tracks/{int(value)}/cover")
        if kind == "album" and value:
            try:
                answer = await self.box.async_get_json(f"/api/v1/library/albums/{quote(unquote(value), safe='')}")
            except BoxApiError:
                return None, None
            cover = (answer.get("album") or {}).get("cover")
            if isinstance(cover, str) and cover.startswith("/api/v1/"):
                return await self.box.async_get_bytes(cover)
        return None, None

    @staticmethod
    def _node(media_class: str, content_id: str, title: str, can_play: bool, can_expand: bool,
              children: list[BrowseMedia] | None = None, children_class: str | None = None,
              thumbnail: str | None = None) -> BrowseMedia:
        return BrowseMedia(media_class=media_class, media_content_id=content_id,
                           media_content_type=MediaType.MUSIC, title=title, can_play=can_play,
                           can_expand=can_expand, children=children, children_media_class=children_class,
                           thumbnail=thumbnail)
