"""Per-user conversation state: a small JSON document in the KV store, with a TTL, and a
per-user lock so two messages from one user never interleave (different users run in parallel).
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Iterator

from bot.platform.kv import KV

# A turn takes milliseconds; the lock's expiry only matters when its holder died (kill -9), and
# then the user's next message (or WeChat's retry) should not wait long for it.
TURN_LOCK_S = 10
# WeChat re-sends a message it got no reply to 5, 10 and 15 seconds later; a minute covers that
# with room for a slow network, and a handful covers a user typing fast meanwhile.
REPEAT_WINDOW_S = 60
REPEATS_KEPT = 5


class ConversationStore:
    def __init__(self, kv: KV, ttl_s: int, lock_wait_s: float = 3.0):
        self.kv = kv
        self.ttl_s = ttl_s
        self.lock_wait_s = lock_wait_s

    @staticmethod
    def _key(user: str) -> str:
        return f"conv:{user}"

    def load(self, user: str) -> dict:
        return self._decode(self.kv.get(self._key(user)))

    @staticmethod
    def _decode(raw: bytes | None) -> dict:
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

    @staticmethod
    def _answered_key(user: str) -> str:
        return f"conv:{user}:answered"

    @contextmanager
    def session(self, user: str) -> Iterator[dict]:
        """The user's state, locked for one turn: taken with the lock, saved as it is released
        (two round trips to Redis). Raises bot.platform.kv.LockTimeout if the user's lock stays busy; if
        the turn raises, nothing is saved.

        The replies remembered for WeChat's retries (state["answered"]) are kept under a key of
        their own that expires with the retry window: a reply can repeat what the user typed (the
        application summary has their name and phone), and it is of no use a minute later."""
        keys = (self._key(user), self._answered_key(user))
        with self.kv.locked(f"turn:{user}", keys, timeout=TURN_LOCK_S, wait=self.lock_wait_s) as (held, answered):
            state = self._decode(held.value)
            if replies := self._decode(answered.value).get("answered"):
                state["answered"] = replies
            yield state
            replies = state.pop("answered", None)
            held.put(json.dumps(state, ensure_ascii=False) if state else None, ttl=self.ttl_s)
            answered.put(json.dumps({"answered": replies}, ensure_ascii=False) if replies else None,
                         ttl=REPEAT_WINDOW_S)


# A message WeChat delivers again must get the reply it got the first time and change nothing.
# The replies are read and written with the user's state, under the user's lock (session() keeps
# them under a short-lived key of their own), so recognising a retry costs no round trip of its
# own; the lock also makes a retry that arrives while its first delivery is still being answered
# wait for that answer.

def earlier_reply(state: dict, message_id: str) -> str | None:
    """The reply this message got when it was first delivered, if it was."""
    for mid, reply, _ in state.get("answered", ()):
        if mid == message_id:
            return reply
    return None


def remember_reply(state: dict, message_id: str, reply: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    kept = [a for a in state.get("answered", ()) if now - a[2] < REPEAT_WINDOW_S][-(REPEATS_KEPT - 1):]
    state["answered"] = [*kept, [message_id, reply, round(now, 1)]]
