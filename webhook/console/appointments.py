"""Console side of 上门受理 and 窗口预约 (issue 17 item 1; bot/casework/appointments.py): the case
page's 预约 card (the appointments, the enterprise's answers, a reschedule request shown first),
and its forms: propose (or propose again), cancel, record the outcome."""
from __future__ import annotations

from flask import abort, g

from bot.casework import appointments
from bot.casework.case_actions import Actor
from bot.models import Case
from bot.platform import clock
from bot.vocabulary import ACTIVE_APPOINTMENT_STATES, OPEN_STATES, AppointmentState

from . import bp, services, sessions
from .auth import may
from .cases import _act, _form


@bp.app_template_global()
def appointment_extras(case: Case) -> dict:
    """What the case page's 预约 card shows."""
    with sessions()() as db:
        rows = appointments.of_case(db, case)
    today = clock.today()
    shown = [{
        "row": a, "kind": appointments.kind_name(a.kind), "state": appointments.state_name(a.state),
        "when": clock.stamp(a.starts_at), "active": a.state in ACTIVE_APPOINTMENT_STATES,
        "wants_new_time": a.state == AppointmentState.RESCHEDULE_REQUESTED,
        "may_record": a.state in ACTIVE_APPOINTMENT_STATES and clock.to_local(a.starts_at).date() <= today,
    } for a in reversed(rows)]  # the newest first
    kinds = [(k, appointments.kind_name(k)) for k in appointments.kinds_for(case)]
    return {"rows": shown, "kinds": kinds, "may_propose": case.state in OPEN_STATES and bool(kinds),
            "active": next((r for r in shown if r["active"]), None), "hours": appointments.WORKING_HOURS_TEXT,
            "tomorrow": today.fromordinal(today.toordinal() + 1).isoformat(),
            "done": AppointmentState.DONE, "missed": AppointmentState.MISSED}


@bp.post("/cases/<number>/appointments")
def propose_appointment(number: str):
    """Propose a 上门受理 or 窗口预约 (replacing the one still ahead, if any)."""
    if not may(g.staff, "appointment"):
        abort(403)

    def change(db, case, actor: Actor) -> None:
        appointments.propose(db, case, kind=_form("kind"), starts_at=appointments.parse_local(_form("day"), _form("time")),
                             place=_form("place"), bring=_form("bring"), note=_form("note"), actor_kind=actor.kind,
                             actor_id=actor.id, staff=actor.staff, calendar=services().calendar,
                             off_hours_agreed=_form("off_hours") == "1")

    return _act(number, "appointment", change, "预约已发送给企业，写入台账。{notice}企业可在微信中回复「确认预约」或「改个时间」。",
                told="已通知企业。")


@bp.post("/cases/<number>/appointments/<int:appointment_id>/cancel")
def cancel_appointment(number: str, appointment_id: int):
    if not may(g.staff, "appointment"):
        abort(403)
    return _act(number, "appointment", lambda db, case, actor: appointments.cancel(
        db, case, appointment_id, _form("reason"), actor_kind=actor.kind, actor_id=actor.id),
        "预约已取消，写入台账。", told="已通知企业。")


@bp.post("/cases/<number>/appointments/<int:appointment_id>/outcome")
def record_appointment_outcome(number: str, appointment_id: int):
    if not may(g.staff, "appointment"):
        abort(403)
    return _act(number, "appointment", lambda db, case, actor: appointments.record_outcome(
        db, case, appointment_id, _form("outcome"), _form("text"), actor_kind=actor.kind, actor_id=actor.id),
        "预约结果已登记，写入台账。")


@bp.app_template_global()
def appointment_marks_among(rows) -> dict[int, str]:
    """The case list's mark for each case with an appointment ahead: 「企业请求改期」 (the
    commissioner's turn) or 「上门受理 12-08 10:00」."""
    ids = [row[0].id for row in rows if row[0].state in OPEN_STATES]
    with sessions()() as db:
        ahead = appointments.ahead_among(db, ids)
    return {case_id: ("企业请求改期" if a.state == AppointmentState.RESCHEDULE_REQUESTED
                      else f"{appointments.kind_name(a.kind)} {clock.stamp(a.starts_at, '%m-%d %H:%M')}")
            for case_id, a in ahead.items()}


@bp.app_template_global()
def appointment_kind_name(kind: str) -> str:
    return appointments.kind_name(kind)


@bp.app_template_global()
def appointment_state_name(state: str) -> str:
    return appointments.state_name(state)
