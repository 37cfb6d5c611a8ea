"""The Redis store against a real redis-server on 127.0.0.1: the store contract, retention by
TTL, claims and forget, locks that outlive a dead process only until they expire, two engine
processes racing, and Redis going away and coming back mid-conversation.

The server is started by the tests (``redis-server`` on PATH). Without it the tests are
skipped, unless ``MBCBOT_REQUIRE_REDIS=1`` (as in ``.ci/run``), which makes that a failure.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialogue.engine import Engine, EngineOptions
from dialogue.errors import ConfigError, StoreError
from dialogue.replies import Incoming, ReplyKind
from dialogue.session import Session
from dialogue.state import ConversationState
from dialogue.storage import open_store

from ..conftest import CORE, FIXTURES
from ..redis_server import RedisServer, _require_redis, free_port  # noqa: F401 - the fixtures come from tests/conftest.py

@pytest.fixture
def store(redis_url: str):
    from dialogue.storage.redis import RedisStore

    s = RedisStore(redis_url, retention_s=1000)
    yield s
    s.close()


def make_state(turn: int = 1) -> ConversationState:
    return ConversationState(audience="patient", slots={"hr": "positive"}, last_topic="t", turn=turn, updated_at=100.0)


def test_a_saved_conversation_comes_back_unchanged_and_is_namespaced(store, redis_url: str) -> None:
    import redis

    state = make_state()
    store.save("k", state, 100.0)
    assert store.load("k", 101.0) == state
    assert store.load("other", 101.0) is None
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert keys and all(k.startswith(b"mbcbot:") for k in keys)


def test_open_store_gives_a_redis_store_for_redis_urls(redis_url: str) -> None:
    from dialogue.storage.redis import RedisStore

    s = open_store(redis_url, retention_s=60)
    assert isinstance(s, RedisStore) and s.retention_s == 60
    s.close()


def test_retention_is_the_redis_ttl_and_purge_has_nothing_to_do(redis_url: str) -> None:
    import redis

    from dialogue.storage.redis import RedisStore

    s = RedisStore(redis_url, retention_s=0.3)
    s.save("k", make_state(), time.time())
    ttl_ms = redis.Redis.from_url(redis_url).pttl("mbcbot:conv:k")
    assert 0 < ttl_ms <= 300
    assert s.load("k", time.time()) is not None
    time.sleep(0.5)
    assert s.load("k", time.time()) is None
    assert redis.Redis.from_url(redis_url).exists("mbcbot:conv:k") == 0  # gone from Redis, not just hidden
    assert s.purge(time.time()) == 0
    # a clock past the retention time hides the record even before Redis expires it
    long = RedisStore(redis_url, retention_s=1000)
    long.save("k", make_state(), 100.0)
    assert long.load("k", 1101.0) is None and long.load("k", 1099.0) is not None


def test_forget_removes_the_conversation_and_its_claims(store) -> None:
    store.save("k", make_state(), 100.0)
    assert store.claim("slack-event", "Ev1", 60, 100.0, owner="k")
    assert store.claim("tg-update", "42", 60, 100.0, owner="k")
    assert store.claim("slack-event", "Ev2", 60, 100.0, owner="someone-else")
    assert store.delete("k") is True
    assert store.load("k", 100.0) is None
    assert store.claim("slack-event", "Ev1", 60, 100.0, owner="k")  # the claims went too
    assert store.claim("tg-update", "42", 60, 100.0, owner="k")
    assert not store.claim("slack-event", "Ev2", 60, 100.0)  # others' claims stay
    assert store.delete("k") is False  # nothing stored any more (the claims just re-made go again)
    assert store.claim("slack-event", "Ev1", 60, 100.0)


def test_a_claim_is_granted_once_until_it_expires(store) -> None:
    assert store.claim("ns", "e1", 0.3, 0.0)
    assert not store.claim("ns", "e1", 0.3, 0.0)
    time.sleep(0.4)
    assert store.claim("ns", "e1", 0.3, 0.0)


def test_a_corrupted_record_is_discarded_not_trusted(store, redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).hset("mbcbot:conv:k", mapping={"state": '{"v": 1, "slots": 5}', "saved": "100"})
    assert store.load("k", 100.0) is None


def _hold_lock_and_hang(url: str, ready) -> None:
    from dialogue.storage.redis import RedisStore

    store = RedisStore(url, lock_timeout_s=1.5)
    held = store.locked("k")  # kept referenced: a collected context manager would release it
    held.__enter__()
    ready.set()
    time.sleep(60)


def test_a_lock_left_by_a_killed_process_expires(redis_url: str) -> None:
    from dialogue.storage.redis import RedisStore

    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock_and_hang, args=(redis_url, ready))
    holder.start()
    try:
        assert ready.wait(30)
        os.kill(holder.pid, signal.SIGKILL)  # dies holding the lock
        holder.join(10)
        impatient = RedisStore(redis_url, blocking_timeout_s=0.2)
        with pytest.raises(StoreError, match="busy"):
            with impatient.locked("k"):
                pass
        patient = RedisStore(redis_url, blocking_timeout_s=5)
        started = time.monotonic()
        with patient.locked("k"):
            patient.save("k", make_state(), 100.0)
        assert time.monotonic() - started < 2.0
        assert patient.load("k", 100.0) is not None
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()


def test_a_turn_that_outlived_its_lock_cannot_overwrite_a_newer_one(redis_url: str) -> None:
    from dialogue.storage.redis import RedisStore

    slow = RedisStore(redis_url, lock_timeout_s=0.2)
    slow._keeper.add = lambda lock: None  # a frozen process: nothing renews its lock's lease
    fast = RedisStore(redis_url, blocking_timeout_s=5)
    with pytest.raises(StoreError, match="lock"):
        with slow.locked("k"):
            time.sleep(0.3)  # the lock expires; another process takes it and saves
            with fast.locked("k"):
                fast.save("k", make_state(turn=7), 100.0)
            slow.save("k", make_state(turn=1), 100.0)
    assert fast.load("k", 100.0).turn == 7


def test_a_long_turn_keeps_its_short_lock_while_it_runs(redis_url: str) -> None:
    from dialogue.storage.redis import RedisStore

    slow = RedisStore(redis_url, lock_timeout_s=0.3)
    other = RedisStore(redis_url, blocking_timeout_s=0.2)
    with slow.locked("k"):
        time.sleep(1.0)  # more than three leases: renewed meanwhile
        with pytest.raises(StoreError, match="busy"):
            with other.locked("k"):
                pass
        slow.save("k", make_state(turn=3), 100.0)
    assert other.load("k", 100.0).turn == 3


def test_a_lock_whose_acquire_failed_half_way_is_removed(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis froze during the acquire: the SET ran when it woke, but the client had given up."""
    import redis as redis_py

    from dialogue.storage.redis import RedisStore

    store = RedisStore(redis_url)
    real = redis_py.lock.Lock.do_acquire

    def acquire_then_time_out(self: redis_py.lock.Lock, token: bytes) -> bool:
        real(self, token)
        raise redis_py.exceptions.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(redis_py.lock.Lock, "do_acquire", acquire_then_time_out)
    with pytest.raises(StoreError, match="lock"):
        with store.locked("k"):
            pass
    monkeypatch.undo()
    assert store._r.exists("mbcbot:lock:k") == 0  # the next message is not kept waiting
    with RedisStore(redis_url, blocking_timeout_s=0.1).locked("k"):
        pass


