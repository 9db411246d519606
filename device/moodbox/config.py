"""Configuration: YAML file -> typed pydantic models that reject unknown keys.

Errors name the file, the line and the key, and say what is allowed.
Relative paths are resolved against the folder of the config file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.yaml"
PASSWORD_ENV = "MOODBOX_MQTT_PASSWORD"
PASSWORD_CREDENTIAL = "mqtt_password"
WEB_PASSWORD_ENV = "MOODBOX_WEB_PASSWORD"
WEB_PASSWORD_CREDENTIAL = "web_password"

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CameraConfig(Section):
    # auto | picamera2 | a V4L2 index ("0") or path | a video file or URL | a folder of images
    source: str = "auto"
    width: int = Field(640, ge=64, le=4096)
    height: int = Field(480, ge=48, le=4096)
    burst_seconds: float = Field(1.5, gt=0, le=10)
    burst_fps: float = Field(4.0, gt=0, le=30)
    capture_timeout_s: float = Field(5.0, gt=0, le=60)
    retry_interval_s: float = Field(30.0, gt=0, le=3600)
    # Debug only: write analysed frames under state_dir/debug-frames. Off by default (privacy).
    save_frames: bool = False

    @field_validator("source", mode="before")
    @classmethod
    def _source_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class PerceptionConfig(Section):
    models_dir: str = "models_tflite"
    detector: Literal["full_range", "short_range"] = "full_range"
    # Which emotion / age model (or ensemble) of models_tflite/manifest.json to use.
    emotion_model: str = "emotion_cnn4_mixup"  # our ResNet, 4 stages; "emotion" = the borrowed mini-Xception
    age_model: str = "age_wrn80_stretch"  # our WideResNet on 80px crops, end bias stretched; "age" = dlib
    threads: int = Field(1, ge=1, le=8)
    min_face_score: float = Field(0.5, ge=0, le=1)
    min_face_size: int = Field(20, ge=8, le=1024)
    max_faces: int = Field(6, ge=1, le=32)
    # 1: detect on the whole frame. 2 or 3: also on a 2x2 / 3x3 grid of overlapping windows, which
    # finds small (far) faces at 5x / 10x the detector cost (48 px faces at 640x480: 83% found instead of 33%).
    tiles: int = Field(2, ge=1, le=3)


class MoodConfig(Section):
    # Below this confidence a new reading does not change the mood.
    confidence_threshold: float = Field(0.4, ge=0, le=1)
    # The mood changes only if the new emotion beats the current one by this margin.
    hysteresis: float = Field(0.15, ge=0, le=1)
    # Re-check the room every N seconds while playing (0 = only on triggers).
    recheck_interval_s: float = Field(0, ge=0)
    # Analyse the room again when the queue runs out.
    refresh_on_queue_end: bool = True


class AudioConfig(Section):
    # auto | null | an mpv audio device name (see `mpv --audio-device=help`)
    output: str = "auto"
    start_volume: int = Field(40, ge=0, le=100)
    max_volume: int = Field(70, ge=0, le=100)
    mpv_path: str = "mpv"
    # Loudness normalisation from the files' ReplayGain tags: track | album (else track) | off.
    replaygain: Literal["track", "album", "off"] = "track"
    replaygain_preamp_db: float = Field(0.0, ge=-15, le=15)
    # Gain for files without ReplayGain tags. -6 dB: tagged pop/rock masters usually get -6 to -10 dB,
    # so an untagged loud master is not much louder than tagged tracks, and a quiet one stays audible.
    # Never above 0: a fallback gain has no peak to keep it from clipping.
    replaygain_fallback_db: float = Field(-6.0, ge=-30, le=0)

    @field_validator("replaygain", mode="before")
    @classmethod
    def _off_as_text(cls, value: Any) -> Any:
        return "off" if value is False else value  # YAML reads a bare `off` (or `no`) as false

    @field_validator("max_volume")
    @classmethod
    def _max_not_below_start(cls, value: int, info: Any) -> int:
        start = info.data.get("start_volume")
        if start is not None and value < start:
            raise ValueError(f"max_volume ({value}) must not be below start_volume ({start})")
        return value


class LibraryConfig(Section):
    # One folder or a list of folders.
    path: list[str] = Field(default_factory=lambda: ["~/Music"])
    # Used when no configured folder holds any track: the generated demo library.
    demo_path: str = "demo-library"
    # After each scan, estimate a mood from the audio of tracks no tag, moods.csv, folder or prior describes.
    audio_analysis: bool = True

    @field_validator("path", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RecommendConfig(Section):
    policy: Literal["match", "lift", "calm"] = "match"
    # Share of the queue taken from the listeners' reminiscence era (age 10-25).
    era_share: float = Field(0.5, ge=0, le=1)
    queue_length: int = Field(10, ge=1, le=200)
    repeat_window: int = Field(30, ge=0, le=10000)
    artist_gap: int = Field(5, ge=0, le=100)
    seed: int | None = None


class GpioConfig(Section):
    enabled: Literal["auto", "on", "off"] = "auto"
    button_pin: int | None = Field(17, ge=0, le=53)
    led_pin: int | None = Field(None, ge=0, le=53)
    hold_seconds: float = Field(1.0, gt=0, le=10)
    bounce_time: float = Field(0.05, ge=0, le=1)
    press_action: Literal["refresh", "next", "toggle"] = "refresh"
    hold_action: Literal["refresh", "next", "toggle"] = "next"


class TlsConfig(Section):
    enabled: bool = False
    ca_file: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    verify: bool = True


class MqttConfig(Section):
    enabled: bool = True
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    # Prefer MOODBOX_MQTT_PASSWORD or the systemd credential "mqtt_password" over this key.
    password: str | None = None
    tls: TlsConfig = Field(default_factory=TlsConfig)
    client_id: str | None = None
    # Default: moodbox/<device id>
    base_topic: str | None = None
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    device_id: str | None = None
    keepalive: int = Field(30, ge=5, le=3600)
    diagnostics_interval_s: float = Field(60, ge=1)


class RadioBrowserConfig(Section):
    enabled: bool = True
    base_url: str = "https://de1.api.radio-browser.info"


class JamendoConfig(Section):
    enabled: bool = False
    client_id: str | None = None
    base_url: str = "https://api.jamendo.com/v3.0"


class OnlineConfig(Section):
    enabled: bool = False
    min_local_matches: int = Field(5, ge=0)
    timeout_s: float = Field(5.0, gt=0, le=60)
    radio_browser: RadioBrowserConfig = Field(default_factory=RadioBrowserConfig)
    jamendo: JamendoConfig = Field(default_factory=JamendoConfig)


class WebConfig(Section):
    enabled: bool = True
    bind: str = "0.0.0.0"  # all interfaces: http://<pi>.local:8080 on the LAN; 127.0.0.1 for this machine only
    port: int = Field(8080, ge=1, le=65535)
    # Prefer MOODBOX_WEB_PASSWORD or the systemd credential "web_password". None: anyone on the network controls it.
    password: str | None = None
    # A live "camera aim" view on the page (face boxes drawn, never stored); only with a password set.
    camera_view: bool = False
    # Names the page is opened by besides the box's own (host name, <name>.local, its addresses, localhost),
    # e.g. a reverse proxy's "music.example.org"; ".example.org" allows its subdomains. Others get 421.
    allowed_hosts: list[str] = Field(default_factory=list)
    # How long a login lasts (days); logging out, "log out everywhere" or a new password end it sooner.
    session_days: float = Field(30.0, gt=0, le=365)
    # Serve the page over HTTPS with this certificate and key (PEM files); the session cookie is then Secure.
    tls_certificate: str | None = None
    tls_key: str | None = None
    # Announce the page (_http._tcp) and the box (_moodbox._tcp) on the local network by mDNS (zeroconf).
    announce: bool = True

    @model_validator(mode="after")
    def _tls_pair(self) -> WebConfig:
        if bool(self.tls_certificate) != bool(self.tls_key):
            raise ValueError("web.tls_certificate and web.tls_key go together: give both or neither")
        return self


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(Section):
    # "auto": $STATE_DIRECTORY (set by systemd's StateDirectory=) or .state next to the config.
    state_dir: str = "auto"
    camera: CameraConfig = Field(default_factory=CameraConfig)
    perception: PerceptionConfig = Field(default_factory=PerceptionConfig)
    mood: MoodConfig = Field(default_factory=MoodConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    library: LibraryConfig = Field(default_factory=LibraryConfig)
    recommend: RecommendConfig = Field(default_factory=RecommendConfig)
    gpio: GpioConfig = Field(default_factory=GpioConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    online: OnlineConfig = Field(default_factory=OnlineConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    # Not a YAML key: where the file came from, for resolving relative paths.
    _base_dir: Path = REPO_ROOT

    def resolve_path(self, value: str) -> Path:
        """A path from the config: ~ expanded, relative ones taken from the config file's folder."""
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else (self._base_dir / path)

    @property
    def state_path(self) -> Path:
        if self.state_dir == "auto":
            systemd_dir = os.environ.get("STATE_DIRECTORY")
            if systemd_dir:
                return Path(systemd_dir.split(":")[0])
            return self._base_dir / ".state"
        return self.resolve_path(self.state_dir)

    @property
    def library_paths(self) -> list[Path]:
        return [self.resolve_path(p) for p in self.library.path]

    @property
    def models_path(self) -> Path:
        return self.resolve_path(self.perception.models_dir)

    def mqtt_password(self) -> str | None:
        """The MQTT password: environment variable, then systemd credential, then the YAML key."""
        return _secret(PASSWORD_ENV, PASSWORD_CREDENTIAL) or self.mqtt.password

    def web_password(self) -> str | None:
        """The web page's password: environment variable, then systemd credential, then the YAML key."""
        return _secret(WEB_PASSWORD_ENV, WEB_PASSWORD_CREDENTIAL) or self.web.password or None


