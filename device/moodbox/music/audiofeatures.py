"""Audio features of a short excerpt, for tracks that no tag, moods.csv, folder or prior describes.

ffmpeg decodes a mono excerpt (EXCERPT_S seconds from 30 % into the track, 22050 Hz, s16le on a pipe);
numpy alone measures it:
  loudness_db   K-weighted, gated mean loudness of the excerpt (the BS.1770 recipe on 400 ms blocks,
                done in the frequency domain): close to LUFS, but of 30 s, not the whole track, and not a
                certified meter.
  crest_db      peak over RMS (dynamics); loudness_range_db: spread (95th - 10th percentile) of block loudness.
  onset_rate    spectral-flux peaks per second.
  tempo         BPM from the autocorrelation of the onset envelope, 60-200, leaning to 120 (octave errors:
                a 70 BPM ballad may read 140).
  centroid_hz, rolloff_hz  brightness (magnitude-weighted spectral centroid, 85 % power rolloff).
  major, key_strength      major/minor from a chroma key profile (Krumhansl-Kessler); strength = how much
                           better the best key fits than the best key of the other mode (0..~1).
  energy        0..1 by a hand-set formula (no labelled audio here to learn it from), see energy_estimate().
Failures (ffmpeg missing, undecodable file, silence) raise AudioError: the caller records them.
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

RATE = 22050
EXCERPT_S = 30.0
START_SHARE = 0.3  # where the excerpt starts, as a share of the track's duration
FRAME, HOP = 2048, 512
DECODE_TIMEOUT_S = 30.0
SILENCE_DB = -60.0
ONSET_FLOOR = 10.0  # least spectral flux of an onset (sum over bins of the rise in log(1 + 100 x magnitude))  # quieter than this throughout: nothing to measure

_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


class AudioError(Exception):
    """This file gives no audio features (the message says why)."""


@dataclass(frozen=True)
class AudioFeatures:
    loudness_db: float
    crest_db: float
    loudness_range_db: float
    onset_rate: float
    tempo: float
    centroid_hz: float
    rolloff_hz: float
    major: bool
    key: str
    key_strength: float
    energy: float
    seconds: float  # length of the excerpt analysed

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def model_values(self) -> dict[str, float]:
        """The features the mood model's "audio" set reads, in Spotify's units."""
        values = model_values(self.as_dict())
        assert values is not None
        return values


def model_values(features: Mapping[str, Any]) -> dict[str, float] | None:
    """The mood model's audio inputs from stored features (AudioFeatures.as_dict()); None if incomplete."""
    try:
        return {"loudness": float(features["loudness_db"]), "tempo": float(features["tempo"]),
                "energy": float(features["energy"])}
    except (KeyError, TypeError, ValueError):
        return None


