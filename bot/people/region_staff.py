"""Who serves and who supervises a region once regions come in tiers (issue 17, item 6;
bot/platform/region_tiers.py): the people of the lowest tier that has any, walking up 镇 → 县 → 市.

A 镇 with commissioners serves its own projects; one without is served by its 县, and so on up. The
same walk finds the supervisors to tell about a case of a 镇 that has none of its own, so an alert
never falls into a tier where nobody reads it.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.models import Case, Staff
from bot.platform import region_tiers
from bot.vocabulary import OPEN_STATES, Role


def least_loaded_commissioner(session: Session, region: str) -> Staff | None:
    """属地 assignment: the active commissioner with the fewest open cases, of the region itself if
    it has any, else of its parent, else its parent's parent."""
    open_count = (
        sa.select(sa.func.count(Case.id)).where(Case.commissioner_id == Staff.id, Case.state.in_(OPEN_STATES))
        .correlate(Staff).scalar_subquery()
    )
    for code in region_tiers.chain(region):
        found = session.scalar(
            sa.select(Staff).where(Staff.region == code, Staff.role == Role.COMMISSIONER, Staff.active.is_(True))
            .order_by(open_count, Staff.id).limit(1))
        if found is not None:
            return found
    return None


def nearest_supervisors(session: Session, region: str) -> list[Staff]:
    """The active supervisors of the lowest tier at or above `region` that has any."""
    for code in region_tiers.chain(region):
        found = list(session.scalars(sa.select(Staff).where(
            Staff.region == code, Staff.role == Role.SUPERVISOR, Staff.active.is_(True)).order_by(Staff.id)))
        if found:
            return found
    return []


def serving_regions(region: str) -> tuple[str, ...]:
    """The regions whose commissioners may take a case of `region`: the tiers above it (who would
    serve it when it has none) and the tiers below it (a 县's case handed down to a 镇)."""
    return tuple(dict.fromkeys((*region_tiers.chain(region), *region_tiers.subtree(region))))
