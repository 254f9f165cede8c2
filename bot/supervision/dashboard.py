"""挂图作战: the supervisor's figures for one region, as plain data (seed 001: 工作举措、责任人、
计划目标、进展情况 in charts and lists).

Every figure is one set-based query (GROUP BY, window functions, percentile on PostgreSQL), so the
page stays fast with 100k items; nothing here knows about HTTP or HTML. The console renders it
(webhook/console/dashboard.py) and bot/supervision/exports.py writes it to Excel.

What the period applies to (the page says the same):
- cases by state / by stage: cases applied (created) in the period;
- median durations: phases that *ended* in the period;
- ratings: ratings given in the period, by month (Beijing time);
- ledger export: ledger lines written in the period.
Deadlines, commissioner load, open escalations and open 整改 are "now", whatever the period.
The commissioner filter narrows every case figure to that commissioner's cases.

Escalations (raise, move up, resolve, the tiers per region) live in bot/supervision/escalations.py;
the names below are kept so older imports still work.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import agreements, cases, completion, handbacks, plans
from bot.casework import archiving  # 立卷归档 (issue 17 item 5)
from bot.casework import materials as chat_materials
from bot.casework import appointments as case_appointments  # 上门受理 / 窗口预约 (issue 17 item 1)
from bot.identifiers import rectification_number
from bot.models import Case, CaseAgreement, CaseItem, Escalation, LedgerEntry, Rating, Rectification, Staff
from bot.platform import clock, region_tiers
from bot.platform.clock import SERVICE_TZ, start_of_day
from bot.platform.workdays import WorkCalendar
from bot.supervision import escalations, plan_board, region_board
from bot.vocabulary import (
    CASE_STATES,
    ITEM_STATES,
    OPEN_STATES,
    RATING_LEVELS,
    RECTIFICATION_STATES,
    ActorKind,
    CaseState,
    ItemState,
    RectificationState,
    Role,
)

SATISFIED_LEVELS = (5, 4, 3)
ESCALATION_LEVELS = escalations.LEGACY_LEVELS  # rows from before the per-region ladders (escalations.ladder)
# Item states whose time a supervisor watches (待申报 has no start line in the ledger; 已办结 is the end).
DWELL_STATES = (ItemState.SUBMITTED, ItemState.ACCEPTED, ItemState.CORRECTION, ItemState.REVIEWING)
DEFAULT_DUE_WITHIN_WD = 3
LIST_LIMIT = 200  # rows per deadline list on the page; the totals count everything


@dataclass(frozen=True)
class Filters:
    region: str
    start: date  # first day of the period (Beijing time), inclusive
    end: date  # last day, inclusive
    commissioner_id: int | None = None
    due_within_wd: int = DEFAULT_DUE_WITHIN_WD

    @property
    def since(self) -> datetime:
        return start_of_day(self.start)

    @property
    def until(self) -> datetime:
        return start_of_day(self.end + timedelta(days=1))


@dataclass
class ItemRow:
    case_number: str
    company: str
    project: str
    item: str
    department: str
    state: str
    due_date: date
    commissioner: str | None
    days: int  # calendar days overdue (positive) or left (zero or positive)
    workdays: int  # the same in working days

    @property
    def state_label(self) -> str:
        return ITEM_STATES.get(self.state, self.state)


@dataclass
class LoadRow:
    staff_id: int | None
    name: str
    open_cases: int
    open_items: int
    overdue_items: int
    due_soon_items: int


@dataclass
class Median:
    days: float | None
    n: int


@dataclass
class StageDurations:
    stage: str
    accept: Median  # 申请 → 受理
    handle: Median  # 受理 → 办结
    item: Median  # 事项首次申报 → 事项办结


@dataclass
class RatingMonth:
    month: str  # YYYY-MM
    counts: dict[int, int]  # level → count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def satisfied(self) -> int:
        return sum(self.counts.get(level, 0) for level in SATISFIED_LEVELS)

    @property
    def rate(self) -> float | None:
        return self.satisfied / self.total if self.total else None


EscalationRow = escalations.EscalationRow


@dataclass
class RectificationRow:
    id: int
    case_number: str
    company: str
    level: int
    comment: str | None
    state: str
    due_date: date
    supervisor: str | None
    overdue: bool

    @property
    def state_label(self) -> str:
        return RECTIFICATION_STATES.get(self.state, self.state)

    @property
    def number(self) -> str:
        return rectification_number(self.id)


@dataclass
class PerformanceRow:
    """考核 for one commissioner over the period: what they handled, how punctually, how rated."""

    staff_id: int
    name: str
    cases: int = 0  # cases assigned to them among those applied in the period
    closed: int = 0  # of which 办结 or later
    items_done: int = 0
    items_on_time: int = 0  # done on or before the committed due date (Beijing time)
    ratings: int = 0
    rating_sum: int = 0
    bad_ratings: int = 0  # 不满意 / 非常不满意
    rectifications_open: int = 0
    rectifications_closed: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.items_on_time / self.items_done if self.items_done else None

    @property
    def rating_avg(self) -> float | None:
        return round(self.rating_sum / self.ratings, 2) if self.ratings else None


@dataclass
class Dashboard:
    filters: Filters
    today: date
    due_cutoff: date
    by_state: list[tuple[str, str, int]]  # state, label, count
    by_stage: list[tuple[str, int, int]]  # stage, all cases, open cases
    overdue: list[ItemRow]
    overdue_total: int
    due_soon: list[ItemRow]
    due_soon_total: int
    load: list[LoadRow]
    durations: list[StageDurations]
    dwell: list[tuple[str, str, Median]]  # item state, label, median days in it
    ratings: list[RatingMonth]
    escalations: list[EscalationRow]
    rectifications: list[RectificationRow]
    performance: list[PerformanceRow] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per query, for the curious
    key_projects: list["KeyProjectRow"] = field(default_factory=list)  # 重点项目 panel (issue 17)
    completion_waiting: list = field(default_factory=list)  # 待企业确认办结 (issue 17, bot/casework/completion.py)
    plans: list = field(default_factory=list)  # 一企一策 plan against progress, by slippage (plan_board.PlanRow)
    subregions: list = field(default_factory=list)  # per direct subordinate region (region_board.SubregionRow)
    appointments: list = field(default_factory=list)  # 近期预约 (issue 17 item 1, casework/appointments.AheadRow)

    @property
    def cases_total(self) -> int:
        return sum(n for _, _, n in self.by_state)

    @property
    def ratings_total(self) -> RatingMonth:
        counts: dict[int, int] = {level: 0 for level in RATING_LEVELS}
        for month in self.ratings:
            for level, n in month.counts.items():
                counts[level] = counts.get(level, 0) + n
        return RatingMonth("合计", counts)


# -- helpers ------------------------------------------------------------------------------

def _is_pg(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _seconds(db: Session, later, earlier):
    """later - earlier in seconds, as SQL."""
    if _is_pg(db):
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _case_scope(f: Filters):
    cond = Case.region.in_(region_tiers.subtree(f.region))  # the region and the tiers below it
    if f.commissioner_id is not None:
        cond = sa.and_(cond, Case.commissioner_id == f.commissioner_id)
    return cond


def _medians(db: Session, rows_stmt) -> dict[str, Median]:
    """Median (in days) and count of `seconds` per `key` from a select of (key, seconds).
    PostgreSQL computes it in the database; SQLite has no percentile, so its (small, embedded)
    rows are read and the median is taken here."""
    sub = rows_stmt.subquery()
    if _is_pg(db):
        stmt = (sa.select(sub.c.key, sa.func.percentile_cont(0.5).within_group(sub.c.seconds),
                          sa.func.count()).group_by(sub.c.key))
        return {key: Median(round(float(med) / 86400, 1) if med is not None else None, n)
                for key, med, n in db.execute(stmt)}
    values: dict[str, list[float]] = {}
    for key, seconds in db.execute(sa.select(sub.c.key, sub.c.seconds)):
        if seconds is not None:
            values.setdefault(key, []).append(float(seconds))
    return {key: Median(round(statistics.median(v) / 86400, 1), len(v)) for key, v in values.items()}


def _timed(timings: dict[str, float], name: str, fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    timings[name] = time.perf_counter() - started
    return result


# -- the figures --------------------------------------------------------------------------

def build(db: Session, f: Filters, calendar: WorkCalendar, today: date) -> Dashboard:
    timings: dict[str, float] = {}
    cutoff = calendar.add_workdays(today, max(0, f.due_within_wd))
    overdue, overdue_total = _timed(timings, "overdue", item_deadlines, db, f, calendar, today, None, today)
    due_soon, due_soon_total = _timed(timings, "due_soon", item_deadlines, db, f, calendar, today, today, cutoff)
    return Dashboard(
        filters=f, today=today, due_cutoff=cutoff,
        by_state=_timed(timings, "by_state", cases_by_state, db, f),
        by_stage=_timed(timings, "by_stage", cases_by_stage, db, f),
        overdue=overdue, overdue_total=overdue_total, due_soon=due_soon, due_soon_total=due_soon_total,
        load=_timed(timings, "load", commissioner_load, db, f, today, cutoff),
        durations=_timed(timings, "durations", stage_durations, db, f),
        dwell=_timed(timings, "dwell", item_dwell, db, f),
        ratings=_timed(timings, "ratings", ratings_by_month, db, f),
        escalations=_timed(timings, "escalations", open_escalations, db, f, today),
        rectifications=_timed(timings, "rectifications", open_rectifications, db, f, today),
        performance=_timed(timings, "performance", commissioner_performance, db, f),
        key_projects=_timed(timings, "key_projects", key_project_rows, db, f, today),
        completion_waiting=_timed(timings, "completion_waiting", completion.waiting_rows, db, f.region,
                                  f.commissioner_id),
        plans=_timed(timings, "plans", plan_board.rows, db, _case_scope(f), calendar, today),
        appointments=_timed(timings, "appointments", case_appointments.ahead_in_region, db,
                            region_tiers.subtree(f.region), f.commissioner_id),
        subregions=_timed(timings, "subregions", region_board.rows, db, f.region, f.since, f.until, today,
                          f.commissioner_id),
        timings=timings,
    )


def cases_by_state(db: Session, f: Filters) -> list[tuple[str, str, int]]:
    counts = dict(db.execute(
        sa.select(Case.state, sa.func.count()).where(_case_scope(f), Case.created_at >= f.since,
                                                     Case.created_at < f.until).group_by(Case.state)).all())
    return [(state, label, counts.get(state, 0)) for state, label in CASE_STATES.items()]


def cases_by_stage(db: Session, f: Filters) -> list[tuple[str, int, int]]:
    is_open = sa.case((Case.state.in_(OPEN_STATES), 1), else_=0)
    rows = db.execute(
        sa.select(Case.stage, sa.func.count(), sa.func.sum(is_open))
        .where(_case_scope(f), Case.created_at >= f.since, Case.created_at < f.until)
        .group_by(Case.stage)).all()
    return sorted(((stage, n, int(o or 0)) for stage, n, o in rows), key=lambda r: cases._stage_order(r[0]))


def item_deadlines(db: Session, f: Filters, calendar: WorkCalendar, today: date, due_from: date | None,
                   due_to: date, limit: int = LIST_LIMIT) -> tuple[list[ItemRow], int]:
    """Unfinished items of open cases due in [due_from, due_to] — or, with due_from None, due
    before due_to (overdue). Most urgent first; returns (first `limit` rows, total)."""
    cond = [_case_scope(f), Case.state.in_(OPEN_STATES), CaseItem.state != ItemState.DONE]
    if due_from is None:
        cond.append(CaseItem.overdue_on(due_to))
    else:
        cond += [CaseItem.due_date >= due_from, CaseItem.due_date <= due_to]
    base = sa.select(CaseItem).join(Case, Case.id == CaseItem.case_id).where(*cond)
    total = db.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
    rows = db.execute(
        sa.select(Case.number, Case.company_name, Case.project_name, CaseItem.name, CaseItem.department,
                  CaseItem.state, CaseItem.due_date, Staff.name)
        .join(Case, Case.id == CaseItem.case_id).outerjoin(Staff, Staff.id == Case.commissioner_id)
        .where(*cond).order_by(CaseItem.due_date, Case.number, CaseItem.id).limit(limit)).all()
    out = []
    for number, company, project, item, dept, state, due, who in rows:
        if due_from is None:
            days, wd = (today - due).days, calendar.workdays_between(due, today)
        else:
            days, wd = (due - today).days, calendar.workdays_between(today, due)
        out.append(ItemRow(number, company, project, item, dept, state, due, who, days, wd))
    return out, total or 0


def commissioner_load(db: Session, f: Filters, today: date, cutoff: date) -> list[LoadRow]:
    """Open cases and their unfinished items per commissioner of the region (active ones, plus
    anyone who still holds open cases; 待分派 for cases without one)."""
    open_case = sa.and_(_case_scope(f), Case.state.in_(OPEN_STATES))
    cases_q = (sa.select(Case.commissioner_id.label("sid"), sa.func.count().label("n"))
               .where(open_case).group_by(Case.commissioner_id)).subquery()
    not_done = CaseItem.state != ItemState.DONE
    items_q = (sa.select(
        Case.commissioner_id.label("sid"),
        sa.func.count().label("items"),
        sa.func.sum(sa.case((CaseItem.overdue_on(today), 1), else_=0)).label("overdue"),
        sa.func.sum(sa.case((sa.and_(CaseItem.due_date >= today, CaseItem.due_date <= cutoff), 1), else_=0))
        .label("soon"))
        .join(Case, Case.id == CaseItem.case_id).where(open_case, not_done)
        .group_by(Case.commissioner_id)).subquery()
    counts = {sid: [n, 0, 0, 0] for sid, n in db.execute(sa.select(cases_q.c.sid, cases_q.c.n))}
    for sid, items, overdue, soon in db.execute(sa.select(items_q)):
        row = counts.setdefault(sid, [0, 0, 0, 0])
        row[1:] = [items, int(overdue or 0), int(soon or 0)]
    staff_cond = sa.and_(Staff.region.in_(region_tiers.subtree(f.region)), Staff.role == Role.COMMISSIONER,
                         Staff.active.is_(True))
    if f.commissioner_id is not None:
        staff_cond = Staff.id == f.commissioner_id
    people = {sid: name for sid, name in db.execute(
        sa.select(Staff.id, Staff.name).where(sa.or_(staff_cond, Staff.id.in_([s for s in counts if s]))))}
    rows = [LoadRow(sid, name, *counts.get(sid, [0, 0, 0, 0])) for sid, name in people.items()]
    if None in counts:
        rows.append(LoadRow(None, "待分派", *counts[None]))
    return sorted(rows, key=lambda r: (-r.open_cases, -r.overdue_items, r.name))


@dataclass
class KeyProjectRow:
    """One open 重点项目 on its own 挂图作战 panel (issue 17, item 11)."""

    case_number: str
    company: str
    project: str
    state: str
    commissioner: str | None
    open_items: int
    overdue_items: int
    next_due: date | None
    service_option: str | None

    @property
    def state_label(self) -> str:
        return CASE_STATES.get(self.state, self.state)


def key_project_rows(db: Session, f: Filters, today: date) -> list[KeyProjectRow]:
    """The region's open 重点项目 (绿色通道), those with overdue items first, then by the next due date."""
    not_done = sa.and_(CaseItem.case_id == Case.id, CaseItem.state != ItemState.DONE)
    open_items = sa.select(sa.func.count(CaseItem.id)).where(not_done).correlate(Case).scalar_subquery()
    overdue = (sa.select(sa.func.count(CaseItem.id)).where(not_done, CaseItem.overdue_on(today))
               .correlate(Case).scalar_subquery())
    next_due = sa.select(sa.func.min(CaseItem.due_date)).where(not_done).correlate(Case).scalar_subquery()
    stmt = (sa.select(Case.number, Case.company_name, Case.project_name, Case.state, Staff.name, open_items,
                      overdue, next_due, Case.service_option)
            .outerjoin(Staff, Staff.id == Case.commissioner_id)
            .where(_case_scope(f), Case.key_project.is_(True), Case.state.in_(OPEN_STATES)))
    rows = [KeyProjectRow(n, c, p, s, who, int(o or 0), int(late or 0), due, opt)
            for n, c, p, s, who, o, late, due, opt in db.execute(stmt.limit(LIST_LIMIT))]
    return sorted(rows, key=lambda r: (-r.overdue_items, r.next_due or date.max, r.case_number))


