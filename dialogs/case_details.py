"""The chat's side of changes to a submitted case (issue 17, items 8 and 9): 「修改联系人」/「修改联系
电话」 on a submitted case (which case, the new value, 「确认」), and a 提前介入 invitation (shown on
the next message and with 「我的申请」; 「确认」 accepts, 「不需要」 declines). The rules and the ledger
are bot/casework/case_details.py; the words dialogs/texts/case_details.py. The manager hands a
turn here first (outside the application form) and goes on as usual when this returns None."""
from __future__ import annotations

import logging
import re
import time

from sqlalchemy import exc as sa_exc

from bot import identifiers
from bot.casework import agreements, case_details, cases
from bot.casework.cases import CaseError
from bot.models import Staff
from bot.platform.db import transaction
from bot.vocabulary import OPEN_STATES, CaseState

from .nlu import YES_WORDS, Understanding, case_number, clean, is_question, menu_number
from .texts import case_details as T
from .texts.service import ARCHIVED_REFUSED

log = logging.getLogger(__name__)

CONTACT_KEY = "contact_edit"
INVITATION_KEY = "invitation"
AGREEMENT_SHOWN_KEY = "invitation_agreement"  # the 委托协议 version shown with a 代办 invitation
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError)
TARGETS_S = 10  # a new invitation made in another process shows in the chat within this (its push at once)
RETRY_S = 30  # with the database away, look for invitations again this much later (as the profile does)
# 「修改联系人」 asks for a name (and a phone with it); 「修改电话」 for a phone.
FIELDS = {"contact_name": "contact", "contact_phone": "phone"}
ACCEPT_WORDS = YES_WORDS | {"接受", "需要", "确认接受", "好的谢谢", "要"}
DECLINE_WORDS = {"不需要", "不用", "不用了", "谢绝", "不要", "不需要了", "暂不需要", "暂时不需要", "不了"}
CANCEL_WORDS = {"取消", "算了", "不改了", "不用改了", "不修改", "放弃", "退出"}
_PHONE_PART = re.compile(r"[0-9０-９+＋][0-9０-９\-－ 　]{5,}[0-9０-９]")


