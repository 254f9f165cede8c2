"""The SLA sweep (跟踪催办): approval items nearing or past their committed due date.

For every item not yet 办结 in an open case:
- due within `sla_warn_workdays` working days → 临期提醒 to the commissioner, once a day;
- overdue → 催办 to the commissioner once a day, and, once per due date, an 超期 alert to the
  region's supervisors and an apology to the enterprise (a daily apology would be noise; the
  supervisors see the overdue list in their daily digest);
- overdue for `sla_escalate_workdays` more working days → an 'escalated' ledger line, once per due
  date (a new due date can be escalated again), and one 升级 summary per region and day to its
  supervisors counting the items this sweep escalated.

Set-based: each of these is ONE `INSERT … SELECT` over the open items, so the sweep costs a
handful of statements whatever the number of items. Its time follows the rows it inserts: on
PostgreSQL, 100k open items with 10 % overdue take ~0.7-0.9 s the first time and ~0.2 s for a
second sweep the same day; a 30 % backlog (125k pushes) ~1.8-2.4 s (bench/sla_sweep.py). The working-day cut-off dates are computed once per sweep in
Python (bot.platform.workdays) and passed in as plain dates, so the SQL never needs a holiday table.

Idempotency: every notification has a key, "sla:{kind}:{case_item_id}:{date}" (date = the sweep
day for the daily kinds, the due date for the once-per-due-date kinds; supervisors' keys end in
the staff id). The insert is `ON CONFLICT (idempotency_key) DO NOTHING` — both PostgreSQL and
SQLite support it on the unique index — so a second sweep the same day inserts nothing, without
reading the keys back first (bot.push.outbox.enqueue checks key by key, fine for one push, not for
100k) and without failing the whole statement on the first duplicate. The ledger has no key, so
the escalation line is guarded by NOT EXISTS (an 'escalated' line for the item written on or after
its due date). On PostgreSQL the sweep also takes a transaction-scoped advisory lock, so two
sweeps (say, across a scheduler hand-over) run one after the other and the NOT EXISTS holds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from bot.models import Case, CaseItem, LedgerEntry, Notification, Staff, utcnow
from bot.platform import region_service, region_tiers
from bot.platform.clock import SERVICE_TZ
from bot.platform.config import Settings
from bot.platform.workdays import WorkCalendar
from bot.vocabulary import OPEN_STATES, ActorKind, ItemState, NotificationState, RecipientKind, Role

# pg_advisory_xact_lock key: any constant unique to this job.
SWEEP_LOCK_KEY = 0x5A_5357_4545_50  # "SLA SWEEP"

NOTIFICATION_COLUMNS = (
    "idempotency_key", "recipient_openid", "recipient_kind", "purpose", "text", "template", "data",
    "url", "case_id", "state", "attempts", "next_attempt_at", "created_at", "recipient_wecom_userid",
    "recipient_staff_id",
)


def _watch_links():
    """Regions in tiers (bot/platform/region_tiers.py): (region, watcher) rows, a region with itself
    and each tier above it, so a 镇's overdue items reach its 县's and 市's supervisors in their
    辖区 summary (a supervisor watches the tiers below). Literal rows: the hierarchy is configuration."""
    return sa.union_all(*(sa.select(sa.literal(code, sa.String).label("region"), sa.literal(up, sa.String).label("watcher"))
                          for code, up in region_tiers.watch_links() or (("", ""),))).subquery("watch")


def _watcher_of(watch):
    # A region the hierarchy does not name watches itself (flat codes, as before).
    return sa.func.coalesce(watch.c.watcher, Case.region)


def _reachable(staff) -> sa.ColumnElement[bool]:
    """A colleague alerts can reach: bound to the Official Account or given a WeCom UserID."""
    return sa.or_(staff.wechat_openid.is_not(None), staff.wecom_userid.is_not(None))


@dataclass(frozen=True)
class SweepDates:
    """The cut-offs of one sweep, as plain dates the SQL compares due_date with."""

    today: date
    warn_until: date  # today <= due <= warn_until: due soon
    escalate_due_by: date  # due <= escalate_due_by: overdue for the escalation period already

    @classmethod
    def for_day(cls, today: date, calendar: WorkCalendar, warn_workdays: int,
                escalate_workdays: int) -> "SweepDates":
        return cls(today, calendar.add_workdays(today, warn_workdays),
                   latest_due_overdue_by(calendar, today, escalate_workdays))


def key_project_warn_until(calendar: WorkCalendar, today: date, normal_workdays: int) -> dict[str, date]:
    """重点项目 warn earlier or later per region (config/region_service.yaml): the cut-off date per
    configured region, "*" for the others; empty when no region sets one."""
    default = region_service.for_region(None).key_project_warn_workdays
    cut = {r: calendar.add_workdays(today, c.key_project_warn_workdays)
           for r, c in region_service.configured().items() if c.key_project_warn_workdays is not None}
    if default is not None:
        cut["*"] = calendar.add_workdays(today, default)
    elif cut:
        cut["*"] = calendar.add_workdays(today, normal_workdays)
    return cut


def latest_due_overdue_by(calendar: WorkCalendar, today: date, workdays: int) -> date:
    """The latest due date that is at least `workdays` working days behind `today`, i.e. the
    largest d with workdays_between(d, today) >= workdays. Walks back a few days, once a sweep."""
    day = today - timedelta(days=1)
    while calendar.workdays_between(day, today) < max(workdays, 1):
        day -= timedelta(days=1)
    return day


@dataclass
class SweepCounts:
    warned: int = 0  # 临期提醒 to commissioners
    urged: int = 0  # 催办 to commissioners
    supervisors_alerted: int = 0  # 超期汇总 to supervisors (one per supervisor per day)
    apologised: int = 0  # apologies to enterprises
    escalated: int = 0  # ledger lines
    escalation_alerts: int = 0  # 升级 summaries to supervisors (one per region and day)

    @property
    def notifications(self) -> int:
        return self.warned + self.urged + self.supervisors_alerted + self.apologised + self.escalation_alerts

    def as_dict(self) -> dict:
        return {**asdict(self), "notifications": self.notifications}


def service_today(now: datetime | None = None) -> date:
    """The service-time (Beijing) date of `now`: due dates are service-time dates."""
    return (now or utcnow()).astimezone(SERVICE_TZ).date()


def sweep(db: Session, calendar: WorkCalendar, settings: Settings, today: date | None = None,
          now: datetime | None = None) -> SweepCounts:
    """Run the sweep inside the caller's transaction; returns how many rows each step inserted."""
    now = now or utcnow()
    dates = SweepDates.for_day(today or service_today(now), calendar,
                               settings.sla_warn_workdays, settings.sla_escalate_workdays)
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(sa.select(sa.func.pg_advisory_xact_lock(SWEEP_LOCK_KEY)))
    q = _Queries(dialect, dates, settings, now)
    q.key_warn_until = key_project_warn_until(calendar, dates.today, settings.sla_warn_workdays)  # issue 17
    counts = SweepCounts()
    counts.warned = q.insert(db, q.warn_commissioners())
    counts.urged = q.insert(db, q.urge_commissioners())
    counts.supervisors_alerted = q.insert(db, q.overdue_summary_to_supervisors())
    counts.apologised = q.insert(db, q.apologise_to_enterprises())
    counts.escalated = db.execute(q.escalation_ledger_lines()).rowcount
    counts.escalation_alerts = q.insert(db, q.escalation_summary_to_supervisors())
    return counts


