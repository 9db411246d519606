"""moodbox run [--config FILE] [--once]"""
from __future__ import annotations

import argparse
import logging

HELP = "run the daemon: read the room, play music for its mood, serve MQTT and the button"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true",
                        help="read the room once, load the queue, print the state as JSON and exit")


def main(args: argparse.Namespace) -> int:
    from moodbox import __version__
    from moodbox.cli import setup_logging
    from moodbox.config import DEFAULT_CONFIG_PATH
    from moodbox.commands.common import config_or_exit
    from moodbox.daemon import run

    config = config_or_exit(args)
    setup_logging(args.verbose, config.logging.level)
    logging.getLogger("moodbox.daemon").info("moodbox %s, config %s", __version__, args.config or DEFAULT_CONFIG_PATH)
    return run(config, once=args.once)
