"""The web page and REST API: a thin adapter on the core's commands and state stream (Starlette on uvicorn)."""
from moodbox.web.server import WebAdapter

__all__ = ["WebAdapter"]
