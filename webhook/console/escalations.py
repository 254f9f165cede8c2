"""协调事项 (supervisors only), up the region's escalation ladder (bot/supervision/escalations.py):
raise one for a case (to the next tier, or a tier chosen with a reason for any skipped), move an
open one up to the next tier, record its resolution; 「告知企业」 on raise and resolve pushes the
enterprise. Each writes its rows, ledger lines and pushes in one transaction; the forms live on
the 挂图作战 page, which every route returns to."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from werkzeug.exceptions import NotFound

from bot.casework.cases import CaseError
from bot.identifiers import case_number
from bot.models import Case, Escalation, Staff
from bot.platform.clock import date_text
from bot.platform.clock import today as china_today
from bot.platform.db import transaction
from bot.supervision import escalations as tiers
from bot.vocabulary import ESCALATION_STATES, EscalationState

from . import bp, sessions, settings
from .auth import case_scope
from .dashboard import calendar, region_case, require_supervisor


def _back():
    target = request.form.get("back", "")
    # Only back to the dashboard (with its filters) or a case page, never anywhere else.
    if target.startswith(("/console/dashboard", "/console/cases/")) and "//" not in target and "\\" not in target:
        return redirect(target, 303)
    return redirect(url_for("console.dashboard"), 303)


def _tell_enterprise() -> bool:
    return request.form.get("tell_enterprise", "") in ("1", "on", "yes")


def _raised_text(case: Case, escalation: Escalation) -> str:
    told = "，已告知企业" if escalation.tell_enterprise and case.applicant_openid else ""
    return (f"已将 {case.number} 提交{escalation.level}（E{escalation.id}），答复期限 {date_text(escalation.due_date)}"
            f"{told}，已写入台账。")


@bp.post("/cases/<number>/escalate")
def escalate(number: str):
    require_supervisor()
    try:
        with transaction(sessions()) as db:
            case = region_case(db, number, for_update=True)
            escalation = tiers.raise_escalation(
                db, case, request.form.get("level", ""), request.form.get("note", ""), db.get(Staff, g.staff.id),
                tell_enterprise=_tell_enterprise(), skip_reason=request.form.get("skip_reason", ""),
                calendar=calendar(), console_url=settings().public_url)
            done = _raised_text(case, escalation)
    except CaseError as err:
        flash(str(err), "error")
    else:
        flash(done, "success")
    return _back()


@bp.post("/escalate")
def escalate_by_number():
    """The dashboard's small form: the case number is typed in."""
    number = case_number(request.form.get("number", ""))
    if not number:
        require_supervisor()
        flash("请填写案件编号", "error")
        return _back()
    try:
        return escalate(number)
    except NotFound:
        flash(f"本地区没有案件 {number}，请核对编号", "error")
        return _back()


def _escalation_in_scope(db, escalation_id: int) -> tuple[Escalation, Case]:
    row = db.execute(sa.select(Escalation, Case).join(Case, Case.id == Escalation.case_id)
                     .where(Escalation.id == escalation_id, case_scope(g.staff))
                     .with_for_update()).first()
    if row is None:
        abort(404)
    return row[0], row[1]


@bp.post("/escalations/<int:escalation_id>/move-up")
def move_up_escalation(escalation_id: int):
    """上报上一级: the open escalation goes on to the next tier of the ladder."""
    require_supervisor()
    try:
        with transaction(sessions()) as db:
            escalation, case = _escalation_in_scope(db, escalation_id)
            higher = tiers.move_up(db, escalation, case, request.form.get("note", ""), db.get(Staff, g.staff.id),
                                   tell_enterprise=_tell_enterprise(), calendar=calendar(),
                                   console_url=settings().public_url)
            done = _raised_text(case, higher)
    except CaseError as err:
        flash(str(err), "error")
    else:
        flash(done, "success")
    return _back()


@bp.post("/escalations/<int:escalation_id>/resolve")
def resolve_escalation(escalation_id: int):
    require_supervisor()
    try:
        with transaction(sessions()) as db:
            escalation, case = _escalation_in_scope(db, escalation_id)
            tiers.resolve_escalation(db, escalation, case, request.form.get("resolution", ""),
                                     db.get(Staff, g.staff.id), tell_enterprise=_tell_enterprise(),
                                     console_url=settings().public_url)
            told = "，已告知企业" if escalation.resolution_told and case.applicant_openid else ""
    except CaseError as err:
        flash(str(err), "error")
    else:
        flash(f"E{escalation_id} 已记录协调结果{told}，已写入台账。", "success")
    return _back()


@bp.app_template_global()
def escalation_extras(case: Case) -> dict:
    """What the case page shows of its 协调事项 (every tier, open or closed) and the ladder to raise on."""
    with sessions()() as db:
        rows = list(db.scalars(sa.select(Escalation).where(Escalation.case_id == case.id).order_by(Escalation.id)))
        names = dict(db.execute(sa.select(Staff.id, Staff.name).where(
            Staff.id.in_({r.raised_by for r in rows} | {r.resolved_by for r in rows} - {None}))).all()) if rows else {}
    today = china_today()
    return {"rows": [{"row": r, "state": ESCALATION_STATES.get(r.state, r.state), "raised_by": names.get(r.raised_by, ""),
                      "resolved_by": names.get(r.resolved_by, ""),
                      "overdue": r.state == EscalationState.OPEN and r.due_date is not None and r.due_date < today}
                     for r in rows],
            "ladder": tiers.ladder(case.region)}
