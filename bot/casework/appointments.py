"""上门受理 and 窗口预约 (issue 17 item 1).

江北 (seed 000) runs 代办 as 「提交申请、上门受理、跟踪催办、统一送达、事后评价」: 「代办专员收到申请后，
上门受理申报资料」. 东湖 (seed 004) 「预约企业上门，详细了解项目相关信息，指导企业提前准备申报材料」, and
its 帮办专员 「上门主动告知项目单位办事流程及办事指南」. Either way a time and a place are agreed
with the enterprise, and what it should have ready. So:

- the commissioner proposes (console): kind (`AppointmentKind`, as the region offers it:
  config/region_service.yaml `appointment_kinds`), date and time, place, what to bring, a note.
  The time must be ahead (at most MAX_AHEAD_DAYS) and inside working hours on a working day
  (bot/platform/workdays.py knows the holidays) unless the commissioner says the enterprise asked
  for another time. A case has one appointment ahead at a time: a new proposal replaces it
  (重新约定, the old one is cancelled with the reason);
- the enterprise answers in the chat: 「确认预约」, or 「改个时间 下周二上午」 (its words are kept and
  the commissioner is told, who then proposes again);
- the scheduler reminds it the calendar day before at REMIND_AT, once (`remind_due`);
- afterwards the commissioner records the outcome: 已完成 with what was received, or 未能进行 and why.

Every step is a ledger line (appointment:*) and, where the other side needs to know, a push.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import cases
from bot.casework.cases import CaseError
from bot.models import Appointment, Case, Staff, utcnow
from bot.platform import clock, region_service
from bot.platform.clock import SERVICE_TZ
from bot.platform.text_safety import xml_safe
from bot.platform.workdays import WorkCalendar, load_calendar
from bot.push import notify
from bot.vocabulary import (
    ACTIVE_APPOINTMENT_STATES,
    APPOINTMENT_KINDS,
    APPOINTMENT_STATES,
    CASE_STATES,
    OPEN_STATES,
    ActorKind,
    AppointmentKind,
    AppointmentState,
)

# The service hall's hours (service time): a proposal outside them needs the commissioner to say
# the enterprise asked for it. Morning and afternoon, the lunch break left out.
WORKING_HOURS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
WORKING_HOURS_TEXT = "、".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in WORKING_HOURS)
MAX_AHEAD_DAYS = 90
REMIND_AT = time(9, 0)  # the reminder goes out the calendar day before, from this hour
MAX_PLACE, MAX_BRING, MAX_NOTE, MAX_WISH, MAX_OUTCOME = 200, 1000, 200, 300, 500
# The states an enterprise may still answer: 「确认预约」 takes a proposal (or takes back its own
# request for another time); 「改个时间」 a proposal or a confirmed appointment.
CONFIRMABLE = (AppointmentState.PROPOSED, AppointmentState.RESCHEDULE_REQUESTED)
MOVABLE = (AppointmentState.PROPOSED, AppointmentState.CONFIRMED)
OUTCOMES = (AppointmentState.DONE, AppointmentState.MISSED)


def kind_name(kind: str) -> str:
    return APPOINTMENT_KINDS.get(kind, kind)


def state_name(state: str) -> str:
    return APPOINTMENT_STATES.get(state, state)


def kinds_for(case: Case) -> list[AppointmentKind]:
    """The kinds the case's region offers for its service mode (config/region_service.yaml
    `appointment_kinds`, and `visit_modes` for 上门受理)."""
    service = region_service.for_region(case.region)
    return [AppointmentKind(k) for k in service.appointment_kinds
            if k != AppointmentKind.VISIT or case.mode in service.visit_modes]


def local_datetime(day: date, at: time) -> datetime:
    """A date and a wall-clock time in service time, as the UTC instant stored."""
    return datetime.combine(day, at, tzinfo=SERVICE_TZ).astimezone(timezone.utc)


def parse_local(day_text: str, time_text: str) -> datetime:
    """The console's date and time fields (「2026-12-08」, 「09:30」) as a UTC instant."""
    if not day_text or not time_text:
        raise CaseError("请填写预约的日期和时间")
    try:
        day = date.fromisoformat(day_text.strip())
        at = time.fromisoformat(time_text.strip()[:5])
    except ValueError:
        raise CaseError("预约日期或时间格式不正确，请按 年-月-日 和 时:分 填写") from None
    return local_datetime(day, at)


