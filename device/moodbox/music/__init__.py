"""Music: library scanner + SQLite index, track mood, priors, recommender, listening history.

    index = LibraryIndex(state_dir / INDEX_FILE)
    roots = choose_roots(config.library_paths, config.resolve_path(config.library.demo_path))
    report = scan_library(roots, index)
    history = History(state_dir / HISTORY_FILE)
    queue = Recommender(index, history, config.recommend).recommend(mood_state)
"""
from moodbox.music.history import History
from moodbox.music.index import LibraryIndex
from moodbox.music.recommender import QueueEntry, Recommender
from moodbox.music.scanner import ScanReport, choose_roots, scan_library
from moodbox.music.targets import describe as describe_target
from moodbox.music.targets import target_name
from moodbox.music.track import Track

INDEX_FILE = "library.db"
HISTORY_FILE = "history.db"

__all__ = ["HISTORY_FILE", "INDEX_FILE", "History", "LibraryIndex", "QueueEntry", "Recommender", "ScanReport",
           "Track", "choose_roots", "describe_target", "scan_library", "target_name"]
