"""Helpers shared by subcommands."""
from __future__ import annotations

import argparse
import sys

from moodbox.config import Config, ConfigError, load_config


def config_or_exit(args: argparse.Namespace) -> Config:
    """Load --config, or print the error (file:line: key: message) and exit with status 2."""
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
