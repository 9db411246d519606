"""Writing tags with mutagen (the demo library, tests and benchmark use it), for every format we read."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import mutagen
from mutagen.flac import FLAC
from mutagen.id3 import ID3, ID3NoHeaderError, TALB, TBPM, TCON, TDRC, TIT2, TMOO, TPE1, TPE2, TRCK, TXXX
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4FreeForm
from mutagen.wave import WAVE

FIELDS = ("title", "artist", "album", "album_artist", "year", "genre", "bpm", "track_number", "mood", "explicit",
          "replaygain_track_db")


def write_tags(path: Path, **tags: Any) -> None:
    """Replace the tags of an audio file. Keys: see FIELDS; None or "" leaves a field out."""
    unknown = set(tags) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown tag fields: {', '.join(sorted(unknown))}")
    tags = {k: v for k, v in tags.items() if v not in (None, "", False)}
    suffix = path.suffix.lower()
    if suffix in (".mp3", ".wav", ".aac"):
        _write_id3(path, tags, suffix)
    elif suffix in (".m4a", ".mp4"):
        _write_mp4(path, tags)
    else:
        _write_vorbis(path, tags)


def _write_id3(path: Path, tags: dict[str, Any], suffix: str) -> None:
    if suffix == ".aac":  # raw ADTS: an ID3 header in front of the stream
        audio = None
        try:
            id3 = ID3(path)
        except ID3NoHeaderError:
            id3 = ID3()
    else:
        audio = WAVE(path) if suffix == ".wav" else MP3(path)
        if audio.tags is None:
            audio.add_tags()
        id3 = audio.tags
    id3.clear()
    frames = {"title": TIT2, "artist": TPE1, "album": TALB, "album_artist": TPE2, "year": TDRC, "genre": TCON,
              "bpm": TBPM, "track_number": TRCK, "mood": TMOO}
    for key, frame in frames.items():
        if key in tags:
            id3.add(frame(encoding=3, text=[str(tags[key])]))
    if tags.get("explicit"):
        id3.add(TXXX(encoding=3, desc="ITUNESADVISORY", text=["1"]))
    if "replaygain_track_db" in tags:
        id3.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=[f"{tags['replaygain_track_db']:.2f} dB"]))
    if audio is None:
        id3.save(path)
    else:
        audio.save()


def _write_vorbis(path: Path, tags: dict[str, Any]) -> None:
    audio = mutagen.File(path)
    if audio is None:
        raise ValueError(f"{path}: not an audio file mutagen knows")
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    names = {"title": "TITLE", "artist": "ARTIST", "album": "ALBUM", "album_artist": "ALBUMARTIST", "year": "DATE",
             "genre": "GENRE", "bpm": "BPM", "track_number": "TRACKNUMBER", "mood": "MOOD"}
    for key, name in names.items():
        if key in tags:
            audio.tags[name] = [str(tags[key])]
    if tags.get("explicit"):
        audio.tags["ITUNESADVISORY"] = ["1"]
    if "replaygain_track_db" in tags:
        audio.tags["REPLAYGAIN_TRACK_GAIN"] = [f"{tags['replaygain_track_db']:.2f} dB"]
    if isinstance(audio, FLAC):
        audio.save(deleteid3=True)
    else:
        audio.save()


def _write_mp4(path: Path, tags: dict[str, Any]) -> None:
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    audio.tags.clear()
    names = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "album_artist": "aART", "year": "\xa9day",
             "genre": "\xa9gen"}
    for key, name in names.items():
        if key in tags:
            audio.tags[name] = [str(tags[key])]
    if "bpm" in tags:
        audio.tags["tmpo"] = [int(tags["bpm"])]
    if "track_number" in tags:
        audio.tags["trkn"] = [(int(tags["track_number"]), 0)]
    if tags.get("explicit"):
        audio.tags["rtng"] = [1]
    if "mood" in tags:
        audio.tags["----:com.apple.iTunes:MOOD"] = [MP4FreeForm(str(tags["mood"]).encode("utf-8"))]
    if "replaygain_track_db" in tags:
        audio.tags["----:com.apple.iTunes:replaygain_track_gain"] = [
            MP4FreeForm(f"{tags['replaygain_track_db']:.2f} dB".encode())]
    audio.save()
