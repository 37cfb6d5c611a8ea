"""Conversations in Redis, shared by any number of processes and machines.

Selected with ``MBCBOT_STORE=redis://host:6379/0`` (or ``rediss://`` for TLS); needs
redis-py (``pip install 'mbcbot[redis]'``). Everything lives under the ``mbcbot:`` prefix:

=================================  ===============================================
key                                what
=================================  ===============================================
``mbcbot:conv:<conversation>``     hash: ``state`` (the state as JSON), ``saved`` (time of the turn)
``mbcbot:lock:<conversation>``     the per-conversation lock (redis-py ``Lock``), expires on its own
``mbcbot:claim:<ns>:<key>``        an adapter's deduplication claim (``SET NX PX``)
``mbcbot:owner:<conversation>``    set: the claim and inbox keys recorded for the conversation (for ``forget``)
``mbcbot:inbox:<event>``           hash: an accepted event (``job``, ``owner``, ``lease``, ``answered``)
``mbcbot:inbox-leases``            sorted set: unanswered events by the time their lease runs out
=================================  ===============================================

Retention is Redis's own: every save sets the conversation's time to live to the
retention time, so :meth:`RedisStore.purge` has nothing to do. Conversations are read
from Redis on every turn; nothing is cached in the process.

A turn holds the conversation's lock. Its lease is short (``lock_timeout_s``, 5 s) and a
thread renews it while the turn runs, so a process that dies or stalls holds a conversation
for seconds, not half a minute; an acquire that failed half-way (a timeout while Redis was
frozen) deletes the lock it may have set. The save is fenced by the lock: it is written only if this turn
still holds the lock, so a turn that outlived its lock cannot overwrite a newer one.
Every Redis failure (connection refused, timeout, server restarting...) is a
:class:`~dialogue.errors.StoreError`, which the session turns into an apology.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from ..errors import StoreError
from ..state import ConversationState
from .base import DEFAULT_RETENTION_S, decode_state, encode_state

log = logging.getLogger(__name__)

PREFIX = "mbcbot:"

# Save only while this turn still holds the conversation's lock (KEYS: conv, lock; ARGV: token, state, saved, ttl ms).
_FENCED_SAVE = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('LOCKLOST the conversation lock expired before the save')
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'saved', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# Index a key under its conversation, so forget finds it; the index lives as long as its longest key.
_INDEX_UNDER = """
local function index_under(owner_index, key, ttl_ms)
  redis.call('SADD', owner_index, key)
  if redis.call('PTTL', owner_index) < tonumber(ttl_ms) then
    redis.call('PEXPIRE', owner_index, ttl_ms)
  end
end
"""

# Record a claim once; index it under its owner (KEYS: claim, owner index; ARGV: owner, ttl ms).
_CLAIM = _INDEX_UNDER + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
if ARGV[1] ~= '' then
  index_under(KEYS[2], KEYS[1], ARGV[2])
end
return 1
"""

# Delete a conversation and every claim it owns, atomically (KEYS: conv, owner index).
_FORGET = """
local claims = redis.call('SMEMBERS', KEYS[2])
for _, claim in ipairs(claims) do
  redis.call('DEL', claim)
end
redis.call('DEL', KEYS[2])
return redis.call('DEL', KEYS[1])
"""


# Accept an event (KEYS: entry, leases, owner index; ARGV: job, conversation, owner, lease until, ttl ms, now).
_ACCEPT = _INDEX_UNDER + """
local e = redis.call('HMGET', KEYS[1], 'answered', 'owner', 'lease')
if e[1] then
  if e[1] == '1' then return 0 end
  if e[2] ~= ARGV[3] and tonumber(e[3]) > tonumber(ARGV[6]) then return 0 end
  redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'lease', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 'answered', '0', 'owner', ARGV[3], 'lease', ARGV[4], 'job', ARGV[1], 'conversation', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
if ARGV[2] ~= '' then
  index_under(KEYS[3], KEYS[1], ARGV[5])
end
return 1
"""

# Renew the leases an owner still holds (KEYS: leases, entries...; ARGV: owner, lease until).
_RENEW = """
local held = {}
for i = 2, #KEYS do
  local e = redis.call('HMGET', KEYS[i], 'answered', 'owner')
  if e[1] == '0' and e[2] == ARGV[1] then
    redis.call('HSET', KEYS[i], 'lease', ARGV[2])
    redis.call('ZADD', KEYS[1], ARGV[2], KEYS[i])
    table.insert(held, KEYS[i])
  end
end
return held
"""

# Mark an event answered: drop its job, keep the entry until it expires (KEYS: entry, leases).
_ANSWERED = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'answered', '1')
  redis.call('HDEL', KEYS[1], 'job')
