"""办结 the enterprise confirms (issue 17 item 3).

县级市 (seed 003, 五、4.) 「委托代办事项经投资者确认后办结」: the 办结 of the commission — the case,
the fourth step of its flow 申请/受理/承办/办结 — counts only once the investor confirms. It is the
case that waits, not each approval item: an item's 办结 is the approving department's decision
(its 批文/证照), which the enterprise cannot confirm or refuse; what the enterprise confirms is that
the service it commissioned is done. So where a region asks for it (config/region_service.yaml,
`completion_confirmation`), case_actions.complete does not close the case but asks the enterprise
(「确认办结」, or 「有问题」 with a reason), and:

- 「确认办结」: the case is 办结 (ledger 「确认办结」, then the usual 「已办结」 push);
- no answer by the deadline (working days, `completion_confirm_workdays`): the scheduler's
  `completion_deadlines` job counts it as confirmed (ledger 「逾期视为确认」);
- 「有问题」: ledger 「对办结有异议」 with the reason, the commissioner is told, the case stays open
  and can be reported 办结 again once the problem is solved.

While it waits, the case reads 「待企业确认办结」 (console, 「我的申请」, dashboard).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import cases
from bot.casework.cases import CaseError
from bot.models import Case, CompletionConfirmation, Staff, utcnow
from bot.platform import clock, region_service, region_tiers
from bot.platform.text_safety import xml_safe
from bot.platform.workdays import WorkCalendar, load_calendar
from bot.push import notify
from bot.vocabulary import (
    COMPLETION_STATES,
    OPEN_STATES,
    ActorKind,
    CaseState,
    CompletionState,
)

WAITING = COMPLETION_STATES[CompletionState.PENDING]  # 「待企业确认办结」, where the case's state is shown
MAX_REASON = 300


def required(case: Case) -> bool:
    """Whether this case's region asks the enterprise to confirm its 办结."""
    return region_service.for_region(case.region).completion_confirmation


def pending(session: Session, case: Case) -> CompletionConfirmation | None:
    return session.scalar(sa.select(CompletionConfirmation).where(
        CompletionConfirmation.case_id == case.id, CompletionConfirmation.state == CompletionState.PENDING))


def history(session: Session, case: Case) -> list[CompletionConfirmation]:
    return list(session.scalars(sa.select(CompletionConfirmation).where(CompletionConfirmation.case_id == case.id)
                                .order_by(CompletionConfirmation.id)))


def waiting_case_ids(session: Session, case_ids: list[int] | None = None) -> set[int]:
    """The cases (of `case_ids`, or all) whose 办结 waits for the enterprise."""
    q = sa.select(CompletionConfirmation.case_id).where(CompletionConfirmation.state == CompletionState.PENDING)
    if case_ids is not None:
        if not case_ids:
            return set()
        q = q.where(CompletionConfirmation.case_id.in_(case_ids))
    return set(session.scalars(q))


def state_label(session: Session, case: Case) -> str:
    """The case's state as people read it, 「待企业确认办结」 while the enterprise is asked."""
    return WAITING if case.state in OPEN_STATES and pending(session, case) is not None \
        else cases.CASE_STATES[case.state]


def request(session: Session, case: Case, *, actor_kind: str, actor_id: str, staff: Staff | None = None,
            calendar: WorkCalendar | None = None, today: date | None = None) -> CompletionConfirmation:
    """Ask the enterprise to confirm the 办结 (the caller checked every item is done)."""
    if case.state not in OPEN_STATES:
        raise CaseError(f"案件当前为「{cases.CASE_STATES[case.state]}」，不能办结")
    if pending(session, case) is not None:
        raise CaseError("已请企业确认办结，正在等待企业答复")
    if not case.applicant_openid:
        raise CaseError("企业尚未在微信中确认提前介入，无法请企业确认办结")
    today = today or clock.today()
    days = region_service.for_region(case.region).completion_confirm_workdays
    deadline = (calendar or load_calendar()).add_workdays(today, days)
    row = CompletionConfirmation(case_id=case.id, requested_by=staff.id if staff else None, requested_at=utcnow(),
                                 deadline=deadline, state=CompletionState.PENDING)
    session.add(row)
    session.flush()
    cases.log(session, case, "completion:requested",
              f"全部事项已办结，请企业确认办结；{deadline:%Y-%m-%d}前未答复视为确认（{days}个工作日）",
              actor_kind=actor_kind, actor_id=actor_id)
    notify.completion_confirmation_requested(session, case, row.id, deadline)
    return row


def _finish(session: Session, case: Case, detail: str) -> None:
    cases.transition(session, case, CaseState.COMPLETED, actor_kind=ActorKind.SYSTEM, actor_id=None, detail=detail)
    notify.completed(session, case)


