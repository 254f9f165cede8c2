"""Per-user conversation state: a small JSON document in the KV store, with a TTL, and a
per-user lock so two messages from one user never interleave (different users run in parallel).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

from bot.kv import KV


class ConversationStore:
    def __init__(self, kv: KV, ttl_s: int, lock_wait_s: float = 3.0):
        self.kv = kv
        self.ttl_s = ttl_s
        self.lock_wait_s = lock_wait_s

    @staticmethod
    def _key(user: str) -> str:
        return f"conv:{user}"

    def load(self, user: str) -> dict:
        raw = self.kv.get(self._key(user))
        if not raw:
            return {}
        try:
            state = json.loads(raw)
        except ValueError:
            return {}  # a corrupt document must not wedge the user; start afresh
        return state if isinstance(state, dict) else {}

    def save(self, user: str, state: dict) -> None:
        if state:
            self.kv.set(self._key(user), json.dumps(state, ensure_ascii=False), ttl=self.ttl_s)
        else:
            self.kv.delete(self._key(user))

    @contextmanager
    def turn(self, user: str) -> Iterator[None]:
        """Hold the user's lock for one turn (raises bot.kv.LockTimeout if it stays busy)."""
        with self.kv.lock(f"turn:{user}", timeout=30, wait=self.lock_wait_s):
            yield
