"""转人工: questions handed from the bot to the people of the user's region, and their answers.

Opening one alerts the region's supervisors and (when the user has an open case) the user's own
commissioner; the answer goes back to the user through the outbox, like every other push.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import clock, outbox
from .cases import OPEN_STATES
from .models import Case, Handoff, Staff
from .text_safety import xml_safe

MAX_QUESTION = 1000


class HandoffError(ValueError):
    """A refused answer, with a message fit for the person who tried."""


def open_for(session: Session, openid: str) -> Handoff | None:
    return session.scalar(sa.select(Handoff).where(Handoff.openid == openid, Handoff.state == "open")
                          .order_by(Handoff.id.desc()).limit(1))


def _people_to_alert(session: Session, openid: str, region: str | None) -> list[Staff]:
    people: dict[int, Staff] = {}
    own = session.scalar(sa.select(Staff).join(Case, Case.commissioner_id == Staff.id)
                         .where(Case.applicant_openid == openid, Case.state.in_(OPEN_STATES))
                         .order_by(Case.created_at.desc()).limit(1))
    if own is not None:
        people[own.id] = own
    supervisors = sa.select(Staff).where(Staff.role == "supervisor", Staff.active.is_(True))
    if region:
        supervisors = supervisors.where(Staff.region == region)
    for s in session.scalars(supervisors):
        people[s.id] = s
    return [p for p in people.values() if p.wechat_openid]


def open_handoff(session: Session, openid: str, region: str | None, question: str, console_url: str = "") -> Handoff:
    """Record the question (one open handoff per user: a second one adds to it) and alert staff."""
    question = xml_safe(question).strip()[:MAX_QUESTION]
    handoff = open_for(session, openid)
    if handoff is not None:
        if question and question not in handoff.question:
            handoff.question = (handoff.question + "\n" + question)[:MAX_QUESTION * 2]
        return handoff
    handoff = Handoff(openid=openid, region=region, question=question or "（用户要求人工服务，未说明问题）")
    session.add(handoff)
    session.flush()
    for person in _people_to_alert(session, openid, region):
        outbox.enqueue(session, key=f"handoff:{handoff.id}:{person.id}", recipient=person.wechat_openid,
                       recipient_kind="staff", purpose="handoff", template="handoff",
                       text=f"【企业转人工】H{handoff.id}\n{handoff.question[:200]}\n请在工作台「转人工」中答复。",
                       data={"number": f"H{handoff.id}", "question": handoff.question[:20]},
                       url=f"{console_url}/console/handoffs" if console_url else None)
    return handoff


def visible_to(staff: Staff):
    """Supervisors see their region and the unrouted ones; commissioners see their region's."""
    if staff.role == "supervisor":
        return sa.or_(Handoff.region == staff.region, Handoff.region.is_(None))
    return Handoff.region == staff.region


def answer(session: Session, handoff: Handoff, staff: Staff, text: str) -> None:
    text = xml_safe(text or "").strip()
    if not text:
        raise HandoffError("请填写答复内容")
    if handoff.state != "open":
        raise HandoffError("这个问题已经答复过了")
    handoff.state, handoff.answer, handoff.answered_by, handoff.answered_at = "answered", text[:2000], staff.id, clock.now()
    outbox.enqueue(session, key=f"handoff-answer:{handoff.id}", recipient=handoff.openid, recipient_kind="enterprise",
                   purpose="handoff_answer", template="handoff_answer",
                   text=f"【专员答复】{staff.name}：\n{text}\n\n（您的问题：{handoff.question[:100]}）",
                   data={"name": staff.name[:20], "answer": text[:20]})
