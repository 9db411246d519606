"""What listeners feel: valence and energy (0..1) per artist, genre and release year, and the tense rule.

The table, data/listener_va.json.gz, is built by `python tools/build_listener_model.py` from listeners'
ratings (the Deezer mood dataset; card: data/listener_va.md). A value is the track's expected listener
rating as a percentile among the Deezer tracks: 0.5 a typical track, 0.9 one listeners are expected to
rate above nine in ten. Keys are the priors' keys (priors.artist_key, the genre match, the year).
"""
from __future__ import annotations

import functools
import gzip
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LISTENER_FILE = "listener_va.json.gz"
LISTENER_PATH = Path(__file__).resolve().parents[1] / "data" / LISTENER_FILE
# Tense (aggressive, dark, angry music): low listener valence and high arousal. The rule on the table's
# values; the best F1 on the Deezer train split of a small grid (tools/build_listener_model.py reports it).
TENSE_MAX_VALENCE = 0.2
TENSE_MIN_ENERGY = 0.6
# Listeners' own tense quadrant, in z of their ratings: the rule is scored against it.
TENSE_QUADRANT = (-0.5, 0.5)  # valence below, arousal above

Point = tuple[float, float]


def is_tense(valence: float, energy: float) -> bool:
    """A point (the table's scale) listeners are likely to hear as tense."""
    return valence <= TENSE_MAX_VALENCE and energy >= TENSE_MIN_ENERGY


@dataclass
class ListenerTable:
    artists: dict[str, Point] = field(default_factory=dict)
    genres: dict[str, Point] = field(default_factory=dict)
    years: dict[int, Point] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = LISTENER_PATH) -> ListenerTable:
        """The table; missing or broken: empty (and a warning), so valence/energy come from the mood model."""
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
            return cls({k: (float(v[0]), float(v[1])) for k, v in data["artists"].items()},
                       {k: (float(v[0]), float(v[1])) for k, v in data["genres"].items()},
                       {int(k): (float(v[0]), float(v[1])) for k, v in data["years"].items()})
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("listener table %s not usable (%s); valence/energy come from the mood model", path, exc)
            return cls()

    def year(self, year: int | None) -> Point | None:
        """A year past the table's end uses its last year (as the priors do)."""
        if year is None or not self.years:
            return None
        last = max(self.years)
        return self.years.get(min(year, last)) if year <= last + 10 else None


@functools.cache
def shipped_listener_table() -> ListenerTable:
    return ListenerTable.load()
