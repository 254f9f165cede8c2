"""一企一策 plan against progress (issue 17, item 10; 延津's 挂图作战, 县级市's 项目申报进度计划,
东湖's 进度计划表).

On 受理 a plan is proposed: a planned date per item, from the items' time limits and working days
(the case schedule, cases.plan_schedule, started on the day of acceptance). The commissioner edits
it per item (ledger 计划调整). Against it stands the actual: the day an item was 办结, or today for
one still open. An item is 滞后 N 个工作日 when its actual is N working days past its plan; a
project's slippage is its most-late item's.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from sqlalchemy.orm import Session

from bot.casework import cases
from bot.casework.cases import CaseError, ItemPlan
from bot.models import Case, CaseItem
from bot.platform import clock, region_service
from bot.platform.text_safety import single_line
from bot.platform.workdays import WorkCalendar, load_calendar
from bot.push import notify
from bot.vocabulary import OPEN_STATES, CaseState, ItemState

MAX_SHIFT_DAYS = 3 * 366  # a planned date more than three years away is a typing slip


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """The holiday calendar a caller without one plans on (the demo; the console hands its own)."""
    return load_calendar()


def _item_plans(case: Case, items: list[CaseItem], catalogue: Mapping | None) -> list[ItemPlan]:
    """The case's items as the schedule reads them: stage and prerequisites from the catalogue
    (knowledge items.yaml, handed in as kb.items), the committed time limit from the case."""
    plans = []
    for item in items:
        entry = (catalogue or {}).get(item.item_code)
        plans.append(ItemPlan(item.item_code, item.name, item.department,
                              getattr(entry, "stage", None) or case.stage, item.time_limit_wd,
                              tuple(getattr(entry, "after", ()) or ())))
    return plans


def propose(session: Session, case: Case, *, calendar: WorkCalendar | None = None, catalogue: Mapping | None = None,
            start: date | None = None, actor_kind: str, actor_id: str | None) -> dict[int, date | None]:
    """The plan proposed on 受理: each item's planned date from `start` (today), with its ledger
    line. An item without a published time limit gets no date (the commissioner may set one)."""
    calendar = calendar or default_calendar()
    start = start or clock.today()
    items = cases.items_of(session, case)
    schedule = cases.plan_schedule(_item_plans(case, items, catalogue), start, calendar)
    due = {p.plan.code: p.due for p in schedule.items}
    planned = {}
    for item in items:
        item.planned_date = due.get(item.item_code)
        planned[item.id] = item.planned_date
    dated = [f"{i.name} {i.planned_date:%Y-%m-%d}" for i in items if i.planned_date]
    undated = [i.name for i in items if not i.planned_date]
    finish = schedule.finish
    cases.log(session, case, "plan_proposed",
              f"{region_service.for_region(case.region).plan_name}：" + ("；".join(dated) or "暂无可推算日期的事项")
              + (f"；{'、'.join(undated)} 时限以当地承诺为准，待专员商定" if undated else "")
              + (f"；计划全部办结 {finish:%Y-%m-%d}" if finish else ""),
              actor_kind=actor_kind, actor_id=actor_id)
    return planned


def change(session: Session, case: Case, item_id: int, new: date | None, *, actor_kind: str, actor_id: str | None,
           reason: str = "", today: date | None = None) -> CaseItem:
    """计划调整: the commissioner moves one item's planned date (with the enterprise's agreement),
    ledger old → new. Nothing changes on a bad date."""
    today = today or clock.today()
    if case.state not in OPEN_STATES:
        raise CaseError("案件已结束，计划不能再调整")
    if case.state == CaseState.APPLIED:
        raise CaseError("请先受理案件：计划在受理时生成，之后可以调整")
    item = session.get(CaseItem, item_id)
    if item is None or item.case_id != case.id:
        raise CaseError("该案件没有这个事项")
    if item.state == ItemState.DONE:
        raise CaseError(f"事项「{item.name}」已办结，计划不再调整")
    if new is None:
        raise CaseError("请填写计划日期（年-月-日）")
    started = clock.to_local(case.accepted_at).date() if case.accepted_at else clock.to_local(case.created_at).date()
    if new < started:
        raise CaseError(f"计划日期不能早于受理日（{started:%Y-%m-%d}）")
    if (new - today).days > MAX_SHIFT_DAYS:
        raise CaseError("计划日期超过三年，请核对")
    if new == item.planned_date:
        raise CaseError("计划日期与原来相同，无需调整")
    reason = " ".join(single_line(reason or "").split())[:100]
    before = item.planned_date
    item.planned_date = new
    detail = f"{item.name}：计划 {before:%Y-%m-%d} → {new:%Y-%m-%d}" if before else f"{item.name}：计划 {new:%Y-%m-%d}"
    entry = cases.log(session, case, "plan_changed", detail + (f"（{reason}）" if reason else ""),
                      actor_kind=actor_kind, actor_id=actor_id, item=item)
    session.flush()
    notify.plan_changed(session, case, item, before, new, reason, entry.id)
    return item


@dataclass(frozen=True)
class PlanLine:
    """One item: plan against actual."""

    item_id: int
    name: str
    state: str
    planned: date | None
    actual: date | None  # the day it was 办结; None while open
    late_workdays: int  # 滞后 N 个工作日 (0: on plan, or no plan)

    @property
    def done(self) -> bool:
        return self.actual is not None


def done_on(item: CaseItem) -> date | None:
    """The day an item was 办结 (已办结 is final: its last change is that one)."""
    return clock.to_local(item.updated_at).date() if item.state == ItemState.DONE and item.updated_at else None


def late_workdays(planned: date | None, actual: date | None, today: date, calendar: WorkCalendar) -> int:
    """Working days an item is behind its plan: past the plan on the day it was done, or (open)
    today. An item due today is not late yet."""
    if planned is None:
        return 0
    return max(0, calendar.workdays_between(planned, actual or today))


def lines(items: list[CaseItem], calendar: WorkCalendar, today: date) -> list[PlanLine]:
    out = []
    for item in items:
        actual = done_on(item)
        out.append(PlanLine(item.id, item.name, item.state, item.planned_date, actual,
                            late_workdays(item.planned_date, actual, today, calendar)))
    return out


def of_case(session: Session, case: Case, calendar: WorkCalendar | None = None,
            today: date | None = None) -> list[PlanLine]:
    return lines(cases.items_of(session, case), calendar or default_calendar(), today or clock.today())


@dataclass(frozen=True)
class ProjectPlan:
    """A project against its plan: the planned finish, how many items are late, the worst lag."""

    planned_finish: date | None
    items: int
    done: int
    late_items: int
    slip_workdays: int  # the most-late item's 滞后

    @property
    def has_plan(self) -> bool:
        return self.planned_finish is not None


def project(plan_lines: list[PlanLine]) -> ProjectPlan:
    planned = [p.planned for p in plan_lines if p.planned]
    return ProjectPlan(max(planned) if planned else None, len(plan_lines), sum(p.done for p in plan_lines),
                       sum(1 for p in plan_lines if p.late_workdays), max((p.late_workdays for p in plan_lines), default=0))
