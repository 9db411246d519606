"""The cover picture embedded in an audio file (ID3 APIC, FLAC/Vorbis pictures, MP4 covr), via mutagen."""
from __future__ import annotations

import base64
import logging
from pathlib import Path

import mutagen
from mutagen.flac import Picture

log = logging.getLogger(__name__)

MAX_COVER_BYTES = 4 * 1024 * 1024  # a bigger picture is not served
FRONT_COVER = 3  # the picture type "Cover (front)" of ID3 and FLAC


FOLDER_NAMES = ("cover", "folder", "front", "album")
FOLDER_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def find_cover(path: Path) -> tuple[bytes, str] | None:
    """The track's cover: the picture embedded in the file, else cover.jpg / folder.jpg (and the like) beside it."""
    return embedded_cover(path) or folder_cover(path)


def folder_cover(path: Path) -> tuple[bytes, str] | None:
    try:
        pictures = {p.name.lower(): p for p in path.parent.iterdir() if p.suffix.lower() in FOLDER_TYPES}
    except OSError:
        return None
    for name in FOLDER_NAMES:
        for suffix, mime in FOLDER_TYPES.items():
            found = pictures.get(name + suffix)
            if found is None:
                continue
            try:
                if found.stat().st_size <= MAX_COVER_BYTES:
                    return found.read_bytes(), mime
            except OSError:
                continue
    return None


def embedded_cover(path: Path) -> tuple[bytes, str] | None:
    """(image bytes, MIME type) of the file's front cover (else its first picture), or None."""
    try:
        audio = mutagen.File(str(path))
    except Exception as exc:  # noqa: BLE001 - any broken file simply has no cover
        log.debug("%s: no cover (%s)", path, exc)
        return None
    if audio is None:
        return None
    pictures = _pictures(audio)
    if not pictures:
        return None
    data, mime = next((p[:2] for p in pictures if p[2] == FRONT_COVER), pictures[0][:2])
    if not data or len(data) > MAX_COVER_BYTES or not mime.startswith("image/"):
        return None
    return data, mime


def _pictures(audio: mutagen.FileType) -> list[tuple[bytes, str, int]]:
    found: list[tuple[bytes, str, int]] = []
    for picture in getattr(audio, "pictures", None) or []:  # FLAC
        found.append((picture.data, picture.mime, picture.type))
    tags = audio.tags
    if tags is None:
        return found
    if hasattr(tags, "getall"):  # ID3
        for frame in tags.getall("APIC"):
            found.append((frame.data, frame.mime or "image/jpeg", int(frame.type)))
    if "covr" in tags:  # MP4
        for cover in tags["covr"]:
            mime = "image/png" if getattr(cover, "imageformat", None) == 14 else "image/jpeg"
            found.append((bytes(cover), mime, FRONT_COVER))
    if hasattr(tags, "get") and not hasattr(tags, "getall"):  # Vorbis comments (Ogg)
        for value in tags.get("metadata_block_picture", []) or []:
            try:
                picture = Picture(base64.b64decode(value))
            except Exception:  # noqa: BLE001
                continue
            found.append((picture.data, picture.mime, picture.type))
    return found
