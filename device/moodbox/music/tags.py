"""Reading tags with mutagen: one plain TagInfo whatever the format (ID3, Vorbis comments, MP4)."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.aac import AAC
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags

log = logging.getLogger(__name__)

# .mp4 is left out on purpose: in a home folder those are mostly videos.
AUDIO_EXTENSIONS = frozenset({".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wav"})


class TagError(Exception):
    """The file is not readable audio; the message says why (it is shown to the owner)."""


@dataclass
class TagInfo:
    title: str = ""
    artist: str = ""
    album: str = ""
    album_artist: str = ""
    year: int | None = None
    genre: str = ""
    bpm: float | None = None
    duration: float = 0.0
    track_number: int | None = None
    explicit: bool = False
    mood_tag: str = ""
    replaygain_track_db: float | None = None
    replaygain_album_db: float | None = None


# Our field -> keys per tag family (first present wins).
ID3_KEYS = {
    "title": ["TIT2"], "artist": ["TPE1"], "album": ["TALB"], "album_artist": ["TPE2"],
    "year": ["TDRC", "TYER", "TDOR", "TORY"], "genre": ["TCON"], "bpm": ["TBPM"], "track_number": ["TRCK"],
    "mood_tag": ["TMOO", "TXXX:MOOD"], "advisory": ["TXXX:ITUNESADVISORY", "TXXX:EXPLICIT"],
    "rg_track": ["TXXX:REPLAYGAIN_TRACK_GAIN", "TXXX:replaygain_track_gain"],
    "rg_album": ["TXXX:REPLAYGAIN_ALBUM_GAIN", "TXXX:replaygain_album_gain"],
}
VORBIS_KEYS = {
    "title": ["title"], "artist": ["artist"], "album": ["album"], "album_artist": ["albumartist", "album artist"],
    "year": ["date", "year", "originaldate"], "genre": ["genre"], "bpm": ["bpm", "tempo"],
    "track_number": ["tracknumber"], "mood_tag": ["mood"], "advisory": ["itunesadvisory", "explicit"],
    "rg_track": ["replaygain_track_gain"], "rg_album": ["replaygain_album_gain"],
}
MP4_FREEFORM = "----:com.apple.iTunes:"
MP4_KEYS = {
    "title": ["\xa9nam"], "artist": ["\xa9ART"], "album": ["\xa9alb"], "album_artist": ["aART"],
    "year": ["\xa9day"], "genre": ["\xa9gen", "gnre"], "bpm": ["tmpo"], "track_number": ["trkn"],
    "mood_tag": [MP4_FREEFORM + "MOOD", MP4_FREEFORM + "mood"],
    "advisory": ["rtng", MP4_FREEFORM + "ITUNESADVISORY"],
    "rg_track": [MP4_FREEFORM + "replaygain_track_gain", MP4_FREEFORM + "REPLAYGAIN_TRACK_GAIN"],
    "rg_album": [MP4_FREEFORM + "replaygain_album_gain", MP4_FREEFORM + "REPLAYGAIN_ALBUM_GAIN"],
}


def read_tags(path: Path) -> TagInfo:
    """Tags and duration of one audio file; raises TagError for anything that is not readable audio."""
    try:
        # Raw AAC with an ID3 header looks like MP3 to mutagen's format guess: open it as AAC.
        audio = AAC(path) if path.suffix.lower() == ".aac" else mutagen.File(path)
    except Exception as exc:  # mutagen raises many types for damaged files
        raise TagError(f"unreadable: {type(exc).__name__}: {exc}".strip()) from None
    if audio is None:
        raise TagError("not a recognised audio format")
    length = float(getattr(audio.info, "length", 0.0) or 0.0)
    if length <= 0:
        raise TagError("no audio in the file (duration 0)")
    info = TagInfo(duration=length)
    tags: Any = audio.tags
    if tags is None and path.suffix.lower() == ".aac":
        tags = _id3_or_none(path)  # raw ADTS files may carry an ID3 header mutagen.File does not read
    if tags is not None:
        _fill(info, tags)
    return info


def _id3_or_none(path: Path) -> ID3 | None:
    try:
        return ID3(path)
    except Exception:  # no header (ID3NoHeaderError) or a damaged one: the file simply has no tags
        return None


def _fill(info: TagInfo, tags: Any) -> None:
    if isinstance(tags, MP4Tags):
        keys, getter = MP4_KEYS, _mp4_value
    elif isinstance(tags, ID3):
        keys, getter = ID3_KEYS, _id3_value
    else:
        keys, getter = VORBIS_KEYS, _vorbis_value
    raw = {field: _first(tags, names, getter) for field, names in keys.items()}
    info.title = raw["title"] or ""
    info.artist = raw["artist"] or ""
    info.album = raw["album"] or ""
    info.album_artist = raw["album_artist"] or ""
    info.year = parse_year(raw["year"])
    info.genre = raw["genre"] or ""
    info.bpm = parse_float(raw["bpm"])
    info.track_number = parse_int(raw["track_number"])
    info.mood_tag = raw["mood_tag"] or ""
    info.explicit = parse_explicit(raw["advisory"])
    info.replaygain_track_db = parse_float(raw["rg_track"])
    info.replaygain_album_db = parse_float(raw["rg_album"])


def _first(tags: Any, names: list[str], getter: Any) -> str | None:
    for name in names:
        try:
            value = getter(tags, name)
        except (KeyError, ValueError, TypeError, IndexError):
            continue
        if value:
            return value
    return None


def _id3_value(tags: Any, key: str) -> str | None:
    frame = tags.get(key)
    if frame is None and key.startswith("TXXX:"):  # TXXX descriptions are case-sensitive in mutagen
        wanted = key.lower()
        frame = next((f for k, f in tags.items() if k.lower() == wanted), None)
    if frame is None:
        return None
    return _join(frame.genres if key == "TCON" else frame.text)


def _vorbis_value(tags: Any, key: str) -> str | None:
    values = tags.get(key)
    return _join(values) if values else None


def _join(values: Any) -> str:
    """Several values (or NUL-separated ones) -> "a; b", empty ones dropped."""
    cleaned = (clean_text(str(v)) for v in values)
    return "; ".join(v for v in cleaned if v)


def _mp4_value(tags: Any, key: str) -> str | None:
    values = tags.get(key)
    if not values:
        return None
    first = values[0]
    if key == "trkn":
        return str(first[0])
    if key == "gnre":  # ID3v1 genre number + 1
        from mutagen.id3 import TCON

        return clean_text(TCON(text=[f"({int(first) - 1})"]).genres[0])
    if isinstance(first, bytes):  # freeform atoms hold bytes
        return clean_text(decode_bytes(first))
    return clean_text(str(first))


def decode_bytes(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def clean_text(text: str) -> str:
    """Strip NULs and control characters, and undo UTF-8 read as Latin-1 ("BjÃ¶rk" -> "Björk")."""
    text = text.replace("\x00", " ")
    text = "".join(ch for ch in text if ch >= " " or ch == "\t").strip()
    if any("\x80" <= ch <= "\xff" for ch in text):
        try:
            text = text.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    # Lone surrogates cannot be stored as UTF-8.
    return text.encode("utf-8", "replace").decode("utf-8")


def parse_year(text: str | None) -> int | None:
    match = re.search(r"(1[89]\d\d|20\d\d)", text or "")
    return int(match.group(1)) if match else None


def parse_float(text: str | None) -> float | None:
    match = re.search(r"[-+]?\d+(?:[.,]\d+)?", text or "")
    return float(match.group(0).replace(",", ".")) if match else None


def parse_int(text: str | None) -> int | None:
    match = re.match(r"\s*(\d+)", text or "")
    return int(match.group(1)) if match else None


def parse_explicit(text: str | None) -> bool:
    """ITUNESADVISORY / MP4 rtng: 1 (or 4, old iTunes) = explicit, 2 = clean, 0 = none."""
    if not text:
        return False
    lowered = text.strip().lower()
    return lowered in ("1", "4", "explicit", "yes", "true")


def title_from_filename(path: Path) -> str:
    """A readable title from a file name: "03 - my_song.mp3" -> "my song"."""
    stem = path.stem.replace("_", " ")
    stem = re.sub(r"^\s*\d{1,3}\s*[-.)_ ]\s*", "", stem).strip() or path.stem
    return clean_text(decode_bytes(stem.encode("utf-8", "surrogateescape")))
