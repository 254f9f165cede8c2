"""协调事项: a case problem the commissioner cannot solve, raised tier by tier up the region's
escalation ladder (issue 17 item 7; config/region_service.yaml `escalation_ladder`, each tier
taken from the region's document: 延津 项目服务专员 → 联席会议 → 市政府, 岳阳 部门会商 → 工改领导小组 …).

- Raising goes to the next tier: the first one, or the one above the case's open escalation,
  which is then closed as 已上报上一级 and linked from the new one. A supervisor may name a tier,
  but skipping one needs a written reason (the documents send a problem up only when the tier
  below cannot solve it). Each escalation is due `due_workdays` working days after it is raised.
- Who is told: the region's active supervisors (but the one raising), the case's commissioner and
  any `staff` the tier names, by push; the ledger line says who was reached and who must be told
  in person. The tier's `who` (the offices the document names) is in every push and line.
- 「告知企业」 on raise (kept when the problem moves up) or on resolve pushes the enterprise, and
  「我的申请」 shows 「协调中：已提交联席会议（预计X月X日前答复）」 or the result (enterprise_lines).
- Past its due date, the scheduler's `escalation-deadlines` job flags an open escalation once
  (ledger 协调超期, a push to the supervisors offering the next tier). It does not move it up by
  itself: whether a tier really cannot solve a problem is a judgement the documents leave to
  people, and a 市政府 or 领导小组 is not put on a case by a timer. The dashboard marks it 已超期.

Rows from before the ladders (联席会议 / 工改领导小组, no due date) stay readable and resolvable;
a level the region's ladder does not name is shown as it is, off the ladder, and never moved up.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from bot.casework import cases, plans
from bot.casework.cases import CaseError
from bot.models import Case, Escalation, Staff, utcnow
from bot.people import region_staff
from bot.platform import clock, region_service
from bot.platform.region_service import EscalationTier
from bot.platform.text_safety import xml_safe
from bot.platform.workdays import WorkCalendar
from bot.push import notify
from bot.vocabulary import (
    CASE_STATES,
    ESCALATION_STATES,
    OPEN_STATES,
    ActorKind,
    EscalationState,
)

# The two levels every region had before the ladders (rows with them stay valid).
LEGACY_LEVELS = ("联席会议", "工改领导小组")


def ladder(region: str | None) -> tuple[EscalationTier, ...]:
    return region_service.for_region(region).escalation_ladder


def tier_of(region: str | None, level: str) -> int | None:
    """The tier's place on the region's ladder (0 = lowest); None for a level it does not name."""
    return next((n for n, t in enumerate(ladder(region)) if t.level == level), None)


def next_tier(region: str | None, level: str) -> EscalationTier | None:
    n = tier_of(region, level)
    tiers = ladder(region)
    return tiers[n + 1] if n is not None and n + 1 < len(tiers) else None


@dataclass
class EscalationRow:
    """An open 协调事项 on the 挂图作战 page and its sheet."""

    id: int
    case_number: str
    company: str
    project: str
    level: str
    note: str
    raised_by: str | None
    raised_at: datetime
    commissioner: str | None
    due_date: date | None = None
    overdue: bool = False
    tier_no: int = 0  # 1-based place on the ladder; 0 off it (a level from before the ladders)
    next_level: str | None = None  # where 上报上一级 would go
    who: str = ""  # the offices the tier gives the problem to
    told: bool = False  # 告知企业
    skip_reason: str | None = None

    @property
    def tier_label(self) -> str:
        return f"第{self.tier_no}级 · {self.level}" if self.tier_no else f"{self.level}（原协调层级）"


def open_rows(db: Session, scope, today: date) -> list[EscalationRow]:
    """Open escalations of the cases `scope` (a Case condition) selects, lowest tier first, then by due date."""
    raiser, commissioner = aliased(Staff), aliased(Staff)
    rows = db.execute(
        sa.select(Escalation, Case.number, Case.company_name, Case.project_name, Case.region, raiser.name,
                  commissioner.name)
        .join(Case, Case.id == Escalation.case_id)
        .outerjoin(raiser, raiser.id == Escalation.raised_by)
        .outerjoin(commissioner, commissioner.id == Case.commissioner_id)
        .where(scope, Escalation.state == EscalationState.OPEN)
        .order_by(Escalation.raised_at, Escalation.id)).all()
    out = []
    for e, number, company, project, region, by, who in rows:
        n = tier_of(region, e.level)
        tier = ladder(region)[n] if n is not None else None
        following = next_tier(region, e.level)
        out.append(EscalationRow(e.id, number, company, project, e.level, e.note, by, e.raised_at, who,
                                 due_date=e.due_date, overdue=bool(e.due_date and e.due_date < today),
                                 tier_no=n + 1 if n is not None else 0,
                                 next_level=following.level if following else None,
                                 who="、".join(tier.who) if tier else "", told=bool(e.tell_enterprise),
                                 skip_reason=e.skip_reason))
    out.sort(key=lambda r: (r.tier_no or 99, r.due_date or date.max, r.id))
    return out


# -- raise, move up, resolve --------------------------------------------------------------

def _open_on_ladder(db: Session, case: Case) -> Escalation | None:
    """The case's open escalation highest on its region's ladder (rows off the ladder don't count)."""
    open_rows_ = list(db.scalars(sa.select(Escalation).where(
        Escalation.case_id == case.id, Escalation.state == EscalationState.OPEN).order_by(Escalation.id)))
    on = [(tier_of(case.region, e.level), e) for e in open_rows_]
    on = [(n, e) for n, e in on if n is not None]
    return max(on, key=lambda p: (p[0], p[1].id))[1] if on else None


def _choose(case: Case, level: str, current: Escalation | None, skip_reason: str) -> EscalationTier:
    tiers = ladder(case.region)
    names = "、".join(t.level for t in tiers)
    at = tier_of(case.region, current.level) if current else -1
    if not level:  # 「提交下一层级」
        if at + 1 >= len(tiers):
            raise CaseError(f"案件{case.number}已提交{current.level}（E{current.id}），这是本地区最高协调层级，"
                            f"请登记协调结果")
        return tiers[at + 1]
    n = tier_of(case.region, level)
    if n is None:
        raise CaseError(f"本地区的协调层级为：{names}，请从中选择")
    if current is not None and n == at:
        raise CaseError(f"案件{case.number}已提交{level}（E{current.id}），尚未解决")
    if n < at:
        raise CaseError(f"案件{case.number}已提交{current.level}（E{current.id}），不能再提交较低的{level}")
    if n > at + 1 and not skip_reason:
        raise CaseError(f"越级提交{level}须写明理由（下一层级是{tiers[at + 1].level}）")
    return tiers[n]


def raise_escalation(db: Session, case: Case, level: str | None, note: str, supervisor: Staff, *,
                     tell_enterprise: bool = False, skip_reason: str = "", calendar: WorkCalendar | None = None,
                     today: date | None = None, console_url: str = "", move_reason: str = "") -> Escalation:
    """Raise a case problem to the next tier of its region's ladder (`level` empty) or to `level`.
    An open lower tier is closed as moved up (its line says `move_reason`, else the note); the new
    escalation is due in the tier's working days."""
    note = xml_safe(note or "").strip()
    skip_reason = xml_safe(skip_reason or "").strip()
    level = (level or "").strip()
    if not note:
        raise CaseError("请写明需要协调解决的问题")
    if case.state not in OPEN_STATES:
        raise CaseError(f"案件{case.number}当前为「{CASE_STATES[case.state]}」，只有办理中的案件可以提请协调")
    current = _open_on_ladder(db, case)
    tier = _choose(case, level, current, skip_reason)
    skipped = tier_of(case.region, tier.level) > (tier_of(case.region, current.level) if current else -1) + 1
    today = today or clock.today()
    due = (calendar or plans.default_calendar()).add_workdays(today, tier.due_workdays)
    now = utcnow()
    escalation = Escalation(case_id=case.id, level=tier.level, note=note[:2000], raised_by=supervisor.id,
                            raised_at=now, state=EscalationState.OPEN, due_date=due,
                            previous_id=current.id if current else None,
                            skip_reason=skip_reason[:2000] if skipped else None,
                            tell_enterprise=bool(tell_enterprise or (current is not None and current.tell_enterprise)))
    db.add(escalation)
    db.flush()
    actor = {"actor_kind": ActorKind.SUPERVISOR, "actor_id": supervisor.username}
    if current is not None:
        current.state, current.resolved_at, current.resolved_by = EscalationState.MOVED_UP, now, supervisor.id
        why = xml_safe(move_reason or "").strip() or note
        cases.log(db, case, "escalation:moved_up",
                  f"E{current.id} {current.level} → {tier.level}（E{escalation.id}）：{why[:500]}", **actor)
    cases.log(db, case, "escalation:raised", f"提交{tier.level}协调（E{escalation.id}）：{note[:500]}"
              + (f"（越级理由：{skip_reason[:300]}）" if skipped else ""), **actor)
    _tell(db, case, escalation, tier, supervisor, previous=current.level if current else None, console_url=console_url)
    return escalation


def move_up(db: Session, escalation: Escalation, case: Case, reason: str, supervisor: Staff, **kw) -> Escalation:
    """上报上一级: this open escalation goes on to the next tier of the ladder, with the same problem;
    `reason` (why the tier below could not solve it) is the 上报上一级 line."""
    if escalation.state != EscalationState.OPEN:
        raise CaseError(f"E{escalation.id} 当前为「{ESCALATION_STATES.get(escalation.state, escalation.state)}」")
    following = next_tier(case.region, escalation.level)
    if following is None:
        if tier_of(case.region, escalation.level) is None:
            raise CaseError(f"E{escalation.id}（{escalation.level}）不在本地区的协调层级中，请直接提请所需层级")
        raise CaseError(f"{escalation.level}已是本地区最高协调层级，请登记协调结果")
    if _open_on_ladder(db, case) is not escalation:
        raise CaseError(f"案件{case.number}已有更高层级的协调事项")
    return raise_escalation(db, case, following.level, escalation.note, supervisor,
                            move_reason=reason or f"{escalation.level}未能解决", **kw)


def _recipients(db: Session, case: Case, tier: EscalationTier, supervisor: Staff | None) -> list[Staff]:
    # A 镇's case with no supervisor of its own reaches the nearest tier above that has some.
    people = region_staff.nearest_supervisors(db, case.region)
    if case.commissioner_id:
        people.append(db.get(Staff, case.commissioner_id))
    if tier.staff:
        people += list(db.scalars(sa.select(Staff).where(Staff.username.in_(tier.staff), Staff.active.is_(True))))
    seen, out = set(), []
    for person in people:
        if person is not None and person.id not in seen and (supervisor is None or person.id != supervisor.id):
            seen.add(person.id)
            out.append(person)
    return out


def _tell(db: Session, case: Case, escalation: Escalation, tier: EscalationTier, supervisor: Staff,
          previous: str | None, console_url: str) -> None:
    """The pushes of a raise, and the 协调通知 line saying who got one."""
    reached, unreached = [], []
    for person in _recipients(db, case, tier, supervisor):
        sent = notify.escalation_raised(db, case, person, escalation.id, tier.level, "、".join(tier.who),
                                        escalation.due_date, escalation.note, previous, console_url)
        (reached if sent is not None else unreached).append(person.name)
    enterprise = "不告知企业"
    if escalation.tell_enterprise:
        told = notify.escalation_to_enterprise(db, case, escalation.id, tier.level, escalation.due_date)
        enterprise = "已告知企业" if told is not None else "企业尚未关注公众号，未能告知"
    cases.log(db, case, "escalation:notified",
              f"E{escalation.id} {tier.level}：协调单位 {'、'.join(tier.who)}；答复期限 {clock.date_text(escalation.due_date)}；"
              f"已推送：{'、'.join(reached) or '无'}"
              + (f"；未绑定微信，需当面告知：{'、'.join(unreached)}" if unreached else "") + f"；{enterprise}",
              actor_kind=ActorKind.SYSTEM)


def resolve_escalation(db: Session, escalation: Escalation, case: Case, resolution: str, supervisor: Staff, *,
                       tell_enterprise: bool = False, console_url: str = "") -> Escalation:
    resolution = xml_safe(resolution or "").strip()
    if not resolution:
        raise CaseError("请填写协调结果")
    if escalation.state != EscalationState.OPEN:
        raise CaseError(f"E{escalation.id} 当前为「{ESCALATION_STATES.get(escalation.state, escalation.state)}」")
    escalation.state = EscalationState.RESOLVED
    escalation.resolution = resolution[:2000]
    escalation.resolved_at = utcnow()
    escalation.resolved_by = supervisor.id
    escalation.resolution_told = bool(tell_enterprise)
    cases.log(db, case, "escalation:resolved", f"{escalation.level}协调结果（E{escalation.id}）：{resolution[:500]}",
              actor_kind=ActorKind.SUPERVISOR, actor_id=supervisor.username)
    commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
    if commissioner is not None and commissioner.id != supervisor.id:
        notify.escalation_resolved(db, case, commissioner, escalation.id, escalation.level, resolution, console_url)
    if tell_enterprise:
        told = notify.escalation_result_to_enterprise(db, case, escalation.id, escalation.level, resolution)
        cases.log(db, case, "escalation:notified",
                  f"E{escalation.id} {escalation.level}协调结果"
                  + ("已告知企业" if told is not None else "：企业尚未关注公众号，未能告知"),
                  actor_kind=ActorKind.SYSTEM)
    return escalation


# -- the scheduler's escalation-deadlines job ---------------------------------------------

def flag_overdue(db: Session, today: date, console_url: str = "") -> int:
    """Flag each open escalation whose due date has passed, once: a 协调超期 line and a push to the
    region's supervisors offering the next tier. Returns how many were flagged."""
    rows = db.execute(sa.select(Escalation, Case).join(Case, Case.id == Escalation.case_id).where(
        Escalation.state == EscalationState.OPEN, Escalation.due_date.is_not(None), Escalation.due_date < today,
        Escalation.overdue_at.is_(None), Case.state.in_(OPEN_STATES)).order_by(Escalation.id).with_for_update(of=Escalation)).all()
    for escalation, case in rows:
        escalation.overdue_at = utcnow()
        following = next_tier(case.region, escalation.level)
        offer = f"可上报{following.level}" if following else "已是最高协调层级，请督促答复"
        cases.log(db, case, "escalation:overdue",
                  f"E{escalation.id} {escalation.level}答复期限{clock.date_text(escalation.due_date, today)}已过，尚未解决；{offer}",
                  actor_kind=ActorKind.SYSTEM)
        for supervisor in region_staff.nearest_supervisors(db, case.region):
            notify.escalation_overdue(db, case, supervisor, escalation.id, escalation.level, escalation.due_date,
                                      following.level if following else None, console_url)
    return len(rows)


# -- what the enterprise reads in 「我的申请」 ------------------------------------------------

@dataclass(frozen=True)
class EnterpriseView:
    level: str
    due_date: date | None
    resolution: str | None  # None while open


def enterprise_view(db: Session, case: Case) -> list[EnterpriseView]:
    """The escalations the enterprise was told of: open ones (告知企业 on raise) and results told."""
    rows = db.scalars(sa.select(Escalation).where(Escalation.case_id == case.id).order_by(Escalation.id))
    out = []
    for e in rows:
        if e.state == EscalationState.OPEN and e.tell_enterprise:
            out.append(EnterpriseView(e.level, e.due_date, None))
        elif e.state == EscalationState.RESOLVED and e.resolution_told:
            out.append(EnterpriseView(e.level, e.due_date, e.resolution))
    return out