def in_working_hours(starts_at: datetime, calendar: WorkCalendar) -> bool:
    local = clock.to_local(starts_at)
    return calendar.is_workday(local.date()) and any(a <= local.time() <= b for a, b in WORKING_HOURS)


def check_time(starts_at: datetime, calendar: WorkCalendar, now: datetime, off_hours_agreed: bool = False) -> None:
    """Refuse a time in the past, too far ahead, or (unless agreed with the enterprise) outside
    the working hours of a working day, saying which and what to do."""
    starts_at, now = clock.as_utc(starts_at), clock.as_utc(now)
    if starts_at <= now:
        raise CaseError("预约时间必须晚于现在，请重新选择")
    if starts_at > now + timedelta(days=MAX_AHEAD_DAYS):
        raise CaseError(f"预约时间最多安排在 {MAX_AHEAD_DAYS} 天以内")
    if off_hours_agreed:
        return
    local = clock.to_local(starts_at)
    if not calendar.is_workday(local.date()):
        raise CaseError(f"{local:%Y-%m-%d}不是工作日（周末或法定节假日）。请改到工作日；"
                        "如确是企业要求的时间，请勾选「企业要求的非工作时间」")
    if not in_working_hours(starts_at, calendar):
        raise CaseError(f"{local:%H:%M}不在工作时间（{WORKING_HOURS_TEXT}）。请调整时间；"
                        "如确是企业要求的时间，请勾选「企业要求的非工作时间」")


def _clean(text: str | None, what: str, limit: int, required: bool = False, one_line: bool = True) -> str:
    value = xml_safe(text or "")
    value = " ".join(value.split()) if one_line else "\n".join(" ".join(line.split()) for line in value.splitlines()
                                                              if line.strip())
    if required and not value:
        raise CaseError(f"请填写{what}")
    if len(value) > limit:
        raise CaseError(f"{what}最多 {limit} 个字")
    return value


def stamp(starts_at: datetime) -> str:
    """The appointment's time in records: 「2026-12-08 09:30」."""
    return clock.stamp(starts_at)


# -- reading -------------------------------------------------------------------------------

def of_case(session: Session, case: Case) -> list[Appointment]:
    return list(session.scalars(sa.select(Appointment).where(Appointment.case_id == case.id)
                                .order_by(Appointment.id)))


def active(session: Session, case: Case, for_update: bool = False) -> Appointment | None:
    """The case's appointment still ahead (proposed, confirmed or waiting for a new time), if any."""
    q = (sa.select(Appointment).where(Appointment.case_id == case.id,
                                      Appointment.state.in_(ACTIVE_APPOINTMENT_STATES))
         .order_by(Appointment.id.desc()).limit(1))
    return session.scalar(q.with_for_update() if for_update else q)


def next_of_case(session: Session, case: Case, now: datetime | None = None) -> Appointment | None:
    """The case's next appointment not yet begun (for 「我的申请」)."""
    row = active(session, case)
    now = now or utcnow()
    return row if row is not None and clock.as_utc(row.starts_at) > clock.as_utc(now) else None


def of_applicant(session: Session, openid: str, states=ACTIVE_APPOINTMENT_STATES,
                 now: datetime | None = None) -> list[tuple[Appointment, Case]]:
    """`openid`'s appointments in `states` not yet begun, the soonest first."""
    now = now or utcnow()
    return [(a, c) for a, c in session.execute(
        sa.select(Appointment, Case).join(Case, Case.id == Appointment.case_id)
        .where(Case.applicant_openid == openid, Appointment.state.in_(states), Appointment.starts_at > now,
               Case.state.in_(OPEN_STATES))
        .order_by(Appointment.starts_at, Appointment.id))]


