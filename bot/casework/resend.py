"""重新发送: a staff member puts a failed push of a case back in the outbox, audited in its ledger.

Only a push that failed for good ('dead') may be resent. One that is pending is either waiting
for its retry or in a dispatcher's hands at this moment, and one that is sent has arrived: putting
either back would send it twice. The switch from dead to pending is one conditional UPDATE, so
two staff pressing the button together queue it once. The row keeps its idempotency key, which
is also the template message's client_msg_id: should WeChat have taken the earlier attempt after
all (a timeout that was not one), a resend within ten minutes still arrives once.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import cases
from bot.casework.cases import CaseError
from bot.models import Case, Notification, utcnow
from bot.push.labels import explain_failure, purpose_name, recipient_name
from bot.vocabulary import NotificationState


def resend(session: Session, case: Case, notification_id: int, actor) -> Notification:
    """Queue a dead push of `case` again; `actor` is who asked (a case_actions.Actor)."""
    n = session.get(Notification, notification_id)
    if n is None or n.case_id != case.id:
        raise CaseError("找不到这条推送，请刷新页面后再试")
    reason = explain_failure(n.last_error, n.recipient_kind, n.template, n.attempts).reason
    queued = session.execute(
        sa.update(Notification)
        .where(Notification.id == n.id, Notification.state == NotificationState.DEAD)
        .values(state=NotificationState.PENDING, attempts=0, next_attempt_at=utcnow(), last_error=None, channel=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not queued:
        session.refresh(n)
        if n.state == NotificationState.SENT:
            raise CaseError("这条推送已经发出，无需重新发送")
        raise CaseError("这条推送正在等待发送，无需重新发送")
    cases.log(session, case, "push_resent",
              f"重新发送{purpose_name(n.purpose)}（发给{recipient_name(n.recipient_kind)}；上次失败：{reason}）",
              actor_kind=actor.kind, actor_id=actor.id)
    session.refresh(n)
    return n