# Handled to the end (办结 and after); 终止 is closed too, but not by finishing the work.
CLOSED_STATES = (CaseState.COMPLETED, CaseState.DELIVERED, CaseState.RATED, CaseState.ARCHIVED)


def commissioner_performance(db: Session, f: Filters) -> list[PerformanceRow]:
    """考核 (seeds 001, 003): per commissioner, the cases applied in the period that they handled,
    how many closed, the share of items done by their committed date, the average rating (5 =
    非常满意), the bad ratings and where their 整改 stand."""
    in_period = sa.and_(_case_scope(f), Case.created_at >= f.since, Case.created_at < f.until,
                        Case.commissioner_id.is_not(None))
    staff_cond = sa.and_(Staff.region.in_(region_tiers.subtree(f.region)), Staff.role == Role.COMMISSIONER)
    if f.commissioner_id is not None:
        staff_cond = Staff.id == f.commissioner_id
    rows = {sid: PerformanceRow(sid, name) for sid, name in db.execute(
        sa.select(Staff.id, Staff.name).where(staff_cond, sa.or_(Staff.active.is_(True), Staff.id.in_(
            sa.select(Case.commissioner_id).where(in_period)))))}
    for sid, n, closed in db.execute(
            sa.select(Case.commissioner_id, sa.func.count(),
                      sa.func.sum(sa.case((Case.state.in_(CLOSED_STATES), 1), else_=0)))
            .where(in_period).group_by(Case.commissioner_id)):
        if sid in rows:
            rows[sid].cases, rows[sid].closed = n, int(closed or 0)
    # When each item was done is in the ledger; comparing it with the due date happens in service
    # time, which SQL on two databases would make awkward, so the (period's) rows come back here.
    done_at = (sa.select(LedgerEntry.case_item_id, sa.func.max(LedgerEntry.at).label("at"))
               .where(LedgerEntry.action == "item:done").group_by(LedgerEntry.case_item_id).subquery())
    for sid, due, at in db.execute(
            sa.select(Case.commissioner_id, CaseItem.due_date, done_at.c.at)
            .join(Case, Case.id == CaseItem.case_id).join(done_at, done_at.c.case_item_id == CaseItem.id)
            .where(in_period, CaseItem.state == ItemState.DONE, CaseItem.due_date.is_not(None))):
        if sid in rows:
            rows[sid].items_done += 1
            rows[sid].items_on_time += clock.to_local(at).date() <= due
    for sid, n, total, bad in db.execute(
            sa.select(Case.commissioner_id, sa.func.count(), sa.func.sum(Rating.level),
                      sa.func.sum(sa.case((Rating.level <= 2, 1), else_=0)))
            .join(Case, Case.id == Rating.case_id).where(in_period).group_by(Case.commissioner_id)):
        if sid in rows:
            rows[sid].ratings, rows[sid].rating_sum, rows[sid].bad_ratings = n, int(total or 0), int(bad or 0)
    for sid, state, n in db.execute(
            sa.select(Case.commissioner_id, Rectification.state, sa.func.count())
            .join(Case, Case.id == Rectification.case_id).where(in_period)
            .group_by(Case.commissioner_id, Rectification.state)):
        if sid in rows:
            if state == RectificationState.CLOSED:
                rows[sid].rectifications_closed += n
            else:
                rows[sid].rectifications_open += n
    return sorted(rows.values(), key=lambda r: (-r.cases, r.name))


