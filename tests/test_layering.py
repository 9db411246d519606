"""The import layering, checked over the source (every import, also those inside functions).

camera -> faces -> readings -> mood -> playlist -> player is the core; MQTT, GPIO, the web page, the
CLI, the adapter registry and the daemon that wires them are adapters around it. The core never
imports an adapter; adapters use only the core package's public names (moodbox.core, not its
modules); perception and music (the libraries the core is built from) import neither; no module
cycle in device/ or convert/; no class grows past the size a newcomer can read.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ADAPTERS = ("moodbox.mqtt", "moodbox.gpio", "moodbox.cli", "moodbox.commands", "moodbox.daemon", "moodbox.web",
            "moodbox.adapters")
CORE = "moodbox.core"
MAX_CLASS_LINES = 330  # "no class over about 300 lines"
LIBRARIES = ("moodbox.perception", "moodbox.music")
# What the libraries may use besides themselves, numpy and the standard library.
LIBRARY_MAY_IMPORT = ("moodbox.config", "moodbox.files", "moodbox.readings", "moodbox.perception", "moodbox.music")

Graph = dict[str, set[str]]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, package: str) -> Graph:
    """module -> the modules of `package` it imports ("from pkg import submodule" counts as the submodule)."""
    files = {module_name(root, path): path for path in (root / package).rglob("*.py") if ".venv" not in path.parts}
    graph: Graph = {}
    for name, path in files.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                source = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.add(submodule if submodule in files else source)
        graph[name] = {target for target in targets if target in files and target != name}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@pytest.fixture(scope="module")
def device_graph() -> Graph:
    return import_graph(REPO / "device", "moodbox")


def test_the_core_imports_no_adapter(device_graph: Graph):
    wrong = sorted(f"{module} -> {target}" for module, targets in device_graph.items() if not within(module, ADAPTERS)
                   for target in targets if within(target, ADAPTERS))
    assert wrong == []


def test_adapters_use_only_the_cores_public_names(device_graph: Graph):
    wrong = sorted(f"{module} -> {target}" for module, targets in device_graph.items() if within(module, ADAPTERS)
                   for target in targets if within(target, (CORE,)) and target != CORE)
    assert wrong == []


def test_the_core_package_exports_what_adapters_need():
    import moodbox.core

    for name in ("Core", "CoreApi", "Command", "CommandError", "parse_command", "STATE_TOPICS", "TrackMoodTagged"):
        assert name in moodbox.core.__all__ and hasattr(moodbox.core, name), name


def test_no_class_is_too_big_to_read():
    sizes = {}
    for path in (REPO / "device" / "moodbox").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                sizes[f"{path.relative_to(REPO)}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert sizes and {name: size for name, size in sizes.items() if size > MAX_CLASS_LINES} == {}


def test_perception_and_music_import_only_each_other_config_and_readings(device_graph: Graph):
    wrong = sorted(f"{module} -> {target}" for module, targets in device_graph.items() if within(module, LIBRARIES)
                   for target in targets if not within(target, LIBRARY_MAY_IMPORT))
    assert wrong == []


@pytest.mark.parametrize("root, package", [("device", "moodbox"), (".", "convert")])
def test_no_import_cycles(root: str, package: str):
    assert cycles(import_graph(REPO / root, package)) == []


def test_the_checker_sees_a_cycle_and_a_wrong_import(tmp_path: Path):
    package = tmp_path / "moodbox"
    (package / "mqtt").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mqtt" / "__init__.py").write_text("from moodbox.mqtt.adapter import Adapter\n")
    (package / "mqtt" / "adapter.py").write_text("from moodbox.mqtt import topics\nclass Adapter: ...\n")
    (package / "mqtt" / "topics.py").write_text("")
    (package / "core.py").write_text("def run():\n    from .player import Player\n    from moodbox.mqtt import Adapter\n")
    (package / "player.py").write_text("from moodbox import core\n")
    graph = import_graph(tmp_path, "moodbox")
    assert graph["moodbox.mqtt.adapter"] == {"moodbox.mqtt.topics"}
    assert graph["moodbox.core"] == {"moodbox.player", "moodbox.mqtt"}
    assert cycles(graph) == [["moodbox.core", "moodbox.player"]]


def test_the_checker_sees_an_adapter_reaching_into_a_core_module(tmp_path: Path):
    core = tmp_path / "moodbox" / "core"
    core.mkdir(parents=True)
    (tmp_path / "moodbox" / "__init__.py").write_text("")
    (core / "__init__.py").write_text("from moodbox.core.room import Room\n")
    (core / "room.py").write_text("class Room: ...\n")
    (tmp_path / "moodbox" / "web.py").write_text("from moodbox.core import Room\nfrom moodbox.core.room import Room\n")
    (tmp_path / "moodbox" / "gpio.py").write_text("from moodbox.core import Room\n")
    graph = import_graph(tmp_path, "moodbox")
    assert graph["moodbox.web"] == {"moodbox.core", "moodbox.core.room"}
    assert graph["moodbox.gpio"] == {"moodbox.core"}
