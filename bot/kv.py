"""A small key-value store with expiry and named locks: Redis in production, memory embedded.

Dialog state, retry dedup and the token cache all need the same few operations; keeping them
behind one interface lets the embedded default run with no server and production share state
across workers and hosts.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator, Protocol


class LockTimeout(RuntimeError):
    """Could not get a named lock in time (another turn of the same user is still running)."""


class StoreUnavailable(RuntimeError):
    """The shared store (Redis) cannot be reached: callers degrade rather than fail."""


class KV(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes | str, ttl: float | None = None, nx: bool = False) -> bool: ...
    def delete(self, key: str) -> None: ...
    def lock(self, name: str, timeout: float, wait: float) -> "contextmanager[None]": ...
    def ping(self) -> bool: ...


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

    def ping(self):
        return True


class RedisKV:
    """Shared store for several workers and hosts. Every Redis failure surfaces as StoreUnavailable."""

    def __init__(self, client):
        self.client = client

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

    def ping(self):
        with self._guard():
            return bool(self.client.ping())


def make_kv(redis_url: str) -> KV:
    return RedisKV.from_url(redis_url) if redis_url else MemoryKV()
