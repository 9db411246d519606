"""The web page and REST API: a thin adapter on the core's commands and state stream (Flask + waitress)."""
from moodbox.web.server import WebAdapter

__all__ = ["WebAdapter"]
