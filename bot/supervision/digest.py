"""每日简报: the four figures each region's supervisors get every morning (bot.scheduler queues it,
bot.push.notify.daily_digest words it)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.models import Case, CaseItem, Notification
from bot.platform import region_tiers
from bot.vocabulary import OPEN_STATES, NotificationState


@dataclass
class RegionFigures:
    open_cases: int = 0
    unassigned: int = 0
    overdue_items: int = 0
    dead_notifications: int = 0


def region_figures(db: Session, today) -> dict[str, RegionFigures]:
    """The digest's four figures for every region, in four GROUP BY queries."""
    open_case = Case.state.in_(OPEN_STATES)
    queries = {
        "open_cases": sa.select(Case.region, sa.func.count()).where(open_case),
        "unassigned": sa.select(Case.region, sa.func.count()).where(open_case, Case.commissioner_id.is_(None)),
        "overdue_items": sa.select(Case.region, sa.func.count()).select_from(CaseItem)
        .join(Case, Case.id == CaseItem.case_id)
        .where(open_case, CaseItem.overdue_on(today)),
        # Dead pushes of open cases: the ones someone can still act on.
        "dead_notifications": sa.select(Case.region, sa.func.count()).select_from(Notification)
        .join(Case, Case.id == Notification.case_id).where(open_case, Notification.state == NotificationState.DEAD),
    }
    figures: dict[str, RegionFigures] = {}
    for name, query in queries.items():
        for region, count in db.execute(query.group_by(Case.region)):
            # Regions in tiers: the region's figures count in every tier above it too (a 县's
            # supervisors read their 镇's; bot/platform/region_tiers.py).
            for watcher in region_tiers.chain(region):
                row = figures.setdefault(watcher, RegionFigures())
                setattr(row, name, getattr(row, name) + count)
    return figures
