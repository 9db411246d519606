"""moodbox: music that fits the mood and age of the people in the room."""

__version__ = "0.1.0"
