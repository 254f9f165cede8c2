"""Case services: the 帮办/代办 request from submission to archive.

Every change is one transaction that also writes its ledger line and any push it causes (the
outbox), so a crash can lose neither the enterprise's submission nor its notification.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import identifiers
from bot.models import Case, CaseCounter, CaseItem, LedgerEntry, Rectification, Staff, utcnow
from bot.casework import agreements, key_projects
from bot.people import region_staff
from bot.platform import clock, region_service, region_tiers
from bot.platform.text_safety import single_line
from bot.platform.workdays import WorkCalendar
from bot.push import notify
from bot.vocabulary import (
    CASE_STATES,
    ITEM_STATES,
    OPEN_STATES,  # noqa: F401  (callers and tests read cases.OPEN_STATES)
    ActorKind,
    CaseState,
    ItemState,
    RectificationState,
)

CASE_TRANSITIONS = {
    CaseState.APPLIED: {CaseState.ACCEPTED, CaseState.TERMINATED},
    CaseState.ACCEPTED: {CaseState.IN_PROGRESS, CaseState.TERMINATED},
    CaseState.IN_PROGRESS: {CaseState.COMPLETED, CaseState.TERMINATED},
    CaseState.COMPLETED: {CaseState.DELIVERED},
    CaseState.DELIVERED: {CaseState.RATED, CaseState.ARCHIVED},
    CaseState.RATED: {CaseState.ARCHIVED},
    CaseState.TERMINATED: {CaseState.ARCHIVED},
    CaseState.ARCHIVED: set(),
}
ITEM_TRANSITIONS = {
    ItemState.PENDING: {ItemState.SUBMITTED},
    ItemState.SUBMITTED: {ItemState.ACCEPTED, ItemState.CORRECTION},
    ItemState.ACCEPTED: {ItemState.REVIEWING, ItemState.CORRECTION, ItemState.DONE},
    ItemState.CORRECTION: {ItemState.REVIEWING, ItemState.SUBMITTED},
    ItemState.REVIEWING: {ItemState.CORRECTION, ItemState.DONE},
    ItemState.DONE: set(),
}
TERMINATION_REASONS = ("项目不具备条件", "企业主动终止", "其他")

# What each ledger action is called where people read the 台账 (the code stays in the database:
# the dashboard's figures select on it). Every code any module writes has its name here.
ACTION_NAMES = {
    "submitted": "提交申请", "agreement_consented": "确认委托协议", "unassigned": "待分派", "assigned": "分派专员",
    "state:accepted": "受理", "state:in_progress": "开始承办", "state:completed": "办结", "state:delivered": "送达",
    "state:rated": "评价完成", "state:archived": "立卷归档", "state:terminated": "终止服务",
    "item:submitted": "事项已申报", "item:accepted": "事项已受理", "item:correction": "请求补正",
    "item:reviewing": "事项审批中", "item:done": "事项已办结",
    "note": "服务记录", "urged": "企业催办", "escalated": "超时督办", "rated": "企业评价", "rating_changed": "修改评价",
    "rating_detail": "补充评价", "rating_reminded": "评价提醒", "rectification_opened": "差评转整改",
    "revisited": "整改回访", "rectification_closed": "整改办结", "escalation:raised": "提请协调",
    "escalation:resolved": "协调结果", "push_resent": "重新发送通知",
    # issue 17 item 7: escalation tiers (bot/supervision/escalations.py)
    "escalation:notified": "协调通知", "escalation:overdue": "协调超期", "escalation:moved_up": "上报上一级",
    "material:received": "收到材料", "material:failed": "材料未能保存",
    # issue 17: contact changes, 重点项目, 服务选项 and 提前介入
    "contact_changed": "修改联系人", "key_project_alerted": "重点项目告知主管",
    "invitation:sent": "提前介入邀请", "invitation:accepted": "企业确认提前介入", "invitation:declined": "企业谢绝提前介入",
    # issue 17: 办结 the enterprise confirms (bot/casework/completion.py), materials handed back (handbacks.py)
    "completion:requested": "请企业确认办结", "completion:confirmed": "确认办结", "completion:deemed": "逾期视为确认",
    "completion:objected": "对办结有异议", "handback:recorded": "交还材料", "handback:confirmed": "企业确认收到材料",
    # issue 17 items 2 and 10: the 一企一策 plan (bot/casework/plans.py)
    "plan_proposed": "一企一策计划", "plan_changed": "计划调整",
    # issue 17 item 1: 上门受理 and 窗口预约 (bot/casework/appointments.py)
    "appointment:proposed": "约定预约", "appointment:rescheduled": "重新约定预约",
    "appointment:confirmed": "企业确认预约", "appointment:reschedule_requested": "企业请求改期",
    "appointment:cancelled": "取消预约", "appointment:reminded": "预约提醒",
    "appointment:done": "预约完成", "appointment:missed": "预约未进行",
}


def action_name(action: str) -> str:
    """A ledger action as people read it: 「受理」 for state:accepted, 「事项已申报」 for item:submitted."""
    return ACTION_NAMES.get(action, "其他记录")


class CaseError(ValueError):
    """A refused change, with a message fit to show the person who asked for it."""


# -- issue 17 item 5: an archived case is read-only (bot/casework/archiving.py archives it) --------
ARCHIVED_MESSAGE = "案件已立卷归档，不能再变更"


class ArchivedCaseError(CaseError):
    """A change asked of a case already 立卷归档."""

    def __init__(self, message: str = ARCHIVED_MESSAGE):
        super().__init__(message)


def ensure_editable(case: Case) -> None:
    """Refuse any change to an archived case, politely, before anything is done. log() checks it
    too, so a change that forgets to ask is still rolled back (every change writes its line)."""
    if case.state == CaseState.ARCHIVED:
        raise ArchivedCaseError()


@dataclass(frozen=True)
class ItemPlan:
    """What the case needs to know of a catalogue item (the caller reads the knowledge base)."""

    code: str
    name: str
    department: str
    stage: str
    time_limit_wd: int | None
    after: tuple[str, ...] = ()  # codes of items whose result this one needs first


@dataclass(frozen=True)
class Application:
    mode: str  # 帮办 | 代办
    applicant_openid: str
    company_name: str
    credit_code: str
    project_name: str
    region: str
    investment_type: str
    stage: str
    contact_name: str
    items: tuple[ItemPlan, ...]
    project_code: str | None = None
    key_project: bool = False
    project_kind: str | None = None
    contact_phone: str | None = None
    agreement_consented_at: datetime | None = None
    submission_key: str | None = None
    service_option: str | None = None  # where the region offers them (bot.platform.region_service)
    agreement_version: str | None = None  # the 委托协议 version shown at consent (bot/casework/agreements.py)
    area: str | None = None  # a sub-region of `region` the 属地 answer named (bot/platform/region_tiers.py)

    def cleaned(self) -> "Application":
        """The typed fields as one clean line each: a control character (which no spreadsheet,
        XML reply or PostgreSQL text can hold) must not reach the case and break its exports."""
        return replace(self, **{name: single_line(value) for name in _TYPED_FIELDS
                                if isinstance(value := getattr(self, name), str)})


_TYPED_FIELDS = ("company_name", "project_name", "contact_name", "project_code", "project_kind", "contact_phone")


@dataclass
class PlannedItem:
    plan: ItemPlan
    due: date | None


@dataclass
class Schedule:
    """A 进度计划 planned backwards-free: stages run in order, items within a stage in parallel."""

    start: date
    items: list[PlannedItem] = field(default_factory=list)

    @property
    def finish(self) -> date | None:
        dues = [p.due for p in self.items if p.due]
        return max(dues) if dues else None


def plan_schedule(items: tuple[ItemPlan, ...] | list[ItemPlan], start: date, calendar: WorkCalendar) -> Schedule:
    """Expected dates: stages run in order (a stage starts when the previous one's slowest item
    is due); within a stage items run in parallel (并联审批) unless one needs another's result
    (`after`), in which case it starts when that one is due. Items without a published limit get
    no date and hold nothing up."""
    schedule = Schedule(start)
    due: dict[str, date | None] = {}
    stage_start = start
    for stage in sorted({i.stage for i in items}, key=_stage_order):
        pending = [i for i in items if i.stage == stage]
        while pending:
            ready = [i for i in pending if all(a in due or a not in {p.code for p in pending} for a in i.after)]
            ready = ready or pending[:1]  # a cycle in the data must not hang the planner
            for plan in ready:
                begin = max([stage_start, *(due[a] for a in plan.after if due.get(a))])
                due[plan.code] = (calendar.add_workdays(begin, plan.time_limit_wd)
                                  if plan.time_limit_wd is not None else None)
                schedule.items.append(PlannedItem(plan, due[plan.code]))
                pending.remove(plan)
        dues = [due[i.code] for i in items if i.stage == stage and due.get(i.code)]
        if dues:
            stage_start = max(dues)
    return schedule


def _stage_order(stage: str) -> tuple[int, str]:
    return (int(stage), "") if stage.isdigit() else (99, stage)


def next_number(session: Session, year: int, prefix: str = "BD") -> str:
    """BD-2026-000123. Create the year's counter if missing (racing creators both succeed), then
    one atomic increment, so two concurrent submissions never share a number."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(CaseCounter).values(year=year, last=0).on_conflict_do_nothing())
    last = session.execute(
        sa.update(CaseCounter).where(CaseCounter.year == year).values(last=CaseCounter.last + 1)
        .returning(CaseCounter.last)
    ).scalar_one()
    return f"{prefix}-{year}-{last:06d}"


