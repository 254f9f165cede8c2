"""The chat's side of 上门受理 and 窗口预约 (issue 17 item 1): 「确认预约」, 「改个时间 下周二上午」 (the
time asked for when missing), 「我的预约」. The rules and the ledger are bot/casework/appointments.py;
the words dialogs/texts/appointments.py. The manager hands a turn here (outside the application
form) and goes on as usual when this returns None: the confirm and reschedule words are taken only
while the user has an appointment to answer, so without one 「时间可以吗」 is an ordinary question."""
from __future__ import annotations

import re

from bot.casework import appointments
from bot.casework.cases import CaseError
from bot.models import Appointment, Case, Staff
from bot.vocabulary import ACTIVE_APPOINTMENT_STATES
from bot.platform.db import transaction
from bot.push.notify import appointment_time

from .nlu import Understanding, case_number, clean, is_question, without_case_number
from .texts import appointments as T

WISH_KEY = "appointment_wish"  # the appointment whose 「改个时间」 still needs the time wished for
_LEAD = re.compile(r"^[\s，,。.:：、]+")
# A message naming a time is the answer to 「您方便什么时间」 even when it ends in 「可以吗」.
_TIME_WORDS = re.compile(r"周|星期|礼拜|明天|后天|今天|上午|下午|中午|早上|晚上|月底|月初|\d+\s*[点:：号日月]|[一二三四五六七八九十]+[点号日]")


def _listed(bring: str) -> str:
    """What to bring, typed one per line in the console, as one line of the chat (「、」 between)."""
    return "、".join(line.strip() for line in bring.splitlines() if line.strip())


_PREFIXES = sorted(T.RESCHEDULE_PREFIXES, key=len, reverse=True)  # longest first: 「改个时间」 before 「改」
_CANCEL_PREFIXES = sorted(T.CANCEL_PREFIXES, key=len, reverse=True)


def _prefix_of(c: str, prefixes=_PREFIXES) -> str | None:
    return next((p for p in prefixes if c.startswith(p)), None)


def _after(text: str, c: str, prefix: str) -> str:
    """What the message says after its command word (「改个时间 下周二上午」 → 「下周二上午」), as typed."""
    rest = without_case_number(text).strip()
    return _LEAD.sub("", rest[len(prefix):]).strip() if rest.startswith(prefix) else c[len(prefix):]