def stage_durations(db: Session, f: Filters) -> list[StageDurations]:
    """Median calendar days per approval stage (the case's 所处阶段) of three phases, each counted
    for the cases/items whose phase ended in the period:
    受理 = applied → accepted; 承办 = accepted → completed (terminated cases excluded);
    事项 = an item's first 已申报 ledger line → its 已办结 ledger line."""
    scope = _case_scope(f)
    accept = (sa.select(Case.stage.label("key"), _seconds(db, Case.accepted_at, Case.created_at).label("seconds"))
              .where(scope, Case.accepted_at >= f.since, Case.accepted_at < f.until))
    handle = (sa.select(Case.stage.label("key"), _seconds(db, Case.closed_at, Case.accepted_at).label("seconds"))
              .where(scope, Case.state.in_(CLOSED_STATES),
                     Case.termination_reason.is_(None), Case.accepted_at.is_not(None),
                     Case.closed_at >= f.since, Case.closed_at < f.until))
    marks = (sa.select(
        LedgerEntry.case_item_id.label("item_id"),
        sa.func.min(sa.case((LedgerEntry.action == "item:submitted", LedgerEntry.at))).label("begin"),
        sa.func.max(sa.case((LedgerEntry.action == "item:done", LedgerEntry.at))).label("end"))
        .join(Case, Case.id == LedgerEntry.case_id)
        .where(scope, LedgerEntry.case_item_id.is_not(None),
               LedgerEntry.action.in_(("item:submitted", "item:done")))
        .group_by(LedgerEntry.case_item_id)).subquery()
    item = (sa.select(Case.stage.label("key"), _seconds(db, marks.c.end, marks.c.begin).label("seconds"))
            .select_from(marks).join(CaseItem, CaseItem.id == marks.c.item_id).join(Case, Case.id == CaseItem.case_id)
            .where(marks.c.begin.is_not(None), marks.c.end >= f.since, marks.c.end < f.until))
    a, h, i = _medians(db, accept), _medians(db, handle), _medians(db, item)
    empty = Median(None, 0)
    return [StageDurations(stage, a.get(stage, empty), h.get(stage, empty), i.get(stage, empty))
            for stage in sorted(set(a) | set(h) | set(i), key=cases._stage_order)]


