"""挂图作战 plan against progress (issue 17, item 10): the region's open projects with a 一企一策
plan, each with its planned finish, items done and late, and its slippage (the most-late item's
working days behind plan); the most late first. The per-item figures are bot/casework/plans.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import plans
from bot.models import Case, CaseItem, Staff
from bot.platform.workdays import WorkCalendar
from bot.vocabulary import CASE_STATES, OPEN_STATES

LIMIT = 200


@dataclass
class PlanRow:
    case_number: str
    company: str
    project: str
    state: str
    commissioner: str | None
    key_project: bool
    plan: plans.ProjectPlan
    late: list[plans.PlanLine] = field(default_factory=list)  # the items behind plan, most late first

    @property
    def state_label(self) -> str:
        return CASE_STATES.get(self.state, self.state)

    @property
    def late_text(self) -> str:
        """「施工许可 滞后 3 个工作日；…」"""
        return "；".join(f"{p.name} 滞后 {p.late_workdays} 个工作日" for p in self.late)


def rows(db: Session, scope, calendar: WorkCalendar, today: date, limit: int = LIMIT) -> list[PlanRow]:
    """Open cases in `scope` (a WHERE condition on Case) that have a plan, by slippage."""
    planned = sa.exists().where(CaseItem.case_id == Case.id, CaseItem.planned_date.is_not(None))
    found = db.execute(sa.select(Case, Staff.name).outerjoin(Staff, Staff.id == Case.commissioner_id)
                       .where(scope, Case.state.in_(OPEN_STATES), planned)).all()
    if not found:
        return []
    by_case: dict[int, list[CaseItem]] = {}
    for item in db.scalars(sa.select(CaseItem).where(CaseItem.case_id.in_([c.id for c, _ in found]))
                           .order_by(CaseItem.id)):
        by_case.setdefault(item.case_id, []).append(item)
    out = []
    for case, commissioner in found:
        lines = plans.lines(by_case.get(case.id, []), calendar, today)
        late = sorted((p for p in lines if p.late_workdays), key=lambda p: -p.late_workdays)
        out.append(PlanRow(case.number, case.company_name, case.project_name, case.state, commissioner,
                           case.key_project, plans.project(lines), late))
    out.sort(key=lambda r: (-r.plan.slip_workdays, -r.plan.late_items, r.plan.planned_finish or date.max, r.case_number))
    return out[:limit]
