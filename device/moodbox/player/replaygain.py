"""Loudness normalisation: audio.replaygain* -> mpv arguments."""
from __future__ import annotations

from moodbox.config import AudioConfig


def replaygain_args(config: AudioConfig) -> list[str]:
    """mpv arguments for audio.replaygain*: normalise loudness from the files' ReplayGain tags."""
    if config.replaygain == "off":
        return ["--replaygain=no"]  # and no fallback gain: mpv applies that even with replaygain=no
    return [
        f"--replaygain={config.replaygain}",
        f"--replaygain-preamp={config.replaygain_preamp_db:g}",
        f"--replaygain-fallback={config.replaygain_fallback_db:g}",
        # "no" lowers a gain that would clip the tagged peak (mpv's default; its manual up to 0.37
        # had this backwards, see mpv issue #13111), so it is spelled out here.
        "--replaygain-clip=no",
    ]
