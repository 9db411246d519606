"""Optional online fallback: internet radio (Radio Browser) or Jamendo tracks when the library cannot serve the mood.

Use:
    entries = recommender.recommend(mood)                      # the local library first
    local_matches = count_matches(entries, mood)               # how many of them really fit the mood
    fallback = OnlineFallback(config)
    items = fallback.items_for(mood, local_matches, count)   # [] when off, not needed or offline
    queue = [to_play_item(i) for i in items]
    fallback.report_failed(item_id)                           # a station that did not play
    fallback.status()                                         # for MQTT diagnostics

Only mood/era tags (e.g. "chillout", "90s") and a User-Agent are sent, never images, ages or emotions.
"""
from moodbox.online.fallback import OnlineFallback
from moodbox.online.local import LocalLibrarySource, count_matches
from moodbox.online.play_item import to_play_item
from moodbox.online.source import MusicSource, OnlineError, SourceItem

__all__ = ["LocalLibrarySource", "MusicSource", "OnlineError", "OnlineFallback", "SourceItem", "count_matches",
           "to_play_item"]
