"""Deployment configuration: one optional YAML file, each key overridable by environment.

Precedence, lowest first: defaults, the file (``--config`` or ``MBCBOT_CONFIG``),
environment variables, command-line flags. No file is needed to start. An invalid value
is reported with where it came from: ``file:line``, the variable, or the flag the
caller names in ``with_overrides(origins=...)``.

=========================  ===============================  =========================
key                        environment variable             default
=========================  ===============================  =========================
audience                   MBCBOT_AUDIENCE                  clinician
channels                   MBCBOT_CHANNELS (``C1=patient``)  {}
locale                     MBCBOT_LOCALE                    us
disclaimer_interval_hours  MBCBOT_DISCLAIMER_INTERVAL_HOURS 24
consent_required           MBCBOT_CONSENT_REQUIRED          false
store                      MBCBOT_STORE                     sqlite (user state dir)
retention_days             MBCBOT_RETENTION_DAYS            30
knowledge                  MBCBOT_KNOWLEDGE (``a:b``)       []
max_message_chars          MBCBOT_MAX_MESSAGE_CHARS         2000
preview                    MBCBOT_PREVIEW                   false
log_level                  MBCBOT_LOG_LEVEL                 WARNING (or DEBUG, INFO, ERROR, CRITICAL)
log_format                 MBCBOT_LOG_FORMAT                text
rate_limit_per_minute      MBCBOT_RATE_LIMIT_PER_MINUTE     20 (turns per conversation and process; 0: off)
metrics_port               MBCBOT_METRICS_PORT              0 (off; Prometheus metrics on this port)
metrics_listen             MBCBOT_METRICS_LISTEN            127.0.0.1
record_unanswered          MBCBOT_RECORD_UNANSWERED         false
unanswered_path            MBCBOT_UNANSWERED_PATH           unanswered.db next to the SQLite store
=========================  ===============================  =========================
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .storage.url import store_problem
from .yamlsrc import YamlSyntaxError, read_yaml

AUDIENCE_VALUES = ("clinician", "patient")


@dataclass(frozen=True)
class Settings:
    """Every deployment setting, validated."""

    audience: str = "clinician"
    channels: dict[str, str] = field(default_factory=dict)
    locale: str = "us"
    disclaimer_interval_hours: float = 24.0
    consent_required: bool = False
    store: str = "sqlite"
    retention_days: float = 30.0
    knowledge: tuple[str, ...] = ()
    max_message_chars: int = 2000
    preview: bool = False
    log_level: str = "WARNING"
    log_format: str = "text"
    rate_limit_per_minute: int = 20
    metrics_port: int = 0
    metrics_listen: str = "127.0.0.1"
    record_unanswered: bool = False
    unanswered_path: str = ""

    def audience_for(self, channel: str | None) -> str:
        """The audience of a channel (or the deployment default)."""
        return self.channels.get(channel or "", self.audience)

    def with_overrides(self, *, origins: Mapping[str, str] | None = None, **values: Any) -> Settings:
        """A copy with the given (already typed) values; ``None`` values are ignored.

        ``origins`` names where values came from, for errors (``{"store": "--store"}``).
        """
        clean = {k: v for k, v in values.items() if v is not None}
        return _validated(replace(self, **clean), origins or {})

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Read defaults, then the file, then the environment.

        Raises:
            ConfigError: one clear line naming the file, key or variable at fault.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        path = path or env.get("MBCBOT_CONFIG") or None
        if path:
            values.update(_from_file(Path(path), origins))
        for f in fields(cls):
            name = "MBCBOT_" + f.name.upper()
            if name in env:
                values[f.name] = _from_env(f.name, name, env[name])
                origins[f.name] = name
        return _validated(cls(**values), origins)


_TYPES: dict[str, type] = {f.name: f.type for f in fields(Settings)}  # type: ignore[misc]


def _from_file(path: Path, origins: dict[str, str]) -> dict[str, Any]:
    """The file's settings; ``origins`` gets ``file:line`` of each."""
    try:
        data = read_yaml(path)
    except YamlSyntaxError as exc:
        raise ConfigError(f"{exc.file}:{exc.line}: {exc.message}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the configuration must be a mapping of keys")
    known = {f.name for f in fields(Settings)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{path}:{data.line_of(key)}: unknown key '{key}' (known: {', '.join(sorted(known))})")
        out[key] = _coerce(key, value, f"{path}:{data.line_of(key)}: '{key}'")
        origins[key] = f"{path}:{data.line_of(key)}"
    return out


def _from_env(key: str, name: str, raw: str) -> Any:
    if key == "channels":
        pairs = {}
        for item in filter(None, (p.strip() for p in raw.split(","))):
            channel, sep, audience = item.partition("=")
            if not sep:
                raise ConfigError(f"{name}: expected CHANNEL=audience pairs separated by commas, got '{item}'")
            pairs[channel.strip()] = audience.strip()
        return _coerce(key, pairs, name)
    if key == "knowledge":
        return tuple(p for p in raw.split(os.pathsep) if p)
    return _coerce(key, raw, name)


def _coerce(key: str, value: Any, where: str) -> Any:
    kind = _TYPES[key]
    kind_name = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind_name == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if kind_name == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind_name == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind_name == "str":
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        if kind_name.startswith("dict"):
            if not isinstance(value, dict):
                raise ValueError
            return {str(k): str(v) for k, v in value.items()}
        if kind_name.startswith("tuple"):
            if isinstance(value, str):
                return (value,)
            if not isinstance(value, list):
                raise ValueError
            return tuple(str(v) for v in value)
    except ValueError:
        pass
    raise ConfigError(f"{where}: invalid value {value!r} (expected {kind_name.replace('[str, ...]', ' of text')})")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _validated(settings: Settings, origins: Mapping[str, str]) -> Settings:
    """Check each setting; an error names where the value came from (``file:line``, the
    variable or the flag), else the key."""
    for f in fields(settings):
        problem = _problem(f.name, getattr(settings, f.name))
        if problem:
            raise ConfigError(f"{origins.get(f.name, f.name)}: {problem}")
    return settings


def _problem(key: str, value: Any) -> str | None:
    """What is wrong with one setting's value, or None."""
    if key == "audience" and value not in AUDIENCE_VALUES:
        return f"audience must be clinician or patient, not '{value}'"
    if key == "channels":
        wrong = [(channel, audience) for channel, audience in value.items() if audience not in AUDIENCE_VALUES]
        return f"audience of channel '{wrong[0][0]}' must be clinician or patient, not '{wrong[0][1]}'" if wrong else None
    if key == "store":
        return store_problem(str(value))
    if key == "log_level" and str(value).upper() not in LOG_LEVELS:
        return f"log_level must be one of {', '.join(LOG_LEVELS)}, not '{value}'"
    rule = _RULES.get(key)
    return rule[1] if rule and not rule[0](value) else None


#: The other settings' checks: (is the value fine?, what to say when it is not).
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "disclaimer_interval_hours": (lambda v: v >= 0, "disclaimer_interval_hours must be 0 or more"),
    "retention_days": (lambda v: v > 0, "retention_days must be more than 0"),
    "max_message_chars": (lambda v: 1 <= v <= 100_000, "max_message_chars must be between 1 and 100000"),
    "log_format": (lambda v: v in ("text", "json"), "log_format must be text or json"),
    "rate_limit_per_minute": (lambda v: v >= 0, "rate_limit_per_minute must be 0 (no limit) or more"),
    "metrics_port": (lambda v: 0 <= v <= 65535, "metrics_port must be between 1 and 65535 (0: no metrics)"),
}
