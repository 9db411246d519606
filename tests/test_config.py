"""Config: defaults, strict keys, file:line:key errors, secrets, path resolution."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from moodbox.config import DEFAULT_CONFIG_PATH, Config, ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]


def test_repository_config_is_valid_and_equals_the_built_in_defaults() -> None:
    from_file = load_config(DEFAULT_CONFIG_PATH)
    assert from_file.model_dump() == Config().model_dump()


def test_unknown_key_names_file_line_key_and_allowed_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("audio:\n  start_volume: 30\n  max_volum: 60\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert (err.file, err.line, err.key) == (str(path), 3, "audio.max_volum")
    assert "allowed here" in err.message and "max_volume" in err.message
    assert str(err).startswith(f"{path}:3: key 'audio.max_volum':")


def test_wrong_type_and_range_point_at_the_value_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("mqtt:\n  host: broker\n  port: 99999\n", "x.yaml")
    assert info.value.line == 3 and info.value.key == "mqtt.port"
    with pytest.raises(ConfigError) as info:
        parse_config("camera:\n  burst_fps: fast\n", "x.yaml")
    assert info.value.line == 2 and "number" in info.value.message


def test_volume_cap_below_start_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("audio:\n  start_volume: 80\n  max_volume: 50\n")
    assert info.value.key == "audio.max_volume" and "start_volume" in info.value.message


def test_policy_must_be_one_of_the_allowed_values() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("recommend:\n  policy: party\n")
    assert "'match', 'lift' or 'calm'" in info.value.message


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("camera:\n  source: [unclosed\n  width: 3\n", "bad.yaml")
    assert info.value.line is not None and "not valid YAML" in info.value.message


def test_top_level_must_be_a_mapping_and_empty_file_means_defaults() -> None:
    with pytest.raises(ConfigError):
        parse_config("- a\n- b\n")
    assert parse_config("").model_dump() == Config().model_dump()


def test_camera_index_and_single_library_path_are_accepted() -> None:
    config = parse_config("camera:\n  source: 0\nlibrary:\n  path: /srv/music\n")
    assert config.camera.source == "0"
    assert config.library.path == ["/srv/music"]


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "moodbox.yaml"
    path.parent.mkdir()
    path.write_text("state_dir: state\nlibrary:\n  path: [music, /abs/music]\n", encoding="utf-8")
    config = load_config(path)
    assert config.state_path == tmp_path / "conf" / "state"
    assert config.library_paths == [tmp_path / "conf" / "music", Path("/abs/music")]


def test_state_dir_auto_follows_systemd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "sd"))
    assert parse_config("").state_path == tmp_path / "sd"
    monkeypatch.delenv("STATE_DIRECTORY")
    assert parse_config("", base_dir=tmp_path).state_path == tmp_path / ".state"


def test_mqtt_password_from_env_then_credential_then_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = parse_config("mqtt:\n  password: from-yaml\n")
    monkeypatch.delenv("MOODBOX_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert config.mqtt_password() == "from-yaml"
    (tmp_path / "mqtt_password").write_text("from-credential\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert config.mqtt_password() == "from-credential"
    monkeypatch.setenv("MOODBOX_MQTT_PASSWORD", "from-env")
    assert config.mqtt_password() == "from-env"


def test_check_config_cli_exit_status_and_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gpio:\n  button_pin: seventeen\n", encoding="utf-8")
    moodbox = [sys.executable, "-m", "moodbox.cli"]
    result = subprocess.run(moodbox + ["check-config", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{bad}:2: key 'gpio.button_pin'" in result.stderr
    good = subprocess.run(moodbox + ["check-config", str(REPO / "config.yaml")], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and "max_volume: 70" in good.stdout
    missing = subprocess.run(moodbox + ["check-config", str(tmp_path / "nope.yaml")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "file not found" in missing.stderr