class CaseDetailsDialog:
    def __init__(self, sessions, settings):
        self.sessions = sessions
        self.settings = settings
        self._down_until = 0.0
        self._targets: frozenset[str] | None = None
        self._targets_until = 0.0
        self._targets_seen = -1

    # -- the manager's one entry -------------------------------------------------------------

    def turn(self, user: str, u: Understanding, state: dict, editable_slot: str | None) -> str | None:
        """The reply when this message is part of a contact change or answers an invitation;
        otherwise None (a pending invitation is then put in front of the usual reply)."""
        c = clean(u.text)
        if CONTACT_KEY in state:
            reply = self._contact_step(user, u, c, state)
            if reply is not None:
                return reply
        if INVITATION_KEY in state and (c in ACCEPT_WORDS or c in DECLINE_WORDS):
            return self._answer_invitation(user, state, accept=c in ACCEPT_WORDS)
        if u.intent == "edit":
            reply = self._start_contact(user, u, state, editable_slot)
            if reply is not None:
                return reply
        self._note_invitation(user, u, state)
        return None

    # -- 修改联系人 ------------------------------------------------------------------------------

    def _open_cases(self, db, user: str):
        return [c for c in cases.cases_of_applicant(db, user) if c.state in OPEN_STATES]

    def _start_contact(self, user: str, u: Understanding, state: dict, slot: str | None) -> str | None:
        with transaction(self.sessions) as db:
            mine = self._open_cases(db, user)
            if not mine:
                archived = [c for c in cases.cases_of_applicant(db, user) if c.state == CaseState.ARCHIVED]
                if archived and slot in FIELDS:  # issue 17 item 5: the archived record is closed
                    return ARCHIVED_REFUSED.format(number=archived[0].number)
                return None  # nothing submitted: the manager's 「目前没有正在填写的申请」
            if slot not in FIELDS:
                return T.CONTACT_ONLY
            field = FIELDS[slot]
            number = u.entities.get("case_number")
            if number:
                case = next((c for c in mine if c.number == number), None)
                if case is None and any(c.number == number and c.state == CaseState.ARCHIVED
                                        for c in cases.cases_of_applicant(db, user)):
                    return ARCHIVED_REFUSED.format(number=number)  # issue 17 item 5
                if case is None:
                    return T.CONTACT_NOT_YOURS.format(number=number)
                mine = [case]
            if len(mine) > 1:
                state[CONTACT_KEY] = {"step": "case", "field": field, "cases": [c.number for c in mine]}
                options = "\n".join(T.CONTACT_WHICH_LINE.format(i=i, number=c.number, project=c.project_name,
                                                                name=c.contact_name) for i, c in enumerate(mine, 1))
                return T.CONTACT_WHICH.format(n=len(mine), options=options)
            state[CONTACT_KEY] = {"step": "value", "field": field, "case": mine[0].number}
            return self._ask_value(mine[0], field)

    @staticmethod
    def _ask_value(case, field: str) -> str:
        return T.CONTACT_ASK[field].format(number=case.number, name=case.contact_name,
                                           phone=case.contact_phone or T.CONTACT_NO_PHONE)

    def _contact_step(self, user: str, u: Understanding, c: str, state: dict) -> str | None:
        edit = state[CONTACT_KEY]
        if c in CANCEL_WORDS or u.intent == "cancel":
            state.pop(CONTACT_KEY)
            return T.CONTACT_CANCELLED
        if edit["step"] == "case":
            return self._pick_case(user, u, c, state, edit)
        if edit["step"] == "value":
            return self._take_value(user, u, state, edit)
        if c in YES_WORDS:
            state.pop(CONTACT_KEY)
            return self._apply(user, edit)
        if is_question(u.text):
            return self._abandon(state)
        return T.CONTACT_CONFIRM_AGAIN

    def _abandon(self, state: dict) -> None:
        """A question instead of an answer: the change is dropped (nothing was changed) and the
        question answered as usual, with a word in front."""
        state.pop(CONTACT_KEY, None)
        state["note"] = (state["note"] + "\n\n" if state.get("note") else "") + T.CONTACT_ABANDONED
        return None

    def _pick_case(self, user: str, u: Understanding, c: str, state: dict, edit: dict) -> str | None:
        numbers = edit["cases"]
        n = menu_number(c)
        number = numbers[n - 1] if n and 1 <= n <= len(numbers) else case_number(u.text)
        if number not in numbers:
            if is_question(u.text):
                return self._abandon(state)
            return T.CONTACT_WHICH_AGAIN.format(n=len(numbers))
        with transaction(self.sessions) as db:
            case = next((x for x in self._open_cases(db, user) if x.number == number), None)
            if case is None:
                state.pop(CONTACT_KEY)
                return T.CONTACT_NOT_YOURS.format(number=number)
            state[CONTACT_KEY] = {"step": "value", "field": edit["field"], "case": number}
            return self._ask_value(case, edit["field"])

    def _take_value(self, user: str, u: Understanding, state: dict, edit: dict) -> str | None:
        text = u.text.strip()
        name = phone = None
        if edit["field"] == "phone":
            checked = identifiers.check_phone(text)
            if not checked.ok:
                return self._abandon(state) if is_question(text) else T.CONTACT_BAD_PHONE.format(error=checked.error)
            phone = checked.value
        else:
            found = _PHONE_PART.search(text)
            if found:
                checked = identifiers.check_phone(found.group())
                if not checked.ok:
                    return T.CONTACT_BAD_PHONE.format(error=checked.error)
                phone = checked.value
                text = (text[:found.start()] + text[found.end():]).strip(" ，,、：:")
            name = case_details.check_contact_name(text)
            if name is None:
                return self._abandon(state) if is_question(u.text) else T.CONTACT_BAD_NAME
        with transaction(self.sessions) as db:
            case = cases.by_number(db, edit["case"])
            if case is None or case.applicant_openid != user or case.state not in OPEN_STATES:
                state.pop(CONTACT_KEY)
                return T.CONTACT_NOT_YOURS.format(number=edit["case"])
            parts = []
            if name is not None and name != case.contact_name:
                parts.append(f"联系人：{case.contact_name} → {name}")
            if phone is not None and phone != case.contact_phone:
                parts.append(f"联系电话：{case.contact_phone or T.CONTACT_NO_PHONE} → {phone}")
        if not parts:
            state.pop(CONTACT_KEY)
            return T.CONTACT_SAME
        state[CONTACT_KEY] = {**edit, "step": "confirm", "name": name, "phone": phone}
        return T.CONTACT_CONFIRM.format(number=edit["case"], change="\n".join(parts))

    def _apply(self, user: str, edit: dict) -> str:
        try:
            with transaction(self.sessions) as db:
                case = cases.by_number(db, edit["case"])
                if case is None or case.applicant_openid != user:
                    return T.CONTACT_NOT_YOURS.format(number=edit["case"])
                done = case_details.change_contact(db, case, name=edit.get("name"), phone=edit.get("phone"),
                                                   actor_kind="enterprise", actor_id=user,
                                                   console_url=self.settings.public_url)
                commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
                who = T.CONTACT_DONE_TOLD.format(name=commissioner.name) if commissioner and done.notified \
                    else T.CONTACT_DONE_UNTOLD
                return T.CONTACT_DONE.format(number=case.number, change=done.detail.replace("；", "\n"), who=who)
        except CaseError as e:
            return T.CONTACT_REFUSED.format(error=e)

    # -- 提前介入 ------------------------------------------------------------------------------

    def _may_have_invitation(self, user: str) -> bool:
        """Whether `user` is among those with a pending invitation, from a list read at most every
        TARGETS_S seconds (looking each message up cost a third of the webhook's CPU)."""
        now = time.monotonic()
        if self._targets is None or now >= self._targets_until or self._targets_seen != case_details.invitations_opened:
            self._targets_seen = case_details.invitations_opened
            with transaction(self.sessions) as db:
                self._targets = case_details.pending_targets(db)
            self._targets_until = now + TARGETS_S
        return user in self._targets

    def _pending(self, user: str):
        if time.monotonic() < self._down_until:  # the database was away a moment ago: do not wait on it each turn
            return None
        try:
            if not self._may_have_invitation(user):
                return None
            with transaction(self.sessions) as db:
                rows = case_details.pending_for(db, user)
                if not rows:
                    return None
                inv, case = rows[0]
                commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
                text = T.INVITATION.format(
                    number=case.number, project=case.project_name, mode=case.mode,
                    name=commissioner.name if commissioner else T.INVITATION_NOBODY,
                    option=T.INVITATION_OPTION.format(option=case.service_option) if case.service_option else "")
                agreement = agreements.in_effect(case.region) if case.mode == "代办" else None
                if agreement is None or agreements.of_case(db, case) is not None:
                    return inv.id, text, None
                # 代办 needs the 委托协议: accepting the invitation agrees to the version shown here
                return inv.id, text + "\n" + T.INVITATION_AGREEMENT.format(
                    title=agreement.title, version=agreement.version_name,
                    url=self.settings.public_url.rstrip("/") + agreement.path), agreement.version
        except DATABASE_DOWN:
            log.warning("database unavailable: pending invitations not looked up for %s s", RETRY_S)
            self._down_until = time.monotonic() + RETRY_S
            return None

    def _note_invitation(self, user: str, u: Understanding, state: dict) -> None:
        """A pending invitation goes in front of the reply: once, and again with 「我的申请」."""
        found = self._pending(user)
        if found is None:
            state.pop(INVITATION_KEY, None)
            return
        invitation_id, text, version = found
        if state.get(INVITATION_KEY) == invitation_id and u.intent != "progress":
            return
        state[INVITATION_KEY] = invitation_id
        state[AGREEMENT_SHOWN_KEY] = version
        state["note"] = (state["note"] + "\n\n" if state.get("note") else "") + text

    def _answer_invitation(self, user: str, state: dict, accept: bool) -> str:
        invitation_id = state.pop(INVITATION_KEY)
        version = state.pop(AGREEMENT_SHOWN_KEY, None)
        try:
            with transaction(self.sessions) as db:
                case = case_details.answer_invitation(db, invitation_id, user, accept,
                                                      console_url=self.settings.public_url, agreement_version=version)
                commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
                if accept:
                    return T.INVITATION_ACCEPTED.format(number=case.number,
                                                        name=commissioner.name if commissioner else "")
                return T.INVITATION_DECLINED.format(number=case.number)
        except CaseError:
            return T.INVITATION_GONE
