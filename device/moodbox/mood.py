"""Turn a burst of frames' face readings into the room's mood.

Pure functions and one small class, no I/O:
- every face counts with weight = detector score x face size (sqrt of the box area),
- the burst's emotion probabilities are the weighted mean over all frames and faces,
- confidence = top probability x share of frames (with faces) whose own top emotion agrees,
- below `confidence_threshold` the mood stays as it was,
- hysteresis: a different emotion wins only if it beats the current one by `hysteresis`,
- one age per distinct face: faces are matched across frames by box overlap, median age per face.
"""
from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, replace
from typing import Sequence

from moodbox.config import MoodConfig
from moodbox.readings import EMOTIONS, FaceReading, MoodState, age_group, valence_arousal

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]

# Two boxes in different frames are the same face when they overlap at least this much (IoU).
SAME_FACE_IOU = 0.3


@dataclass(frozen=True)
class BurstSummary:
    """What one burst saw, before the current mood is taken into account."""

    probs: dict[str, float]  # weighted mean over frames and faces, all of EMOTIONS, sums to 1
    confidence: float  # 0..1
    faces: int  # distinct faces
    ages: tuple[float, ...]  # one median age per distinct face
    frames: int  # frames in the burst
    frames_with_faces: int
    agreement: float  # share of frames with faces whose top emotion is the burst's top emotion

    @property
    def top(self) -> str:
        return max(EMOTIONS, key=lambda e: self.probs[e])


@dataclass(frozen=True)
class MoodUpdate:
    """The mood after a burst, whether the emotion changed, and why (for the log)."""

    mood: MoodState
    changed: bool
    reason: str
    summary: BurstSummary


def face_weight(face: FaceReading) -> float:
    """Big, sure faces count more: detector score x linear size of the box."""
    _, _, w, h = face.box
    return max(face.score, 0.0) * max(w * h, 0) ** 0.5


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def cluster_faces(frames: Sequence[Sequence[FaceReading]], min_iou: float = SAME_FACE_IOU) -> list[list[FaceReading]]:
    """Group faces across frames: each face joins the best-overlapping face group of the frames before
    (at most one face per group per frame), or starts a new group."""
    groups: list[list[FaceReading]] = []
    for faces in frames:
        taken: set[int] = set()
        # Big faces pick first, so a small face next to a big one does not steal its group.
        for face in sorted(faces, key=face_weight, reverse=True):
            best, best_iou = -1, min_iou
            for index, group in enumerate(groups):
                if index in taken:
                    continue
                overlap = iou(face.box, group[-1].box)
                if overlap >= best_iou:
                    best, best_iou = index, overlap
            if best < 0:
                groups.append([face])
                taken.add(len(groups) - 1)
            else:
                groups[best].append(face)
                taken.add(best)
    return groups


def _weighted_probs(faces: Sequence[FaceReading]) -> dict[str, float] | None:
    """Weighted mean emotion probabilities of some faces (None when they weigh nothing)."""
    sums = dict.fromkeys(EMOTIONS, 0.0)
    total = 0.0
    for face in faces:
        weight = face_weight(face)
        if weight <= 0:
            continue
        face_total = sum(max(face.emotion.get(e, 0.0), 0.0) for e in EMOTIONS)
        if face_total <= 0:
            continue
        for emotion in EMOTIONS:
            sums[emotion] += weight * max(face.emotion.get(emotion, 0.0), 0.0) / face_total
        total += weight
    if total <= 0:
        return None
    return {e: sums[e] / total for e in EMOTIONS}


def summarize(frames: Sequence[Sequence[FaceReading]]) -> BurstSummary | None:
    """Summarize a burst (one list of faces per frame); None when no frame held a usable face."""
    all_faces = [face for faces in frames for face in faces]
    probs = _weighted_probs(all_faces)
    if probs is None:
        return None
    top = max(EMOTIONS, key=lambda e: probs[e])
    frame_tops = []
    for faces in frames:
        frame_probs = _weighted_probs(faces)
        if frame_probs is not None:
            frame_tops.append(max(EMOTIONS, key=lambda e: frame_probs[e]))
    agreement = sum(1 for t in frame_tops if t == top) / len(frame_tops)
    groups = cluster_faces(frames)
    ages = tuple(float(statistics.median(f.age_years for f in group)) for group in groups)
    return BurstSummary(
        probs=probs,
        confidence=probs[top] * agreement,
        faces=len(groups),
        ages=ages,
        frames=len(frames),
        frames_with_faces=len(frame_tops),
        agreement=agreement,
    )