def decode_excerpt(path: Path, duration_s: float = 0.0, seconds: float = EXCERPT_S) -> np.ndarray:
    """Mono float samples (-1..1) of an excerpt starting START_SHARE into the track."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError("ffmpeg not installed")
    start = START_SHARE * duration_s if duration_s > seconds + 5 else 0.0
    samples = _ffmpeg(ffmpeg, path, start, seconds)
    if samples.size < RATE and start > 0:  # the duration tag was wrong: read from the start
        samples = _ffmpeg(ffmpeg, path, 0.0, seconds)
    if samples.size < RATE:
        raise AudioError(f"only {samples.size / RATE:.1f} s of audio decoded")
    return samples


def _ffmpeg(ffmpeg: str, path: Path, start: float, seconds: float) -> np.ndarray:
    command = [ffmpeg, "-nostdin", "-v", "error", "-ss", f"{start:.2f}", "-t", f"{seconds:.2f}", "-i", str(path),
               "-vn", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"]
    try:
        result = subprocess.run(command, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AudioError(f"ffmpeg took more than {DECODE_TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise AudioError(f"cannot run ffmpeg: {exc}") from exc
    if result.returncode != 0 and not result.stdout:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioError(f"ffmpeg cannot decode it: {message[-1] if message else 'exit ' + str(result.returncode)}")
    data = result.stdout[: len(result.stdout) // 2 * 2]
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def analyse_file(path: Path, duration_s: float = 0.0) -> AudioFeatures:
    return analyse(decode_excerpt(path, duration_s))


def analyse(samples: np.ndarray, rate: int = RATE) -> AudioFeatures:
    """All features of mono samples at `rate` (22050 Hz expected: frame and hop are in samples)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size < FRAME * 4:
        raise AudioError("excerpt too short")
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1))  # frames x bins
    freqs = np.fft.rfftfreq(FRAME, 1.0 / rate)
    power = spectrum ** 2

    loudness, loudness_range = _loudness(power, freqs, rate)
    if loudness < SILENCE_DB:
        raise AudioError(f"silent excerpt ({loudness:.0f} dB)")
    rms = float(np.sqrt(np.mean(x ** 2)))
    crest = 20 * np.log10(max(float(np.max(np.abs(x))), 1e-9) / max(rms, 1e-9))

    envelope = _onset_envelope(spectrum)
    fps = rate / HOP
    onset_rate = _count_peaks(envelope, fps) / (x.size / rate)
    tempo = _tempo(envelope, fps)

    frame_power = power.sum(axis=1)
    loud = frame_power > frame_power.max() * 1e-4  # brightness of the audible frames only
    magnitude = spectrum[loud]
    centroid = float(np.mean((magnitude @ freqs) / np.maximum(magnitude.sum(axis=1), 1e-12)))  # magnitude-weighted
    cumulative = np.cumsum(power[loud], axis=1)
    rolloff = float(np.mean(freqs[np.argmax(cumulative >= 0.85 * cumulative[:, -1:], axis=1)]))

    major, key, strength = _key(power, freqs)
    energy = energy_estimate(loudness, onset_rate, centroid, loudness_range)
    return AudioFeatures(round(loudness, 2), round(float(crest), 2), round(loudness_range, 2), round(onset_rate, 3),
                         round(tempo, 1), round(centroid, 1), round(rolloff, 1), major, key, round(strength, 3),
                         round(energy, 3), round(x.size / rate, 2))


def energy_estimate(loudness_db: float, onset_rate: float, centroid_hz: float, loudness_range_db: float) -> float:
    """Hand-set, not learned (no labelled audio): loud, dense, bright and compressed music is energetic.
    Each part is scaled to 0..1 over the range seen in ordinary music:
      loudness  -30 dB -> 0, -6 dB -> 1       (weight 0.45)
      onsets    0.5/s -> 0, 6/s -> 1          (weight 0.30)
      centroid  800 Hz -> 0, 3500 Hz -> 1     (weight 0.15)
      range     16 dB -> 0, 4 dB -> 1         (weight 0.10; a small loudness range = dense, compressed)"""
    def part(value: float, low: float, high: float) -> float:
        return min(1.0, max(0.0, (value - low) / (high - low)))
    return (0.45 * part(loudness_db, -30, -6) + 0.30 * part(onset_rate, 0.5, 6) + 0.15 * part(centroid_hz, 800, 3500)
            + 0.10 * part(-loudness_range_db, -16, -4))


def _k_weight(freqs: np.ndarray) -> np.ndarray:
    """|H(f)|^2 of the BS.1770 K-weighting (high shelf +4 dB above ~1.5 kHz, high-pass at ~38 Hz)."""
    f = np.maximum(freqs, 1.0)
    shelf_db = 4.0 / (1 + (1500.0 / f) ** 2)  # a smooth +4 dB shelf
    highpass = (f / 38.0) ** 4 / (1 + (f / 38.0) ** 4)  # second-order high-pass, power response
    return 10 ** (shelf_db / 10) * highpass


