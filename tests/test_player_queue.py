"""The play queue on its own (no mpv): positions, previous(), crash counting, saved state."""
from __future__ import annotations

from moodbox.player import PlayItem
from moodbox.player.playqueue import PlayQueue


def items(count: int) -> list[PlayItem]:
    return [PlayItem(path=f"/music/{n}.flac", title=f"t{n}", duration=100.0 + n) for n in range(count)]


def test_load_clamps_the_index_and_an_empty_queue_has_none() -> None:
    queue = PlayQueue()
    queue.load(items(3), index=7, position=-2.0)
    assert (queue.index, queue.position, queue.current.title) == (2, 0.0, "t2")  # type: ignore[union-attr]
    queue.load([], index=0, position=12.0)
    assert (queue.index, queue.position, queue.current, len(queue)) == (None, 0.0, None, 0)


def test_previous_goes_back_early_and_restarts_the_item_later_or_on_the_first() -> None:
    queue = PlayQueue()
    queue.load(items(3), index=1, position=2.0)
    assert queue.previous_index() == 0
    queue.position = 6.0
    assert queue.previous_index() == 1
    queue.go_to(0, 0.0)
    assert queue.previous_index() == 0


def test_crashes_count_per_item_and_a_new_item_starts_at_zero() -> None:
    queue = PlayQueue()
    queue.load(items(2), index=0, position=0.0)
    assert [queue.count_crash() for _ in range(3)] == [1, 2, 3]
    queue.go_to(0, 5.0)  # the same item again keeps its count
    assert queue.crashes == 3
    queue.go_to(1, 0.0)
    assert queue.crashes == 0 and queue.count_crash() == 1


def test_duration_from_mpv_wins_over_the_tagged_one() -> None:
    queue = PlayQueue()
    queue.load(items(1), index=0, position=0.0)
    assert queue.known_duration() == 100.0
    queue.duration = 99.5
    assert queue.known_duration() == 99.5
    queue.go_to(0, 0.0)
    assert queue.known_duration() == 100.0


def test_export_and_restore_round_trip_and_skip_bad_entries() -> None:
    queue = PlayQueue()
    queue.load(items(2), index=1, position=12.3456)
    state = queue.export_state("paused")
    assert state["index"] == 1 and state["position"] == 12.346 and state["state"] == "paused"
    state["items"].append({"title": "no path"})
    args = PlayQueue.restore_args(state)
    assert args["items"] == items(2) and args["index"] == 1 and args["position"] == 12.346
    assert PlayQueue.restore_args({"index": "x", "position": None}) == {"items": [], "index": 0, "position": 0.0}