def pick_commissioner(session: Session, region: str) -> Staff | None:
    """属地 assignment: the active commissioner with the fewest open cases of the lowest tier that
    has one — the 镇 itself, else its 县, else its 市 (regions in tiers, bot/people/region_staff.py)."""
    return region_staff.least_loaded_commissioner(session, region)


def _routed_note(region: str, commissioner: Staff) -> str:
    """Regions in tiers: what the ledger says when a 镇 had nobody and a higher tier took the case."""
    if commissioner.region == region or not region_tiers.known(region):
        return ""
    return f"（{region_tiers.name(region)}暂无帮代办专员，由{region_tiers.name(commissioner.region)}承办）"


def place_of(app: Application) -> str:
    """The region a new case belongs to: the sub-region (镇/园区/县) the form's 属地 named, or else the
    one its project name names (「荣家湾镇标准厂房」), when it lies inside the chosen region; else that region."""
    if app.area and region_tiers.is_within(app.area, app.region):
        return app.area
    return region_tiers.find_place(app.project_name, within=app.region) or app.region


_CORRECTION_RE = re.compile(r"：请求补正——(?P<missing>.*)（期限 (?P<due>\d{4}-\d{2}-\d{2})）$", re.S)


def open_corrections(session: Session, case: Case) -> dict[int, tuple[str, date]]:
    """For each item now 需补正: what is missing and by when, from its latest 补正 request (the
    ledger line case_actions.request_correction writes)."""
    waiting = [i.id for i in items_of(session, case) if i.state == ItemState.CORRECTION]
    if not waiting:
        return {}
    rows = session.execute(sa.select(LedgerEntry.case_item_id, LedgerEntry.detail)
                           .where(LedgerEntry.case_id == case.id, LedgerEntry.case_item_id.in_(waiting),
                                  LedgerEntry.action == "item:correction")
                           .order_by(LedgerEntry.id))
    found = {}
    for item_id, detail in rows:
        if m := _CORRECTION_RE.search(detail or ""):
            found[item_id] = (m.group("missing"), date.fromisoformat(m.group("due")))
    return found


