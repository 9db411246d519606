"""moodbox recommend --emotion happy --age 34 [--age 8 ...] [--policy lift] [--count 10] [--seed N] [--json]"""
from __future__ import annotations

import argparse
import json

from moodbox.readings import EMOTIONS

HELP = "print the queue the recommender would play for a mood, with the reason for each track"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--emotion", choices=EMOTIONS, default="neutral", help="the room's emotion")
    parser.add_argument("--age", type=float, action="append", default=[], metavar="YEARS",
                        help="a listener's age (repeat for several people)")
    parser.add_argument("--policy", choices=("match", "lift", "calm"), help="default: recommend.policy")
    parser.add_argument("--count", type=int, help="queue length (default: recommend.queue_length)")
    parser.add_argument("--seed", type=int, help="same seed, same queue (default: recommend.seed)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def main(args: argparse.Namespace) -> int:
    from moodbox.commands.common import config_or_exit
    from moodbox.music import (HISTORY_FILE, INDEX_FILE, History, LibraryIndex, Recommender, choose_roots,
                               describe_target, scan_library)
    from moodbox.readings import MoodState

    config = config_or_exit(args)
    mood = MoodState.from_emotion(args.emotion, source="override", ages=tuple(args.age))
    with LibraryIndex(config.state_path / INDEX_FILE) as index, History(config.state_path / HISTORY_FILE) as history:
        if index.count() == 0:
            roots = choose_roots(config.library_paths, config.resolve_path(config.library.demo_path))
            print(f"the index is empty; scanning {', '.join(map(str, roots))} first")
            scan_library(roots, index)
        queue = Recommender(index, history, config.recommend).recommend(mood, count=args.count, policy=args.policy,
                                                                        seed=args.seed)
    if args.json:
        print(json.dumps([{"id": e.track.id, "path": str(e.track.path).encode("utf-8", "replace").decode("utf-8"),
                           "title": e.track.title, "artist": e.track.artist, "year": e.track.year,
                           "era_year": e.track.era_year, "mood": e.track.mood, "mood_source": e.track.mood_source,
                           "mood_confidence": round(e.track.mood_confidence, 3),
                           "valence": round(e.track.valence, 3), "energy": round(e.track.energy, 3),
                           "explicit": e.track.explicit, "reason": e.reason} for e in queue], indent=2))
        return 0 if queue else 1
    if not queue:
        print("no track to recommend: the library is empty (run `moodbox scan` or `moodbox demo-library`)")
        return 1
    policy = args.policy or config.recommend.policy
    print(f"{args.emotion} room, {policy}: {describe_target(args.emotion, policy)}")
    for number, entry in enumerate(queue, start=1):
        track = entry.track
        year = track.year or (f"~{track.era_year}" if track.era_year else "----")
        print(f"{number:2d}. {track.display} ({year}){' [explicit]' if track.explicit else ''}")
        print(f"    {entry.reason}")
    return 0
