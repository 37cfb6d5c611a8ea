"""Reading an adapter's secrets from the environment, with errors that name the variable.

Tokens come from the environment only, never from files or flags (which end up in shell
histories and process lists). A missing or malformed one stops the bot with one line naming
the variable and where to find its value; the value itself is never quoted, since it may be
a real token pasted into the wrong variable.
"""

from __future__ import annotations

from collections.abc import Mapping

from dialogue.errors import ConfigError


def optional_env(env: Mapping[str, str], name: str) -> str | None:
    """``name``'s value without surrounding blanks, or None when unset or blank."""
    return env.get(name, "").strip() or None


def require_env(env: Mapping[str, str], name: str, hint: str, prefix: str | None = None, *,
                kind: str = "a value") -> str:
    """``name``'s value without surrounding blanks; it must be set, and start with ``prefix`` if given.

    Args:
        hint: what the variable holds and where to get it, shown when it is not set.
        prefix: the start every valid value has (Slack's ``xoxb-``, ``xapp-``).
        kind: what the value must be, shown when the prefix is wrong ("the bot token").

    Raises:
        ConfigError: one line naming the variable, never its value.
    """
    value = optional_env(env, name)
    if value is None:
        raise ConfigError(f"{name} is not set ({hint})")
    if prefix is not None and not value.startswith(prefix):
        raise ConfigError(f"{name} must be {kind}, which starts with {prefix}")
    return value