def _locked_pending(session: Session, case: Case) -> CompletionConfirmation | None:
    q = sa.select(CompletionConfirmation).where(CompletionConfirmation.case_id == case.id,
                                                CompletionConfirmation.state == CompletionState.PENDING)
    return session.scalar(q.with_for_update())


def confirm(session: Session, case: Case, openid: str) -> CompletionConfirmation:
    """「确认办结」 from the enterprise (`openid` must be the case's applicant)."""
    if openid != case.applicant_openid:
        raise CaseError("只有申请企业可以确认办结")
    row = _locked_pending(session, case)
    if row is None:
        raise CaseError(f"案件{case.number}没有待确认的办结")
    row.state, row.answered_at, row.answered_openid = CompletionState.CONFIRMED, utcnow(), openid
    cases.log(session, case, "completion:confirmed", "企业在微信中确认办结",
              actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    _finish(session, case, "全部事项已办结，企业确认办结")
    return row


@dataclass(frozen=True)
class Objection:
    row: CompletionConfirmation
    commissioner: Staff | None
    notified: bool


def object_to(session: Session, case: Case, openid: str, reason: str, console_url: str = "") -> Objection:
    """「有问题」 with a reason: the 办结 is not confirmed, the case stays open with the commissioner."""
    if openid != case.applicant_openid:
        raise CaseError("只有申请企业可以对办结提出异议")
    reason = xml_safe(reason or "").strip()
    if not reason:
        raise CaseError("请写明办结存在的问题")
    reason = reason[:MAX_REASON]
    row = _locked_pending(session, case)
    if row is None:
        raise CaseError(f"案件{case.number}没有待确认的办结")
    row.state, row.answered_at, row.answered_openid, row.objection = CompletionState.OBJECTED, utcnow(), openid, reason
    cases.log(session, case, "completion:objected", f"企业对办结有异议：{reason}",
              actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    commissioner = session.get(Staff, case.commissioner_id) if case.commissioner_id else None
    sent = notify.completion_objected(session, case, commissioner, reason, row.id, console_url) \
        if commissioner is not None else None
    return Objection(row, commissioner, sent is not None)


def deem_overdue(session: Session, today: date | None = None) -> int:
    """The scheduler's job: every 办结 still unanswered after its deadline counts as confirmed.
    Idempotent: only pending rows are taken, each locked (a second runner skips them)."""
    today = today or clock.today()
    q = (sa.select(CompletionConfirmation).where(CompletionConfirmation.state == CompletionState.PENDING,
                                                 CompletionConfirmation.deadline < today)
         .order_by(CompletionConfirmation.id))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    done = 0
    for row in session.scalars(q).all():
        case = session.get(Case, row.case_id)
        if case.state not in OPEN_STATES:  # closed another way meanwhile (终止): nothing to confirm
            row.state, row.answered_at = CompletionState.WITHDRAWN, utcnow()
            continue
        row.state, row.answered_at = CompletionState.DEEMED, utcnow()
        cases.log(session, case, "completion:deemed",
                  f"企业未在{row.deadline:%Y-%m-%d}前答复，逾期视为确认办结", actor_kind=ActorKind.SYSTEM)
        _finish(session, case, "全部事项已办结，企业逾期未答复，视为确认办结")
        done += 1
    return done



@dataclass(frozen=True)
class WaitingRow:
    """A case on the dashboard's 「待企业确认办结」 panel."""

    case_number: str
    company: str
    project: str
    commissioner: str | None
    requested_at: object
    deadline: date

    state_label = WAITING


def waiting_rows(session: Session, region: str, commissioner_id: int | None = None,
                 limit: int = 200) -> list[WaitingRow]:
    """The region's cases whose 办结 waits for the enterprise, the nearest deadline first."""
    cond = sa.and_(Case.region.in_(region_tiers.subtree(region)), CompletionConfirmation.state == CompletionState.PENDING,
                   Case.state.in_(OPEN_STATES))
    if commissioner_id is not None:
        cond = sa.and_(cond, Case.commissioner_id == commissioner_id)
    stmt = (sa.select(Case.number, Case.company_name, Case.project_name, Staff.name,
                      CompletionConfirmation.requested_at, CompletionConfirmation.deadline)
            .join(CompletionConfirmation, CompletionConfirmation.case_id == Case.id)
            .outerjoin(Staff, Staff.id == Case.commissioner_id)
            .where(cond).order_by(CompletionConfirmation.deadline, Case.number).limit(limit))
    return [WaitingRow(*row) for row in session.execute(stmt)]


def withdraw(session: Session, case: Case) -> None:
    """The case is terminated while its 办结 waits for the enterprise: the question is withdrawn
    (the 终止 line of the ledger says why); a late 「确认办结」 then finds nothing to confirm."""
    row = pending(session, case)
    if row is not None:
        row.state, row.answered_at = CompletionState.WITHDRAWN, utcnow()
