"""``mbcbot telegram`` as an operator runs it: clear one-line errors, and long polling for real."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from .fake_bot_api import FakeBotAPI
from .test_webhook import free_port
from .updates import CHAT, TOKEN, text_update

ROOT = Path(__file__).resolve().parents[3]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "MBCBOT_"))}
    env.update({"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "NO_PROXY": "127.0.0.1,localhost"})
    env.update(extra)
    return env


async def mbcbot(tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run ``mbcbot telegram``; (exit status, everything it printed on either stream)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", "telegram", *args, cwd=ROOT, env=environment(tmp_path, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode() + stderr.decode()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {}, "TELEGRAM_BOT_TOKEN is not set"),
        (["--webhook", "https://bot.example.org/hook"], {"TELEGRAM_BOT_TOKEN": TOKEN}, "--webhook needs --port"),
        (["--webhook", "https://bot.example.org/hook", "--port", "8443"],
         {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "not allowed!"}, "TELEGRAM_WEBHOOK_SECRET must be"),
        (["--webhook", "http://bot.example.org/hook", "--port", "8443"], {"TELEGRAM_BOT_TOKEN": TOKEN},
         "--webhook must be a public https:// address (Telegram posts only over HTTPS)"),
    ],
)
async def test_a_missing_or_bad_setting_is_one_line_and_exit_2(tmp_path: Path, args: list[str], env: dict[str, str],
                                                              message: str) -> None:
    code, stderr = await mbcbot(tmp_path, *args, **env)
    assert code == 2 and message in stderr
    assert len(stderr.strip().splitlines()) == 1


async def test_the_command_polls_registers_commands_and_greets_with_the_consent_step(
    fake: FakeBotAPI, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", "telegram", "--store", "memory", cwd=ROOT,
        env=environment(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.url, MBCBOT_AUDIENCE="clinician"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_for(lambda c: c.method == "setMyCommands", timeout=30)
        await fake.push(text_update("/start", CHAT), TOKEN)
        consent = await fake.wait_for(lambda c: c.method == "sendMessage" and ("I understand", "c:yes") in c.buttons,
                                      timeout=10)
        assert "not a doctor" in consent.visible  # the patient voice, whatever MBCBOT_AUDIENCE says
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert TOKEN.split(":")[1] not in stderr.decode()  # the token never reaches the logs
    assert {"getMe", "setMyCommands", "deleteWebhook"} <= {c.method for c in fake.calls}  # polling start-up


SECRET_PART = TOKEN.split(":")[1]


@pytest.mark.parametrize("mode", [[], ["--webhook", "https://bot.example.org/hook", "--port", "0"]], ids=["polling", "webhook"])
async def test_a_token_telegram_refuses_is_one_line_exit_2_and_never_printed(fake: FakeBotAPI, tmp_path: Path,
                                                                             mode: list[str]) -> None:
    refused = "mbcbot: error: TELEGRAM_BOT_TOKEN was not accepted by Telegram (check the token @BotFather gave you)"
    fake.fail("getMe", status=401, description="Unauthorized")
    code, printed = await mbcbot(tmp_path, "--store", "memory", *mode, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.url)
    assert (code, printed.strip().splitlines()) == (2, [refused])
    assert [c.method for c in fake.calls] == ["getMe"]  # it stopped there: no polling, no webhook set

    fake.fail("getMe", status=401, description="Unauthorized")
    code, printed = await mbcbot(tmp_path, "--store", "memory", *mode, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.url,
                                 MBCBOT_LOG_LEVEL="DEBUG")  # every log line the command writes
    assert code == 2 and printed.strip().splitlines()[-1] == refused and "Traceback" not in printed
    assert SECRET_PART not in printed


async def test_an_unreachable_bot_api_is_one_line_exit_2_and_the_token_is_never_printed(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = f"mbcbot: error: cannot reach the Telegram Bot API at {nowhere} (NetworkError)"
    code, printed = await mbcbot(tmp_path, "--store", "memory", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=nowhere)
    assert (code, printed.strip().splitlines()) == (2, [unreachable])
    code, printed = await mbcbot(tmp_path, "--store", "memory", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=nowhere,
                                 MBCBOT_LOG_LEVEL="DEBUG")
    assert code == 2 and printed.strip().splitlines()[-1] == unreachable and "Traceback" not in printed
    assert SECRET_PART not in printed