def _locked(session: Session, appointment_id: int) -> Appointment | None:
    return session.scalar(sa.select(Appointment).where(Appointment.id == appointment_id).with_for_update())


def describe(a: Appointment) -> str:
    """One line for ledgers and exports: 「上门受理 2026-12-08 09:30，地点：…」."""
    return f"{kind_name(a.kind)} {stamp(a.starts_at)}，地点：{a.place}"


# -- the commissioner -----------------------------------------------------------------------

def propose(session: Session, case: Case, *, kind: str, starts_at: datetime, place: str, bring: str = "",
            note: str = "", actor_kind: str, actor_id: str | None, staff: Staff | None = None,
            calendar: WorkCalendar | None = None, now: datetime | None = None,
            off_hours_agreed: bool = False) -> Appointment:
    """A 上门受理 or 窗口预约 for `case`, sent to the enterprise. An appointment still ahead is
    replaced (cancelled as 重新约定), so the enterprise has one time to answer."""
    if case.state not in OPEN_STATES:
        raise CaseError(f"案件当前为「{CASE_STATES[case.state]}」，不能再约定预约")
    offered = kinds_for(case)
    if kind not in offered:
        names = "、".join(kind_name(k) for k in offered) or "无"
        by_mode = kind in region_service.for_region(case.region).appointment_kinds  # offered, not for this mode
        raise CaseError(f"本地区{case.mode if by_mode else ''}不提供{kind_name(kind)}（可约定：{names}）")
    if not case.applicant_openid:
        raise CaseError("企业尚未在微信中确认提前介入，无法向企业发送预约")
    now = now or utcnow()
    calendar = calendar or load_calendar()
    check_time(starts_at, calendar, now, off_hours_agreed)
    place = _clean(place, "地点", MAX_PLACE, required=True)
    bring = _clean(bring, "需准备的材料", MAX_BRING, one_line=False)
    note = _clean(note, "说明", MAX_NOTE)
    before = active(session, case, for_update=True)
    row = Appointment(case_id=case.id, kind=kind, starts_at=clock.as_utc(starts_at), place=place, bring=bring or None,
                      note=note or None, state=AppointmentState.PROPOSED, proposed_by=staff.id if staff else None,
                      proposed_at=now)
    session.add(row)
    session.flush()
    detail = f"约定{describe(row)}" + (f"；请准备：{bring}" if bring else "") + (f"；{note}" if note else "") \
        + ("（企业要求的非工作时间）" if off_hours_agreed and not in_working_hours(row.starts_at, calendar)
           else "")
    if before is not None:
        before.state, before.outcome, before.outcome_at = AppointmentState.CANCELLED, f"重新约定为{stamp(row.starts_at)}", now
        cases.log(session, case, "appointment:rescheduled", f"原定{describe(before)}，改为：{detail[2:]}"
                  + (f"（企业希望：{before.enterprise_note}）" if before.enterprise_note else ""),
                  actor_kind=actor_kind, actor_id=actor_id)
    else:
        cases.log(session, case, "appointment:proposed", detail, actor_kind=actor_kind, actor_id=actor_id)
    commissioner = session.get(Staff, case.commissioner_id) if case.commissioner_id else staff
    notify.appointment_proposed(session, case, row.id, kind_name(kind), row.starts_at, place, bring or None,
                                note or None, commissioner, replaces=before is not None)
    return row


def _of_case(session: Session, case: Case, appointment_id: int) -> Appointment:
    row = _locked(session, appointment_id)
    if row is None or row.case_id != case.id:
        raise CaseError("没有找到这次预约")
    return row


