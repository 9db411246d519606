"""Workstation model pipeline for moodbox (not used on the device)."""
