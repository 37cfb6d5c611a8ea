"""Conversations in Redis, shared by any number of processes and machines.

Selected with ``MBCBOT_STORE=redis://host:6379/0`` (or ``rediss://`` for TLS); needs
redis-py (``pip install 'mbcbot[redis]'``). Everything lives under the ``mbcbot:`` prefix:

=================================  ===============================================
key                                what
=================================  ===============================================
``mbcbot:conv:<conversation>``     hash: ``state`` (the state as JSON), ``saved`` (time of the turn)
``mbcbot:lock:<conversation>``     the per-conversation lock (redis-py ``Lock``), expires on its own
``mbcbot:claim:<ns>:<key>``        an adapter's deduplication claim (``SET NX PX``)
``mbcbot:owner:<conversation>``    set: the claim keys recorded for the conversation (for ``forget``)
=================================  ===============================================

Retention is Redis's own: every save sets the conversation's time to live to the
retention time, so :meth:`RedisStore.purge` has nothing to do. Conversations are read
from Redis on every turn; nothing is cached in the process.

A turn holds the conversation's lock, which expires after ``lock_timeout_s`` if the
process holding it dies. The save is fenced by the lock: it is written only if this turn
still holds the lock, so a turn that outlived its lock cannot overwrite a newer one.
Every Redis failure (connection refused, timeout, server restarting...) is a
:class:`~dialogue.errors.StoreError`, which the session turns into an apology.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.exceptions import RedisError

from .errors import StoreError
from .state import ConversationState
from .stores import DEFAULT_RETENTION_S, _decode

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

# Record a claim once; index it under its owner (KEYS: claim, owner index; ARGV: owner, ttl ms).
_CLAIM = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
if ARGV[1] ~= '' then
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
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


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


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
        lock_timeout_s: float = 30.0,
        blocking_timeout_s: float = 10.0,
        socket_timeout_s: float = 5.0,
        client: redis.Redis | None = None,
    ) -> None:
        self.retention_s = retention_s
        self.lock_timeout_s = lock_timeout_s
        self.blocking_timeout_s = blocking_timeout_s
        self._local = threading.local()
        try:
            self._r = client or redis.Redis.from_url(
                url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s, health_check_interval=30
            )
        except (ValueError, RedisError) as exc:
            raise StoreError(f"MBCBOT_STORE: invalid Redis URL: {exc}") from exc
        kwargs = self._r.connection_pool.connection_kwargs
        self.where = f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}/{kwargs.get('db', 0)}"
        self._save = self._r.register_script(_FENCED_SAVE)
        self._claim = self._r.register_script(_CLAIM)
        self._forget = self._r.register_script(_FORGET)
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
        with self._errors("lock a conversation"):
            acquired = lock.acquire()
        if not acquired:
            raise StoreError(f"conversation is busy: its lock was not free within {self.blocking_timeout_s:g} s")
        held[key] = [lock, 1]
        try:
            yield
        finally:
            del held[key]
            try:
                lock.release()
            except (RedisError, OSError) as exc:  # the turn is saved; the lock expires on its own
                log.warning("could not release a conversation lock: %s", type(exc).__name__)

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
        return _decode(key, raw)

    def save(self, key: str, state: ConversationState, now: float) -> None:
        held = self._held().get(key)
        token = b""
        if held is not None:
            token = held[0].local.token or b""
        with self._errors("save"):
            self._save(
                keys=[PREFIX + "conv:" + key, PREFIX + "lock:" + key],
                args=[token, json.dumps(state.to_dict()), repr(float(now)), _ms(self.retention_s)],
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

    def purge(self, now: float) -> int:
        """Nothing to do: Redis expires conversations and claims itself."""
        return 0

    def stored_bytes(self, key: str) -> int:
        """Length of the stored JSON of a conversation (0 if none); for benchmarks."""
        with self._errors("read"):
            return int(self._r.hstrlen(PREFIX + "conv:" + key, "state"))

    def close(self) -> None:
        try:
            self._r.close()
        except (RedisError, OSError):
            pass
