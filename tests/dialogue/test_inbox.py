"""The inbox of every store: an accepted event is answered once, by someone, whatever dies."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dialogue.storage import EventInbox, MemoryStore, SQLiteStore

LEASE, TTL = 15.0, 3600.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
def inbox(request, tmp_path: Path):
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = SQLiteStore(tmp_path / "c.db")
    else:
        from dialogue.storage.redis import RedisStore

        store = RedisStore(request.getfixturevalue("redis_url"))
    yield store
    store.close()


def test_every_store_is_an_inbox(inbox) -> None:
    assert isinstance(inbox, EventInbox)


def test_a_new_event_is_answered_by_whoever_accepted_it(inbox) -> None:
    assert inbox.accept("ev1", "job-1", "conv", "A", LEASE, TTL, 100.0)
    assert inbox.accept("ev1", "job-1", "conv", "A", LEASE, TTL, 101.0)  # the same owner may look again


def test_a_redelivery_is_dropped_while_the_first_is_being_answered(inbox) -> None:
    assert inbox.accept("ev1", "job-1", "conv", "A", LEASE, TTL, 100.0)
    assert not inbox.accept("ev1", "job-1", "conv", "B", LEASE, TTL, 105.0)


def test_a_redelivery_is_dropped_once_answered_until_the_mark_expires(inbox) -> None:
    assert inbox.accept("ev1", "job-1", "conv", "A", LEASE, TTL, 100.0)
    inbox.answered("ev1", 101.0)
    assert not inbox.accept("ev1", "job-1", "conv", "B", LEASE, TTL, 500.0)  # long after the lease
    assert not inbox.take_expired("B", LEASE, 500.0)


def test_a_redelivery_after_the_owner_died_is_answered_by_the_survivor(inbox) -> None:
    assert inbox.accept("ev1", "job-1", "conv", "A", LEASE, TTL, 100.0)
    assert inbox.accept("ev1", "job-1", "conv", "B", LEASE, TTL, 100.0 + LEASE + 1)


def test_without_a_redelivery_the_survivor_takes_over_an_expired_lease_once(inbox) -> None:
    assert inbox.accept("ev1", "the job", "conv", "A", LEASE, TTL, 100.0)
    assert inbox.take_expired("B", LEASE, 110.0) == []  # A may still be working
    assert inbox.take_expired("B", LEASE, 116.0) == [("ev1", "the job")]
    assert inbox.take_expired("C", LEASE, 117.0) == []  # B holds it now
    assert not inbox.accept("ev1", "the job", "conv", "A", LEASE, TTL, 118.0)  # nor does A get it back


def test_a_renewed_lease_is_not_taken_over(inbox) -> None:
    assert inbox.accept("ev1", "job", "conv", "A", LEASE, TTL, 100.0)
    assert inbox.accept("ev2", "job", "conv", "A", LEASE, TTL, 100.0)
    inbox.answered("ev2", 101.0)
    assert inbox.renew(["ev1", "ev2", "unknown"], "A", LEASE, 110.0) == ["ev1"]
    assert inbox.take_expired("B", LEASE, 120.0) == []
    assert inbox.renew(["ev1"], "B", LEASE, 120.0) == []  # only the owner renews
    assert inbox.take_expired("B", LEASE, 126.0) == [("ev1", "job")]
    assert inbox.renew(["ev1"], "A", LEASE, 127.0) == []  # A learns it lost the event


def test_forget_removes_the_conversations_inbox_entries(inbox) -> None:
    assert inbox.accept("ev1", "my question", "conv", "A", LEASE, TTL, 100.0)
    assert inbox.accept("ev2", "other question", "other", "A", LEASE, TTL, 100.0)
    inbox.delete("conv")
    assert inbox.take_expired("B", LEASE, 200.0) == [("ev2", "other question")]
    assert inbox.accept("ev1", "my question", "conv", "B", LEASE, TTL, 201.0)  # gone, so new


def test_an_answered_event_keeps_no_job_text(inbox, tmp_path: Path) -> None:
    assert inbox.accept("ev1", "PRIVATE-QUESTION", "conv", "A", LEASE, TTL, 100.0)
    inbox.answered("ev1", 101.0)
    if isinstance(inbox, SQLiteStore):  # what is on disk, read raw
        inbox.checkpoint()
        assert b"PRIVATE-QUESTION" not in (tmp_path / "c.db").read_bytes()
    elif isinstance(inbox, MemoryStore):
        assert inbox._inbox["ev1"].job is None
    else:  # what Redis holds for the entry
        assert inbox._r.hgetall("mbcbot:inbox:ev1") and inbox._r.hget("mbcbot:inbox:ev1", "job") is None


def test_expired_marks_are_purged(inbox) -> None:
    assert inbox.accept("ev1", "job", "conv", "A", LEASE, 10.0, 100.0)
    inbox.answered("ev1", 101.0)
    if type(inbox).__name__ == "RedisStore":  # Redis expires the entry itself, after the time to live
        assert 0 < inbox._r.pttl("mbcbot:inbox:ev1") <= 10_000
        return
    inbox.purge(120.0)
    assert inbox.accept("ev1", "job", "conv", "B", LEASE, TTL, 121.0)  # a new event by now


def test_the_sqlite_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "state" / "c.db"
        store = SQLiteStore(path)
        store.accept("ev1", "job", "conv", "A", LEASE, TTL, 100.0)
        store.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


def test_a_folder_that_already_exists_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    store = SQLiteStore(shared / "c.db")
    store.accept("ev1", "job", "conv", "A", LEASE, TTL, 100.0)
    store.close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    for file in shared.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


def test_a_forgotten_conversation_leaves_no_copy_in_the_write_ahead_log(tmp_path: Path) -> None:
    from dialogue.state import ConversationState

    path = tmp_path / "c.db"
    store = SQLiteStore(path)
    secret = ConversationState(audience="patient", slots={"hr": "SECRET-SLOT-VALUE"}, turn=1, updated_at=100.0)
    for turn in range(20):
        with store.locked("conv"):
            store.save("conv", secret, 100.0 + turn)
    store.delete("conv")
    for suffix in ("", "-wal"):
        file = Path(f"{path}{suffix}")
        assert not file.exists() or b"SECRET-SLOT-VALUE" not in file.read_bytes(), suffix
    store.close()


def test_retention_runs_while_the_store_is_in_use(tmp_path: Path) -> None:
    import time

    from dialogue.state import ConversationState

    store = SQLiteStore(tmp_path / "c.db", retention_s=1.0, purge_every_s=0.0)
    state = ConversationState(audience="patient", turn=1, updated_at=0.0)
    with store.locked("old"):
        store.save("old", state, time.time() - 10)
    with store.locked("new"):  # any later turn sweeps, without a restart
        store.save("new", state, time.time())
    rows = store._db().execute("SELECT key FROM conversations").fetchall()
    assert rows == [("new",)]


def test_each_platform_takes_over_only_its_own_events(inbox) -> None:
    assert inbox.accept("slack:ev1", "s", "conv", "A", LEASE, TTL, 100.0)
    assert inbox.accept("telegram:7", "t", "conv2", "A", LEASE, TTL, 100.0)
    assert inbox.take_expired("B", LEASE, 200.0, prefix="telegram:") == [("telegram:7", "t")]
    assert inbox.take_expired("B", LEASE, 200.0, prefix="slack:") == [("slack:ev1", "s")]


def test_a_persons_conversations_are_found_by_the_start_and_end_of_their_keys(inbox) -> None:
    from dialogue.state import ConversationState

    state = ConversationState(audience="clinician", turn=1, updated_at=100.0)
    for key in ["slack:T1:dm:abc", "slack:T1:C1:1.0:abc", "slack:T1:C1:user:abc", "slack:T1:C1:1.0:xyz",
                "slack:T2:dm:abc", "slack:T1:C[*]:2.0:abc"]:
        inbox.save(key, state, 100.0)
    assert inbox.conversations_like("slack:T1:", ":abc") == sorted(
        ["slack:T1:dm:abc", "slack:T1:C1:1.0:abc", "slack:T1:C1:user:abc", "slack:T1:C[*]:2.0:abc"])
    assert inbox.conversations_like("slack:T1:C[*]:", ":abc") == ["slack:T1:C[*]:2.0:abc"]
