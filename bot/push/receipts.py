"""What WeChat says became of a template message: the TEMPLATESENDJOBFINISH event.

The template send answers at once with a msgid (the dispatcher keeps it on the Notification);
the delivery itself finishes later and WeChat posts an event to the callback URL naming that
msgid and a Status:
  success               delivered
  failed:user block     the user has set the account's template messages to 拒收
  failed: system failed WeChat could not deliver it for another reason
A push WeChat did not deliver is no longer 'sent': it becomes 'dead' with the receipt as its
last_error ("template: receipt failed:user block"), so the console lists it among the failed
pushes with what to do (bot/push/labels.py: 「用户拒收」, phone the person), the daily digest
counts it, and 重新发送 can queue it again (the customer-service window may be open by then).
Recording is idempotent: WeChat's repeats of the event change nothing.

The event can only name a push whose msgid is already written: the dispatcher writes template
outcomes at the end of its batch, so a receipt arriving before that (seconds) finds no row and
is only logged.
"""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Notification, utcnow
from bot.platform.db import transaction
from bot.push.labels import RECEIPT_ERROR_PREFIX
from bot.vocabulary import NotificationState

logger = logging.getLogger(__name__)

SUCCESS = "success"
RECEIPT_MAX = 40


def record(db: Session, openid: str, msgid: int | str | None, status: str | None,
           now: datetime | None = None) -> Notification | None:
    """Note the receipt on the template push to `openid` with `msgid`; the push, or None when
    no such push is known (yet)."""
    try:
        msgid = int(msgid)
    except (TypeError, ValueError):
        return None
    status = (status or "").strip()[:RECEIPT_MAX]
    n = db.scalar(sa.select(Notification).where(Notification.msgid == msgid,
                                                Notification.recipient_openid == openid,
                                                Notification.channel == "template"))
    if n is None:
        logger.info("template receipt for unknown msgid %s (%s)", msgid, status)
        return None
    if n.receipt == status:
        return n  # WeChat's repeat of the same event
    n.receipt = status
    n.receipt_at = now or utcnow()
    if status != SUCCESS and n.state == NotificationState.SENT:
        n.state = NotificationState.DEAD
        n.last_error = f"{RECEIPT_ERROR_PREFIX}{status}"
        logger.warning("notification %s (%s) was not delivered: %s", n.id, n.purpose, status)
    return n


def record_event(sessions: sessionmaker[Session], message) -> None:
    """The webhook's hook: a parsed wechatpy TemplateSendJobFinishEvent, recorded in its own
    transaction. Never answers the user: the caller replies `success`."""
    with transaction(sessions) as db:
        record(db, message.source, getattr(message, "id", None), getattr(message, "status", None))
