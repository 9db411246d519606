"""The room -> target map: where in track space (valence, energy; 0..1) a queue aims, per face emotion and policy.

Track space is the listener scale of music/listener.py: 0.5 is a typical track, 0.9 one listeners rate
above nine in ten. Reasons and sources: docs/music-moods.md ("Room to target").
  match: the room's own place on Russell's circumplex (Russell 1980; readings.EMOTION_VALENCE_AROUSAL),
         as music of that feel: an angry or fearful room gets tense music, a neutral room a typical track;
  lift:  the iso principle (Altshuler 1948; Heiderscheit & Madson 2015): start where the room is, then
         step to uplifting music (positive, moderately energetic);
  calm:  the iso principle toward low energy: start where the room is, then step down to calm music.
Each target has a name a listener would use ("tense", "easy-going"); target_name() names any point.
"""
from __future__ import annotations

from dataclasses import dataclass

from moodbox.readings import EMOTIONS, MoodState

Point = tuple[float, float]


@dataclass(frozen=True)
class Target:
    name: str
    point: Point  # (valence, energy), 0..1


ROOM_TARGETS: dict[str, Target] = {
    "angry": Target("tense", (0.10, 0.85)),
    "disgust": Target("dark", (0.15, 0.60)),
    "fear": Target("tense", (0.10, 0.80)),
    "happy": Target("happy", (0.85, 0.70)),
    "neutral": Target("easy-going", (0.50, 0.50)),
    "sad": Target("sad", (0.05, 0.30)),
    "surprise": Target("excited", (0.70, 0.90)),
}
LIFT_GOAL = Target("uplifting", (0.85, 0.65))
CALM_GOAL = Target("calm", (0.50, 0.0))
POLICIES: tuple[str, ...] = ("match", "lift", "calm")
HOLD_TRACKS = 2  # lift and calm first meet the room for this many tracks (iso principle) ...
RAMP_SHARE = 0.25  # ... then step to the goal, reached after a quarter of the queue ...
MIN_RAMP = 6  # ... or after this many tracks, where the queue is long enough
NAMED: tuple[Target, ...] = (*ROOM_TARGETS.values(), LIFT_GOAL, CALM_GOAL)


@dataclass(frozen=True)
class Step:
    point: Point
    name: str  # target_name(point)
    note: str  # "step 3/9" for lift and calm, "" for match


def target_name(valence: float, energy: float) -> str:
    """The name of the nearest named target: what a listener would call music at this point."""
    return min(NAMED, key=lambda t: (t.point[0] - valence) ** 2 + (t.point[1] - energy) ** 2).name


def room_point(mood: MoodState) -> Point:
    """The room's target under match: the emotions' targets weighted by the mood's probabilities."""
    total = sum(mood.probs.get(e, 0.0) for e in EMOTIONS)
    if total <= 0:
        return ROOM_TARGETS.get(mood.emotion, ROOM_TARGETS["neutral"]).point
    valence = sum(mood.probs.get(e, 0.0) * ROOM_TARGETS[e].point[0] for e in EMOTIONS) / total
    energy = sum(mood.probs.get(e, 0.0) * ROOM_TARGETS[e].point[1] for e in EMOTIONS) / total
    return valence, energy


def plan(mood: MoodState, policy: str, count: int) -> list[Step]:
    """The target of each queue position."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; one of {', '.join(POLICIES)}")
    start = room_point(mood)
    if policy == "match":
        return [Step(start, target_name(*start), "")] * count
    goal = (LIFT_GOAL if policy == "lift" else CALM_GOAL).point
    ramp = max(1, round(count * RAMP_SHARE), min(MIN_RAMP, count - 1))
    hold = max(1, min(HOLD_TRACKS, ramp - 1))
    steps = []
    for slot in range(count):
        share = min(1.0, max(0, slot - hold + 1) / (ramp - hold + 1))
        point = (start[0] + (goal[0] - start[0]) * share, start[1] + (goal[1] - start[1]) * share)
        steps.append(Step(point, target_name(*point), f"step {min(slot, ramp) + 1}/{ramp + 1}"))
    return steps


def describe(emotion: str, policy: str) -> str:
    """What a queue for a room aims at, in words: "tense", "from sad to uplifting"."""
    start = ROOM_TARGETS[emotion].name
    if policy == "match":
        return start
    goal = LIFT_GOAL.name if policy == "lift" else CALM_GOAL.name
    return goal if start == goal else f"from {start} to {goal}"
