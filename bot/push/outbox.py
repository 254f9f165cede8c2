"""The notification outbox: enqueue a push in the same transaction as the change behind it.

Every push is a function of bot/push/notify.py, the one caller of `enqueue` (the SLA sweep inserts its
rows set-based, bot/supervision/sla.py). Nothing is sent here; the dispatcher (bot/push/dispatcher.py) delivers
pending rows with retries. The idempotency key makes a second enqueue of the same event a no-op,
so a retried request or a re-run job never produces a second push.

Every row enqueued is also noted on the session (`queued_in`), so whoever runs the change can
say truthfully what it will tell whom ("已通知企业" only when a push to that person was queued).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.models import Notification
from bot.vocabulary import RecipientKind

_QUEUED = "outbox.queued"  # Session.info key: the rows this session enqueued


def enqueue(session: Session, *, key: str, recipient: str | None, recipient_kind: RecipientKind, purpose: str, text: str,
            template: str | None = None, data: dict | None = None, url: str | None = None,
            case_id: int | None = None, wecom_userid: str | None = None,
            staff_id: int | None = None) -> Notification | None:
    """Add a notification unless one with the same key exists (returns None then). A staff push
    may carry the colleague's WeCom UserID beside (or instead of) the openid `recipient`."""
    exists = session.scalar(sa.select(Notification.id).where(Notification.idempotency_key == key))
    if exists is not None:
        return None
    n = Notification(idempotency_key=key, recipient_openid=recipient, recipient_kind=recipient_kind,
                     purpose=purpose, text=text, template=template, data=data, url=url, case_id=case_id,
                     recipient_wecom_userid=wecom_userid, recipient_staff_id=staff_id)
    session.add(n)
    session.info.setdefault(_QUEUED, []).append(n)
    return n


def queued_in(session: Session) -> list[Notification]:
    """The notifications enqueued through this session so far (a repeated event adds none)."""
    return list(session.info.get(_QUEUED, ()))