def _secret(env: str, credential: str) -> str | None:
    from_env = os.environ.get(env)
    if from_env:
        return from_env
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        cred = Path(cred_dir) / credential
        # An empty (or blank) credential means "not set here" (see systemd/moodbox.service).
        if cred.is_file() and cred.read_text(encoding="utf-8").strip():
            return cred.read_text(encoding="utf-8").strip()
    return None


@dataclass
class ConfigError(Exception):
    """A problem in a config file, with where it is."""

    file: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" key '{self.key}':" if self.key else ""
        return f"{where}:{key} {self.message}"


def _line_map(node: yaml.Node, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path to the (1-based) line where it is written."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (str(key_node.value),)
            lines[path] = key_node.start_mark.line + 1
            lines.update(_line_map(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = prefix + (str(index),)
            lines[path] = item.start_mark.line + 1
            lines.update(_line_map(item, path))
    return lines


def _allowed_keys(model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    """The keys allowed at the mapping that holds `path`'s last key."""
    current: Any = model
    for part in path[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return sorted(getattr(current, "model_fields", {}).keys())


def _describe(error: dict[str, Any], path: tuple[str, ...]) -> str:
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(Config, path)
        return "unknown key; allowed here: " + ", ".join(allowed)
    message = str(error["msg"])
    if error["type"] == "literal_error":
        return message.replace("Input should be", "must be")
    return message


def parse_config(text: str, file: str = "<string>", base_dir: Path | None = None) -> Config:
    """Parse YAML text into a Config, or raise ConfigError naming file, line and key."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(file, line, None, f"not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, 1, None, "the top level must be a mapping of keys (like 'camera:')")
    lines = _line_map(node) if node is not None else {}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = tuple(str(p) for p in first["loc"])
        line = None
        for length in range(len(path), 0, -1):
            if path[:length] in lines:
                line = lines[path[:length]]
                break
        raise ConfigError(file, line, ".".join(path), _describe(first, path)) from None
    config._base_dir = base_dir if base_dir is not None else REPO_ROOT
    return config


def load_config(path: str | Path | None = None) -> Config:
    """Load a config file (default: the repository's config.yaml)."""
    config_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(config_path), None, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(config_path), None, None, f"cannot read: {exc}") from None
    return parse_config(text, str(config_path), config_path.resolve().parent)