def item_dwell(db: Session, f: Filters) -> list[tuple[str, str, Median]]:
    """Median days an item stays in each state: from the ledger line that moved it there to the
    next line that moved it on (window function LEAD over the item's transitions); only stays
    that ended in the period count."""
    moves = (sa.select(
        LedgerEntry.action.label("action"), LedgerEntry.at.label("at"),
        sa.func.lead(LedgerEntry.at).over(partition_by=LedgerEntry.case_item_id,
                                          order_by=(LedgerEntry.at, LedgerEntry.id)).label("left_at"))
        .join(Case, Case.id == LedgerEntry.case_id)
        .where(_case_scope(f), LedgerEntry.case_item_id.is_not(None), LedgerEntry.action.like("item:%"))
        .subquery())
    stays = (sa.select(moves.c.action.label("key"), _seconds(db, moves.c.left_at, moves.c.at).label("seconds"))
             .where(moves.c.left_at.is_not(None), moves.c.left_at >= f.since, moves.c.left_at < f.until,
                    moves.c.action.in_([f"item:{s}" for s in DWELL_STATES])))
    medians = _medians(db, stays)
    return [(s, ITEM_STATES[s], medians.get(f"item:{s}", Median(None, 0))) for s in DWELL_STATES]


def _month_expr(db: Session, column):
    if _is_pg(db):
        return sa.func.to_char(sa.func.timezone(str(SERVICE_TZ), column), "YYYY-MM")
    return sa.func.strftime("%Y-%m", column, "+8 hours")  # China has had no DST since 1991


