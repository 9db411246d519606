"""Errors raised by the perception runtime."""
from __future__ import annotations


class PerceptionError(Exception):
    """Base class of everything perception raises on purpose."""


class ModelError(PerceptionError):
    """A model or the manifest is missing, damaged or does not match what the manifest says."""


class FrameError(PerceptionError, ValueError):
    """A frame handed to perception is not a uint8 BGR image."""
