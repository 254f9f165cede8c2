"""Will the pushes a staff action just queued reach their person? One answer for every place a
person acts: the console's flash message and the reply to a commissioner in WeChat (「受理 BD-…」).

「已通知企业」 is said only when a push to the enterprise was queued and a channel is open to it
now (bot.push.dispatcher.obstacles: no Official Account configured, the user unfollowed, outside the
48-hour window with no template); otherwise the reader learns why not and whom to phone
(bot.push.labels.reach_notice).
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from bot.models import Case, Notification
from bot.platform.config import Settings
from bot.push import dispatcher, outbox
from bot.push.labels import nobody_queued, reach_notice
from bot.vocabulary import RecipientKind


def notice(db: Session, case: Case | None, settings: Settings, told: str,
           audience: RecipientKind = RecipientKind.ENTERPRISE,
           rows: Sequence[Notification] | None = None) -> str:
    """`told` when the pushes to `audience` (those queued in this session, or `rows`) can all
    reach their person now; otherwise what stands in the way of the first that cannot, and what
    to do instead (the case, when there is one, names whom to phone). No push queued: nothing for the enterprise (nothing was said to be sent), and
    for staff that the person has no WeChat bound."""
    queued = [n for n in (outbox.queued_in(db) if rows is None else rows) if n.recipient_kind == audience]
    if not queued:
        return nobody_queued(audience)
    for n, obstacle in zip(queued, dispatcher.obstacles(db, queued, settings)):
        if obstacle:
            return reach_notice(obstacle, audience, n.template, contact=(case and case.contact_name) or "",
                                phone=(case and case.contact_phone) or "")
    return told