def test_lock_is_reentrant_in_one_thread_so_forget_works_inside_a_turn(store) -> None:
    store.save("k", make_state(), 100.0)
    with store.locked("k"):
        assert store.delete("k") is True
    with store.locked("k"):  # and released afterwards
        pass


def _race(url: str, shared: int, rounds: int, tag: str, start) -> None:
    from dialogue.loader import load_knowledge
    from dialogue.storage.redis import RedisStore

    knowledge = load_knowledge([CORE, FIXTURES / "topics"], include_bundled=False)
    session = Session(Engine(knowledge, EngineOptions()), RedisStore(url, blocking_timeout_s=30))
    texts = ["letrozole side effects", "ibrance side effects", "hello"]
    start.wait(60)  # both processes loaded: race from the same moment
    for i in range(rounds):
        for c in range(shared):
            replies = session.handle(f"shared-{c}", Incoming(text=texts[(i + c) % 3]))
            assert replies[-1].text != "" and "try again" not in replies[-1].text
        session.handle(f"own-{tag}-{i}", Incoming(text="hello"))


def test_two_engine_processes_racing_lose_and_duplicate_no_update(redis_url: str) -> None:
    from dialogue.storage.redis import RedisStore

    shared, rounds = 12, 40
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    workers = [ctx.Process(target=_race, args=(redis_url, shared, rounds, tag, start)) for tag in "ab"]
    for w in workers:
        w.start()
    for w in workers:
        w.join(180)
        assert w.exitcode == 0
    store = RedisStore(redis_url)
    now = time.time()
    # every shared conversation got every turn of both processes, each exactly once
    assert [store.load(f"shared-{c}", now).turn for c in range(shared)] == [2 * rounds] * shared
    assert all(store.load(f"own-{t}-{i}", now).turn == 1 for t in "ab" for i in range(rounds))
    import redis

    assert len(redis.Redis.from_url(redis_url).keys("mbcbot:conv:*")) == shared + 2 * rounds
    assert redis.Redis.from_url(redis_url).keys("mbcbot:lock:*") == []  # every lock released