def log(session: Session, case: Case, action: str, detail: str = "", *, actor_kind: str = ActorKind.SYSTEM,
        actor_id: str | None = None, item: CaseItem | None = None, attachments: list | None = None) -> LedgerEntry:
    if action != f"state:{CaseState.ARCHIVED}":  # the archiving line itself is the last one
        ensure_editable(case)
    entry = LedgerEntry(case_id=case.id, case_item_id=item.id if item else None, actor_kind=actor_kind,
                        actor_id=actor_id, action=action, detail=detail, attachments=attachments)
    session.add(entry)
    return entry


def submit(session: Session, app: Application, calendar: WorkCalendar, today: date | None = None,
           console_url: str = "") -> Case:
    """Store a new request with its items, assign a commissioner and queue the assignment alert.
    A repeated submission (same submission_key) returns the case made the first time."""
    app = app.cleaned()
    if app.submission_key:
        existing = session.scalar(sa.select(Case).where(Case.submission_key == app.submission_key))
        if existing is not None:
            return existing
    if app.mode not in ("帮办", "代办"):
        raise CaseError("服务方式只能是帮办或代办")
    if app.mode == "代办" and app.agreement_consented_at is None:
        raise CaseError("代办需要先确认委托协议")
    if not app.items:
        raise CaseError("请至少选择一个需要办理的审批事项")
    if app.service_option is not None and app.service_option not in region_service.for_region(app.region).service_options:
        raise CaseError("该地区不提供此服务选项")
    today = today or clock.today()
    case = Case(
        number=next_number(session, today.year), mode=app.mode, state=CaseState.APPLIED,
        applicant_openid=app.applicant_openid, company_name=app.company_name, credit_code=app.credit_code,
        project_name=app.project_name, project_code=app.project_code, region=app.region,
        investment_type=app.investment_type, key_project=app.key_project, project_kind=app.project_kind,
        stage=app.stage, contact_name=app.contact_name, contact_phone=app.contact_phone,
        agreement_consented_at=app.agreement_consented_at, submission_key=app.submission_key,
        service_option=app.service_option,
    )
    # Regions in tiers (issue 17 item 6): the case is the 属地's; its commissioner the lowest tier's that has one.
    case.region = place_of(app)
    commissioner = pick_commissioner(session, case.region)
    case.commissioner_id = commissioner.id if commissioner else None
    session.add(case)
    session.flush()
    for planned in plan_schedule(app.items, today, calendar).items:
        session.add(CaseItem(case_id=case.id, item_code=planned.plan.code, name=planned.plan.name,
                             department=planned.plan.department, state=ItemState.PENDING,
                             time_limit_wd=planned.plan.time_limit_wd, due_date=planned.due))
    log(session, case, "submitted", f"企业在线提交{app.mode}申请（{len(app.items)}个事项"
        + (f"，{app.service_option}" if app.service_option else "") + "）",
        actor_kind=ActorKind.ENTERPRISE, actor_id=app.applicant_openid)
    if app.agreement_consented_at:
        agreed = agreements.record(session, case, agreed_at=app.agreement_consented_at, openid=app.applicant_openid,
                                   name=app.contact_name, phone=app.contact_phone, version=app.agreement_version)
        log(session, case, "agreement_consented", f"企业确认代办委托协议{agreements.label(agreed)}"
            f"（{clock.stamp(app.agreement_consented_at)}，{app.contact_name}）",
            actor_kind=ActorKind.ENTERPRISE, actor_id=app.applicant_openid)
    if commissioner is None:
        log(session, case, "unassigned", "该地区暂无可分派的帮代办专员，待主管分派")
    else:
        log(session, case, "assigned", f"分派给帮代办专员 {commissioner.name}" + _routed_note(case.region, commissioner))
        notify.new_application(session, case, commissioner, console_url)
    alert_key_project(session, case, commissioner, console_url)
    return case


