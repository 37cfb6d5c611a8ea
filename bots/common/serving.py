"""The serving policy both adapters follow for one event, written once.

begin (once per event: a redelivery is dropped) -> the adapter's work (run the engine, send
the replies) -> on any failure, log its type only and apologise -> mark the event answered,
so it is never taken over. Ordering (a conversation's events one at a time) comes before this
and is the adapter's: a worker-thread queue for Slack, an asyncio lock for Telegram.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .delivery import Delivery

log = logging.getLogger(__name__)

Describe = Callable[[BaseException], str]


def _type_name(exc: BaseException) -> str:
    return type(exc).__name__


def serve_once(delivery: Delivery, key: str | None, job: Callable[[], str], conversation: str,
               work: Callable[[], None], apologise: Callable[[], None], *, label: str,
               describe: Describe = _type_name) -> bool:
    """Answer one event on this thread; False if it was answered already (nothing done)."""
    if key is not None and not delivery.begin(key, job(), conversation):
        log.info("%s was already answered", label)
        return False
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - the bot must keep serving everyone
        log.error("%s failed: %s", label, describe(exc))
        apologise()
    finally:
        if key is not None:
            delivery.answered(key)
    return True


async def serve_once_async(delivery: Delivery, key: str | None, job: Callable[[], str], conversation: str,
                           work: Callable[[], Awaitable[None]], apologise: Callable[[], Awaitable[None]], *,
                           label: str, describe: Describe = _type_name) -> bool:
    """:func:`serve_once` for an asyncio adapter: the store is touched on a worker thread."""
    if key is not None:
        begun = delivery.started(key)
        if begun is None:  # not accepted by the adapter's queue (a host application's own queue)
            begun = await asyncio.to_thread(delivery.begin, key, job(), conversation)
        if not begun:
            log.info("%s was already answered", label)
            return False
    try:
        await work()
    except Exception as exc:  # noqa: BLE001 - the bot must keep serving everyone
        log.error("%s failed: %s", label, describe(exc))
        await apologise()
    finally:
        if key is not None and delivery.holds(key):
            await asyncio.to_thread(delivery.answered, key)
    return True