def test_redis_restarted_mid_conversation(tmp_path: Path, knowledge) -> None:
    _require_redis()
    from dialogue.storage.redis import RedisStore

    server = RedisServer(tmp_path, persistent=True)
    server.start()
    try:
        session = Session(Engine(knowledge, EngineOptions(audience="patient")),
                          RedisStore(server.url, socket_timeout_s=1.0, blocking_timeout_s=1.0))
        session.handle("c", Incoming(text="hello"))
        session.handle("c", Incoming(text="letrozole side effects"))
        before = session.peek("c")
        assert before is not None and before.turn == 2

        server.stop()
        replies = session.handle("c", Incoming(text="I have a fever of 39"))
        assert [r.kind for r in replies] == [ReplyKind.URGENT, ReplyKind.FALLBACK]
        assert "try again" in replies[-1].text
        calm = session.handle("c", Incoming(text="letrozole side effects"))
        assert [r.kind for r in calm] == [ReplyKind.FALLBACK]
        assert session.peek("c") is None  # unreadable while down, without raising
        assert session.forget("c")[-1].kind is ReplyKind.FALLBACK

        server.start()  # same port, same data directory
        after = session.peek("c")
        assert after == before  # nothing corrupted, nothing half-written
        replies = session.handle("c", Incoming(text="letrozole side effects"))
        assert any(r.kind is ReplyKind.ANSWER for r in replies)
        assert session.peek("c").turn == 3  # continues where it was
    finally:
        server.stop()


def test_unreachable_redis_at_open_is_a_clear_store_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(StoreError, match=f"cannot reach the Redis conversation store at 127.0.0.1:{port}"):
        open_store(f"redis://127.0.0.1:{port}/0")


def test_without_redis_py_a_redis_url_names_the_extra(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "dialogue.stores_redis", raising=False)
    monkeypatch.delitem(sys.modules, "dialogue.storage.redis", raising=False)
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'mbcbot\[redis\]'"):
        open_store("redis://127.0.0.1:6379/0")


def test_a_redis_freeze_does_not_lock_a_conversation_long_after_it_ends(tmp_path: Path, knowledge) -> None:
    """Redis stops answering mid-acquire (SIGSTOP); the client gives up; when Redis wakes it runs
    the queued SET. The conversation is free again within one short lease, not 30 s."""
    _require_redis()
    from dialogue.storage.redis import RedisStore

    server = RedisServer(tmp_path)
    server.start()
    try:
        frozen = RedisStore(server.url, socket_timeout_s=0.3, blocking_timeout_s=0.5, lock_timeout_s=2.0)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(StoreError):
                with frozen.locked("c"):
                    pass
        finally:
            server.proc.send_signal(signal.SIGCONT)
        woke = time.monotonic()
        patient = RedisStore(server.url, blocking_timeout_s=5.0)
        with patient.locked("c"):
            waited = time.monotonic() - woke
        assert waited < 2.5, waited  # at most the short lease (2 s here; 5 s by default), never 30 s
    finally:
        server.stop()