def alert_key_project(session: Session, case: Case, commissioner: Staff | None, console_url: str = "") -> None:
    """重点项目 (绿色通道): its assignment is told to the region's supervisors, with a ledger line."""
    if not case.key_project:
        return
    told = key_projects.to_tell(session, case)
    entry = log(session, case, "key_project_alerted",
                ("重点项目已告知主管 " + "、".join(s.name for s in told)) if told else "重点项目（无可通知的主管）")
    session.flush()
    key_projects.on_assignment(session, case, told, commissioner, entry.id, console_url)


def transition(session: Session, case: Case, to: str, *, actor_kind: str, actor_id: str | None,
               detail: str = "", reason: str | None = None) -> Case:
    """Move a case along its state machine; an illegal move is refused with a clear error."""
    ensure_editable(case)
    if to not in CASE_STATES:
        raise CaseError(f"未知状态：{to}")
    if to not in CASE_TRANSITIONS[case.state]:
        raise CaseError(f"案件当前为「{CASE_STATES[case.state]}」，不能变更为「{CASE_STATES[to]}」")
    if to == CaseState.ARCHIVED:
        _ensure_no_open_rectification(session, case)
    if to == CaseState.TERMINATED:
        if not reason or not reason.strip():
            raise CaseError("终止必须填写原因（项目不具备条件 / 企业主动终止 / 其他）")
        case.termination_reason = reason.strip()[:200]
    now = utcnow()
    if to == CaseState.ACCEPTED:
        case.accepted_at = now
    if to in (CaseState.COMPLETED, CaseState.TERMINATED):
        case.closed_at = now
    before = case.state
    case.state = to
    log(session, case, f"state:{to}", detail or f"{CASE_STATES[before]} → {CASE_STATES[to]}"
        + (f"（原因：{case.termination_reason}）" if to == CaseState.TERMINATED else ""),
        actor_kind=actor_kind, actor_id=actor_id)
    return case