def cancel(session: Session, case: Case, appointment_id: int, reason: str, *, actor_kind: str,
           actor_id: str | None) -> Appointment:
    """The commissioner calls an appointment off (the enterprise is told why)."""
    row = _of_case(session, case, appointment_id)
    if row.state not in ACTIVE_APPOINTMENT_STATES:
        raise CaseError(f"这次预约当前为「{state_name(row.state)}」，不能取消")
    reason = _clean(reason, "取消原因", MAX_NOTE, required=True)
    row.state, row.outcome, row.outcome_at = AppointmentState.CANCELLED, reason, utcnow()
    cases.log(session, case, "appointment:cancelled", f"取消{describe(row)}；原因：{reason}",
              actor_kind=actor_kind, actor_id=actor_id)
    notify.appointment_cancelled(session, case, row.id, kind_name(row.kind), row.starts_at, reason)
    return row


def withdraw(session: Session, case: Case, actor_kind: str, actor_id: str | None) -> Appointment | None:
    """The case is terminated: an appointment still ahead is off (ledger line; the 终止 push tells
    the enterprise the service ended, so no push of its own), and the reminder skips it."""
    row = active(session, case, for_update=True)
    if row is None:
        return None
    row.state, row.outcome, row.outcome_at = AppointmentState.CANCELLED, "案件终止", utcnow()
    cases.log(session, case, "appointment:cancelled", f"案件终止，取消{describe(row)}",
              actor_kind=actor_kind, actor_id=actor_id)
    return row


def record_outcome(session: Session, case: Case, appointment_id: int, outcome: str, text: str, *,
                   actor_kind: str, actor_id: str | None, today: date | None = None) -> Appointment:
    """After the appointment: 已完成 with what was received (`text`), or 未能进行 and why."""
    row = _of_case(session, case, appointment_id)
    if outcome not in OUTCOMES:
        raise CaseError("请选择「已完成」或「未能进行」")
    if row.state not in ACTIVE_APPOINTMENT_STATES:
        raise CaseError(f"这次预约已是「{state_name(row.state)}」")
    if clock.to_local(row.starts_at).date() > (today or clock.today()):
        raise CaseError(f"预约时间（{stamp(row.starts_at)}）还没到，到时再登记结果")
    what = "收到的材料或办理情况" if outcome == AppointmentState.DONE else "未能进行的原因"
    text = _clean(text, what, MAX_OUTCOME, required=True)
    row.state, row.outcome, row.outcome_at = outcome, text, utcnow()
    if outcome == AppointmentState.DONE:
        detail = f"{describe(row)}已完成；{text}"
    else:
        detail = f"{describe(row)}未能进行；原因：{text}"
    cases.log(session, case, f"appointment:{outcome}", detail, actor_kind=actor_kind, actor_id=actor_id)
    return row


# -- the enterprise --------------------------------------------------------------------------

@dataclass(frozen=True)
class Answered:
    appointment: Appointment
    case: Case
    commissioner: Staff | None
    told: bool  # whether a push to the commissioner was queued (else the console shows it)


def _answer_target(session: Session, appointment_id: int, openid: str) -> tuple[Appointment, Case]:
    row = _locked(session, appointment_id)
    case = session.get(Case, row.case_id) if row is not None else None
    if row is None or case is None or case.applicant_openid != openid:
        raise CaseError("没有找到您的这次预约")
    if case.state not in OPEN_STATES:
        raise CaseError(f"案件{case.number}当前为「{CASE_STATES[case.state]}」，预约已不再进行")
    return row, case


def _tell_commissioner(session: Session, case: Case, row: Appointment, answer: str, event_id: int,
                       console_url: str, note: str | None = None) -> tuple[Staff | None, bool]:
    commissioner = session.get(Staff, case.commissioner_id) if case.commissioner_id else None
    if commissioner is None:
        return None, False
    sent = notify.appointment_answered(session, case, commissioner, row.id, kind_name(row.kind), row.starts_at,
                                       answer, note, event_id, console_url)
    return commissioner, sent is not None


