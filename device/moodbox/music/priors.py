"""Artist and genre priors: compact tables (built by tools/build_priors.py) and fuzzy genre matching.

artists.json.gz: normalised artist name -> [valence, energy, typical year or 0]
genres.json.gz:  normalised genre name -> [valence, energy]
"""
from __future__ import annotations

import difflib
import functools
import gzip
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PRIORS_DIR = Path(__file__).resolve().parents[1] / "data" / "priors"
ARTISTS_FILE = "artists.json.gz"
GENRES_FILE = "genres.json.gz"

# Spelling variants of genre words -> the form the tables use.
GENRE_SYNONYMS = {
    "alt": "alternative", "altrock": "alternative rock", "trad": "traditional", "elec": "electronic",
    "electronica": "electronic", "hiphop": "hip hop", "rnb": "r and b", "randb": "r and b", "rb": "r and b",
    "rocknroll": "rock and roll", "rock n roll": "rock and roll", "rock n' roll": "rock and roll",
    "dnb": "drum and bass", "drum n bass": "drum and bass", "synthpop": "synth pop", "electropop": "electro pop",
    "prog": "progressive", "psych": "psychedelic", "classic": "classical", "edm": "edm",
}


# Where a second artist's name starts: "A feat. B", "A & B", "A, B", "A / B".
FEATURING = re.compile(r"\s+(?:feat\.?|ft\.?|featuring|with|x|&|and)\s+|\s*[;,/]\s*", re.IGNORECASE)


def normalise_name(text: str) -> str:
    """Casefolded, accents and punctuation removed, '&' -> 'and': "Beyoncé & Jay-Z" -> "beyonce and jay z"."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").casefold()
    text = text.replace("&", " and ").replace("'n'", " n ").replace("'", "")
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    return re.sub(r"^the ", "", text)


def normalise_genre(text: str) -> str:
    name = normalise_name(text)
    if name in GENRE_SYNONYMS:
        return GENRE_SYNONYMS[name]
    words = [GENRE_SYNONYMS.get(w, w) for w in name.split()]
    return " ".join(words)


@dataclass
class Priors:
    artists: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    genres: dict[str, tuple[float, float]] = field(default_factory=dict)
    _genre_cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, folder: Path = PRIORS_DIR) -> Priors:
        """The shipped tables; missing files give empty tables (and a warning), never an error."""
        priors = cls()
        try:
            artists = _read_json_gz(folder / ARTISTS_FILE)
            priors.artists = {k: (v[0], v[1], int(v[2])) for k, v in artists["artists"].items()}
            genres = _read_json_gz(folder / GENRES_FILE)
            priors.genres = {k: (v[0], v[1]) for k, v in genres["genres"].items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("music priors not usable (%s); tracks without mood tags will be neutral", exc)
        return priors

    def artist(self, name: str) -> tuple[float, float, int | None] | None:
        """(valence, energy, typical year or None) for an artist, or None if unknown."""
        if not name:
            return None
        found = self.artists.get(normalise_name(name))
        if found is None:
            # "Artist feat. Other", "A & B": try the first named artist.
            first = FEATURING.split(name, maxsplit=1)[0]
            found = self.artists.get(normalise_name(first)) if first != name else None
        if found is None:
            return None
        return found[0], found[1], (found[2] or None)

    def genre(self, text: str) -> tuple[tuple[float, float], str] | None:
        """((valence, energy), matched genre) for a genre tag like "Alt Rock" or "Rock; Pop", or None."""
        for part in re.split(r"[;,/|]", text or ""):
            match = self._match_genre(normalise_genre(part))
            if match is not None:
                return self.genres[match], match
        return None

    def _match_genre(self, name: str) -> str | None:
        if not name:
            return None
        if name not in self._genre_cache:
            self._genre_cache[name] = _fuzzy_genre(name, self.genres)
        return self._genre_cache[name]


def _fuzzy_genre(name: str, genres: dict[str, tuple[float, float]]) -> str | None:
    """Exact, then spelling variants, then close spelling, then the longest known genre inside the name."""
    if name in genres:
        return name
    for candidate in (name.replace(" ", ""), name + "s", name.rstrip("s")):
        if candidate in genres:
            return candidate
    close = difflib.get_close_matches(name, list(genres), n=1, cutoff=0.85)
    if close:
        return close[0]
    # "Progressive Death Metal" -> "death metal", else "metal".
    words = name.split()
    for size in range(len(words) - 1, 0, -1):
        for start in range(len(words) - size, -1, -1):
            candidate = " ".join(words[start:start + size])
            if candidate in genres:
                return candidate
    return None


@functools.cache
def shipped_priors() -> Priors:
    """The shipped tables, loaded once per process (about a second on a Pi)."""
    return Priors.load()


def _read_json_gz(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)