def _ensure_no_open_rectification(session: Session, case: Case) -> None:
    """立卷归档 closes the record: a 整改 still open would be archived unfinished, its 回访 and the
    enterprise's 反馈 never done. So archiving waits for it."""
    waiting = list(session.scalars(sa.select(Rectification.id).where(
        Rectification.case_id == case.id, Rectification.state != RectificationState.CLOSED).order_by(Rectification.id)))
    if waiting:
        raise CaseError(f"案件还有未办结的整改（{'、'.join(identifiers.rectification_number(r) for r in waiting)}），"
                        "请先完成回访并办结整改，再立卷归档")


def move_item(session: Session, case: Case, item: CaseItem, to: str, *, actor_kind: str,
              actor_id: str | None, detail: str = "") -> CaseItem:
    if to not in ITEM_STATES:
        raise CaseError(f"未知事项状态：{to}")
    if to not in ITEM_TRANSITIONS[item.state]:
        raise CaseError(f"事项「{item.name}」当前为「{ITEM_STATES[item.state]}」，不能变更为「{ITEM_STATES[to]}」")
    before = item.state
    item.state = to
    item.updated_at = utcnow()
    log(session, case, f"item:{to}", detail or f"{item.name}：{ITEM_STATES[before]} → {ITEM_STATES[to]}",
        actor_kind=actor_kind, actor_id=actor_id, item=item)
    return item


def cases_of_applicant(session: Session, openid: str) -> list[Case]:
    """Every case this applicant made, in any state, newest first."""
    return list(session.scalars(sa.select(Case).where(Case.applicant_openid == openid)
                                .order_by(Case.created_at.desc())))


def submitted_since(session: Session, openid: str, since_ts: float) -> Case | None:
    """This applicant's newest case created at or after a moment (epoch seconds), if any."""
    since = datetime.fromtimestamp(since_ts, tz=timezone.utc)
    return session.scalar(sa.select(Case).where(Case.applicant_openid == openid, Case.created_at >= since)
                          .order_by(Case.created_at.desc()).limit(1))


def has_open_correction(session: Session, openid: str) -> bool:
    """Whether any of this applicant's items waits for 补正 material."""
    return session.scalar(sa.select(sa.exists().where(CaseItem.case_id == Case.id, Case.applicant_openid == openid,
                                                      CaseItem.state == ItemState.CORRECTION))) or False


def by_number(session: Session, number: str) -> Case | None:
    return session.scalar(sa.select(Case).where(Case.number == identifiers.case_number(number)))


def items_of(session: Session, case: Case) -> list[CaseItem]:
    return list(session.scalars(sa.select(CaseItem).where(CaseItem.case_id == case.id).order_by(CaseItem.id)))


def ledger_of(session: Session, case: Case) -> list[LedgerEntry]:
    return list(session.scalars(sa.select(LedgerEntry).where(LedgerEntry.case_id == case.id)
                                .order_by(LedgerEntry.at, LedgerEntry.id)))