def ratings_by_month(db: Session, f: Filters) -> list[RatingMonth]:
    month = _month_expr(db, Rating.created_at).label("month")
    rows = db.execute(
        sa.select(month, Rating.level, sa.func.count()).join(Case, Case.id == Rating.case_id)
        .where(_case_scope(f), Rating.created_at >= f.since, Rating.created_at < f.until)
        .group_by(month, Rating.level)).all()
    months: dict[str, dict[int, int]] = {}
    for m, level, n in rows:
        months.setdefault(m, {lv: 0 for lv in RATING_LEVELS})[level] = n
    return [RatingMonth(m, months[m]) for m in sorted(months)]


def open_escalations(db: Session, f: Filters, today: date | None = None) -> list[EscalationRow]:
    """Open escalations, lowest tier first, with due dates (bot/supervision/escalations.py)."""
    return escalations.open_rows(db, _case_scope(f), today or clock.today())


def open_rectifications(db: Session, f: Filters, today: date) -> list[RectificationRow]:
    rows = db.execute(
        sa.select(Rectification, Case.number, Case.company_name, Rating.level, Rating.comment, Staff.name)
        .join(Case, Case.id == Rectification.case_id).join(Rating, Rating.id == Rectification.rating_id)
        .outerjoin(Staff, Staff.id == Rectification.supervisor_id)
        .where(_case_scope(f), Rectification.state != RectificationState.CLOSED)
        .order_by(Rectification.due_date, Rectification.id)).all()
    return [RectificationRow(r.id, number, company, level, comment, r.state, r.due_date, who, r.due_date < today)
            for r, number, company, level, comment, who in rows]


