"""A small key-value store with expiry and named locks: Redis in production, memory embedded.

Dialog state, retry dedup and the token cache all need the same few operations; keeping them
behind one interface lets the embedded default run with no server and production share state
across workers and hosts.
"""
from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator, Protocol, Sequence


class LockTimeout(RuntimeError):
    """Could not get a named lock in time (another turn of the same user is still running)."""


class StoreUnavailable(RuntimeError):
    """The shared store (Redis) cannot be reached: callers degrade rather than fail."""


class KV(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes | str, ttl: float | None = None, nx: bool = False) -> bool: ...
    def delete(self, key: str) -> None: ...
    def lock(self, name: str, timeout: float, wait: float) -> "contextmanager[None]": ...
    def locked(self, name: str, keys: Sequence[str], timeout: float, wait: float) -> "contextmanager[tuple[Held, ...]]": ...
    def ping(self) -> bool: ...


class Held:
    """A key read under a named lock (`KV.locked`): `value` is what it held when the lock was
    taken; `put(new, ttl)` (None deletes) is written as the lock is released, so a locked
    read-modify-write of any number of keys costs two round trips to Redis."""

    __slots__ = ("value", "_new")
    _UNCHANGED = object()

    def __init__(self, value: bytes | None):
        self.value = value
        self._new = Held._UNCHANGED

    def put(self, value: bytes | str | None, ttl: float | None = None) -> None:
        self._new = (None if value is None else _b(value), ttl)

    @property
    def change(self):
        """None when nothing was put, else (value or None to delete, ttl)."""
        return None if self._new is Held._UNCHANGED else self._new


def _b(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


class MemoryKV:
    """In-process store for the embedded default (one process, any number of threads)."""

    def __init__(self, clock=time.monotonic):
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._clock = clock

    def get(self, key):
        with self._guard:
            item = self._data.get(key)
            if item is None:
                return None
            value, expires = item
            if expires is not None and expires <= self._clock():
                del self._data[key]
                return None
            return value

    def set(self, key, value, ttl=None, nx=False):
        with self._guard:
            now = self._clock()
            current = self._data.get(key)
            if nx and current is not None and (current[1] is None or current[1] > now):
                return False
            self._data[key] = (_b(value), now + ttl if ttl else None)
            return True

    def delete(self, key):
        with self._guard:
            self._data.pop(key, None)

    @contextmanager
    def lock(self, name, timeout, wait) -> Iterator[None]:
        # `timeout` (auto-release) matters only across processes; in one process a crashed
        # holder takes the lock with it, so only the wait is honoured here.
        with self._guard:
            lk = self._locks.setdefault(name, threading.Lock())
        if not lk.acquire(timeout=wait):
            raise LockTimeout(name)
        try:
            yield
        finally:
            lk.release()

    @contextmanager
    def locked(self, name, keys, timeout, wait) -> Iterator[tuple[Held, ...]]:
        with self.lock(name, timeout, wait):
            helds = tuple(Held(self.get(key)) for key in keys)
            yield helds
            for key, held in zip(keys, helds, strict=True):
                if (change := held.change) is not None:
                    value, ttl = change
                    self.delete(key) if value is None else self.set(key, value, ttl=ttl)

    def ping(self):
        return True


# Take the lock and read the keys in one round trip; write the keys and free the lock in another.
# The writes happen even if the lock expired under a very slow turn (as a plain SET would): the
# turn's reply has been decided, and its state must match what the user was told.
_ACQUIRE_AND_GET = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local values = {1}
  for i = 2, #KEYS do values[i] = redis.call('get', KEYS[i]) end
  return values
end
return {0}
"""
# ARGV: the lock's token, then (op, value, px) for each key: op is 'set', 'del' or 'keep'.
_PUT_AND_RELEASE = """
for i = 2, #KEYS do
  local op = ARGV[3 * i - 4]
  if op == 'set' then redis.call('set', KEYS[i], ARGV[3 * i - 3], 'PX', ARGV[3 * i - 2])
  elseif op == 'del' then redis.call('del', KEYS[i]) end
end
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return 1
"""
LOCK_POLL_S = 0.01  # a user's second message waits for the first turn, usually a few ms


class RedisKV:
    """Shared store for several workers and hosts. Every Redis failure surfaces as StoreUnavailable."""

    def __init__(self, client):
        self.client = client
        self._scripts = None  # registered on first use (EVALSHA, falling back to EVAL after a restart)

    @classmethod
    def from_url(cls, url: str) -> "RedisKV":
        import redis

        # Redis answers in well under a millisecond on a LAN; waiting seconds for a dead one would
        # spend WeChat's whole 5-second reply budget.
        return cls(redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=0.5))

    @contextmanager
    def _guard(self) -> Iterator[None]:
        from redis.exceptions import RedisError

        try:
            yield
        except RedisError as err:
            raise StoreUnavailable(str(err)) from err

    def get(self, key):
        with self._guard():
            return self.client.get(key)

    def set(self, key, value, ttl=None, nx=False):
        px = int(ttl * 1000) if ttl else None
        with self._guard():
            return bool(self.client.set(key, _b(value), px=px, nx=nx))

    def delete(self, key):
        with self._guard():
            self.client.delete(key)

    @contextmanager
    def lock(self, name, timeout, wait) -> Iterator[None]:
        with self._guard():
            lk = self.client.lock(f"lock:{name}", timeout=timeout, blocking_timeout=wait)
            acquired = lk.acquire()
        if not acquired:
            raise LockTimeout(name)
        try:
            yield
        finally:
            try:
                lk.release()
            except Exception:  # noqa: BLE001 - expired under us (or Redis went away): it frees itself
                pass

    @contextmanager
    def locked(self, name, keys, timeout, wait) -> Iterator[tuple[Held, ...]]:
        lock_key, token = f"lock:{name}", uuid.uuid4().hex
        all_keys = [lock_key, *keys]
        deadline = time.monotonic() + wait
        with self._guard():
            if self._scripts is None:
                self._scripts = (self.client.register_script(_ACQUIRE_AND_GET),
                                 self.client.register_script(_PUT_AND_RELEASE))
            acquire, release = self._scripts
            while True:
                got = acquire(keys=all_keys, args=[token, int(timeout * 1000)])
                if got[0]:
                    break
                if time.monotonic() >= deadline:
                    raise LockTimeout(name)
                time.sleep(LOCK_POLL_S)
        helds = tuple(Held(v) for v in got[1:])  # a missing key reads as false in Lua: None here
        keep = [token] + ["keep", "", ""] * len(keys)
        try:
            yield helds
        except BaseException:
            self._release_quietly(release, all_keys, keep)
            raise
        args = [token]
        for held in helds:
            change = held.change
            args += (["keep", "", ""] if change is None else ["del", "", ""] if change[0] is None
                     else ["set", change[0], int((change[1] or 0) * 1000) or 2**31])
        with self._guard():
            release(keys=all_keys, args=args)

    @staticmethod
    def _release_quietly(release, keys, args):
        try:
            release(keys=keys, args=args)
        except Exception:  # noqa: BLE001 - Redis went away: the lock expires by itself
            pass

    def ping(self):
        with self._guard():
            return bool(self.client.ping())


def make_kv(redis_url: str) -> KV:
    return RedisKV.from_url(redis_url) if redis_url else MemoryKV()
