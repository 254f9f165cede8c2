"""Failed console sign-ins, counted per account and, separately, per client address.

Per account (any address): rotating addresses gains a guesser nothing against one person.
Per address (any account): a password sprayer trying a few passwords on every account is cut off
although no single account reaches its limit. A blocked account or address is refused even with
the right password, or the limit would only slow a guesser down until the first hit.

Counts live in the app's KV store, Redis when configured, so every worker and host shares them.
While Redis is down each process counts in its own memory instead: a worker's limit still holds
(several workers let a guesser try a few times more, not without end).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time

from bot.platform.kv import KV, MemoryKV, StoreUnavailable

log = logging.getLogger(__name__)
WINDOW_S = 600


class LoginThrottle:
    def __init__(self, kv: KV, per_account: int = 5, per_address: int = 20, window_s: int = WINDOW_S,
                 clock=time.time):
        self.shared = kv
        self.local = MemoryKV()
        self.limits = {"account": per_account, "address": per_address}
        self.window_s = window_s
        self.clock = clock
        self._degraded = False

    @staticmethod
    def _key(kind: str, value: str) -> str:
        # Hashed: the store never holds usernames or addresses in clear.
        return f"login-fail:{kind}:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]

    def _keys(self, username: str, address: str | None) -> dict[str, str]:
        return {"account": self._key("account", username.strip().lower()),
                "address": self._key("address", address or "-")}

    def _store(self, use):
        """Run `use(kv)` on the shared store, or on this process's memory while it is down."""
        try:
            result = use(self.shared)
        except StoreUnavailable:
            if not self._degraded:
                log.warning("login throttle: shared store down, counting failed logins in this process only")
                self._degraded = True
            return use(self.local)
        self._degraded = False
        return result

    def _recent(self, kv: KV, key: str) -> list[float]:
        raw = kv.get(key)
        cutoff = self.clock() - self.window_s
        return [t for t in (json.loads(raw) if raw else []) if t > cutoff]

    def retry_after(self, username: str, address: str | None) -> int:
        """Seconds until this account from this address may try again; 0 when it may try now."""
        def wait(kv: KV) -> int:
            longest = 0
            for kind, key in self._keys(username, address).items():
                recent, limit = self._recent(kv, key), self.limits[kind]
                if len(recent) >= limit:
                    longest = max(longest, int(sorted(recent)[-limit] + self.window_s - self.clock()) + 1)
            return longest
        return self._store(wait)

    def fail(self, username: str, address: str | None) -> None:
        def record(kv: KV) -> None:
            for kind, key in self._keys(username, address).items():
                # Read-modify-write under the store's lock, so concurrent failures all count.
                with kv.lock(key, timeout=5, wait=2):
                    recent = self._recent(kv, key) + [self.clock()]
                    kv.set(key, json.dumps(recent[-self.limits[kind] * 2:]), ttl=self.window_s)
        self._store(record)

    def succeeded(self, username: str) -> None:
        """The account's count starts again; the address's does not, or a sprayer holding one
        good password could clear their own address between rounds."""
        self._store(lambda kv: kv.delete(self._keys(username, None)["account"]))