class AppointmentDialog:
    def __init__(self, sessions, settings):
        self.sessions = sessions
        self.settings = settings

    def turn(self, user: str, u: Understanding, state: dict) -> str | None:
        text = u.text or ""
        if WISH_KEY in state:
            reply = self._wish(user, text, state)
            if reply is not None:
                return reply
        c = clean(without_case_number(text))
        if c in T.MINE_WORDS:
            return self._mine(user)
        if c in T.CONFIRM_WORDS:
            return self._confirm(user, case_number(text), c in T.CONFIRM_NAMES_IT)
        prefix = _prefix_of(c)
        if prefix is not None:
            return self._reschedule(user, text, c, prefix, state)
        prefix = _prefix_of(c, _CANCEL_PREFIXES)
        if prefix is not None and is_question(text) != "sure":  # 「取消预约要提前说吗」 is a question
            return self._cancel(user, text, c, prefix)
        return None

    # -- finding the appointment ------------------------------------------------------------

    def _open(self, db, user: str, states, number: str | None) -> list[tuple[Appointment, Case]]:
        found = appointments.of_applicant(db, user, states)
        return [(a, c) for a, c in found if c.number == number] if number else found

    def _which(self, found, command: str) -> str:
        options = "\n".join(T.WHICH_LINE.format(number=c.number, kind=appointments.kind_name(a.kind),
                                                when=appointment_time(a.starts_at)) for a, c in found)
        return T.WHICH.format(n=len(found), options=options, command=command, example=found[0][1].number)

    # -- 确认预约 -------------------------------------------------------------------------------

    def _confirm(self, user: str, number: str | None, names_it: bool) -> str | None:
        try:
            with transaction(self.sessions) as db:
                found = self._open(db, user, appointments.CONFIRMABLE, number)
                if not found:
                    return T.NOTHING_TO_CONFIRM if names_it else None
                if len(found) > 1:
                    return self._which(found, "确认预约")
                done = appointments.confirm(db, found[0][0].id, user, console_url=self.settings.public_url)
                a = done.appointment
                who = T.CONFIRMED_TOLD.format(name=done.commissioner.name) if done.told else T.CONFIRMED_UNTOLD
                return T.CONFIRMED.format(number=done.case.number, kind=appointments.kind_name(a.kind),
                                          when=appointment_time(a.starts_at), place=a.place,
                                          bring=T.BRING.format(bring=_listed(a.bring)) if a.bring else "", who=who)
        except CaseError as e:
            return T.REFUSED.format(error=e)

    # -- 改个时间 -------------------------------------------------------------------------------

    def _reschedule(self, user: str, text: str, c: str, prefix: str, state: dict) -> str | None:
        with transaction(self.sessions) as db:
            found = self._open(db, user, appointments.MOVABLE, case_number(text))
            if not found:
                return None  # 「改时间」 with nothing to move: an ordinary message (a question about time limits …)
            if len(found) > 1:
                return self._which(found, "改个时间")
            appointment, case = found[0]
            commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
            target = appointment.id
        wish = _after(text, c, prefix)
        if not clean(wish) or clean(wish) in T.POLITE_TAILS:  # 「改个时间」「改个时间可以吗」: which time, then
            state[WISH_KEY] = target
            return T.ASK_WISH.format(name=commissioner.name if commissioner else T.NOBODY)
        if is_question(text) == "sure" and not _TIME_WORDS.search(wish):
            return None  # 「改期了怎么办」: a question about changing, answered as usual
        return self._apply_wish(user, target, wish)

    def _wish(self, user: str, text: str, state: dict) -> str | None:
        target = state.pop(WISH_KEY)
        c = clean(text)
        if c in T.CANCEL_WORDS:
            with transaction(self.sessions) as db:
                a = db.get(Appointment, target)
                case = db.get(Case, a.case_id) if a is not None else None
                if a is None or case is None:
                    return None
                return T.WISH_CANCELLED.format(number=case.number, kind=appointments.kind_name(a.kind),
                                               when=appointment_time(a.starts_at))
        if c in T.CONFIRM_WORDS or c in T.MINE_WORDS or _prefix_of(c) is not None or _prefix_of(c, _CANCEL_PREFIXES) is not None:
            return None  # another command: read as usual
        if not c or (is_question(text) == "sure" and not _TIME_WORDS.search(text)):
            return None  # a question instead of a time: answered as usual, nothing recorded
        return self._apply_wish(user, target, text.strip())

    def _apply_wish(self, user: str, appointment_id: int, wish: str) -> str:
        try:
            with transaction(self.sessions) as db:
                done = appointments.request_reschedule(db, appointment_id, user, wish,
                                                       console_url=self.settings.public_url)
                a = done.appointment
                who = T.RESCHEDULE_TOLD.format(name=done.commissioner.name) if done.told else T.RESCHEDULE_UNTOLD
                return T.RESCHEDULE_ASKED.format(number=done.case.number, kind=appointments.kind_name(a.kind),
                                                 when=appointment_time(a.starts_at), wish=a.enterprise_note, who=who)
        except CaseError as e:
            return T.REFUSED.format(error=e)

    # -- 取消预约 -------------------------------------------------------------------------------

    def _cancel(self, user: str, text: str, c: str, prefix: str) -> str:
        reason = _after(text, c, prefix)
        if clean(reason) in T.POLITE_TAILS | T.CANCEL_TAILS:  # 「取消预约吧」 gives no reason
            reason = ""
        try:
            with transaction(self.sessions) as db:
                found = self._open(db, user, ACTIVE_APPOINTMENT_STATES, case_number(text))
                if not found:
                    return T.NOTHING_TO_CANCEL
                if len(found) > 1:
                    return self._which(found, "取消预约")
                done = appointments.cancel_by_enterprise(db, found[0][0].id, user, reason,
                                                         console_url=self.settings.public_url)
                a = done.appointment
                who = T.CANCEL_TOLD.format(name=done.commissioner.name) if done.told else T.CANCEL_UNTOLD
                return T.APPOINTMENT_CANCELLED.format(number=done.case.number, kind=appointments.kind_name(a.kind),
                                                      when=appointment_time(a.starts_at), who=who)
        except CaseError as e:
            return T.REFUSED.format(error=e)

    # -- 我的预约 -------------------------------------------------------------------------------

    def _mine(self, user: str) -> str:
        with transaction(self.sessions) as db:
            found = appointments.of_applicant(db, user)
            if not found:
                return T.MINE_NONE
            lines = [T.MINE_HEAD.format(n=len(found))]
            for a, c in found:
                lines.append(T.MINE_LINE.format(number=c.number, kind=appointments.kind_name(a.kind),
                                                when=appointment_time(a.starts_at), place=a.place,
                                                state=T.MINE_STATES.get(a.state, appointments.state_name(a.state)),
                                                bring=T.MINE_BRING.format(bring=_listed(a.bring)) if a.bring else ""))
            if any(a.state in appointments.MOVABLE for a, _ in found):
                lines.append(T.MINE_FOOT)
            return "\n".join(lines)


def progress_lines(db, case: Case, today) -> list[str]:
    """What 「我的申请」 adds for a case: its next appointment, if one is ahead."""
    a = appointments.next_of_case(db, case)
    if a is None:
        return []
    return [T.PROGRESS_NEXT.format(kind=appointments.kind_name(a.kind), when=appointment_time(a.starts_at),
                                   place=a.place, state=T.MINE_STATES.get(a.state, appointments.state_name(a.state)))]
