"""Configuration: defaults, a YAML file, environment overrides, one clear error line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.config import Settings
from dialogue.errors import ConfigError


def test_defaults_need_no_file() -> None:
    settings = Settings.load(None, env={})
    assert settings.audience == "clinician" and settings.locale == "us" and not settings.consent_required


def test_file_then_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "mbcbot.yaml"
    cfg.write_text("audience: patient\nlocale: uk\nconsent_required: true\nchannels: {C1: clinician}\nknowledge: [local]\n")
    settings = Settings.load(cfg, env={"MBCBOT_LOCALE": "us", "MBCBOT_RETENTION_DAYS": "7"})
    assert settings.audience == "patient" and settings.consent_required
    assert settings.locale == "us" and settings.retention_days == 7.0
    assert settings.audience_for("C1") == "clinician" and settings.audience_for("C2") == "patient"
    assert settings.knowledge == ("local",)


def test_config_path_from_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("preview: yes\n")
    assert Settings.load(None, env={"MBCBOT_CONFIG": str(cfg)}).preview is True


def test_channels_from_environment() -> None:
    settings = Settings.load(None, env={"MBCBOT_CHANNELS": "C1=patient, C2=clinician"})
    assert settings.channels == {"C1": "patient", "C2": "clinician"}


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("audiance: patient\n", {}, "unknown key 'audiance'"),
        ("retention_days: soon\n", {}, "'retention_days': invalid value"),
        ("", {"MBCBOT_AUDIENCE": "doctor"}, "audience must be clinician or patient"),
        ("", {"MBCBOT_CONSENT_REQUIRED": "maybe"}, "MBCBOT_CONSENT_REQUIRED: invalid value"),
        ("", {"MBCBOT_CHANNELS": "C1"}, "MBCBOT_CHANNELS: expected CHANNEL=audience"),
        ("a: [1,\n", {}, "invalid YAML"),
    ],
)
def test_bad_settings_are_one_clear_line(tmp_path: Path, content: str, env: dict, message: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(content)
    with pytest.raises(ConfigError) as info:
        Settings.load(cfg, env=env)
    assert message in str(info.value) and "\n" not in str(info.value)
