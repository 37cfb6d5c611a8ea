"""What both adapters share: delivery over the inbox, per-conversation queues, the serving policy."""

from __future__ import annotations

import asyncio
import threading
import time

from bots.common.delivery import Delivery
from bots.common.serial import SerialQueues
from bots.common.serving import serve_once, serve_once_async
from dialogue.storage import MemoryStore


def test_an_event_is_served_once_even_if_it_arrives_twice() -> None:
    delivery = Delivery(MemoryStore(), "test", 3600)
    served: list[str] = []
    assert delivery.accept("e1", "job", "conv")
    assert not delivery.accept("e1", "job", "conv")  # a redelivery while it waits
    for _ in range(2):
        serve_once(delivery, "e1", lambda: "job", "conv", lambda: served.append("answer"), lambda: None, label="t")
    assert served == ["answer"]


def test_a_failing_turn_gets_an_apology_and_is_still_marked_answered() -> None:
    store = MemoryStore()
    delivery = Delivery(store, "test", 3600)
    apologies: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    assert serve_once(delivery, "e1", lambda: "job", "conv", broken, lambda: apologies.append("sorry"), label="t")
    assert apologies == ["sorry"]
    assert store.take_expired("other", 15, time.time() + 3600, prefix="test:") == []  # nobody takes it over


def test_an_event_of_a_stopped_instance_is_resumed_by_another() -> None:
    store = MemoryStore()
    dead = Delivery(store, "test", 3600, lease_s=1)
    assert dead.accept("e1", "the job", "conv")  # ... and the process dies
    resumed: list[tuple[str, str]] = []
    survivor = Delivery(store, "test", 3600, lease_s=1, resume=lambda key, job: resumed.append((key, job)),
                        clock=lambda: time.time() + 2)
    assert survivor.sweep() == 1 and resumed == [("e1", "the job")]
    assert survivor.started("e1") is True  # the survivor answers it, once
    assert survivor.sweep() == 0


def test_a_busy_conversation_queues_its_jobs_and_frees_the_worker() -> None:
    queues = SerialQueues()
    order: list[str] = []
    release = threading.Event()

    def first() -> None:
        release.wait(5)
        order.append("first")

    runner = threading.Thread(target=queues.run, args=("conv", first))
    runner.start()
    while not queues.busy("conv"):
        time.sleep(0.001)
    started = time.monotonic()
    assert queues.run("conv", lambda: order.append("second")) is False  # queued: returned at once
    assert queues.run("other", lambda: order.append("other")) is True  # another conversation runs now
    assert time.monotonic() - started < 1
    release.set()
    runner.join(5)
    assert order == ["other", "first", "second"] and len(queues) == 0


def test_the_async_policy_matches_the_threaded_one() -> None:
    delivery = Delivery(MemoryStore(), "test", 3600)
    served: list[str] = []

    async def work() -> None:
        served.append("answer")

    async def apologise() -> None:
        served.append("sorry")

    async def twice() -> None:
        for _ in range(2):
            await serve_once_async(delivery, "e1", lambda: "job", "conv", work, apologise, label="t")

    asyncio.run(twice())
    assert served == ["answer"]
