"""require_env / optional_env: one line naming the variable, never its value."""

from __future__ import annotations

import pytest

from bots.common.env import optional_env, require_env
from dialogue.errors import ConfigError

HINT = "the token the platform gave you"


def test_a_set_variable_is_returned_without_surrounding_blanks() -> None:
    assert require_env({"BOT_TOKEN": "  xoxb-1 \n"}, "BOT_TOKEN", HINT, "xoxb-") == "xoxb-1"


@pytest.mark.parametrize("env", [{}, {"BOT_TOKEN": ""}, {"BOT_TOKEN": "  \t"}], ids=["unset", "empty", "blank"])
def test_an_unset_or_blank_variable_is_named_with_its_hint(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        require_env(env, "BOT_TOKEN", HINT)
    assert str(caught.value) == f"BOT_TOKEN is not set ({HINT})"


def test_a_wrong_prefix_names_the_variable_and_what_it_must_be_but_never_the_value() -> None:
    pasted = "xapp-1-A0-secret-value"
    with pytest.raises(ConfigError) as caught:
        require_env({"BOT_TOKEN": pasted}, "BOT_TOKEN", HINT, "xoxb-", kind="the bot token")
    message = str(caught.value)
    assert message == "BOT_TOKEN must be the bot token, which starts with xoxb-"
    assert pasted not in message and "\n" not in message


def test_without_a_prefix_any_value_is_accepted() -> None:
    assert require_env({"SECRET": "anything at all"}, "SECRET", HINT) == "anything at all"


def test_an_optional_variable_is_none_when_unset_or_blank() -> None:
    assert optional_env({}, "API_URL") is None
    assert optional_env({"API_URL": " "}, "API_URL") is None
    assert optional_env({"API_URL": " http://127.0.0.1:9/ "}, "API_URL") == "http://127.0.0.1:9/"
