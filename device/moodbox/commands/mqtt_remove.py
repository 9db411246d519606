"""moodbox mqtt-remove: take this box out of Home Assistant and clear its retained MQTT topics."""
from __future__ import annotations

import argparse
import sys

HELP = "remove this box's Home Assistant entities and retained MQTT states (stop the service first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the broker (default 10)")


def main(args: argparse.Namespace) -> int:
    from moodbox.commands.common import config_or_exit
    from moodbox.mqtt.remove import remove_retained

    config = config_or_exit(args)
    try:
        count = remove_retained(config, timeout=args.timeout)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"mqtt-remove: {exc}", file=sys.stderr)
        return 1
    print(f"cleared {count} retained topics on {config.mqtt.host}:{config.mqtt.port}")
    print("if the moodbox service is still running it announces itself again on its next (re)connect")
    return 0
