"""SourceItem -> the player's PlayItem, so player state says where the music comes from."""
from __future__ import annotations

from moodbox.online.source import SourceItem
from moodbox.player import PlayItem


def to_play_item(item: SourceItem) -> PlayItem:
    """The player's queue entry for an item: source "library"|"online", station or track name as title.

    Library track ids stay integers (the history keys on them); online ids are strings
    (Radio Browser stationuuid, Jamendo track id).
    """
    track_id: int | str | None = item.item_id or None
    if item.source == "library" and item.item_id.isdigit():
        track_id = int(item.item_id)
    return PlayItem(
        path=item.uri,
        title=item.title,
        artist=item.artist,
        album=item.album,
        mood=item.mood,
        source=item.source,
        track_id=track_id,
        duration=item.duration,
    )
