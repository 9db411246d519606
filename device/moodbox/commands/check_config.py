"""moodbox check-config [FILE]"""
from __future__ import annotations

import argparse
import sys

HELP = "check a config file and print the settings in effect"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="config file (default: --config or the repository's config.yaml)")
    parser.add_argument("--quiet", action="store_true", help="print nothing when the file is fine")


def main(args: argparse.Namespace) -> int:
    from moodbox.config import ConfigError, load_config

    path = args.file or args.config
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        import yaml

        print(f"# {path or 'config.yaml (default)'}: OK")
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False).rstrip())
        print(f"# state_dir in effect: {config.state_path}")
    return 0
