"""Nothing private in any log, at any level, whatever python-telegram-bot logs: messages, an update
it cannot parse, the token."""

from __future__ import annotations

import aiohttp

from dialogue.model import Knowledge

from ..adapter_support import every_log_record, leaked
from .conftest import texts
from .fake_bot_api import FakeBotAPI
from .test_webhook import SECRET, post, webhook
from .updates import TOKEN, text_update

MARKER = "Jane Roe zebracorn 1957"  # what a person typed: must never reach a log
CHAT_ID, USER_ID, NAME = 987_650_001, 555_770_001, "Zebulonia"


def personal(update: dict) -> dict:
    """An update from a person with a recognisable chat id, user id and name."""
    message = update["message"]
    message["chat"].update(id=CHAT_ID, first_name=NAME)
    message["from"].update(id=USER_ID, first_name=NAME)
    return update


async def test_nothing_private_reaches_any_log_at_debug(fake: FakeBotAPI, knowledge: Knowledge) -> None:
    with every_log_record() as records:
        async with webhook(fake, knowledge) as (harness, url), aiohttp.ClientSession() as http:
            normal = personal(text_update(f"ibrance side effects {MARKER}"))
            normal["update_id"] = fake.new_update_id()
            assert await post(http, url, normal, SECRET) == 200
            await harness.handled(normal["update_id"])
            # an update python-telegram-bot cannot parse (a message without its chat and date)
            broken = {"update_id": fake.new_update_id(),
                      "message": {"message_id": 1, "text": MARKER, "from": {"id": USER_ID, "first_name": NAME}}}
            assert await post(http, url, broken, SECRET) == 400
            assert await post(http, url, personal(text_update(MARKER)), "wrong-secret") == 403
    assert "white blood cells" in texts(fake.sent(CHAT_ID))[-1]  # the normal message was answered (patient voice)
    assert any(r.getMessage() == "turn handled" for r in records)  # the capture saw the turn at INFO
    assert any("could not be processed" in r.getMessage() or "not* processed" in r.getMessage() for r in records)
    private = [MARKER, "zebracorn", TOKEN, TOKEN.split(":")[1], SECRET, str(CHAT_ID), str(USER_ID), NAME]
    assert leaked(records, private) == []
