"""What people asked and how the knowledge base fared, for curators (`bangban kb gaps`)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import KbQuery
from .users import user_ref


def record(session: Session, openid: str, question: str, normalized: str, outcome: str,
           topic: str | None, confidence: float) -> None:
    session.add(KbQuery(user_ref=user_ref(openid), question=question[:500], normalized=normalized[:500],
                        outcome=outcome, topic=topic, confidence=float(confidence)))


@dataclass(frozen=True)
class Gap:
    question: str
    times: int
    best_guess: str | None
    last_asked: str


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
    return [Gap(question=q, times=n, best_guess=t, last_asked=str(at)[:16]) for _, n, q, t, at in rows]
