"""The music player: a supervised mpv process driven over its JSON IPC socket.

mpv runs as a child process (`--idle=yes --no-video`), so a player crash cannot take the daemon
down: a supervisor notices the dead process, starts a new one and resumes the same track near the
same position (event `player_restarted`). The queue lives here on the Python side and mpv gets one
file at a time, so "end of track -> next", "unplayable file -> skip" and "queue ended" are ours.

Events go to `on_event(name, data)` from one notifier thread, in order:
  track_started    {index, item, position}
  track_ended      {index, item, position, duration, skipped, reason}  reason: eof|next|previous|stop|load|close
  track_failed     {index, item, error}
  queue_ended      {count, failed}   failed: items of this queue that could not be played
  player_restarted {index, item, position, exit_code, restarts}
  volume           {volume}
An mpv that stops answering is killed and restarted like a crashed one; a file that crashes mpv
again and again is reported with track_failed and skipped.
The callback may call back into the player; it should not block for long.

The parts: items (PlayItem, PlayerStatus, errors), ipc (the JSON IPC connection), process (mpv's
arguments, its process and the supervisor that restarts it), playqueue (the queue and its saved
state), replaygain (loudness arguments), events (the notifier thread), player (MpvPlayer, which
composes them).
"""
from moodbox.player.items import EventCallback, MpvCommandError, PlayerError, PlayerState, PlayerStatus, PlayItem
from moodbox.player.player import MpvPlayer
from moodbox.player.process import audio_args, has_sound_output
from moodbox.player.replaygain import replaygain_args

__all__ = ["EventCallback", "MpvCommandError", "MpvPlayer", "PlayItem", "PlayerError", "PlayerState", "PlayerStatus",
           "audio_args", "has_sound_output", "replaygain_args"]
