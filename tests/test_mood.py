"""MoodAggregator: weighting, confidence, threshold, hysteresis, faces and ages."""
from __future__ import annotations

import pytest

from moodbox.config import MoodConfig
from moodbox.mood import MoodAggregator, cluster_faces, describe_reading, iou, summarize
from moodbox.readings import EMOTIONS, FaceReading, MoodState, valence_arousal


def probs(**values: float) -> dict[str, float]:
    """A full probability dict: the given emotions, the rest shared evenly so it sums to 1."""
    rest = (1.0 - sum(values.values())) / (len(EMOTIONS) - len(values))
    return {e: values.get(e, rest) for e in EMOTIONS}


def face(x: int, y: int, size: int, emotion: dict[str, float], age: float = 30.0, score: float = 0.9) -> FaceReading:
    return FaceReading(box=(x, y, size, size), score=score, emotion=emotion, age_years=age)


NEUTRAL = MoodState.from_emotion("neutral", source="default")


def test_iou_of_same_disjoint_and_half_overlapping_boxes() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (20, 20, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_weighted_mean_favours_big_sure_faces() -> None:
    big_happy = face(0, 0, 160, probs(happy=0.9))
    small_sad = face(300, 0, 40, probs(sad=0.9))
    summary = summarize([[big_happy, small_sad]])
    assert summary is not None
    # sqrt-area weights 160 vs 40 -> happy = (160*0.9 + 40*rest) / 200
    rest = 0.1 / 6
    assert summary.probs["happy"] == pytest.approx((160 * 0.9 + 40 * rest) / 200)
    assert summary.top == "happy"
    assert sum(summary.probs.values()) == pytest.approx(1.0)
    # A low detector score weighs the face down: the same faces, sad one far surer.
    summary2 = summarize([[face(0, 0, 160, probs(happy=0.9), score=0.05), face(300, 0, 40, probs(sad=0.9), score=1.0)]])
    assert summary2 is not None and summary2.top == "sad"


def test_confidence_scaled_by_frame_agreement() -> None:
    happy, sad = probs(happy=0.8), probs(sad=0.7)
    agreeing = summarize([[face(0, 0, 100, happy)]] * 4)
    split = summarize([[face(0, 0, 100, happy)]] * 3 + [[face(0, 0, 100, sad)]])
    assert agreeing is not None and split is not None
    assert agreeing.confidence == pytest.approx(0.8)
    assert split.agreement == pytest.approx(0.75)
    assert split.confidence == pytest.approx(split.probs["happy"] * 0.75)


def test_change_above_threshold_and_hysteresis() -> None:
    aggregator = MoodAggregator(confidence_threshold=0.4, hysteresis=0.15)
    update = aggregator.update(NEUTRAL, [[face(0, 0, 100, probs(happy=0.7), age=8)]] * 3, now=12.0)
    assert update.changed
    mood = update.mood
    assert mood.emotion == "happy" and mood.source == "camera" and mood.timestamp == 12.0
    assert mood.confidence == pytest.approx(0.7)
    assert (mood.valence, mood.arousal) == pytest.approx(valence_arousal(mood.probs))
    assert mood.faces == 1 and mood.ages == (8.0,) and mood.age_groups == ("child",)


def test_low_confidence_keeps_the_mood() -> None:
    aggregator = MoodAggregator(confidence_threshold=0.6, hysteresis=0.0)
    update = aggregator.update(NEUTRAL, [[face(0, 0, 100, probs(angry=0.5))]] * 2, now=5.0)
    assert not update.changed
    assert update.mood.emotion == "neutral"
    assert update.mood.probs == NEUTRAL.probs
    assert "low confidence" in update.reason
    # who is there is still news
    assert update.mood.faces == 1 and update.mood.timestamp == 5.0


def test_hysteresis_blocks_a_close_call_and_allows_a_clear_one() -> None:
    current = MoodState.from_emotion("sad", source="camera")
    aggregator = MoodAggregator(confidence_threshold=0.2, hysteresis=0.15)
    close = {**dict.fromkeys(EMOTIONS, 0.0), "happy": 0.5, "sad": 0.4, "neutral": 0.1}
    update = aggregator.update(current, [[face(0, 0, 100, close)]])
    assert not update.changed and update.mood.emotion == "sad"
    assert "hysteresis" in update.reason
    clear = {**dict.fromkeys(EMOTIONS, 0.0), "happy": 0.6, "sad": 0.3, "neutral": 0.1}
    update = aggregator.update(current, [[face(0, 0, 100, clear)]])
    assert update.changed and update.mood.emotion == "happy"


def test_same_emotion_updates_probabilities_without_change() -> None:
    current = MoodState.from_emotion("happy", source="camera")
    update = MoodAggregator(0.3, 0.1).update(current, [[face(0, 0, 100, probs(happy=0.6))]])
    assert not update.changed
    assert update.mood.emotion == "happy"
    assert update.mood.confidence == pytest.approx(0.6)


def test_no_faces_keeps_mood_with_zero_faces() -> None:
    current = MoodState.from_emotion("surprise", source="camera", ages=(30.0, 40.0))
    update = MoodAggregator().update(current, [[], [], []], now=3.0)
    assert not update.changed
    assert update.mood.emotion == "surprise" and update.mood.confidence == current.confidence
    assert update.mood.faces == 0 and update.mood.ages == ()
    assert update.reason == "no faces seen"
    assert MoodAggregator().update(current, []).mood.faces == 0


def test_one_age_per_distinct_face_across_frames() -> None:
    p = probs(neutral=0.6)
    frames = [
        [face(10, 10, 100, p, age=31), face(400, 20, 80, p, age=70)],
        [face(14, 12, 100, p, age=35), face(405, 22, 80, p, age=66)],
        [face(18, 14, 100, p, age=29)],  # the second person looked away
        [face(20, 16, 100, p, age=33), face(408, 25, 80, p, age=68), face(250, 300, 60, p, age=9)],
    ]
    groups = cluster_faces(frames)
    assert len(groups) == 3
    summary = summarize(frames)
    assert summary is not None
    assert summary.faces == 3
    assert sorted(summary.ages) == [9.0, 32.0, 68.0]


def test_faces_in_one_frame_never_merge() -> None:
    p = probs(happy=0.6)
    # two heavily overlapping faces in the same frame are two people
    groups = cluster_faces([[face(0, 0, 100, p), face(10, 10, 100, p)]])
    assert len(groups) == 2


def test_from_config_takes_both_settings() -> None:
    aggregator = MoodAggregator.from_config(MoodConfig(confidence_threshold=0.55, hysteresis=0.05))
    assert (aggregator.confidence_threshold, aggregator.hysteresis) == (0.55, 0.05)


def test_each_reading_is_described_in_words_with_what_the_box_did() -> None:
    aggregator = MoodAggregator(confidence_threshold=0.4, hysteresis=0.15)
    sad = MoodState.from_emotion("sad", source="camera")
    two_faces = [[face(0, 0, 100, probs(happy=0.32), age=15), face(300, 0, 100, probs(happy=0.32), age=25)]] * 3
    cases = [
        (NEUTRAL, two_faces, "unsure", "happy 32 %: not sure enough (needs 40 %), keeping neutral"),
        (NEUTRAL, [[]] * 3, "no_faces", "no faces seen: keeping neutral"),
        (NEUTRAL, [[face(0, 0, 100, probs(happy=0.7))]], "changed", "happy 70 %: the room is now happy (was neutral)"),
        (sad, [[face(0, 0, 100, probs(sad=0.6))]], "same", "sad 60 %: still sad"),
        (sad, [[face(0, 0, 100, {**dict.fromkeys(EMOTIONS, 0.0), "happy": 0.5, "sad": 0.4, "neutral": 0.1})]],
         "close", "happy 50 %: not clearly ahead of sad (10 points, needs 15), keeping sad"),
    ]
    for current, frames, outcome, words in cases:
        update = aggregator.update(current, frames, now=9.0)
        reading = describe_reading(update, current.emotion, 0.4, 0.15)
        assert (reading["outcome"], reading["decision"]) == (outcome, words)
    reading = describe_reading(aggregator.update(NEUTRAL, two_faces, now=9.0), "neutral", 0.4, 0.15)
    assert reading["faces"] == 2 and reading["age_groups"] == ["teen", "young_adult"] and reading["emotion"] == "happy"
    assert reading["probs"]["happy"] == pytest.approx(0.32, abs=0.01) and reading["at"] == 9.0