class _Queries:
    """The SELECTs behind each step, sharing the open-item filter and the text helpers."""

    def __init__(self, dialect: str, dates: SweepDates, settings: Settings, now: datetime):
        self.dialect = dialect
        self.dates = dates
        self.settings = settings
        self.now = sa.literal(now, sa.DateTime(timezone=True))
        self.commissioner = aliased(Staff, name="commissioner")
        self.supervisor = aliased(Staff, name="supervisor")
        self.due = sa.cast(CaseItem.due_date, sa.String)  # 'YYYY-MM-DD' on both databases
        self.item_id = sa.cast(CaseItem.id, sa.String)

    # -- building blocks --------------------------------------------------------------------
    def open_items(self, *columns) -> sa.Select:
        return (sa.select(*columns).select_from(CaseItem).join(Case, Case.id == CaseItem.case_id)
                .where(CaseItem.state != ItemState.DONE, CaseItem.due_date.is_not(None),
                       Case.state.in_(OPEN_STATES)))

    def _with_commissioner(self, select: sa.Select) -> sa.Select:
        c = self.commissioner
        return select.join(c, c.id == Case.commissioner_id).where(c.active.is_(True), _reachable(c))

    def key(self, kind: str, on: str | sa.ColumnElement, suffix=None) -> sa.ColumnElement:
        key = sa.literal(f"sla:{kind}:") + self.item_id + ":" + on
        return key + ":s" + sa.cast(suffix, sa.String) if suffix is not None else key

    def data(self) -> sa.ColumnElement:
        """Template fields: the same three for every SLA push (number, item, due); the item name
        cut to WeChat's 20-character field limit, as bot/push/notify.py does."""
        build = sa.func.json_build_object if self.dialect == "postgresql" else sa.func.json_object
        return build("number", Case.number, "item", sa.func.substr(CaseItem.name, 1, 20), "due", self.due)

    def console_url(self) -> sa.ColumnElement:
        return sa.literal(f"{self.settings.public_url}/console/cases/") + Case.number

    def row(self, key, recipient, kind: RecipientKind, purpose: str, text, url, staff=None) -> list:
        """The SELECT list for NOTIFICATION_COLUMNS (Python defaults do not run in INSERT … SELECT)."""
        return [key.label("idempotency_key"), recipient, sa.literal(kind, sa.String), sa.literal(purpose), text,
                sa.literal(purpose), self.data(), url, Case.id, sa.literal(NotificationState.PENDING.value), sa.literal(0),
                self.now, self.now, *((staff.wecom_userid, staff.id) if staff is not None
                                      else (sa.cast(sa.null(), sa.String), sa.cast(sa.null(), sa.Integer)))]

    def insert(self, db: Session, select: sa.Select) -> int:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = (insert(Notification).from_select(list(NOTIFICATION_COLUMNS), select)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .execution_options(preserve_rowcount=True))  # SQLAlchemy keeps INSERT counts only on request
        return db.execute(stmt).rowcount

    # 重点项目 (issue 17): the last due date a key project's 临期提醒 covers, per region and for the
    # regions not named ("*"); None: key projects are warned like the others.
    key_warn_until: dict[str, date] | None = None

    def warn_window(self) -> sa.ColumnElement[bool]:
        normal = sa.literal(self.dates.warn_until, sa.Date)
        if not self.key_warn_until:
            return CaseItem.due_date <= normal
        per_region = {r: sa.literal(d, sa.Date) for r, d in self.key_warn_until.items() if r != "*"}
        other = sa.literal(self.key_warn_until.get("*", self.dates.warn_until), sa.Date)
        key_until = sa.case(per_region, value=Case.region, else_=other) if per_region else other
        return CaseItem.due_date <= sa.case((Case.key_project.is_(True), key_until), else_=normal)

    # -- the steps --------------------------------------------------------------------------
    def warn_commissioners(self) -> sa.Select:
        d = self.dates
        text = ("【临期提醒】" + Case.number + "「" + CaseItem.name + "」（" + CaseItem.department
                + "）将于" + self.due + "到期，请跟进办理进度。")
        return self._with_commissioner(self.open_items(*self.row(
            self.key("warn", d.today.isoformat()), self.commissioner.wechat_openid, RecipientKind.STAFF, "sla_warn",
            text, self.console_url(), self.commissioner))).where(CaseItem.due_date >= d.today, self.warn_window())

    def urge_commissioners(self) -> sa.Select:
        d = self.dates
        text = ("【催办】" + Case.number + "「" + CaseItem.name + "」已超过承诺时限（应于" + self.due
                + "办结），请立即跟进并在工作台更新进度。")
        return self._with_commissioner(self.open_items(*self.row(
            self.key("urge", d.today.isoformat()), self.commissioner.wechat_openid, RecipientKind.STAFF, "sla_urge",
            text, self.console_url(), self.commissioner))).where(CaseItem.overdue_on(d.today))

    def overdue_summary_to_supervisors(self) -> sa.Select:
        """One 超期汇总 a day per supervisor: how many items of the region are overdue, the oldest
        first. Per-item alerts would flood supervisors in a backlog (tens of thousands of rows)
        and eat the daily template quota the enterprises' pushes need; the commissioner is the
        one chased per item (urge_commissioners)."""
        s = self.supervisor
        today = self.dates.today.isoformat()
        watcher = _watcher_of(watch := _watch_links())  # regions in tiers: each tier above counts it too
        overdue = (self.open_items(watcher.label("region"), sa.func.count().label("n"),
                                   sa.func.min(CaseItem.due_date).label("oldest"))
                   .outerjoin(watch, watch.c.region == Case.region)
                   .where(CaseItem.overdue_on(self.dates.today)).group_by(watcher).subquery("overdue"))
        count = sa.cast(overdue.c.n, sa.String)
        oldest = sa.cast(overdue.c.oldest, sa.String)
        key = sa.literal("sla:overdue:") + overdue.c.region + f":{today}:s" + sa.cast(s.id, sa.String)
        text = (sa.literal(f"【超期汇总】{today} 本辖区超期未办结事项") + count + "项，最早应于" + oldest
                + "办结。请在工作台「挂图作战」查看并督办。")
        build = sa.func.json_build_object if self.dialect == "postgresql" else sa.func.json_object
        return (sa.select(key, s.wechat_openid, sa.literal(RecipientKind.STAFF, sa.String), sa.literal("sla_overdue"), text,
                          sa.literal("sla_overdue"), build("date", today, "count", count, "oldest", oldest),
                          sa.literal(f"{self.settings.public_url}/console/dashboard"), sa.null(),
                          sa.literal(NotificationState.PENDING.value), sa.literal(0), self.now, self.now, s.wecom_userid, s.id)
                .select_from(overdue)
                .join(s, sa.and_(s.region == overdue.c.region, s.role == Role.SUPERVISOR))
                .where(s.active.is_(True), _reachable(s)))

    def apologise_to_enterprises(self) -> sa.Select:
        text = ("【致歉】您的项目「" + Case.project_name + "」（" + Case.number + "）中「" + CaseItem.name
                + "」未能在承诺时限（" + self.due + "）内办结，非常抱歉。专员正在加紧催办，办结后第一时间告知您。")
        return self.open_items(*self.row(
            self.key("apology", self.due), Case.applicant_openid, RecipientKind.ENTERPRISE, "sla_apology", text,
            sa.null())).where(CaseItem.overdue_on(self.dates.today))

    def escalation_ledger_lines(self) -> sa.Insert:
        already = sa.exists().where(LedgerEntry.case_id == CaseItem.case_id,
                                    LedgerEntry.case_item_id == CaseItem.id,
                                    LedgerEntry.action == "escalated",
                                    LedgerEntry.at >= CaseItem.due_date)
        m = self.settings.sla_escalate_workdays
        detail = ("「" + CaseItem.name + "」应于" + self.due + f"办结，超期已满{m}个工作日，升级至主管协调")
        select = self.open_items(Case.id, CaseItem.id, self.now, sa.literal(ActorKind.SYSTEM, sa.String), sa.null(),
                                 sa.literal("escalated"), detail, sa.null()).where(
            CaseItem.due_date <= self.dates.escalate_due_by, ~already)
        return sa.insert(LedgerEntry).from_select(
            ["case_id", "case_item_id", "at", "actor_kind", "actor_id", "action", "detail", "attachments"], select
        ).execution_options(preserve_rowcount=True)

    def escalation_summary_to_supervisors(self) -> sa.Select:
        """One 升级 summary per region and supervisor for the lines this sweep wrote (not one push
        per item: a backlog would otherwise flood supervisors and eat the daily template quota)."""
        s = self.supervisor
        m = self.settings.sla_escalate_workdays
        today = self.dates.today.isoformat()
        watcher = _watcher_of(watch := _watch_links())  # regions in tiers: each tier above is told too
        new_lines = (sa.select(watcher.label("region"), sa.func.count().label("item_count"))
                     .select_from(LedgerEntry).join(Case, Case.id == LedgerEntry.case_id)
                     .outerjoin(watch, watch.c.region == Case.region)
                     .where(LedgerEntry.action == "escalated", LedgerEntry.case_item_id.is_not(None),
                            LedgerEntry.at == self.now)
                     .group_by(watcher).subquery("escalated_today"))
        items = sa.cast(new_lines.c.item_count, sa.String)
        key = sa.literal("sla:escalate:") + new_lines.c.region + f":{today}:s" + sa.cast(s.id, sa.String)
        text = (sa.literal(f"【升级】{today} 本辖区新增") + items
                + f"项事项超期已满{m}个工作日，已记入台账并升级，请在工作台「超期事项」中协调推进。")
        build = sa.func.json_build_object if self.dialect == "postgresql" else sa.func.json_object
        return (sa.select(key, s.wechat_openid, sa.literal(RecipientKind.STAFF, sa.String), sa.literal("sla_escalate"), text,
                          sa.literal("sla_escalate"), build("date", today, "count", items),
                          sa.literal(f"{self.settings.public_url}/console"), sa.null(),
                          sa.literal(NotificationState.PENDING.value), sa.literal(0), self.now, self.now, s.wecom_userid, s.id)
                .select_from(new_lines)
                .join(s, sa.and_(s.region == new_lines.c.region, s.role == Role.SUPERVISOR))
                .where(s.active.is_(True), _reachable(s)))
