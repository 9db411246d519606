"""The core: owns the state of the box, takes commands, emits events. Knows no adapter.

Parts, the data flowing one way (camera -> faces -> readings -> mood -> queue -> player):
  core.py         Core: the one API adapters use (execute, subscribe/snapshot, queries); builds the parts
  commands.py     Command, parse_command: the command interface every adapter speaks
  state.py        StateBoard: the states and the event stream listeners hear
  runner.py       the loop thread (commands, timers) and the worker thread (long jobs)
  conductor.py    the rules: what a command, a job's result, a player event or a timer leads to
  room.py         camera, burst capture, perception, mood, override, the privacy switch
  library.py      index, history, recommender, online fallback; the queue's sources
  scanning.py     library scans on their own thread, the demo library
  playback.py     the mpv player, the queue's reasons, volume, resume
  persistence.py  player.json (atomic writes), mood to/from JSON
  diagnostics.py  the diagnostics state (uptime, temperature, memory, timings)
Adapters import only from this package's top (moodbox.core), never from its modules.
"""
from moodbox.core.api import CoreApi
from moodbox.core.commands import (COMMAND_METHODS, MAX_OVERRIDE_TIMEOUT_S, MAX_PAYLOAD_BYTES, PLAYER_ACTIONS,
                                   POLICIES, THINGS, Command, CommandError, parse_command)
from moodbox.core.core import Core
from moodbox.core.diagnostics import cpu_temperature, resident_memory_mb
from moodbox.core.library import TrackMoodTagged, UnknownTrack
from moodbox.core.persistence import PLAYER_STATE_FILE, mood_from_dict, mood_to_dict, write_json_atomic
from moodbox.core.room import FACES_DIR, BurstResult
from moodbox.core.state import STATE_TOPICS, FrameListener, Listener

__all__ = [
    "COMMAND_METHODS", "FACES_DIR", "MAX_OVERRIDE_TIMEOUT_S", "MAX_PAYLOAD_BYTES", "PLAYER_ACTIONS",
    "PLAYER_STATE_FILE", "POLICIES", "STATE_TOPICS", "THINGS", "BurstResult", "Command", "CommandError", "Core", "CoreApi", "FrameListener",
    "Listener", "TrackMoodTagged", "UnknownTrack", "cpu_temperature", "mood_from_dict", "mood_to_dict",
    "parse_command",    "resident_memory_mb", "write_json_atomic",
]