class MoodAggregator:
    """Applies a burst to the current mood with a confidence threshold and hysteresis."""

    def __init__(self, confidence_threshold: float = 0.4, hysteresis: float = 0.15) -> None:
        self.confidence_threshold = confidence_threshold
        self.hysteresis = hysteresis

    @classmethod
    def from_config(cls, config: MoodConfig) -> MoodAggregator:
        return cls(config.confidence_threshold, config.hysteresis)

    def update(self, current: MoodState, frames: Sequence[Sequence[FaceReading]], now: float = 0.0) -> MoodUpdate:
        """The mood after a burst of frames (each a list of FaceReadings) given the current mood."""
        summary = summarize(frames)
        if summary is None:
            empty = BurstSummary(dict(current.probs), 0.0, 0, (), len(frames), 0, 0.0)
            kept = replace(current, faces=0, ages=(), timestamp=now, extra={"frames": float(len(frames))})
            return MoodUpdate(kept, False, "no faces seen", empty)

        extra = {
            "reading_confidence": round(summary.confidence, 4),
            "agreement": round(summary.agreement, 4),
            "frames": float(summary.frames),
            "frames_with_faces": float(summary.frames_with_faces),
        }
        # Whatever happens to the emotion, who is in the room is new information.
        kept = replace(current, faces=summary.faces, ages=summary.ages, timestamp=now, extra=extra)
        top = summary.top
        if summary.confidence < self.confidence_threshold:
            reason = f"low confidence: {top} {summary.confidence:.2f} < {self.confidence_threshold:.2f}"
            return MoodUpdate(kept, False, reason, summary)

        new_mood = MoodState(
            emotion=top,
            confidence=summary.confidence,
            probs=summary.probs,
            valence=valence_arousal(summary.probs)[0],
            arousal=valence_arousal(summary.probs)[1],
            faces=summary.faces,
            ages=summary.ages,
            source="camera",
            timestamp=now,
            extra=extra,
        )
        if top == current.emotion:
            return MoodUpdate(new_mood, False, f"same emotion: {top} {summary.confidence:.2f}", summary)
        margin = summary.probs[top] - summary.probs.get(current.emotion, 0.0)
        if margin < self.hysteresis:
            reason = (f"hysteresis: {top} beats {current.emotion} by {margin:.2f} < {self.hysteresis:.2f}")
            return MoodUpdate(kept, False, reason, summary)
        return MoodUpdate(new_mood, True, f"changed: {current.emotion} -> {top} {summary.confidence:.2f}", summary)


def describe_reading(update: MoodUpdate, before: str, threshold: float, hysteresis: float) -> dict[str, object]:
    """The last reading as it was and what the box did with it, in words a person reads on the page."""
    summary = update.summary
    top = summary.top if summary.faces else None
    percent = round(100 * summary.confidence)
    if not summary.faces:
        outcome, words = "no_faces", f"no faces seen: keeping {update.mood.emotion}"
    elif summary.confidence < threshold:
        outcome = "unsure"
        words = f"{top} {percent} %: not sure enough (needs {round(100 * threshold)} %), keeping {before}"
    elif update.changed:
        outcome, words = "changed", f"{top} {percent} %: the room is now {top} (was {before})"
    elif top == before:
        outcome, words = "same", f"{top} {percent} %: still {before}"
    else:
        margin = summary.probs[top] - summary.probs.get(before, 0.0)
        outcome = "close"
        words = (f"{top} {percent} %: not clearly ahead of {before} ({round(100 * margin)} points, "
                 f"needs {round(100 * hysteresis)}), keeping {before}")
    return {
        "at": round(update.mood.timestamp, 3), "frames": summary.frames, "faces": summary.faces,
        "age_groups": sorted({age_group(a) for a in summary.ages}),
        "emotion": top, "confidence": round(summary.confidence, 3),
        "probs": {e: round(summary.probs.get(e, 0.0), 3) for e in EMOTIONS} if summary.faces else {},
        "threshold": threshold, "outcome": outcome, "decision": words,
    }
