"""WeChat re-sends a callback up to 3 times when the reply is slow. Each retry must get the
same reply and cause no second side effect, across every worker and host (so the marker lives
in the shared KV store, not in process memory).

This guard serves events and other messages without a conversation turn. Text messages are
recognised inside their turn instead (dialogs/state.py `earlier_reply`), where the user's state
and lock are already being read: the same guarantee for no round trip of its own.
"""
from __future__ import annotations

import logging
import time
from typing import Protocol, runtime_checkable

from bot.platform.kv import KV, StoreUnavailable

log = logging.getLogger(__name__)

PENDING = b"\x00pending"
# How long "being answered" may stand before a retry takes over. WeChat retries about 5 s apart,
# three times; if the worker answering was killed, its marker must not swallow them all (the
# turn's side effects are idempotent, so a rare double run of a very slow turn is harmless).
PENDING_TTL_S = 8.0


def retry_key(message) -> str:
    """MsgId is unique only per sender; events carry no MsgId, so sender + CreateTime + event."""
    sender = getattr(message, "source", "") or ""
    msg_id = getattr(message, "id", None)
    if msg_id:
        return f"wx:seen:{sender}:{msg_id}"
    return f"wx:seen:{sender}:{getattr(message, 'create_time', '')}:{getattr(message, 'event', '')}"


@runtime_checkable
class ReplyGuard(Protocol):
    """What answering a message once (webhook/wechat.py `_reply_once`) asks of a guard: claim the
    message, or get the reply its first delivery was given; then record the reply, or release
    the claim when answering failed."""

    def claim(self, key: str) -> bool: ...

    def done(self, key: str, reply: str) -> None: ...

    def release(self, key: str) -> None: ...

    def earlier_reply(self, key: str) -> str | None: ...


class RetryGuard:
    """The guard for events and other messages without a conversation turn: the marker lives in
    the shared store."""

    def __init__(self, kv: KV, ttl_s: int, wait_s: float, poll_s: float = 0.05,
                 pending_ttl_s: float = PENDING_TTL_S):
        self.kv = kv
        self.pending_ttl_s = pending_ttl_s
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s

    def claim(self, key: str) -> bool:
        """True for the first delivery of a message: the caller handles it and calls `done`.
        With the store down we cannot tell a retry from a first delivery; answering beats not
        answering, and the side effects that matter are idempotent in the database anyway."""
        try:
            return self.kv.set(key, PENDING, ttl=self.pending_ttl_s, nx=True)
        except StoreUnavailable:
            log.warning("retry dedup unavailable (shared store down); handling the message anyway")
            return True

    def done(self, key: str, reply: str) -> None:
        try:
            self.kv.set(key, reply.encode("utf-8"), ttl=self.ttl_s)
        except StoreUnavailable:
            pass

    def release(self, key: str) -> None:
        """The first delivery failed before replying: let WeChat's retry try again."""
        try:
            self.kv.delete(key)
        except StoreUnavailable:
            pass

    def earlier_reply(self, key: str) -> str | None:
        """The reply given to the first delivery, waiting briefly if it is still being made.
        None means it is still not ready: answer an empty `success` and let that one finish."""
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                value = self.kv.get(key)
            except StoreUnavailable:
                return None
            if value is None:
                return None
            if value != PENDING:
                return value.decode("utf-8")
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll_s)


class RecognisedInTurn:
    """The guard for text messages: their turn recognises a repeat itself (dialogs/state.py
    `earlier_reply`), under the user's lock, so there is nothing to mark in the store here."""

    def claim(self, key: str) -> bool:
        return True

    def done(self, key: str, reply: str) -> None:
        pass

    def release(self, key: str) -> None:
        pass

    def earlier_reply(self, key: str) -> str | None:
        """Never asked (every delivery is claimed here): the turn gives a repeat its earlier reply."""
        return None