def confirm(session: Session, appointment_id: int, openid: str, console_url: str = "",
            now: datetime | None = None) -> Answered:
    """「确认预约」 from the enterprise."""
    row, case = _answer_target(session, appointment_id, openid)
    if row.state == AppointmentState.CONFIRMED:
        raise CaseError(f"您已确认过{stamp(row.starts_at)}的{kind_name(row.kind)}")
    if row.state not in CONFIRMABLE:
        raise CaseError(f"这次预约当前为「{state_name(row.state)}」，无需确认")
    if clock.as_utc(row.starts_at) <= clock.as_utc(now or utcnow()):
        raise CaseError("这次预约的时间已经过了，请与专员另约时间")
    row.state, row.answered_at = AppointmentState.CONFIRMED, utcnow()
    entry = cases.log(session, case, "appointment:confirmed", f"企业在微信中确认{describe(row)}",
                      actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    session.flush()
    commissioner, told = _tell_commissioner(session, case, row, "confirmed", entry.id, console_url)
    return Answered(row, case, commissioner, told)


def request_reschedule(session: Session, appointment_id: int, openid: str, wish: str, console_url: str = "",
                       now: datetime | None = None) -> Answered:
    """「改个时间 下周二上午」: the enterprise asks for another time, in its words; the commissioner
    is told and proposes again (the appointment stays on the case page as 企业请求改期)."""
    row, case = _answer_target(session, appointment_id, openid)
    if row.state not in MOVABLE:
        raise CaseError(f"这次预约当前为「{state_name(row.state)}」，专员正在重新安排")
    if clock.as_utc(row.starts_at) <= clock.as_utc(now or utcnow()):
        raise CaseError("这次预约的时间已经过了，请直接留言与专员另约时间")
    wish = _clean(wish, "您方便的时间", MAX_WISH, required=True)
    row.state, row.answered_at, row.enterprise_note = AppointmentState.RESCHEDULE_REQUESTED, utcnow(), wish
    entry = cases.log(session, case, "appointment:reschedule_requested",
                      f"企业希望改期（原定{describe(row)}）：{wish}", actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    session.flush()
    commissioner, told = _tell_commissioner(session, case, row, "reschedule", entry.id, console_url, wish)
    return Answered(row, case, commissioner, told)


def cancel_by_enterprise(session: Session, appointment_id: int, openid: str, reason: str = "",
                         console_url: str = "", now: datetime | None = None) -> Answered:
    """「取消预约」: the enterprise calls the visit or the window appointment off (it will come to the
    window itself, the materials are not ready ...). The ledger keeps it; the commissioner is told."""
    row, case = _answer_target(session, appointment_id, openid)
    if row.state not in ACTIVE_APPOINTMENT_STATES:
        raise CaseError(f"这次预约当前为「{state_name(row.state)}」，无需取消")
    if clock.as_utc(row.starts_at) <= clock.as_utc(now or utcnow()):
        raise CaseError("这次预约的时间已经过了，请直接留言告诉专员")
    reason = _clean(reason, "取消原因", MAX_WISH)
    row.state, row.answered_at = AppointmentState.CANCELLED, utcnow()
    row.outcome, row.outcome_at = "企业取消" + (f"：{reason}" if reason else ""), utcnow()
    entry = cases.log(session, case, "appointment:cancelled",
                      f"企业在微信中取消{describe(row)}" + (f"；原因：{reason}" if reason else ""),
                      actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    session.flush()
    commissioner, told = _tell_commissioner(session, case, row, "cancelled", entry.id, console_url, reason or None)
    return Answered(row, case, commissioner, told)


# -- the scheduler ----------------------------------------------------------------------------

def remind_due(session: Session, now: datetime | None = None, console_url: str = "") -> int:
    """The scheduler's job: from REMIND_AT on the calendar day before, remind the enterprise of
    each appointment (proposed or confirmed) once. Idempotent across workers: only rows not yet
    reminded are taken, each locked (SKIP LOCKED on PostgreSQL), `reminded_at` set in the same
    transaction, and the push is keyed by the appointment. An appointment proposed after that
    moment is not reminded: its proposal is the news."""
    now = clock.as_utc(now or utcnow())
    local = clock.to_local(now)
    if local.time() < REMIND_AT:
        return 0
    tomorrow = local.date() + timedelta(days=1)
    moment = local_datetime(local.date(), REMIND_AT)
    # The commissioner hears of it at the same time (notify.appointment_staff_reminder).
    q = (sa.select(Appointment).where(
        Appointment.state.in_((AppointmentState.PROPOSED, AppointmentState.CONFIRMED)),
        Appointment.reminded_at.is_(None),
        Appointment.starts_at >= clock.start_of_day(tomorrow),
        Appointment.starts_at < clock.start_of_day(tomorrow + timedelta(days=1)),
        Appointment.starts_at > now,
        Appointment.proposed_at < moment).order_by(Appointment.id))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    sent = 0
    for row in session.scalars(q).all():
        case = session.get(Case, row.case_id)
        row.reminded_at = now
        if case.state not in OPEN_STATES:
            continue
        confirmed = row.state == AppointmentState.CONFIRMED
        cases.log(session, case, "appointment:reminded", f"提醒企业明天的{describe(row)}"
                  + ("" if confirmed else "（企业尚未确认）"))
        notify.appointment_reminder(session, case, row.id, kind_name(row.kind), row.starts_at, row.place, row.bring,
                                    confirmed)
        commissioner = session.get(Staff, case.commissioner_id) if case.commissioner_id else None
        if commissioner is not None:
            notify.appointment_staff_reminder(session, case, commissioner, row.id, kind_name(row.kind), row.starts_at,
                                              row.place, confirmed, console_url)
        sent += 1
    return sent


# -- lists for the console (case list marks, the 挂图作战 panel) --------------------------------

@dataclass(frozen=True)
class AheadRow:
    """An appointment still ahead, on the dashboard's 近期预约 panel."""

    appointment: Appointment
    case_number: str
    company: str
    commissioner: str | None


def ahead_among(session: Session, case_ids: list[int]) -> dict[int, Appointment]:
    """Of `case_ids`, each case's appointment still ahead (for the case list's marks)."""
    if not case_ids:
        return {}
    rows = session.scalars(sa.select(Appointment).where(Appointment.case_id.in_(case_ids),
                                                        Appointment.state.in_(ACTIVE_APPOINTMENT_STATES))
                           .order_by(Appointment.id))
    return {a.case_id: a for a in rows}  # the newest wins (one is ahead at a time)


def ahead_in_region(session: Session, regions, commissioner_id: int | None = None, days: int = 14,
                    now: datetime | None = None, limit: int = 200) -> list[AheadRow]:
    """The appointments of the cases of `regions` (a region, or a region and the tiers below it) in
    the next `days` days and every request for another time, the requests first (they wait for
    the commissioner), then by time."""
    now = clock.as_utc(now or utcnow())
    regions = [regions] if isinstance(regions, str) else list(regions)
    cond = sa.and_(Case.region.in_(regions), Case.state.in_(OPEN_STATES),
                   Appointment.state.in_(ACTIVE_APPOINTMENT_STATES),
                   sa.or_(Appointment.state == AppointmentState.RESCHEDULE_REQUESTED,
                          sa.and_(Appointment.starts_at > now, Appointment.starts_at <= now + timedelta(days=days))))
    if commissioner_id is not None:
        cond = sa.and_(cond, Case.commissioner_id == commissioner_id)
    stmt = (sa.select(Appointment, Case.number, Case.company_name, Staff.name)
            .join(Case, Case.id == Appointment.case_id).outerjoin(Staff, Staff.id == Case.commissioner_id)
            .where(cond)
            .order_by((Appointment.state == AppointmentState.RESCHEDULE_REQUESTED).desc(), Appointment.starts_at)
            .limit(limit))
    return [AheadRow(*row) for row in session.execute(stmt)]
