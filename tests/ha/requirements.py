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
WANTED = {"mqtt", "api", "config", "onboarding", "http", "cloud", "analytics", "recovery_mode",
          "stream",  # camera (a dependency of cloud) imports it
          # onboarding's core_config step starts these integrations' config flows
          "google_translate", "met", "radio_browser", "shopping_list",
          *bootstrap.CORE_INTEGRATIONS, *bootstrap.DEFAULT_INTEGRATIONS, *bootstrap.FRONTEND_INTEGRATIONS,
          *bootstrap.RECORDER_INTEGRATIONS}
SKIP = {"hassio"}  # only under the Supervisor


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
