"""挂图作战 per subordinate region (issue 17, item 6): for a region with tiers below it, one row per
direct subordinate (each counting its own tiers below), plus 「本级」 for the cases held at the
region itself, so a 市 supervisor sees at a glance which 县 is behind, and a 县's which 镇.

Counted per Case.region in SQL (GROUP BY), then folded into the subordinate each region lies in;
the commissioner filter applies as on the rest of the dashboard.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.models import Case, CaseItem, Staff
from bot.platform import region_tiers
from bot.vocabulary import OPEN_STATES, ItemState, Role

OWN_LEVEL = "本级"


@dataclass
class SubregionRow:
    code: str | None  # None: the region's own level
    name: str
    tier: str  # its tier's name (市, 县/区, 镇/园区)
    applied: int = 0  # cases applied in the period
    open_cases: int = 0  # now
    unassigned: int = 0  # open cases nobody has (now)
    overdue_items: int = 0  # now
    commissioners: int = 0  # active commissioners of it and below it


def _bucket_of(region: str) -> dict[str, str | None]:
    """Each code of `region`'s subtree → the direct subordinate it lies in (None: the region itself)."""
    buckets: dict[str, str | None] = {region: None}
    for child in region_tiers.children(region):
        buckets.update({code: child.code for code in region_tiers.subtree(child.code)})
    return buckets


def rows(db: Session, region: str, since, until, today: date, commissioner_id: int | None = None) -> list[SubregionRow]:
    """One row per direct subordinate of `region` (empty when it has none), then 本级 when it holds any."""
    kids = region_tiers.children(region)
    if not kids:
        return []
    buckets = _bucket_of(region)
    out: dict[str | None, SubregionRow] = {k.code: SubregionRow(k.code, k.name, k.tier_name) for k in kids}
    own = region_tiers.get(region)
    out[None] = SubregionRow(None, OWN_LEVEL, own.tier_name if own else "")
    scope = Case.region.in_(list(buckets))
    if commissioner_id is not None:
        scope = sa.and_(scope, Case.commissioner_id == commissioner_id)
    is_open = Case.state.in_(OPEN_STATES)
    counted = sa.select(
        Case.region,
        sa.func.sum(sa.case((sa.and_(Case.created_at >= since, Case.created_at < until), 1), else_=0)),
        sa.func.sum(sa.case((is_open, 1), else_=0)),
        sa.func.sum(sa.case((sa.and_(is_open, Case.commissioner_id.is_(None)), 1), else_=0)),
    ).where(scope).group_by(Case.region)
    for code, applied, open_cases, unassigned in db.execute(counted):
        row = out[buckets[code]]
        row.applied += int(applied or 0)
        row.open_cases += int(open_cases or 0)
        row.unassigned += int(unassigned or 0)
    late = (sa.select(Case.region, sa.func.count(CaseItem.id)).join(Case, Case.id == CaseItem.case_id)
            .where(scope, is_open, CaseItem.state != ItemState.DONE, CaseItem.overdue_on(today))
            .group_by(Case.region))
    for code, n in db.execute(late):
        out[buckets[code]].overdue_items += int(n or 0)
    people = (sa.select(Staff.region, sa.func.count(Staff.id))
              .where(Staff.region.in_(list(buckets)), Staff.role == Role.COMMISSIONER, Staff.active.is_(True))
              .group_by(Staff.region))
    for code, n in db.execute(people):
        out[buckets[code]].commissioners += int(n or 0)
    result = [out[k.code] for k in kids]
    mine = out[None]
    if mine.applied or mine.open_cases or mine.commissioners:
        result.append(mine)
    return result
