"""Plain mode's signature covers only token, timestamp and nonce, not the body: whoever reads one
callback's query (an access log line, a proxy) could post any XML as any openid under it until
the timestamp goes stale. So each (timestamp, nonce) is remembered, with a digest of its body,
for as long as its timestamp is accepted, in the shared store (every worker and host sees it).

The same pair with another body is a forgery; with the same bytes it is WeChat's own retry, which
the retry guard (retry_guard.py) or the conversation turn answers as such. Safe mode needs none of
this: its msg_signature covers the encrypted body.
"""
from __future__ import annotations

import hashlib
import logging
import time

from bot.platform.kv import KV, StoreUnavailable

log = logging.getLogger(__name__)


class NonceGuard:
    def __init__(self, kv: KV, window_s: int, clock=time.time):
        self.kv = kv
        self.window_s = window_s  # how far a timestamp may be from now (WECHAT_MAX_TIMESTAMP_SKEW)
        self.clock = clock

    def allows(self, timestamp: str, nonce: str, body: bytes) -> bool:
        """False when this (timestamp, nonce) came before with a different body. One SET NX on a
        first delivery; a repeat (rare) reads the digest back. With the store down a forgery cannot
        be told from a message: answering is kept, as by the retry guard, and the outage logged."""
        key = f"wx:nonce:{timestamp}:{nonce}"
        digest = hashlib.sha256(body).digest()[:16]
        # Until the timestamp goes stale; the caller has checked it is within the window of now.
        ttl = max(1.0, int(timestamp) + self.window_s - self.clock() + 1)
        try:
            if self.kv.set(key, digest, ttl=ttl, nx=True):
                return True
            seen = self.kv.get(key)
        except StoreUnavailable:
            log.warning("callback nonce check unavailable (shared store down); accepting the callback")
            return True
        return seen is None or seen == digest
