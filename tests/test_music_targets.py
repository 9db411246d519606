"""The room -> target map: a named target for every face emotion x policy, iso-principle ramps, the reasons."""
from __future__ import annotations

from pathlib import Path

import pytest

from moodbox.config import RecommendConfig
from moodbox.music import History, LibraryIndex, Recommender, describe_target, target_name
from moodbox.music.moods import MOOD_POINTS, NEUTRAL_POINT
from moodbox.music.targets import CALM_GOAL, HOLD_TRACKS, LIFT_GOAL, POLICIES, ROOM_TARGETS, plan, room_point
from moodbox.readings import EMOTIONS, MoodState
from test_music_recommend import add_tracks


def test_every_room_and_policy_has_a_named_target() -> None:
    assert set(ROOM_TARGETS) == set(EMOTIONS)
    for emotion in EMOTIONS:
        for policy in POLICIES:
            assert describe_target(emotion, policy)
    assert describe_target("angry", "match") == describe_target("fear", "match") == "tense"
    assert describe_target("sad", "lift") == "from sad to uplifting"
    assert describe_target("angry", "calm") == "from tense to calm"


def test_a_neutral_room_is_not_sad() -> None:
    assert target_name(*NEUTRAL_POINT) == "easy-going" == describe_target("neutral", "match")
    steps = plan(MoodState.from_emotion("neutral"), "match", 3)
    assert {s.name for s in steps} == {"easy-going"}
    # tagged happy and sad tracks lie equally far from the neutral target: neither side is preferred
    point = ROOM_TARGETS["neutral"].point
    happy, sad = MOOD_POINTS["happy"], MOOD_POINTS["sad"]
    assert abs(happy[0] - point[0]) + abs(happy[1] - point[1]) == pytest.approx(
        abs(sad[0] - point[0]) + abs(sad[1] - point[1]))


def test_tense_rooms_aim_at_low_valence_high_energy() -> None:
    for emotion in ("angry", "fear"):
        valence, energy = ROOM_TARGETS[emotion].point
        assert valence <= 0.2 and energy >= 0.8
        assert target_name(valence, energy) == "tense"


def test_calm_leads_a_tense_room_down_step_by_step() -> None:
    steps = plan(MoodState.from_emotion("angry"), "calm", 40)
    energies = [s.point[1] for s in steps]
    ramp = 10  # a quarter of the queue
    assert all(s.point == ROOM_TARGETS["angry"].point and s.name == "tense" for s in steps[:HOLD_TRACKS])
    assert all(b <= a for a, b in zip(energies, energies[1:]))
    assert len({round(e, 6) for e in energies[HOLD_TRACKS - 1:ramp + 1]}) == ramp - HOLD_TRACKS + 2  # a step a track
    assert steps[ramp - 1].point != CALM_GOAL.point and steps[ramp].point == CALM_GOAL.point
    assert steps[-1].name == "calm" and steps[0].note == f"step 1/{ramp + 1}"
    short = plan(MoodState.from_emotion("angry"), "calm", 5)
    assert short[-1].point == CALM_GOAL.point  # a short queue still arrives


def test_lift_rises_from_the_room() -> None:
    steps = plan(MoodState.from_emotion("sad"), "lift", 12)
    valences = [s.point[0] for s in steps]
    assert steps[0].name == "sad" and steps[-1].point == LIFT_GOAL.point and steps[-1].name == "uplifting"
    assert all(b >= a for a, b in zip(valences, valences[1:]))


def test_mixed_room_point_weights_the_emotions() -> None:
    mood = MoodState("happy", 0.6, {**{e: 0.0 for e in EMOTIONS}, "happy": 0.5, "angry": 0.5}, 0.1, 0.6, 1)
    valence, energy = room_point(mood)
    assert valence == pytest.approx((ROOM_TARGETS["happy"].point[0] + ROOM_TARGETS["angry"].point[0]) / 2)
    with pytest.raises(ValueError):
        plan(mood, "louder", 3)


def test_reasons_name_the_target(tmp_path: Path) -> None:
    with LibraryIndex(tmp_path / "library.db") as index, History(tmp_path / "history.db") as history:
        add_tracks(index, [{"mood": m, "artist": f"{m} {n}"} for m in MOOD_POINTS for n in range(8)])
        rec = Recommender(index, history, RecommendConfig(era_share=0.0, artist_gap=2, repeat_window=5))
        neutral = rec.recommend(MoodState.from_emotion("neutral"), count=6, seed=0)
        assert all(e.reason.startswith("for an easy-going room: ") for e in neutral)
        assert {e.track.mood for e in neutral} >= {"happy", "sad"}  # neither side wins outright
        angry = rec.recommend(MoodState.from_emotion("angry"), count=10, policy="calm", seed=0)
        assert angry[0].reason.startswith("calming the room (step 1 of 7): tense music: a tense song (its own mood tag)")
        assert angry[-1].track.mood == "calm" and "calm music: a calm song" in angry[-1].reason
