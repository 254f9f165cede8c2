"""转人工: questions handed from the bot to the people of the user's region, and their answers.

A user with a case is routed by that case (the newest open one, else the newest): its region, and
its commissioner, who is alerted with the region's supervisors. Anyone else is routed by the region
the dialog learned (None: any supervisor may take it). The answer goes back to the user through
the outbox, like every other push.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import cases
from bot.models import Case, Handoff, Staff
from bot.people import region_staff
from bot.platform import clock, region_tiers
from bot.platform.text_safety import xml_safe
from bot.push import notify
from bot.vocabulary import OPEN_STATES, ActorKind, CaseState, HandoffState, Role

MAX_QUESTION = 1000
NO_QUESTION = "（用户要求人工服务，未说明问题）"

# The case's 服务记录台账 holds its handoffs: the question (and any added to it) from the
# enterprise, and the answer with who gave it. Their names in the ledger's 动作 column:
LEDGER_ACTIONS = {"handoff": "转人工", "handoff_answered": "人工答复"}
# bot.casework.cases.ACTION_NAMES is where every ledger action is named; these two are added from here,
# where they are written (every reader of the ledger, the console and its exports, imports this).
for _code, _name in LEDGER_ACTIONS.items():
    cases.ACTION_NAMES.setdefault(_code, _name)


class HandoffError(ValueError):
    """A refused answer, with a message fit for the person who tried."""


def open_for(session: Session, openid: str) -> Handoff | None:
    return session.scalar(sa.select(Handoff).where(Handoff.openid == openid, Handoff.state == HandoffState.OPEN)
                          .order_by(Handoff.id.desc()).limit(1))


def case_of(session: Session, openid: str) -> Case | None:
    """The case a handoff from this user is about: the newest open one, else the newest."""
    mine = cases.cases_of_applicant(session, openid)  # every state, newest first
    return next((c for c in mine if c.state in OPEN_STATES), mine[0] if mine else None)


def needs_region(session: Session, openid: str) -> bool:
    """Whether nothing tells where this user's handoff goes: no case and no open handoff (a
    second question joins the open one wherever it went)."""
    return open_for(session, openid) is None and case_of(session, openid) is None


def _people_to_alert(session: Session, commissioner: Staff | None, region: str | None) -> list[Staff]:
    supervisors = sa.select(Staff).where(Staff.role == Role.SUPERVISOR, Staff.active.is_(True)).order_by(Staff.id)
    people = {s.id: s for s in ([commissioner] if commissioner else [])}
    # A 镇 without supervisors of its own: its 县's (or 市's) are told (regions in tiers).
    people.update({s.id: s for s in (region_staff.nearest_supervisors(session, region) if region
                                     else session.scalars(supervisors))})
    return list(people.values())


def open_handoff(session: Session, openid: str, region: str | None, question: str, console_url: str = "") -> Handoff:
    """Record the question (one open handoff per user: a second one adds to it) and alert staff.
    `region` counts only for a user without a case: a case decides where its handoff goes."""
    question = xml_safe(question).strip()[:MAX_QUESTION]
    handoff = open_for(session, openid)
    if handoff is not None:
        if question and question not in handoff.question:
            handoff.question = (handoff.question + "\n" + question)[:MAX_QUESTION * 2]
            if (about := _case_of(session, handoff)) is not None and about.state != CaseState.ARCHIVED:
                cases.log(session, about, "handoff", f"企业补充转人工问题（H{handoff.id}）：{question}",
                          actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
        return handoff
    case = case_of(session, openid)
    commissioner = session.get(Staff, case.commissioner_id) if case and case.commissioner_id else None
    if commissioner is not None and not commissioner.active:
        commissioner = None  # gone: the region's people take it (visible_to)
    handoff = Handoff(openid=openid, region=case.region if case else region, question=question or NO_QUESTION,
                      case_id=case.id if case else None, commissioner_id=commissioner.id if commissioner else None)
    session.add(handoff)
    session.flush()
    if case is not None and case.state != CaseState.ARCHIVED:  # an archived ledger is closed: the handoff keeps it
        to = f"，由专员 {commissioner.name} 答复" if commissioner else "，由本地区工作人员答复"
        cases.log(session, case, "handoff", f"企业转人工（H{handoff.id}）{to}：{handoff.question}",
                  actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    for person in _people_to_alert(session, commissioner, handoff.region):
        notify.handoff_opened(session, handoff, person, case, console_url)
    return handoff


def visible_to(staff: Staff):
    """Supervisors see their region and the unrouted ones; a commissioner sees those about their
    own cases and their region's that no commissioner has (another's case is not theirs to read)."""
    if staff.role == Role.SUPERVISOR:  # their region and the tiers below it (bot/platform/region_tiers.py)
        return sa.or_(Handoff.region.in_(region_tiers.subtree(staff.region)), Handoff.region.is_(None))
    return sa.or_(Handoff.commissioner_id == staff.id,
                  sa.and_(Handoff.region == staff.region, Handoff.commissioner_id.is_(None)))


def answer(session: Session, handoff: Handoff, staff: Staff, text: str) -> None:
    text = xml_safe(text or "").strip()
    if not text:
        raise HandoffError("请填写答复内容")
    if handoff.state != HandoffState.OPEN:
        raise HandoffError("这个问题已经答复过了")
    handoff.state, handoff.answer, handoff.answered_by, handoff.answered_at = HandoffState.ANSWERED, text[:2000], staff.id, clock.now()
    if (case := _case_of(session, handoff)) is not None and case.state != CaseState.ARCHIVED:
        cases.log(session, case, "handoff_answered", f"答复转人工（H{handoff.id}）：{handoff.answer}",
                  actor_kind=staff.role, actor_id=staff.username)
    notify.handoff_answered(session, handoff, staff, text)


def _case_of(session: Session, handoff: Handoff) -> Case | None:
    """The case the handoff is about, whose ledger records it (None: about no case)."""
    return session.get(Case, handoff.case_id) if handoff.case_id else None
