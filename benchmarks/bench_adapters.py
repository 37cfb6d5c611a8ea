"""Adapter benchmark: the real Telegram and Slack bots under load, against the fake APIs on 127.0.0.1.

Each bot runs in a process of its own, as deployed: the bundled knowledge, a SQLite store,
the default pacing, flood gate and per-conversation rate limit (``--rate-limit-per-minute``
to change the last). This process serves the fake API of tests/bots, plays the users and
times what reaches the fake, so the bot's CPU is its own.

- Telegram: python-telegram-bot long-polls the fake Bot API. 60 patient chats say hello
  and press "I understand" (not timed), then each sends a question every 2.5 s, evenly
  staggered: 24 turns a second. Printed: turns answered / sent, p50/p99 from the update
  reaching the fake to the answer's sendMessage, the most messages the fake received in
  any one second (the whole run, consent included), typing indicators and button answers.
- Slack: Bolt over HTTP on waitress (as ``mbcbot slack --http``), posting to the fake Web
  API. Steady: 20 DM conversations each send a signed event a second, evenly staggered;
  burst: 20 other conversations send one at the same instant, five times, 3 s apart.
  Printed: p50/p99 from sending the signed event to its chat.postMessage (and to Bolt's
  acknowledgement).
- The resident memory (RSS) of each bot process at the end of its run, and its peak.

A turn counts as answered when its conversation gets a message before its next turn (or
within 10 s for the last); an answer with the rate-limit notice counts, and is counted.

    python benchmarks/bench_adapters.py [--seconds 60] [--skip-slack] [--skip-telegram]

Targets: Telegram p99 under 200 ms with every turn answered and never more than 30
messages in a second; Slack steady p99 under 100 ms, burst p99 under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter as a timedelta, without deprecation warnings
for _name in [n for n in os.environ if n.startswith("SLACK_") or n.lower().endswith("_proxy")]:
    del os.environ[_name]  # Slack OAuth settings or a proxy would change what is measured

from bench_engine import percentile, realistic_messages  # noqa: E402

from dialogue.config import Settings  # noqa: E402
from dialogue.engine import Engine, EngineOptions  # noqa: E402
from dialogue.loader import load_knowledge  # noqa: E402
from dialogue.markup import to_plain  # noqa: E402

TELEGRAM_CHATS, TELEGRAM_EVERY_S = 60, 2.5
SLACK_CONVERSATIONS, SLACK_EVERY_S, BURSTS, BURST_GAP_S = 20, 1.0, 5, 3.0
DRAIN_S = 10.0  # how long the last turns may take


# --- the bots, each in its own process ----------------------------------------------------------
def settings_for(store: str, audience: str, rate_limit: int | None) -> Settings:
    settings = Settings().with_overrides(store=store, audience=audience, consent_required=audience == "patient")
    return settings if rate_limit is None else settings.with_overrides(rate_limit_per_minute=rate_limit)


def telegram_bot(url: str, token: str, store: str, rate_limit: int | None) -> None:
    """``mbcbot telegram`` against the fake: polling until SIGTERM."""
    logging.basicConfig(level=logging.WARNING)
    from bots.telegram.app import build_application, quiet_library_logs
    from bots.telegram.run import ALLOWED_UPDATES
    from dialogue.runtime import build_session

    quiet_library_logs()
    settings = settings_for(store, "patient", rate_limit)
    application = build_application(build_session(settings), settings, token, base_url=url)
    application.run_polling(allowed_updates=ALLOWED_UPDATES, poll_interval=0)


def slack_bot(api_url: str, token: str, secret: str, store: str, rate_limit: int | None, ports: Any) -> None:
    """``mbcbot slack --http`` against the fake: waitress until killed."""
    logging.basicConfig(level=logging.WARNING)
    from bots.slack.app import build_app, web_client
    from bots.slack.run import http_server
    from dialogue.runtime import build_session

    settings = settings_for(store, "clinician", rate_limit)
    app = build_app(build_session(settings), settings, web_client(token, api_url), signing_secret=secret)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a burst queues requests: measured, not logged
    server = http_server(app, "127.0.0.1", 0)
    ports.put(server.effective_port)
    server.run()


def memory(pid: int) -> str:
    fields = dict(row.split(":", 1) for row in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in row)
    mb = {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}
    return f"bot process RSS {mb['VmRSS']:.0f} MB (peak {mb['VmHWM']:.0f} MB)"


def stop(process: multiprocessing.process.BaseProcess) -> None:
    process.terminate()
    process.join(30)
    if process.exitcode is None:
        process.kill()
        process.join(10)


# --- measuring ---------------------------------------------------------------------------------
def latencies(sent: dict[Any, list[float]], arrived: dict[Any, list[float]]) -> list[float | None]:
    """Per turn, ms from its sending to the first message its conversation got before its next turn."""
    out: list[float | None] = []
    for key, times in sent.items():
        messages = sorted(arrived.get(key, []))
        for number, at in enumerate(times):
            until = times[number + 1] if number + 1 < len(times) else at + DRAIN_S
            first = next((m for m in messages if at <= m < until), None)
            out.append(None if first is None else (first - at) * 1000)
    return out


def figures(turns: list[float | None], target_ms: float) -> str:
    times = [t for t in turns if t is not None]
    if not times:
        return "no turn answered"
    p99 = percentile(times, 0.99)
    return (f"p50 {statistics.median(times):6.1f} ms   p99 {p99:6.1f} ms   "
            f"(target: p99 under {target_ms:.0f} ms: {'met' if p99 < target_ms else 'MISSED'})")


def answered(turns: list[float | None]) -> str:
    done = sum(t is not None for t in turns)
    return f"{done} / {len(turns)}" + ("" if done == len(turns) else "  (target: every turn: MISSED)")


def notice_starts(audience: str) -> str:
    """The beginning of the rate-limit notice, as the user reads it."""
    engine = Engine(load_knowledge(), EngineOptions(audience=audience))
    return to_plain(engine.notice("rate_limited", audience).text)[:40]


def limited(texts: Iterable[str], audience: str) -> int:
    start = notice_starts(audience)
    return sum(text.startswith(start) for text in texts)


def wait_until(done: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"the bot never {what}")
        time.sleep(0.05)


# --- Telegram ----------------------------------------------------------------------------------
async def telegram_run(seconds: float, store: str, rate_limit: int | None, messages: list[str]) -> None:
    from tests.bots.telegram.fake_bot_api import FakeBotAPI
    from tests.bots.telegram.updates import TOKEN, callback_update, text_update

    fake = FakeBotAPI()
    url = await fake.start()
    process = multiprocessing.get_context("spawn").Process(target=telegram_bot, args=(url, TOKEN, store, rate_limit))
    process.start()
    chats = [10_000 + n for n in range(TELEGRAM_CHATS)]
    try:
        await fake.wait_for(lambda c: c.method == "setMyCommands", timeout=120)

        async def everyone_got(since: int, buttons: bool) -> list[Any]:
            """Per chat, its first message since ``since`` (with buttons, if asked)."""
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                first: dict[Any, Any] = {}
                for call in fake.sent(since=since):
                    if call.buttons or not buttons:
                        first.setdefault(call.chat_id, call)
                if all(chat in first for chat in chats):
                    return [first[chat] for chat in chats]
                await asyncio.sleep(0.05)
            raise SystemExit("the Telegram bot did not answer every chat")

        since = len(fake.calls)  # consent, as each patient gives it: hello, then "I understand"
        for chat in chats:
            await fake.push(text_update("hello", chat), TOKEN)
        disclaimers = await everyone_got(since, buttons=True)
        since = len(fake.calls)
        for chat, disclaimer in zip(chats, disclaimers):
            await fake.push(callback_update(disclaimer.buttons[0][1], chat, disclaimer.message_id or 1), TOKEN)
        await everyone_got(since, buttons=False)
        await asyncio.sleep(4)  # every chat's pace back to a full burst

        since = len(fake.calls)
        count = int(seconds * TELEGRAM_CHATS / TELEGRAM_EVERY_S)
        sent: dict[Any, list[float]] = defaultdict(list)
        began = time.monotonic() + 0.2
        for number in range(count):
            chat = chats[number % TELEGRAM_CHATS]
            await asyncio.sleep(max(0.0, began + number * TELEGRAM_EVERY_S / TELEGRAM_CHATS - time.monotonic()))
            sent[chat].append(time.monotonic())
            await fake.push(text_update(messages[number % len(messages)], chat), TOKEN)

        def answers() -> list[float | None]:
            arrived: dict[Any, list[float]] = defaultdict(list)
            for call in fake.sent(since=since):
                arrived[call.chat_id].append(call.at)
            return latencies(sent, arrived)

        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and None in answers():
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # any later parts of the last answers
        footprint = memory(process.pid or 0)
    finally:
        await asyncio.to_thread(stop, process)  # the fake keeps serving while the bot shuts down
        await fake.close()

    turns = answers()
    outgoing = [c for c in fake.calls if c.method in ("sendMessage", "editMessageText")]
    busiest = fake.most_in_any(1.0, outgoing)
    notices = limited((c.visible for c in fake.sent(since=since)), "patient")
    print(f"Telegram: {TELEGRAM_CHATS} chats, a question every {TELEGRAM_EVERY_S} s each "
          f"({TELEGRAM_CHATS / TELEGRAM_EVERY_S:.0f} turns/s), {seconds:.0f} s")
    print(f"  turns answered        {answered(turns)}   ({notices} with the rate-limit notice)")
    print(f"  update -> sendMessage {figures(turns, 200)}")
    print(f"  most messages in any 1 s: {busiest} of {len(outgoing)} "
          f"(target: never above 30: {'met' if busiest <= 30 else 'MISSED'})")
    print(f"  typing indicators {len(fake.of('sendChatAction', since=since))}, "
          f"button answers {len(fake.of('answerCallbackQuery'))} (consent), "
          f"failed calls {len([c for c in fake.calls if not c.ok])}")
    print(f"  {footprint}")


# --- Slack -------------------------------------------------------------------------------------
def slack_run(seconds: float, store: str, rate_limit: int | None, messages: list[str]) -> None:
    from tests.bots.slack import payloads
    from tests.bots.slack.conftest import post
    from tests.bots.slack.fake_slack import FakeSlack

    fake = FakeSlack().start()
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=slack_bot, args=(fake.api_url, payloads.BOT_TOKEN, payloads.SECRET, store,
                                                      rate_limit, ports))
    process.start()
    sent: dict[Any, list[float]] = defaultdict(list)
    acks: list[float] = []
    guard = threading.Lock()

    def send(channel: str, text: str, barrier: threading.Barrier | None = None) -> None:
        raw, content_type = payloads.encode(payloads.dm(text, channel, user=f"U{channel[1:]}"))
        headers = {"Content-Type": content_type, **payloads.sign(raw, payloads.SECRET)}
        if barrier is not None:
            barrier.wait(10)
        at = time.monotonic()
        status, _ = post(url, raw, headers)
        with guard:
            sent[channel].append(at)
            acks.append((time.monotonic() - at) * 1000)
        if status != 200:
            print(f"  the bot answered a signed event with HTTP {status}")

    try:
        url = f"http://127.0.0.1:{ports.get(timeout=120)}/slack/events"
        steady = [f"D0STEADY{n:03d}" for n in range(SLACK_CONVERSATIONS)]
        burst = [f"D0BURST{n:03d}" for n in range(SLACK_CONVERSATIONS)]
        with ThreadPoolExecutor(2 * SLACK_CONVERSATIONS) as pool:
            for n, channel in enumerate(steady + burst):  # warm up the connection pools, not timed
                pool.submit(send, channel, messages[n]).result()
            wait_until(lambda: len(fake.posted()) >= 2 * SLACK_CONVERSATIONS, 30, "answered the warm-up")
            sent.clear()
            acks.clear()
            time.sleep(1.5)
            since = len(fake.calls)
            count = int(seconds * SLACK_CONVERSATIONS / SLACK_EVERY_S)
            began = time.monotonic() + 0.2
            for number in range(count):
                time.sleep(max(0.0, began + number * SLACK_EVERY_S / SLACK_CONVERSATIONS - time.monotonic()))
                pool.submit(send, steady[number % SLACK_CONVERSATIONS], messages[number % len(messages)])
            time.sleep(BURST_GAP_S)
            steady_acks = list(acks)
            for round_ in range(BURSTS):
                barrier = threading.Barrier(SLACK_CONVERSATIONS)
                for n, channel in enumerate(burst):
                    pool.submit(send, channel, messages[-1 - round_ * SLACK_CONVERSATIONS - n], barrier)
                time.sleep(BURST_GAP_S)
        wait_until(lambda: len(fake.posted(since)) >= count + BURSTS * SLACK_CONVERSATIONS, DRAIN_S, "answered every turn")
        footprint = memory(process.pid or 0)
    finally:
        stop(process)
        fake.close()

    arrived: dict[Any, list[float]] = defaultdict(list)
    for call in fake.posted(since):
        arrived[call.channel].append(call.at)
    steady_turns = latencies({c: sent[c] for c in steady}, arrived)
    burst_turns = latencies({c: sent[c] for c in burst}, arrived)
    notices = limited((c.visible for c in fake.posted(since)), "clinician")
    print(f"Slack (HTTP, waitress): steady, {SLACK_CONVERSATIONS} conversations, a turn every {SLACK_EVERY_S:.0f} s each "
          f"({SLACK_CONVERSATIONS / SLACK_EVERY_S:.0f} turns/s), {seconds:.0f} s")
    print(f"  turns answered        {answered(steady_turns)}   ({notices} with the rate-limit notice, steady and burst)")
    print(f"  event -> postMessage  {figures(steady_turns, 100)}")
    print(f"  event -> ack          p50 {statistics.median(steady_acks):6.1f} ms   p99 {percentile(steady_acks, 0.99):6.1f} ms")
    print(f"Slack burst: {SLACK_CONVERSATIONS} conversations at the same instant, {BURSTS} times {BURST_GAP_S:.0f} s apart")
    print(f"  turns answered        {answered(burst_turns)}")
    print(f"  event -> postMessage  {figures(burst_turns, 200)}")
    print(f"  {footprint}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the Telegram load and the Slack steady load")
    parser.add_argument("--rate-limit-per-minute", type=int, default=None,
                        help="the bots' per-conversation rate limit (default: the deployment default)")
    parser.add_argument("--skip-telegram", action="store_true")
    parser.add_argument("--skip-slack", action="store_true")
    args = parser.parse_args()
    print(f"adapters against the fake APIs on 127.0.0.1, bundled knowledge, SQLite store, {os.cpu_count()} CPUs")
    messages = realistic_messages(load_knowledge(), 5000)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_telegram:
            asyncio.run(telegram_run(args.seconds, f"sqlite:///{tmp}/telegram.db", args.rate_limit_per_minute, messages))
        if not args.skip_slack:
            slack_run(args.seconds, f"sqlite:///{tmp}/slack.db", args.rate_limit_per_minute, messages)


if __name__ == "__main__":
    main()
