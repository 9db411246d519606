"""Print the PyPI requirements of the Home Assistant integrations that tests/ha/check.py sets up.

Run with HA's venv's Python: HA runs with --skip-pip, so run.sh pre-installs these. The set is HA's
own bootstrap set (core, default, frontend, recorder integrations) plus what check.py's
configuration.yaml names (mqtt) and what onboarding adds, closed over each manifest's dependencies and after_dependencies.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from homeassistant import bootstrap
import homeassistant.components

COMPONENTS = Path(homeassistant.components.__file__).parent


def bootstrap_integrations() -> set[str]:
    """The integrations HA's bootstrap sets up by itself; its sets are named differently across releases."""
    found: set[str] = set()
    for name in ("CORE_INTEGRATIONS", "DEFAULT_INTEGRATIONS", "FRONTEND_INTEGRATIONS", "RECORDER_INTEGRATIONS",
                 "LOGGING_INTEGRATIONS", "LOGGING_AND_HTTP_DEPS_INTEGRATIONS"):
        found.update(getattr(bootstrap, name, ()))
    for stage in getattr(bootstrap, "STAGE_0_INTEGRATIONS", ()):  # 2024.x+: (name, domains, timeout)
        if isinstance(stage, tuple) and len(stage) > 1 and isinstance(stage[1], (set, frozenset)):
            found.update(stage[1])
    return found


WANTED = {"mqtt", "api", "config", "onboarding", "http", "cloud", "analytics", "recovery_mode",
          "stream",  # camera (a dependency of cloud) imports it
          # onboarding's core_config step starts these integrations' config flows
          "google_translate", "met", "radio_browser", "shopping_list",
          *bootstrap_integrations()}
# A debugger; zeroconf (only with default_config). hassio stays: newer MQTT config flows import its client.
SKIP = {"debugpy", "zeroconf"}


def manifest(domain: str) -> dict:
    return json.loads((COMPONENTS / domain / "manifest.json").read_text())


def main() -> int:
    seen: set[str] = set()
    todo = sorted(WANTED - SKIP)
    requirements: set[str] = set()
    while todo:
        domain = todo.pop()
        if domain in seen or domain in SKIP or not (COMPONENTS / domain).is_dir():
            continue
        seen.add(domain)
        data = manifest(domain)
        requirements.update(data.get("requirements", []))
        todo.extend(data.get("dependencies", []) + data.get("after_dependencies", []))
    print("\n".join(sorted(requirements)))
    print(f"# {len(seen)} integrations: {' '.join(sorted(seen))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
