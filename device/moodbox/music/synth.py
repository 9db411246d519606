"""Synthetic music for the demo library, the tests and the benchmark: numpy tones -> an audio file.

A piece's mood comes from tempo, mode, timbre and consonance: major + fast = happy/energetic,
minor + slow = sad, soft + slow = calm, dissonant + fast = tense.
"""
from __future__ import annotations

import importlib.util
import logging
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050


class EncodeError(Exception):
    """The audio file could not be written (no encoder for the format, or the encoder failed)."""


@dataclass(frozen=True)
class Style:
    bpm: float
    minor: bool = False
    timbre: str = "soft"  # soft (sine) | bright (few harmonics) | harsh (many harmonics, square-like)
    dissonant: bool = False
    drums: bool = False
    loudness: float = 0.5  # peak level 0..1
    root_hz: float = 220.0


# Semitone offsets of the chord roots: I-V-vi-IV (major) or i-VI-III-VII (minor).
PROGRESSIONS = {False: (0, 7, 9, 5), True: (0, 8, 3, 10)}


def render(style: Style, seconds: float, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """Mono float32 samples in -1..1: an arpeggiated chord progression with bass (and drums)."""
    rng = np.random.default_rng(seed)
    total = int(seconds * sample_rate)
    out = np.zeros(total, dtype=np.float32)
    beat = 60.0 / style.bpm
    note_len = beat / 2  # eighth notes
    third = 3 if style.minor else 4
    chord_shape = (0, 6, 10, 13) if style.dissonant else (0, third, 7, 12)
    progression = PROGRESSIONS[style.minor]
    n_notes = int(seconds / note_len)
    for n in range(n_notes):
        bar = int(n * note_len / (4 * beat))
        root = progression[bar % len(progression)]
        step = chord_shape[rng.integers(len(chord_shape))] if style.dissonant else chord_shape[n % len(chord_shape)]
        freq = style.root_hz * 2 ** ((root + step) / 12)
        _add(out, _tone(freq, note_len * 1.5, sample_rate, style.timbre), int(n * note_len * sample_rate), 0.35)
        if n % 2 == 0:  # bass on every beat
            bass = style.root_hz / 2 * 2 ** (root / 12)
            _add(out, _tone(bass, beat, sample_rate, "soft"), int(n * note_len * sample_rate), 0.5)
        if style.drums and n % 2 == 0:
            _add(out, _click(rng, sample_rate, loud=(n % 4 == 0)), int(n * note_len * sample_rate), 0.4)
    fade = min(total // 4, int(1.5 * sample_rate))
    if fade:
        out[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
        out[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    peak = float(np.max(np.abs(out))) or 1.0
    return (out / peak * style.loudness).astype(np.float32)


def _tone(freq: float, seconds: float, sample_rate: int, timbre: str) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate), dtype=np.float32) / sample_rate
    harmonics = {"soft": (1.0,), "bright": (1.0, 0.5, 0.25), "harsh": (1.0, 0.0, 0.33, 0.0, 0.2, 0.0, 0.14)}[timbre]
    wave_ = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics) if a)
    attack = np.minimum(1.0, t / 0.01)
    decay = np.exp(-t * (3.0 if timbre == "soft" else 5.0))
    return (wave_ * attack * decay).astype(np.float32)


def _click(rng: np.random.Generator, sample_rate: int, loud: bool) -> np.ndarray:
    length = int(0.08 * sample_rate)
    noise = rng.uniform(-1, 1, length).astype(np.float32)
    return noise * np.exp(-np.arange(length, dtype=np.float32) / (0.015 * sample_rate)) * (1.0 if loud else 0.5)


def _add(out: np.ndarray, sound: np.ndarray, start: int, gain: float) -> None:
    end = min(len(out), start + len(sound))
    if start < end:
        out[start:end] += gain * sound[: end - start]


def write_audio(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, bitrate: str = "48k") -> Path:
    """Write mono samples; the format follows the suffix (.wav .flac .ogg .opus .mp3 .m4a .aac)."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".wav":
        _write_wav(path, samples, sample_rate)
        return path
    if shutil.which("ffmpeg"):
        _ffmpeg(path, samples, sample_rate, bitrate)
        return path
    if suffix in (".flac", ".ogg", ".mp3"):
        try:
            import soundfile
        except ImportError:
            raise EncodeError(f"cannot write {suffix}: neither ffmpeg nor the soundfile package is installed") from None
        fmt = {".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}[suffix]
        soundfile.write(str(path), samples, sample_rate, format=fmt)
        return path
    raise EncodeError(f"cannot write {suffix}: ffmpeg is not installed")


def can_write(suffix: str) -> bool:
    if suffix == ".wav" or shutil.which("ffmpeg"):
        return True
    return suffix in (".flac", ".ogg", ".mp3") and importlib.util.find_spec("soundfile") is not None


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


FFMPEG_CODECS = {".mp3": ["-c:a", "libmp3lame"], ".ogg": ["-c:a", "libvorbis"], ".opus": ["-c:a", "libopus"],
                 ".m4a": ["-c:a", "aac"], ".aac": ["-c:a", "aac"], ".flac": ["-c:a", "flac"]}


def _ffmpeg(path: Path, samples: np.ndarray, sample_rate: int, bitrate: str) -> None:
    suffix = path.suffix.lower()
    if suffix not in FFMPEG_CODECS:
        raise EncodeError(f"cannot write {suffix}: unknown format")
    codec = FFMPEG_CODECS[suffix]
    rate_args = [] if suffix == ".flac" else ["-b:a", bitrate]
    out_rate = "24000" if suffix == ".opus" else str(sample_rate)  # opus wants 8/12/16/24/48 kHz
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    # Written beside under a hidden name and renamed, so a half-written file never appears in a library.
    part = path.with_name(f".{path.name}.part{path.suffix}")
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "s16le", "-ar", str(sample_rate), "-ac", "1",
               "-i", "pipe:0", *codec, *rate_args, "-ar", out_rate, str(part)]
    result = subprocess.run(command, input=pcm, capture_output=True, timeout=120)
    if result.returncode != 0:
        part.unlink(missing_ok=True)
        raise EncodeError(f"ffmpeg failed for {path.name}: {result.stderr.decode(errors='replace').strip()[-300:]}")
    part.replace(path)
