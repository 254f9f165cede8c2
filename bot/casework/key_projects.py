"""重点项目 green channel (issue 17, item 11): on assignment the region's supervisors are told, so
the project goes on their 重点项目 挂图作战 panel at once (per region: config/region_service.yaml)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.models import Case, Staff
from bot.people import region_staff
from bot.platform import region_service
from bot.push import notify


def supervisors_of(session: Session, region: str) -> list[Staff]:
    # Regions in tiers: a 镇 without supervisors of its own is watched by its 县's (or 市's).
    return region_staff.nearest_supervisors(session, region)


def to_tell(session: Session, case: Case) -> list[Staff]:
    """The supervisors a 重点项目's assignment is told to: the region's active ones whom alerts reach
    (none for another project, or where the region's configuration turns the alert off)."""
    if not case.key_project or not region_service.for_region(case.region).key_project_alerts_supervisors:
        return []
    return [s for s in supervisors_of(session, case.region) if notify.reachable(s)]


def on_assignment(session: Session, case: Case, supervisors: list[Staff], commissioner: Staff | None,
                  event_id: int, console_url: str = "") -> None:
    """Queue the alert to each of `supervisors` (to_tell); `event_id` is the ledger line saying so."""
    for supervisor in supervisors:
        notify.key_project_assigned(session, case, supervisor, commissioner, event_id, console_url)
