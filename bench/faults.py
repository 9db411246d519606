"""The fault suite (issue #21): the real daemon under broker, player, camera, command, index, state and
media faults; one table, each row pass/fail against its target.

    nice .venv/bin/python bench/faults.py [--only broker,player,...] [--short]

Every row but `broker` drives `moodbox run` in a subprocess: a real mosquitto on a free loopback
port, real mpv with null audio, a folder camera, a temp state folder and a generated library (FLAC
tones with tags, tests/core_testkit.write_library); the bench watches MQTT, mpv's IPC socket and the
daemon's log (a "Traceback" in it fails the row group). Row groups, one module each in bench/faultkit/:
  broker   broker killed and back after 5 s / 70 s; refused login      (MqttAdapter, see broker.py)
  player   mpv SIGKILL, SIGSTOP 20 s, five kills in ten seconds
  camera   folder deleted, RTSP port closed, a port that accepts and never answers
  fuzz     10,000 fuzzed MQTT commands (1,000 with --short)
  scan     `moodbox scan` SIGKILLed mid-scan of a 2,000-file library (500 with --short), then again
  state    every state file truncated or garbled; the state folder on a full file system
  media    bad media files in the library
--short: smaller sizes and shorter outages, for CI (tests/test_faults_bench.py).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine  # noqa: E402
from faultkit.harness import Row  # noqa: E402

GROUPS = ("broker", "player", "camera", "fuzz", "scan", "state", "media")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated row groups of {', '.join(GROUPS)}")
    parser.add_argument("--short", action="store_true", help="smaller sizes, for CI")
    args = parser.parse_args()
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown row group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")

    print(f"machine: {machine()}", flush=True)
    rows: list[Row] = []
    for group in groups:
        began = time.monotonic()
        module = importlib.import_module(f"faultkit.{group}")
        with tempfile.TemporaryDirectory(prefix=f"faults-{group}-") as tmp:
            try:
                got = module.rows(Path(tmp), args.short)
            except Exception as exc:  # noqa: BLE001 - one broken group must not hide the others
                traceback.print_exc()
                got = [Row(f"{group}: bench error", f"{type(exc).__name__}: {exc}", "runs", False)]
        rows += got
        for row in got:
            print(f"  [{group} {time.monotonic() - began:.0f} s] {row.fault}: {row.figure} "
                  f"({'pass' if row.ok else 'FAIL'})", file=sys.stderr, flush=True)

    width = max(len(r.fault) for r in rows)
    figure_width = min(max(len(r.figure) for r in rows), 90)
    target_width = max(len(r.target) for r in rows)
    for r in rows:
        print(f"  {r.fault:<{width}}  {r.figure:<{figure_width}}  target {r.target:<{target_width}}  "
              f"{'pass' if r.ok else 'FAIL'}")
    failed = sum(not r.ok for r in rows)
    print(f"{len(rows) - failed}/{len(rows)} rows pass")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
