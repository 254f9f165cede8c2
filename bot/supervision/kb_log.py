"""What people asked and how the knowledge base fared, for curators (`bangban kb gaps`).

The dialog manager logs through `QueryLog`, which buffers rows in process and writes them in
batches from a background thread, off the request path. A normal exit (gunicorn's SIGTERM, the
`bangban ask` CLI) writes the tail; a kill -9 loses at most about `flush_every_s` of rows. That is
acceptable only because these are analytics: submissions, ledger lines and notifications are never
written this way.
"""
from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bot.models import KbQuery, utcnow
from bot.people.users import user_ref
from bot.platform.clock import stamp
from bot.platform.db import relaxed_durability, transaction

log = logging.getLogger(__name__)
_running: set[QueryLog] = set()  # whose writer threads run: close_all() writes and stops them
_running_lock = threading.Lock()


class QueryLog:
    """Buffers `KbQuery` rows and writes them in one multi-row insert per batch.

    A batch is one transaction of one statement, instead of three round trips (BEGIN, INSERT,
    COMMIT) per question. Rows that fail to write (database down) are kept for the next flush,
    up to `10 * max_buffered`: beyond that the oldest are dropped, so an outage cannot grow memory
    without bound.
    """

    def __init__(self, sessions: sessionmaker[Session], flush_every_s: float = 1.0, max_buffered: int = 500):
        self.sessions = sessions
        # A second of delay is nothing to a curator reading yesterday's gaps, and batches a busy
        # worker's questions into one write.
        self.flush_every_s = flush_every_s
        # A burst flushes early rather than holding a large batch (and losing more to a kill -9).
        self.max_buffered = max_buffered
        self._rows: deque[dict] = deque(maxlen=10 * max_buffered)
        self._dropped = 0
        self._lock = threading.Lock()  # guards the buffer and the writer thread's handle
        self._flushing = threading.Lock()  # one write at a time: flush() returns once earlier adds are written
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, openid: str, question: str, normalized: str, outcome: str, topic: str | None,
            confidence: float) -> None:
        row = dict(user_ref=user_ref(openid), question=question[:500], normalized=normalized[:500],
                   outcome=outcome, topic=topic, confidence=float(confidence),
                   asked_at=utcnow())  # when it was asked, not when the batch happens to be written
        with self._lock:
            if len(self._rows) == self._rows.maxlen:
                self._dropped += 1  # the deque drops the oldest as this one goes in
            self._rows.append(row)
            # `==`, not `>=`: one wake per filling, so while the database is down (and the buffer
            # stays full) every question does not trigger another failing write.
            if len(self._rows) == self.max_buffered:
                self._wake.set()
            # Started on first use, not at import: gunicorn forks workers after importing the app, and
            # a thread started before a fork does not run in the child (where is_alive() says so).
            if self._thread is None or not self._thread.is_alive():
                self._start()

    def _start(self) -> None:
        self._stop = threading.Event()  # the previous writer's, if closed, stays set for it alone
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="kb-query-log", daemon=True)
        self._thread.start()
        with _running_lock:
            _running.add(self)

    def _run(self, stop: threading.Event) -> None:
        while True:
            self._wake.wait(self.flush_every_s)
            self._wake.clear()
            if stop.is_set():
                return  # close() writes the tail
            self.flush()

    def flush(self) -> None:
        """Write every buffered row now, from any thread. On failure the rows stay buffered."""
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, deque(maxlen=self._rows.maxlen)
            if rows:
                try:
                    with transaction(self.sessions) as db:
                        relaxed_durability(db)
                        db.execute(sa.insert(KbQuery), list(rows))
                except Exception as err:  # noqa: BLE001 - analytics must never take the writer thread down
                    # The driver's first line only: SQLAlchemy's message would repeat the batch's rows.
                    reason = str(getattr(err, "orig", None) or err).partition("\n")[0]
                    log.warning("could not write %d knowledge-base query rows, will retry: %s: %s",
                                len(rows), type(err).__name__, reason)
                    with self._lock:
                        # Oldest first again, ahead of what arrived meanwhile; the deque keeps the newest.
                        kept = deque([*rows, *self._rows], maxlen=self._rows.maxlen)
                        self._dropped += len(rows) + len(self._rows) - len(kept)
                        self._rows = kept
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            if dropped:
                log.warning("dropped the %d oldest knowledge-base query rows: the buffer is full", dropped)

    def close(self) -> None:
        """Stop the writer thread and write what is left (also run at exit)."""
        with self._lock:
            thread, stop, self._thread = self._thread, self._stop, None
        with _running_lock:
            _running.discard(self)
        if thread is not None:
            stop.set()
            self._wake.set()
            thread.join()
        self.flush()


@dataclass(frozen=True)
class Gap:
    question: str
    times: int
    best_guess: str | None
    last_asked: str  # Beijing time, as a curator reads it


def gaps(session: Session, limit: int = 50) -> list[Gap]:
    """Questions the bot could not answer confidently, most frequent first."""
    rows = session.execute(
        sa.select(KbQuery.normalized, sa.func.count(), sa.func.max(KbQuery.question),
                  sa.func.max(KbQuery.topic), sa.func.max(KbQuery.asked_at))
        .where(KbQuery.outcome.in_(("unsure", "clarified")))
        .group_by(KbQuery.normalized)
        .order_by(sa.func.count().desc(), sa.func.max(KbQuery.asked_at).desc())
        .limit(limit)
    ).all()
    return [Gap(question=q, times=n, best_guess=t, last_asked=stamp(at)) for _, n, q, t, at in rows]


@atexit.register
def close_all() -> None:
    """Write the tail of every running query log and stop its writer: at a normal exit, and in
    tests before the database under a log goes away."""
    with _running_lock:
        logs = list(_running)
    for query_log in logs:
        query_log.close()
