"""Artist and genre priors: compact tables (built by tools/build_priors.py) and fuzzy genre matching.

artists.json.gz: normalised artist name -> [valence, energy, typical year or 0, other mean features...]
genres.json.gz:  normalised genre name -> [valence, energy, other mean features...]
years.json.gz:   release year -> [mean features...]
The "fields" list of each file names the columns; the mean features feed the learned mood model.
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
YEARS_FILE = "years.json.gz"
# Names that stand for no artist in particular: never matched.
NO_ARTIST = {"various artists", "various", "va", "unknown artist", "unknown", "soundtrack"}

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
    text = re.sub(r"^the ", "", text)
    return re.sub(r" the$", "", text)  # "Beatles, The"


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
    # Mean audio features (moodmodel.FEATURES names) by artist, genre and release year, where known.
    artist_features: dict[str, dict[str, float]] = field(default_factory=dict)
    genre_features: dict[str, dict[str, float]] = field(default_factory=dict)
    years: dict[int, dict[str, float]] = field(default_factory=dict)
    _genre_cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, folder: Path = PRIORS_DIR) -> Priors:
        """The shipped tables; missing files give empty tables (and a warning), never an error."""
        priors = cls()
        try:
            artists = _read_json_gz(folder / ARTISTS_FILE)
            priors.artists = {k: (v[0], v[1], int(v[2])) for k, v in artists["artists"].items()}
            priors.artist_features = _feature_table(artists, "artists", skip={"year"})
            genres = _read_json_gz(folder / GENRES_FILE)
            priors.genres = {k: (v[0], v[1]) for k, v in genres["genres"].items()}
            priors.genre_features = _feature_table(genres, "genres")
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("music priors not usable (%s); tracks without mood tags will be neutral", exc)
        try:
            years = _read_json_gz(folder / YEARS_FILE)
            priors.years = {int(k): v for k, v in _feature_table(years, "years").items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("year priors not usable (%s); tracks known only by their year stay unknown", exc)
        return priors

    def artist_key(self, name: str, album_artist: str = "") -> str | None:
        """The table's name for a track's artist: the whole name, else each named artist in turn
        ("A feat. B", "A & B", "A, B"), else the album artist the same way."""
        for text in (name, album_artist):
            if not text:
                continue
            candidates = [text] + [part for part in FEATURING.split(text) if part and part.strip()]
            for candidate in candidates:
                key = normalise_name(candidate)
                if key and key not in NO_ARTIST and key in self.artists:
                    return key
        return None

    def artist(self, name: str) -> tuple[float, float, int | None] | None:
        """(valence, energy, typical year or None) for an artist, or None if unknown."""
        key = self.artist_key(name)
        if key is None:
            return None
        found = self.artists[key]
        return found[0], found[1], (found[2] or None)

    def artist_values(self, key: str) -> dict[str, float]:
        """An artist's mean features (the table's key from artist_key); valence and energy at least."""
        valence, energy, _ = self.artists[key]
        return self.artist_features.get(key) or {"valence": valence, "energy": energy}

    def genre_values(self, text: str) -> tuple[dict[str, float], str] | None:
        """(mean features, matched genre) for a genre tag, valence and energy at least; or None."""
        found = self.genre(text)
        if found is None:
            return None
        (valence, energy), match = found
        return self.genre_features.get(match) or {"valence": valence, "energy": energy}, match

    def year_values(self, year: int | None) -> dict[str, float] | None:
        """Mean features of the year's releases; a year past the table's end uses its last year."""
        if year is None or not self.years:
            return None
        first, last = min(self.years), max(self.years)
        if year < first or year > last + 10:
            return None
        return self.years[min(year, last)]

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


def _feature_table(data: dict, key: str, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, dict[str, float]]:
    """name -> {feature: value} from a table whose "fields" name its columns (skip: not features)."""
    fields = data["fields"]
    return {name: {f: float(v) for f, v in zip(fields, row) if f not in skip}
            for name, row in data[key].items() if len(row) == len(fields)}


def _read_json_gz(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)
