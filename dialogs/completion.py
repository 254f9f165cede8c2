"""The chat's side of 办结 the enterprise confirms and of materials handed back (issue 17, items 3
and 4): 「确认办结」, 「有问题」 with a reason (asked for when missing), 「已收到材料」. The rules and
the ledger are bot/casework/completion.py and bot/casework/handbacks.py; the words
dialogs/texts/completion.py. The manager hands a turn here (outside the application form) and goes
on as usual when this returns None: only these commands, or the reason it asked for, are taken."""
from __future__ import annotations

import re

import sqlalchemy as sa

from bot.casework import completion, handbacks
from bot.casework.cases import CaseError
from bot.models import Case, CompletionConfirmation, Staff
from bot.platform.clock import date_text
from bot.platform.db import transaction
from bot.vocabulary import CompletionState

from .nlu import Understanding, case_number, clean, is_question, without_case_number
from .texts import completion as T

REASON_KEY = "completion_reason"  # the case number whose 「有问题」 still needs its reason
CANCEL_WORDS = {"取消", "算了", "不提了", "没事了", "没问题了", "不用了"}
_LEAD = re.compile(r"^[\s，,。.:：、]+")


class CompletionDialog:
    def __init__(self, sessions, settings):
        self.sessions = sessions
        self.settings = settings

    def turn(self, user: str, u: Understanding, state: dict) -> str | None:
        text = u.text or ""
        if REASON_KEY in state:
            reply = self._reason(user, text, state)
            if reply is not None:
                return reply
        c = clean(without_case_number(text))
        if c in T.CONFIRM_WORDS:
            return self._confirm(user, case_number(text))
        prefix = next((p for p in T.OBJECT_PREFIXES if c.startswith(p)), None)
        if prefix is not None:
            return self._object(user, text, prefix, state)
        if c in T.RECEIVED_WORDS:
            return self._received(user, case_number(text))
        return None

    # -- 办结 --------------------------------------------------------------------------------

    def _waiting(self, db, user: str, number: str | None) -> list[Case]:
        q = (sa.select(Case).join(CompletionConfirmation, CompletionConfirmation.case_id == Case.id)
             .where(Case.applicant_openid == user, CompletionConfirmation.state == CompletionState.PENDING)
             .order_by(Case.id))
        found = list(db.scalars(q))
        return [c for c in found if c.number == number] if number else found

    def _which(self, found: list[Case]) -> str:
        options = "\n".join(T.WHICH_LINE.format(number=c.number, project=c.project_name) for c in found)
        return T.WHICH.format(n=len(found), options=options)

    def _confirm(self, user: str, number: str | None) -> str:
        try:
            with transaction(self.sessions) as db:
                found = self._waiting(db, user, number)
                if not found:
                    return T.NOTHING_TO_CONFIRM
                if len(found) > 1:
                    return self._which(found)
                completion.confirm(db, found[0], user)
                return T.CONFIRMED.format(number=found[0].number)
        except CaseError as e:
            return T.REFUSED.format(error=e)

    def _object(self, user: str, text: str, prefix: str, state: dict) -> str | None:
        number = case_number(text)
        with transaction(self.sessions) as db:
            found = self._waiting(db, user, number)
            if not found:
                return None  # 「有问题」 with nothing to confirm: an ordinary message (a question, 转人工)
            if len(found) > 1:
                return self._which(found)
            case = found[0]
            commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
        rest = without_case_number(text).strip()
        reason = _LEAD.sub("", rest[len(prefix):]).strip() if rest.startswith(prefix) else ""
        if not reason or not clean(reason):
            state[REASON_KEY] = case.number
            return T.ASK_REASON.format(name=commissioner.name if commissioner else T.NOBODY)
        return self._apply_objection(user, case.number, reason)

    def _reason(self, user: str, text: str, state: dict) -> str | None:
        number = state.pop(REASON_KEY)
        c = clean(text)
        if c in CANCEL_WORDS:
            return T.REASON_CANCELLED.format(number=number)
        if c in T.CONFIRM_WORDS or c in T.RECEIVED_WORDS or any(c.startswith(p) for p in T.OBJECT_PREFIXES):
            return None  # another command: read as usual
        if not c or is_question(text) == "sure":
            return None  # a question instead of the reason: answered as usual, nothing recorded
        return self._apply_objection(user, number, text.strip())

    def _apply_objection(self, user: str, number: str, reason: str) -> str:
        try:
            with transaction(self.sessions) as db:
                found = self._waiting(db, user, number)
                if not found:
                    return T.NOTHING_TO_CONFIRM
                done = completion.object_to(db, found[0], user, reason, console_url=self.settings.public_url)
                who = T.OBJECTED_TOLD.format(name=done.commissioner.name) if done.notified else T.OBJECTED_UNTOLD
                return T.OBJECTED.format(number=number, reason=done.row.objection, who=who)
        except CaseError as e:
            return T.REFUSED.format(error=e)

    # -- 材料交还 -------------------------------------------------------------------------------

    def _received(self, user: str, number: str | None) -> str:
        try:
            with transaction(self.sessions) as db:
                rows = handbacks.unconfirmed_for(db, user)
                if number:
                    rows = [(h, c) for h, c in rows if c.number == number]
                if not rows:
                    return T.NOTHING_RECEIVED
                numbers = {c.number for _, c in rows}
                if len(numbers) > 1:
                    return T.WHICH_RECEIVED.format(n=len(numbers), options="\n".join(sorted(numbers)))
                confirmed = [handbacks.confirm(db, h.id, user) for h, _ in rows]
                names = "、".join(m for done in confirmed for m in done.handback.materials)
                return T.RECEIVED.format(number=confirmed[0].case.number, materials=names)
        except CaseError as e:
            return T.REFUSED.format(error=e)



def progress_lines(db, case: Case, today) -> list[str]:
    """What 「我的申请」 adds for a case: the 办结 waiting for the enterprise, the materials handed back."""
    lines = []
    waiting = completion.pending(db, case)
    if waiting is not None and case.state in completion.OPEN_STATES:
        lines.append(T.PROGRESS_WAITING.format(deadline=date_text(waiting.deadline, today)))
    for h in handbacks.of_case(db, case):
        lines.append(T.PROGRESS_HANDBACK.format(
            materials="、".join(h.materials), method=h.method, date=date_text(h.returned_on, today),
            signed_by=h.signed_by,
            confirmed=T.PROGRESS_HANDBACK_CONFIRMED if h.confirmed_at else T.PROGRESS_HANDBACK_UNCONFIRMED))
    return lines
