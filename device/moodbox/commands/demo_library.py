"""moodbox demo-library [DIR]"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "generate the small synthetic demo library (default: library.demo_path); skips files already there"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", type=Path, help="where to write it (default: library.demo_path)")
    parser.add_argument("--force", action="store_true", help="write every file again")


def main(args: argparse.Namespace) -> int:
    from moodbox.commands.common import config_or_exit
    from moodbox.music.demo import make_demo_library
    from moodbox.music.synth import EncodeError

    folder = args.folder
    if folder is None:
        config = config_or_exit(args)
        folder = config.resolve_path(config.library.demo_path)
    try:
        written, present = make_demo_library(folder, force=args.force)
    except (EncodeError, OSError) as exc:
        print(f"demo library: {exc}")
        return 1
    print(f"demo library {folder}: {written} tracks written, {present} already there")
    return 0
