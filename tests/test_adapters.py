"""The adapter seam (moodbox.adapters): an adapter registered outside the core, a plug-in found by its
entry point, and the start/stop rules (a failing adapter never stops the box)."""
from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from core_testkit import NO_FACE, Recorder, camera_folder, config_data, make_config
from moodbox.adapters import BUILT_IN, ENTRY_POINT_GROUP, AdapterSpec, registered, start_adapters, stop_adapters
from moodbox.core import Command, Core, CoreApi


class VolumeKnob:
    """A new adapter written against moodbox.core's public names only: it hears the state stream and
    turns the volume through the command interface."""

    def __init__(self, core: CoreApi, config: Any) -> None:
        self.core = core
        self.heard = Recorder()
        self.stopped = False

    def start(self) -> bool:
        self.unsubscribe = self.core.subscribe(self.heard)
        self.core.execute(Command("set_volume", (20,)))
        return True

    def stop(self) -> None:
        self.unsubscribe()
        self.stopped = True


class Refuses:
    def __init__(self, core: Any, config: Any) -> None: ...
    def start(self) -> bool: return False
    def stop(self) -> None: raise AssertionError("never started, so never stopped")


class Hangs:
    def __init__(self, core: Any = None, config: Any = None) -> None:
        self.release = threading.Event()
    def start(self) -> bool: return True
    def stop(self) -> None: self.release.wait(30)


def broken(core: Any, config: Any) -> Any:
    raise RuntimeError("no such device")


def test_an_adapter_registered_outside_the_core_commands_it_and_hears_it(tmp_path: Path, library: Path) -> None:
    config = make_config(tmp_path, config_data(tmp_path / "state", library, str(camera_folder(tmp_path / "cam", NO_FACE))))
    core = Core(config)
    everything = Recorder()
    core.subscribe(everything)
    core.start()
    try:
        specs = [AdapterSpec("knob", lambda c: True, VolumeKnob)]
        [knob] = start_adapters(core, config, specs)
        assert knob.heard.wait_for("volume", lambda d: d["volume"] == 20) == {"volume": 20, "max": 60}
        with pytest.raises(ValueError, match="unknown command 'close'"):
            core.execute(Command("close"))  # only commands, not any method of the Core
        stop_adapters([knob])
        assert knob.stopped
        mark = knob.heard.mark()
        core.execute(Command("set_volume", (25,)))
        everything.wait_for("volume", lambda d: d["volume"] == 25)
        assert knob.heard.of("volume", mark) == []  # unsubscribed
    finally:
        core.close()


def test_start_skips_what_is_off_refuses_or_fails_and_stop_does_not_wait_for_a_hung_one(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(tmp_path, config_data(tmp_path / "state", None, "folder"))
    hung = Hangs()
    specs = [AdapterSpec("off one", lambda c: False, Hangs, off_message="off one is off (x.enabled: false)"),
             AdapterSpec("refusing", lambda c: True, Refuses),
             AdapterSpec("broken", lambda c: True, broken, failure_hint="set broken.enabled: false"),
             AdapterSpec("hung", lambda c: True, lambda core, cfg: hung)]
    with caplog.at_level(logging.INFO, logger="moodbox.adapters"):
        started = start_adapters(object(), config, specs)
        assert started == [hung]
        assert "off one is off (x.enabled: false)" in caplog.text
        assert "broken not started (set broken.enabled: false)" in caplog.text and "no such device" in caplog.text
        later = VolumeKnob.__new__(VolumeKnob)
        later.stopped, later.unsubscribe = False, lambda: None
        stop_adapters([later, hung])  # reverse order: the hung one first, then the other still stops
        assert later.stopped
        assert "Hangs did not stop within" in caplog.text
    hung.release.set()


def test_a_plug_in_package_registers_an_adapter_by_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A real installed distribution (a .dist-info with entry_points.txt on sys.path), as pip leaves one."""
    (tmp_path / "moodbox_knob.py").write_text(
        "from moodbox.adapters import AdapterSpec\n"
        "SPEC = AdapterSpec('knob', lambda config: True, lambda core, config: None)\n"
        "NOT_A_SPEC = 42\n")
    info = tmp_path / "moodbox_knob-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: moodbox-knob\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nknob = moodbox_knob:SPEC\n"
                                           "junk = moodbox_knob:NOT_A_SPEC\nmissing = moodbox_nothing:SPEC\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "moodbox_knob", raising=False)
    with caplog.at_level(logging.INFO, logger="moodbox.adapters"):
        specs = registered()
    names = [spec.name for spec in specs]
    assert names == [spec.name for spec in BUILT_IN] + ["knob"]
    assert "adapter plug-in junk" in caplog.text and "not an AdapterSpec" in caplog.text
    assert "adapter plug-in missing" in caplog.text
    assert "adapter plug-in knob: knob (from moodbox_knob:SPEC)" in caplog.text


def test_the_adapter_recipe_in_the_docs_runs(tmp_path: Path, library: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "development.md").read_text()
    recipe = text.split("## Writing an adapter", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {"__name__": "moodbox_night"}
    exec(compile(recipe, "docs/development.md", "exec"), namespace)  # noqa: S102 - our own docs
    config = make_config(tmp_path, config_data(tmp_path / "state", library, str(camera_folder(tmp_path / "cam", NO_FACE))))
    core = Core(config)
    with caplog.at_level(logging.INFO, logger="moodbox_night"):
        core.start()
        try:
            adapters = start_adapters(core, config, [namespace["SPEC"]])
            assert len(adapters) == 1
            core.refresh_mood("test")
            deadline = time.monotonic() + 30
            while "faces)" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "faces)" in caplog.text
            stop_adapters(adapters)
        finally:
            core.close()
