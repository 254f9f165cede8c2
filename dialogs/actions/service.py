"""What an enterprise does after applying: see progress, urge (催办), re-read the 一次性告知."""
from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from rasa_sdk import Action, Tracker

from bot import cases, clock, outbox
from bot.clock import local_text, start_of_day
from bot.db import transaction
from bot.models import Case, CaseItem, Staff

from .. import texts
from ..notice import one_time_notice
from . import runtime

if TYPE_CHECKING:  # the executor pulls in pydantic (~70 ms), which only a form run needs
    from rasa_sdk.executor import CollectingDispatcher


def _target_case(db, tracker: Tracker, open_only: bool = False) -> Case | None:
    """The case the user means: the number they gave (if it is theirs), else their latest."""
    number = next((e.get("value") for e in tracker.latest_message.get("entities", [])
                   if e.get("entity") == "case_number"), None)
    mine = cases.open_cases_of(db, tracker.sender_id)
    if number:
        return next((c for c in mine if c.number == number), None)
    if open_only:
        mine = [c for c in mine if c.state in ("applied", "accepted", "in_progress")]
    return mine[0] if mine else None


class ActionCaseProgress(Action):
    def name(self) -> str:
        return "action_case_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        rt = runtime.get()
        with transaction(rt.sessions) as db:
            case = _target_case(db, tracker)
            if case is None:
                dispatcher.utter_message(text=texts.NO_CASE)
                return []
            commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
            items = cases.items_of(db, case)
            today = clock.today()
            lines = [f"{case.number}（{case.mode}）：{cases.CASE_STATES[case.state]}",
                     f"{case.project_name}",
                     f"帮代办专员：{commissioner.name if commissioner else '分派中'}"]
            corrections = cases.open_corrections(db, case)
            for item in items:
                due = ""
                if item.id in corrections:
                    missing, by = corrections[item.id]
                    due = texts.CORRECTION_LINE.format(missing=missing, due=clock.date_text(by, today),
                                                       late="（已过期限，请尽快提交）" if by < today else "")
                elif item.due_date and item.state != "done":
                    due = f"，预计{clock.date_text(item.due_date, today)}" + ("（已超期，专员正在催办）" if item.due_date < today else "")
                lines.append(f"· {item.name}：{cases.ITEM_STATES[item.state]}{due}")
            if corrections:
                lines.append(texts.CORRECTION_HOW[case.mode if case.mode in texts.CORRECTION_HOW else "帮办"].format(
                    name=commissioner.name if commissioner else "帮代办专员"))
            if case.state == "terminated" and case.termination_reason:
                lines.append(f"终止原因：{case.termination_reason}")
            others = len(cases.open_cases_of(db, tracker.sender_id)) - 1
            if others > 0:
                lines.append(f"您还有{others}个其他申请，发送编号（如 {case.number}）可查看。")
        dispatcher.utter_message(text="\n".join(lines))
        return []


# The commissioner cannot get the urge in WeChat (no WeChat bound, the Official Account unfollowed,
# outside the 48-hour window with no template): it is on the case's ledger, not "转告". (A text of
# the chat: its place is dialogs/texts.py, kept here while that file is being changed elsewhere.)
URGE_UNREACHED = ("已记录您的催办（{when}），帮代办专员{name}暂时收不到微信提醒，会在工作台的服务记录中看到；"
                  "着急可回复「转人工」。")


def _reachable(queued: list, db, settings) -> list:
    """The urges a channel is open to now (bot.dispatcher.obstacles). On an install with no
    Official Account yet (the web chat, `bangban chat`) nobody is on WeChat: the urge waits in the
    outbox, goes out once one is connected, and the console says so; that is not held against it."""
    from bot import dispatcher

    return [n for n, obstacle in zip(queued, dispatcher.obstacles(db, queued, settings))
            if obstacle in (None, dispatcher.UNCONFIGURED)]