def commissioners(db: Session, region: str) -> list[tuple[int, str]]:
    """The region's commissioners, for the filter (inactive ones too: their history counts)."""
    return [(sid, name) for sid, name in db.execute(
        sa.select(Staff.id, Staff.name).where(Staff.region.in_(region_tiers.subtree(region)),
                                              Staff.role == Role.COMMISSIONER)
        .order_by(Staff.active.desc(), Staff.username))]


# -- ledger and archive data (for the exports) --------------------------------------------

@dataclass
class LedgerRow:
    at: datetime
    case_number: str
    company: str
    project: str
    item: str | None
    actor_kind: str
    actor: str | None  # a staff name where the actor is staff, else the raw id (never an openid)
    action: str
    detail: str
    item_id: int | None = None


def ledger_rows(db: Session, f: Filters, case_id: int | None = None) -> list[LedgerRow]:
    """The 服务记录台账 of the region (or one case) in the period, oldest first."""
    stmt = (sa.select(LedgerEntry.at, Case.number, Case.company_name, Case.project_name, CaseItem.name,
                      LedgerEntry.actor_kind, LedgerEntry.actor_id, Staff.name, LedgerEntry.action,
                      LedgerEntry.detail, LedgerEntry.case_item_id)
            .join(Case, Case.id == LedgerEntry.case_id)
            .outerjoin(CaseItem, CaseItem.id == LedgerEntry.case_item_id)
            .outerjoin(Staff, sa.and_(Staff.username == LedgerEntry.actor_id,
                                      LedgerEntry.actor_kind.in_((ActorKind.COMMISSIONER, ActorKind.SUPERVISOR)))))
    if case_id is not None:
        stmt = stmt.where(Case.id == case_id)
    else:
        stmt = stmt.where(_case_scope(f), LedgerEntry.at >= f.since, LedgerEntry.at < f.until)
    out = []
    for at, number, company, project, item, kind, actor_id, staff_name, action, detail, item_id in db.execute(
            stmt.order_by(LedgerEntry.at, LedgerEntry.id)):
        if staff_name:
            actor = staff_name
        elif kind == ActorKind.SYSTEM and actor_id:
            actor = "审批系统"
        else:
            actor = None  # the enterprise's openid stays out of the spreadsheet
        out.append(LedgerRow(at, number, company, project, item, kind, actor, action, detail or "", item_id))
    return out