end
redis.call('ZREM', KEYS[2], KEYS[1])
return 1
"""

# Take over events whose lease ran out (KEYS: leases; ARGV: owner, now, lease until, limit, key prefix).
_TAKE = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 10 * tonumber(ARGV[4]))
local out = {}
for _, k in ipairs(keys) do
  local e = redis.call('HMGET', k, 'answered', 'job')
  if (not e[1]) or e[1] == '1' or (not e[2]) then
    redis.call('ZREM', KEYS[1], k)
  elseif #out >= 2 * tonumber(ARGV[4]) or string.sub(k, 1, #ARGV[5]) ~= ARGV[5] then
    -- another platform's event, or enough taken for now
  else
    redis.call('HSET', k, 'owner', ARGV[1], 'lease', ARGV[3])
    redis.call('ZADD', KEYS[1], ARGV[3], k)
    table.insert(out, k)
    table.insert(out, e[2])
  end
end
return out
"""

INBOX = PREFIX + "inbox:"
LEASES = PREFIX + "inbox-leases"


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _LockKeeper:
    """Renews the short leases of the conversation locks this store holds (one daemon thread).

    A lock that cannot be renewed (Redis away, or it lapsed) is dropped from the list: the save
    is fenced by it, so a turn that outlived its lock cannot overwrite a newer one.
    """

    def __init__(self, lease_s: float) -> None:
        self._every = lease_s / 3
        self._held: dict[int, tuple[Lock, bytes]] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, lock: Lock) -> None:
        token = lock.local.token
        with self._guard:
            self._held[id(lock)] = (lock, token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mbcbot-lock-lease", daemon=True)
                self._thread.start()

    def remove(self, lock: Lock) -> None:
        with self._guard:
            self._held.pop(id(lock), None)

    def _run(self) -> None:
        while True:
            time.sleep(self._every)
            with self._guard:
                held = list(self._held.items())
            for ident, (lock, token) in held:
                try:
                    kept = lock.lua_reacquire(keys=[lock.name], args=[token, int(lock.timeout * 1000)], client=lock.redis)
                except (RedisError, OSError):
                    kept = 0
                if not kept:
                    self.remove(lock)


class RedisStore:
    """Conversations in Redis (redis-py, synchronous), safe across threads and processes.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://...``.
        retention_s: conversations expire this long after their last turn (Redis TTL).
        lock_timeout_s: a lock left by a dead process expires after this long.
        blocking_timeout_s: how long a turn waits for its conversation's lock before giving up.
        socket_timeout_s: connect and read timeout of every Redis call.
        client: an existing ``redis.Redis`` to use instead of ``url`` (tests, shared pools).

    Raises:
        StoreError: Redis cannot be reached.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        retention_s: float = DEFAULT_RETENTION_S,
        lock_timeout_s: float = 5.0,
        blocking_timeout_s: float = 5.0,
        socket_timeout_s: float = 5.0,
        client: redis.Redis | None = None,
    ) -> None:
        self.retention_s = retention_s
        self.lock_timeout_s = lock_timeout_s
        self.blocking_timeout_s = blocking_timeout_s
        self._local = threading.local()
        self._keeper = _LockKeeper(lock_timeout_s)
        try:
            self._r = client or redis.Redis.from_url(
                url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s, health_check_interval=30
            )
        except (ValueError, RedisError) as exc:
            raise StoreError(f"the store setting is not a valid Redis URL: {exc}") from exc
        kwargs = self._r.connection_pool.connection_kwargs
        self.where = f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}/{kwargs.get('db', 0)}"
        self._save = self._r.register_script(_FENCED_SAVE)
        self._claim = self._r.register_script(_CLAIM)
        self._forget = self._r.register_script(_FORGET)
        self._accept = self._r.register_script(_ACCEPT)
        self._renew = self._r.register_script(_RENEW)
        self._answered = self._r.register_script(_ANSWERED)
        self._take = self._r.register_script(_TAKE)
        try:
            self._r.ping()
        except (RedisError, OSError) as exc:
            self._r.close()
            raise StoreError(f"cannot reach the Redis conversation store at {self.where}: {exc}") from exc

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise StoreError(f"Redis conversation store failed to {what}: {type(exc).__name__}: {exc}") from exc

    def _held(self) -> dict[str, list]:
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        held = self._held()
        if key in held:  # re-entrant within one thread (delete inside a turn)
            held[key][1] += 1
            try:
                yield
            finally:
                held[key][1] -= 1
            return
        lock = self._r.lock(
            PREFIX + "lock:" + key, timeout=self.lock_timeout_s, sleep=0.005,
            blocking_timeout=self.blocking_timeout_s, thread_local=True,
        )
        token = uuid.uuid4().hex.encode()
        try:
            acquired = lock.acquire(token=token)
        except (RedisError, OSError) as exc:
            # the SET may have reached Redis (a frozen server runs it when it wakes): remove it if ours
            self._abandon(lock, token)
            raise StoreError(f"Redis conversation store failed to lock a conversation: {type(exc).__name__}") from exc
        if not acquired:
            raise StoreError(f"conversation is busy: its lock was not free within {self.blocking_timeout_s:g} s")
        held[key] = [lock, 1]
        self._keeper.add(lock)
        try:
            yield
        finally:
            self._keeper.remove(lock)
            del held[key]
            try:
                lock.release()
            except (RedisError, OSError, LockError) as exc:  # the turn is saved; the lock expires on its own
                log.warning("could not release a conversation lock: %s", type(exc).__name__)

    @staticmethod
    def _abandon(lock: Lock, token: bytes) -> None:
        try:
            lock.do_release(token)
        except (RedisError, OSError, LockError):
            pass  # not ours, or Redis is still away: the short lease ends it

    def load(self, key: str, now: float) -> ConversationState | None:
        with self._errors("read"):
            raw, saved = self._r.hmget(PREFIX + "conv:" + key, ["state", "saved"])
        if raw is None:
            return None
        try:
            if now - float(saved) > self.retention_s:
                return None
        except (TypeError, ValueError):
            pass
        return decode_state(key, raw)

    def save(self, key: str, state: ConversationState, now: float) -> None:
        held = self._held().get(key)
        token = b""
        if held is not None:
            token = held[0].local.token or b""
        with self._errors("save"):
            self._save(
                keys=[PREFIX + "conv:" + key, PREFIX + "lock:" + key],
                args=[token, encode_state(state), repr(float(now)), _ms(self.retention_s)],
            )

    def delete(self, key: str) -> bool:
        with self.locked(key), self._errors("delete"):
            return bool(self._forget(keys=[PREFIX + "conv:" + key, PREFIX + "owner:" + key]))

    def claim(self, namespace: str, key: str, ttl_s: float, now: float, owner: str = "") -> bool:
        """Record ``key`` once for ``ttl_s`` seconds of Redis's clock (``now`` is not used)."""
        with self._errors("record an event"):
            return bool(self._claim(
                keys=[f"{PREFIX}claim:{namespace}:{key}", PREFIX + "owner:" + owner],
                args=[owner, _ms(ttl_s)],
            ))

    # --- the inbox (see base.EventInbox) ---------------------------------------------------
    def accept(self, key: str, job: str, conversation: str, owner: str, lease_s: float, ttl_s: float,
               now: float) -> bool:
        with self._errors("record an event"):
            return bool(self._accept(
                keys=[INBOX + key, LEASES, PREFIX + "owner:" + conversation],
                args=[job, conversation, owner, repr(now + lease_s), _ms(ttl_s), repr(now)],
            ))

    def renew(self, keys: Sequence[str], owner: str, lease_s: float, now: float) -> list[str]:
        if not keys:
            return []
        with self._errors("renew a lease"):
            held = self._renew(keys=[LEASES, *(INBOX + k for k in keys)], args=[owner, repr(now + lease_s)])
        return [_text(k)[len(INBOX):] for k in held]

    def answered(self, key: str, now: float) -> None:
        with self._errors("mark an event answered"):
            self._answered(keys=[INBOX + key, LEASES])

    def take_expired(self, owner: str, lease_s: float, now: float, limit: int = 10,
                     prefix: str = "") -> list[tuple[str, str]]:
        with self._errors("take over an event"):
            flat = self._take(keys=[LEASES], args=[owner, repr(now), repr(now + lease_s), limit, INBOX + prefix])
        return [(_text(flat[i])[len(INBOX):], _text(flat[i + 1])) for i in range(0, len(flat), 2)]

    def purge(self, now: float) -> int:
        """Nothing to do: Redis expires conversations and claims itself."""
        return 0

    def conversations_like(self, prefix: str, suffix: str) -> list[str]:
        pattern = f"{PREFIX}conv:{_glob_escape(prefix)}*{_glob_escape(suffix)}"
        start = len(PREFIX) + len("conv:")
        with self._errors("read"):
            keys = [_text(k)[start:] for k in self._r.scan_iter(match=pattern, count=500)]
        return sorted(k for k in keys if len(k) >= len(prefix) + len(suffix))

    def stored_bytes(self, key: str) -> int:
        """Length of the stored JSON of a conversation (0 if none); for benchmarks."""
        with self._errors("read"):
            return int(self._r.hstrlen(PREFIX + "conv:" + key, "state"))

    def close(self) -> None:
        try:
            self._r.close()
        except (RedisError, OSError):
            pass
