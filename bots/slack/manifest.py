"""The Slack app manifest (``manifest.yaml`` next to this module), for Socket Mode or HTTP.

Imports nothing of Slack's: ``mbcbot slack manifest`` works before the extra is installed.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlparse

import yaml

from dialogue.errors import ConfigError


def manifest_text() -> str:
    """The manifest as shipped: Socket Mode, with comments."""
    return resources.files(__package__).joinpath("manifest.yaml").read_text(encoding="utf-8")


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(manifest_text())
    return data


def http_manifest_text(request_url: str) -> str:
    """The manifest for the Events API: Slack posts events, button presses and ``/mbc`` to
    ``request_url`` (``mbcbot slack --http`` behind your HTTPS proxy).

    Raises:
        ConfigError: the URL is not an https:// address.
    """
    parsed = urlparse(request_url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ConfigError(f"--request-url must be a public https:// address, not '{request_url}'")
    data = manifest()
    settings = data["settings"]
    settings["socket_mode_enabled"] = False
    settings["event_subscriptions"]["request_url"] = request_url
    settings["interactivity"]["request_url"] = request_url
    for command in data["features"]["slash_commands"]:
        command["url"] = request_url
    header = f"# The Slack app manifest for mbcbot over HTTPS: Slack sends everything to {request_url}\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
