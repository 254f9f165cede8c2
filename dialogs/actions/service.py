"""What an enterprise does after applying: see progress, urge (催办), re-read the 一次性告知; and
a commissioner's 「受理 BD-…」. The rules live in bot/ (cases, case_actions); these actions find
the case the user means and word the reply."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rasa_sdk import Action, Tracker

from bot.casework import agreements, archiving, case_actions, cases, completion, plans
from bot.models import Case, CaseItem, Staff
from bot.platform import region_service
from bot.platform.clock import date_text, local_text
from bot.platform.db import transaction
from bot.vocabulary import CASE_STATES, ITEM_STATES, OPEN_STATES, CaseState, ItemState

from .. import texts
from ..completion import progress_lines
from ..escalations import progress_lines as escalation_lines
from ..appointments import progress_lines as appointment_lines
from ..nlu import entity_in
from ..notice import one_time_notice
from ..services import Services
from . import runtime

if TYPE_CHECKING:  # the executor pulls in pydantic (~70 ms), which only a form run needs
    from rasa_sdk.executor import CollectingDispatcher


class HandedServices:
    """What an action runs on: the services whoever runs it hands in (the dialog manager hands in
    its own). rasa-sdk's executor makes each action class with no arguments; an action built so
    is the action server's, and uses the server's own services (actions/runtime.py)."""

    def __init__(self, services: Services | None = None):
        self._services = services

    @property
    def services(self) -> Services:
        return self._services or runtime.get()


class ServiceAction(HandedServices, Action, ABC):
    """An action run on the services it is handed (HandedServices). Abstract, so the executor
    does not serve the base itself."""

    @abstractmethod
    def name(self) -> str: ...


def _target_case(db, tracker: Tracker, open_only: bool = False) -> Case | None:
    """The case the user means: the number they gave (if it is theirs), else their latest."""
    number = entity_in(tracker.latest_message, "case_number")
    mine = cases.cases_of_applicant(db, tracker.sender_id)
    if number:
        return next((c for c in mine if c.number == number), None)
    if open_only:
        mine = [c for c in mine if c.state in OPEN_STATES]
    return mine[0] if mine else None


class ActionCaseProgress(ServiceAction):
    def name(self) -> str:
        return "action_case_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        services = self.services
        with transaction(services.sessions) as db:
            case = _target_case(db, tracker)
            if case is None:
                dispatcher.utter_message(text=texts.NO_CASE)
                return []
            commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
            items = cases.items_of(db, case)
            today = services.clock.today()
            lines = [texts.PROGRESS_HEAD.format(number=case.number, mode=case.mode, state=completion.state_label(db, case)),
                     f"{case.project_name}",
                     *([texts.PROGRESS_SERVICE_OPTION.format(option=case.service_option)] if case.service_option else []),
                     texts.PROGRESS_COMMISSIONER.format(
                         name=commissioner.name if commissioner else texts.PROGRESS_UNASSIGNED)]
            agreed = agreements.of_case(db, case)
            if agreed is not None:  # the 委托协议 version agreed, and where its text is (issue 17 item 2)
                lines.append(texts.PROGRESS_AGREEMENT.format(
                    title=agreed.title, version=agreements.version_name(agreed.version), when=local_text(agreed.agreed_at),
                    url=services.settings.public_url.rstrip("/") + f"/agreements/{agreed.region}/{agreed.version}"))
            corrections = cases.open_corrections(db, case)
            plan = {p.item_id: p for p in plans.lines(items, services.calendar, today)}
            for item in items:
                due = ""
                if item.id in corrections:
                    missing, by = corrections[item.id]
                    due = texts.CORRECTION_LINE.format(missing=missing, due=date_text(by, today),
                                                       late=texts.CORRECTION_LATE if by < today else "")
                elif item.due_date and item.state != ItemState.DONE:
                    due = texts.PROGRESS_DUE.format(date=date_text(item.due_date, today)) + (
                        texts.PROGRESS_OVERDUE if item.overdue_on(today) else "")
                lines.append(texts.PROGRESS_ITEM.format(item=item.name, state=ITEM_STATES[item.state],
                                                        due=due + _plan_text(plan[item.id], today)))
            project = plans.project(list(plan.values()))
            if project.has_plan:
                lines.append(texts.PROGRESS_PLAN_PROJECT.format(
                    name=region_service.for_region(case.region).plan_name, finish=date_text(project.planned_finish, today),
                    state=(texts.PROGRESS_PLAN_BEHIND.format(late=project.late_items, n=project.slip_workdays)
                           if project.late_items else texts.PROGRESS_PLAN_ON_TRACK)))
            if corrections:
                lines.append(texts.CORRECTION_HOW[case.mode if case.mode in texts.CORRECTION_HOW else "帮办"].format(
                    name=commissioner.name if commissioner else texts.CORRECTION_WHO))
            if case.state == CaseState.TERMINATED and case.termination_reason:
                lines.append(texts.PROGRESS_TERMINATED.format(reason=case.termination_reason))
            if (archived := archiving.of_case(db, case)) is not None:  # issue 17 item 5
                lines.append(texts.PROGRESS_ARCHIVED.format(when=local_text(archived.archived_at), number=archived.number))
            lines += progress_lines(db, case, today)  # 待企业确认办结, 交还材料 (dialogs/completion.py)
            lines += escalation_lines(db, case, today)  # 协调中 / 协调结果 the enterprise was told (dialogs/escalations.py)
            lines += appointment_lines(db, case, today)  # the next 上门受理 / 窗口预约 (dialogs/appointments.py)
            others = len(cases.cases_of_applicant(db, tracker.sender_id)) - 1
            if others > 0:
                lines.append(texts.PROGRESS_OTHERS.format(n=others, number=case.number))
        dispatcher.utter_message(text="\n".join(lines))
        return []


def _plan_text(line: plans.PlanLine, today) -> str:
    """「，计划12月10日（滞后2个工作日）」 for an item with a planned date; nothing without one."""
    if line.planned is None:
        return ""
    late = texts.PROGRESS_PLAN_LATE.format(n=line.late_workdays) if line.late_workdays else ""
    if line.actual:
        return texts.PROGRESS_PLAN_DONE.format(planned=date_text(line.planned, today),
                                               actual=date_text(line.actual, today)) + late
    return texts.PROGRESS_PLAN.format(planned=date_text(line.planned, today)) + late


class ActionUrge(ServiceAction):
    """Enterprise-initiated 催办 (bot.casework.case_actions.urge: at most once per case per day, to whom,
    its ledger line); this says what came of it."""

    def name(self) -> str:
        return "action_urge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        services = self.services
        with transaction(services.sessions) as db:
            case = _target_case(db, tracker, open_only=True)
            if case is None and (latest := _target_case(db, tracker)) is not None \
                    and latest.state == CaseState.ARCHIVED:
                case = latest  # only archived ones: say so, rather than 「还没有提交过」
            if case is None:
                dispatcher.utter_message(text=texts.NO_CASE)
                return []
            if case.state == CaseState.ARCHIVED:  # the archived record is closed (issue 17 item 5)
                dispatcher.utter_message(text=texts.ARCHIVED_REFUSED.format(number=case.number))
                return []
            urge = case_actions.urge(db, case, tracker.sender_id, services.settings, today=services.clock.today())
            dispatcher.utter_message(text=_urge_reply(urge, case.number, local_text(services.clock.now())))
        return []


def _urge_reply(urge: case_actions.Urge, number: str, now: str) -> str:
    if not urge.waiting:
        return texts.URGE_NOTHING.format(number=number)
    if urge.earlier is not None:
        return texts.URGE_ALREADY.format(number=number, when=local_text(urge.earlier))
    if urge.commissioner and not urge.reached:  # no WeChat bound, unfollowed, or no channel open to them
        return texts.URGE_UNREACHED.format(name=urge.commissioner.name, when=now)
    if urge.commissioner:
        return texts.URGE_SENT.format(name=urge.commissioner.name, when=now)
    if urge.reached:
        return texts.URGE_TO_SUPERVISOR.format(when=now)
    return texts.URGE_RECORDED.format(when=now)


class ActionOneTimeNotice(ServiceAction):
    """「我还要准备什么」: the 一次性告知 again, for the latest case, from today."""

    def name(self) -> str:
        return "action_one_time_notice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        services = self.services
        with transaction(services.sessions) as db:
            case = _target_case(db, tracker, open_only=True)
            if case is None:
                dispatcher.utter_message(text=texts.NO_CASE)
                return []
            codes = [i.item_code for i in db.scalars(sa.select(CaseItem).where(
                CaseItem.case_id == case.id, CaseItem.state != ItemState.DONE).order_by(CaseItem.id))]
            number, stage = case.number, case.stage
        if not codes:
            dispatcher.utter_message(text=texts.NOTICE_ALL_DONE.format(number=number))
            return []
        dispatcher.utter_message(text=one_time_notice(services.kb, codes, stage, services.clock.today(),
                                                      services.calendar, number))
        return []


class ActionAcceptCase(ServiceAction):
    """A commissioner accepts an assigned case from WeChat: 「受理 BD-2026-000123」."""

    def name(self) -> str:
        return "action_accept_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        from bot.push import reach  # the dispatcher's rules (and wechatpy): only a staff action needs them

        services = self.services
        number = entity_in(tracker.latest_message, "case_number")
        with transaction(services.sessions) as db:
            staff = db.scalar(sa.select(Staff).where(Staff.wechat_openid == tracker.sender_id, Staff.active.is_(True)))
            if staff is None:
                dispatcher.utter_message(text=texts.NOT_STAFF)
                return []
            case = cases.by_number(db, number or "")
            # Another commissioner's case looks exactly like a missing one: numbers are not secrets,
            # but who handles what is nobody else's business.
            if case is None or case.commissioner_id != staff.id:
                dispatcher.utter_message(text=texts.ACCEPT_NOT_FOUND.format(number=number))
                return []
            try:
                with db.begin_nested():
                    case_actions.accept(db, case, case_actions.Actor.person(staff), services.calendar,
                                        services.kb.items)
            except cases.CaseError as err:
                dispatcher.utter_message(text=texts.ACCEPT_FAILED.format(number=case.number, error=err))
                return []
            # 「已通知企业」 only when the push can reach them; else why not and whom to phone.
            told = reach.notice(db, case, services.settings, texts.ACCEPT_TOLD.format(name=case.contact_name))
            dispatcher.utter_message(text=texts.ACCEPTED.format(number=case.number, company=case.company_name,
                                                                project=case.project_name, told=told))
        return []