@dataclass
class Archive:
    """立卷归档: everything about one case, for the printable workbook."""

    case: Case
    commissioner: str | None
    items: list[CaseItem]
    item_history: dict[int, list[LedgerRow]]
    ledger: list[LedgerRow]
    rating: Rating | None
    rectifications: list[Rectification]
    escalations: list[Escalation]
    staff_names: dict[int, str]
    agreement: CaseAgreement | None = None  # the 委托协议 as agreed (bot/casework/agreements.py)
    plan: list = field(default_factory=list)  # 一企一策 plan against progress per item (plans.PlanLine)
    handbacks: list = field(default_factory=list)  # materials handed back (issue 17, bot/casework/handbacks.py)
    completions: list = field(default_factory=list)  # the enterprise's 办结 confirmations (completion.py)
    # 立卷归档 (issue 17 item 5, bot/casework/archiving.py): the archive with its checklist, and the
    # chat's materials (what the check counted as downloaded)
    archive: object | None = None
    materials: list = field(default_factory=list)
    appointments: list = field(default_factory=list)  # 上门受理 / 窗口预约 (issue 17 item 1, casework/appointments.py)


def archive_of(db: Session, case: Case) -> Archive:
    ledger = ledger_rows(db, None, case_id=case.id)  # type: ignore[arg-type]
    items = cases.items_of(db, case)
    by_item: dict[int, list[LedgerRow]] = {}
    for row in ledger:
        if row.item_id is not None:
            by_item.setdefault(row.item_id, []).append(row)
    rectifications = list(db.scalars(sa.select(Rectification).where(Rectification.case_id == case.id)
                                     .order_by(Rectification.id)))
    escalations = list(db.scalars(sa.select(Escalation).where(Escalation.case_id == case.id).order_by(Escalation.id)))
    archived = archiving.of_case(db, case)
    staff_ids = {case.commissioner_id} | {r.supervisor_id for r in rectifications} | {e.raised_by for e in escalations}
    staff_ids |= {archived.archived_by} if archived else set()
    names = dict(db.execute(sa.select(Staff.id, Staff.name).where(Staff.id.in_([s for s in staff_ids if s]))).all())
    return Archive(case=case, commissioner=names.get(case.commissioner_id), items=items, item_history=by_item,
                   ledger=ledger, rating=db.scalar(sa.select(Rating).where(Rating.case_id == case.id)),
                   rectifications=rectifications, escalations=escalations, staff_names=names,
                   agreement=agreements.of_case(db, case), plan=plans.lines(items, plans.default_calendar(), clock.today()),
                   handbacks=handbacks.of_case(db, case), completions=completion.history(db, case),
                   archive=archived, materials=chat_materials.of_case(db, case),
                   appointments=case_appointments.of_case(db, case))


# -- escalations: moved to bot/supervision/escalations.py (these names keep older imports working)
raise_escalation = escalations.raise_escalation
resolve_escalation = escalations.resolve_escalation
