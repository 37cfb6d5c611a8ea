"""AsyncKeyedLock: one key's holders in arrival order, other keys meanwhile, nothing kept after."""

from __future__ import annotations

import asyncio

import pytest

from bots.common.locks import AsyncKeyedLock


async def test_one_keys_holders_run_one_at_a_time_in_arrival_order() -> None:
    locks, order = AsyncKeyedLock(), []
    release = asyncio.Event()

    async def holder(number: int) -> None:
        async with locks.hold("chat"):
            order.append(f"in {number}")
            if number == 0:
                await release.wait()
            await asyncio.sleep(0)
            order.append(f"out {number}")

    tasks = [asyncio.create_task(holder(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert order == ["in 0"]  # the others wait behind the first
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["in 0", "out 0", "in 1", "out 1", "in 2", "out 2"]


async def test_another_key_is_not_held_up() -> None:
    locks = AsyncKeyedLock()
    async with locks.hold(1):
        await asyncio.wait_for(_enter(locks, 2), timeout=1)
        assert len(locks) == 1


async def _enter(locks: AsyncKeyedLock, key: int) -> None:
    async with locks.hold(key):
        pass


async def test_no_lock_is_kept_once_nobody_holds_or_waits_even_after_an_error() -> None:
    locks = AsyncKeyedLock()
    with pytest.raises(RuntimeError):
        async with locks.hold("a"):
            raise RuntimeError("the handler failed")
    waiter = asyncio.create_task(_enter(locks, "b"))
    async with locks.hold("b"):
        await asyncio.sleep(0)
        assert len(locks) == 1  # one key, held and waited for
    await waiter
    assert len(locks) == 0


def test_chat_locks_is_the_keyed_lock() -> None:
    pytest.importorskip("telegram")
    from bots.telegram.app import ChatLocks

    assert ChatLocks is AsyncKeyedLock
