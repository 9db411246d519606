"""The `moodbox` command: a thin adapter that hands each subcommand to its module."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType

from moodbox import __version__

# Subcommand name -> module under moodbox.commands (see that package's docstring).
COMMANDS = {
    "run": "run",
    "analyze": "analyze",
    "scan": "scan",
    "recommend": "recommend",
    "check-config": "check_config",
    "mqtt-remove": "mqtt_remove",
    "demo-library": "demo_library",
}

EXIT_CONFIG_ERROR = 2


def _load(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"moodbox.commands.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"moodbox.commands.{module_name}":
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodbox", description=__doc__)
    parser.add_argument("--version", action="version", version=f"moodbox {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="config file (default: the repository's config.yaml)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = _load(module_name)
        if module is None:
            continue
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP, parents=[common])
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(handler=module.main)
    return parser


def setup_logging(verbose: bool = False, level: str = "INFO") -> None:
    """Plain lines for journald: no timestamps there (journald adds them), level and logger name."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    if sys.stderr.isatty():
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=logging.DEBUG if verbose else getattr(logging, level), format=fmt, stream=sys.stderr, force=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
