"""The notification outbox: enqueue a push in the same transaction as the change behind it.

Nothing is sent here; the dispatcher (bot/dispatcher.py) delivers pending rows with retries. The
idempotency key makes a second enqueue of the same event a no-op, so a retried request or a
re-run job never produces a second push.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Notification


def enqueue(session: Session, *, key: str, recipient: str, recipient_kind: str, purpose: str, text: str,
            template: str | None = None, data: dict | None = None, url: str | None = None,
            case_id: int | None = None) -> Notification | None:
    """Add a notification unless one with the same key exists (returns None then)."""
    exists = session.scalar(sa.select(Notification.id).where(Notification.idempotency_key == key))
    if exists is not None:
        return None
    n = Notification(idempotency_key=key, recipient_openid=recipient, recipient_kind=recipient_kind,
                     purpose=purpose, text=text, template=template, data=data, url=url, case_id=case_id)
    session.add(n)
    return n


def pending_for(session: Session, recipient: str) -> list[Notification]:
    return list(session.scalars(sa.select(Notification).where(
        Notification.recipient_openid == recipient, Notification.state == "pending").order_by(Notification.id)))