class ActionUrge(Action):
    """Enterprise-initiated 催办: reaches the commissioner at most once per case per day."""

    def name(self) -> str:
        return "action_urge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        rt = runtime.get()
        today = clock.today()
        with transaction(rt.sessions) as db:
            case = _target_case(db, tracker, open_only=True)
            if case is None:
                dispatcher.utter_message(text=texts.NO_CASE)
                return []
            waiting = [i for i in cases.items_of(db, case) if i.state != "done"]
            if not waiting:
                dispatcher.utter_message(text=texts.URGE_NOTHING.format(number=case.number))
                return []
            key = f"urge:{case.number}:{today.isoformat()}"
            earlier = db.scalar(sa.select(cases.LedgerEntry.at).where(
                    cases.LedgerEntry.case_id == case.id, cases.LedgerEntry.action == "urged",
                    cases.LedgerEntry.at >= start_of_day(today)))
            if earlier is not None:
                dispatcher.utter_message(text=texts.URGE_ALREADY.format(number=case.number, when=local_text(earlier)))
                return []
            names = "、".join(i.name for i in waiting)
            cases.log(db, case, "urged", f"企业在线催办：{names}", actor_kind="enterprise", actor_id=tracker.sender_id)
            commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
            # No commissioner yet: the region's supervisors get it, so the urge reaches a person.
            recipients = [commissioner] if commissioner else list(db.scalars(sa.select(Staff).where(
                Staff.region == case.region, Staff.role == "supervisor", Staff.active.is_(True))))
            queued = [outbox.enqueue(db, key=f"{key}:{r.id}", recipient=r.wechat_openid, recipient_kind="staff",
                                     purpose="urge", case_id=case.id, template="urge",
                                     text=f"【企业催办】{case.number} {case.company_name}\n待办事项：{names}\n请尽快跟进并反馈企业。",
                                     data={"number": case.number, "items": names[:20]},
                                     url=f"{rt.settings.public_url}/console/cases/{case.number}")
                      for r in recipients if r.wechat_openid]
            reached = _reachable([n for n in queued if n is not None], db, rt.settings)
            now = local_text(clock.now())
            if commissioner and not reached:  # no WeChat bound, unfollowed, or no channel open to them
                dispatcher.utter_message(text=URGE_UNREACHED.format(name=commissioner.name, when=now))
            elif commissioner:
                dispatcher.utter_message(text=texts.URGE_SENT.format(name=commissioner.name, when=now))
            elif reached:
                dispatcher.utter_message(text=texts.URGE_TO_SUPERVISOR.format(when=now))
            else:
                dispatcher.utter_message(text=texts.URGE_RECORDED.format(when=now))
        return []


class ActionOneTimeNotice(Action):
    """「我还要准备什么」: the 一次性告知 again, for the latest case, from today."""

    def name(self) -> str:
        return "action_one_time_notice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        rt = runtime.get()
        with transaction(rt.sessions) as db:
            case = _target_case(db, tracker, open_only=True)
            if case is None:
                dispatcher.utter_message(text=texts.NO_CASE)
                return []
            codes = [i.item_code for i in db.scalars(sa.select(CaseItem).where(
                CaseItem.case_id == case.id, CaseItem.state != "done").order_by(CaseItem.id))]
            number, stage = case.number, case.stage
        if not codes:
            dispatcher.utter_message(text=f"{number}的事项都已办结，不需要再准备材料了。")
            return []
        dispatcher.utter_message(text=one_time_notice(rt.kb, codes, stage, clock.today(), rt.calendar, number))
        return []


class ActionAcceptCase(Action):
    """A commissioner accepts an assigned case from WeChat: 「受理 BD-2026-000123」."""

    def name(self) -> str:
        return "action_accept_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        from bot import reach  # the dispatcher's rules (and wechatpy): only a staff action needs them
        from bot.case_actions import Actor, accept

        rt = runtime.get()
        number = next((e.get("value") for e in tracker.latest_message.get("entities", [])
                       if e.get("entity") == "case_number"), None)
        with transaction(rt.sessions) as db:
            staff = db.scalar(sa.select(Staff).where(Staff.wechat_openid == tracker.sender_id, Staff.active.is_(True)))
            if staff is None:
                dispatcher.utter_message(text=texts.NOT_STAFF)
                return []
            case = cases.by_number(db, number or "")
            # Another commissioner's case looks exactly like a missing one: numbers are not secrets,
            # but who handles what is nobody else's business.
            if case is None or case.commissioner_id != staff.id:
                dispatcher.utter_message(text=f"没有找到分派给您的案件 {number}，请核对编号。")
                return []
            try:
                with db.begin_nested():
                    accept(db, case, Actor.person(staff))
            except cases.CaseError as err:
                dispatcher.utter_message(text=f"{case.number} 未能受理：{err}")
                return []
            # 「已通知企业」 only when the push can reach them; else why not and whom to phone.
            told = reach.notice(db, case, rt.settings, f"已通知企业联系人{case.contact_name}。")
            dispatcher.utter_message(text=f"已受理 {case.number}（{case.company_name}·{case.project_name}）。{told}")
        return []