def _loudness(power: np.ndarray, freqs: np.ndarray, rate: int) -> tuple[float, float]:
    """Gated loudness over 400 ms blocks (75 % overlap): absolute gate -70, relative gate -10; dB."""
    window_power = np.sum(np.hanning(FRAME) ** 2)
    # Parseval: mean square of a frame = sum of its one-sided power spectrum * 2 / (N * sum(w^2))
    frame_ms = (power * _k_weight(freqs)).sum(axis=1) * 2 / (FRAME * window_power)
    per_block = max(1, int(0.4 * rate / HOP))
    step = max(1, per_block // 4)
    blocks = np.array([frame_ms[i:i + per_block].mean() for i in range(0, max(1, len(frame_ms) - per_block + 1), step)])
    block_db = -0.691 + 10 * np.log10(np.maximum(blocks, 1e-12))
    kept = block_db[block_db > -70]
    if kept.size == 0:
        return -100.0, 0.0
    relative = -0.691 + 10 * np.log10(np.mean(10 ** ((kept + 0.691) / 10))) - 10
    gated = kept[kept > relative]
    loudness = -0.691 + 10 * np.log10(np.mean(10 ** ((gated + 0.691) / 10)))
    spread = float(np.percentile(gated, 95) - np.percentile(gated, 10)) if gated.size > 1 else 0.0
    return float(loudness), spread


def _onset_envelope(spectrum: np.ndarray) -> np.ndarray:
    """Spectral flux: summed rise of log magnitude from frame to frame, the slow trend removed."""
    log_mag = np.log1p(100 * spectrum / max(float(spectrum.max()), 1e-9))
    flux = np.maximum(0.0, np.diff(log_mag, axis=0)).sum(axis=1)
    flux = np.concatenate([[0.0], flux])
    trend = np.convolve(flux, np.ones(16) / 16, mode="same")
    return np.maximum(0.0, flux - trend)


def _count_peaks(envelope: np.ndarray, fps: float) -> int:
    """Local maxima above mean + std of the envelope (floored at a tenth of its maximum and at ONSET_FLOOR,
    so a steady tone's ripple counts as none), >= 50 ms apart."""
    if envelope.max() <= 0:
        return 0
    threshold = max(envelope.mean() + envelope.std(), 0.1 * envelope.max(), ONSET_FLOOR)
    gap = max(1, int(0.05 * fps))
    count, last = 0, -gap
    for i in range(1, len(envelope) - 1):
        if envelope[i] > threshold and envelope[i] >= envelope[i - 1] and envelope[i] > envelope[i + 1] \
                and i - last >= gap:
            count += 1
            last = i
    return count


def _tempo(envelope: np.ndarray, fps: float) -> float:
    """BPM of the strongest periodicity in 60-200 BPM, weighted towards 120 (log-normal, one octave wide)."""
    e = envelope - envelope.mean()
    if not np.any(e):
        return 0.0
    n = len(e)
    spectrum = np.fft.rfft(e, 2 * n)
    autocorr = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    lags = np.arange(int(fps * 60 / 200), min(n - 1, int(fps * 60 / 60)) + 1)
    if lags.size == 0:
        return 0.0
    bpm = 60 * fps / lags
    weight = np.exp(-0.5 * (np.log2(bpm / 120.0) / 1.0) ** 2)
    best = int(np.argmax(autocorr[lags] * weight))
    lag = float(lags[best])
    if 0 < best < len(lags) - 1:  # parabolic interpolation between lags
        a, b, c = autocorr[lags[best - 1]], autocorr[lags[best]], autocorr[lags[best + 1]]
        if a - 2 * b + c != 0:
            lag += 0.5 * (a - c) / (a - 2 * b + c)
    return float(60 * fps / lag)


def _key(power: np.ndarray, freqs: np.ndarray) -> tuple[bool, str, float]:
    """(major?, key name, strength) from the chroma of 65 Hz - 2 kHz against the Krumhansl-Kessler profiles."""
    band = (freqs >= 65) & (freqs <= 2000)
    pitch = np.round(12 * np.log2(freqs[band] / 440.0)).astype(int) % 12  # 0 = A
    chroma = np.zeros(12)
    np.add.at(chroma, pitch, np.sqrt(power[:, band].sum(axis=0)))
    chroma = np.roll(chroma, -3)  # 0 = C
    if not np.any(chroma):
        return True, "C", 0.0
    scores = {}
    for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
        scores[mode] = [float(np.corrcoef(chroma, np.roll(profile, k))[0, 1]) for k in range(12)]
    best_major, best_minor = max(scores["major"]), max(scores["minor"])
    major = best_major >= best_minor
    tonic = int(np.argmax(scores["major" if major else "minor"]))
    return major, KEYS[tonic] + ("" if major else "m"), abs(best_major - best_minor)
