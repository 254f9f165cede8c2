"""Escalation to 联席会议 / 工改领导小组 (supervisors only): raise one for a case, record its
resolution. Each writes the Escalation row and its ledger line in one transaction; the forms
live on the 挂图作战 page, which both routes return to."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from werkzeug.exceptions import NotFound

from bot.casework.cases import CaseError
from bot.identifiers import case_number
from bot.models import Case, Escalation, Staff
from bot.platform.db import transaction
from bot.supervision import dashboard as figures

from . import bp, sessions
from .dashboard import region_case, require_supervisor


def _back():
    target = request.form.get("back", "")
    # Only back to the dashboard (with its filters), never anywhere else.
    if target.startswith("/console/dashboard") and "//" not in target and "\\" not in target:
        return redirect(target, 303)
    return redirect(url_for("console.dashboard"), 303)


@bp.post("/cases/<number>/escalate")
def escalate(number: str):
    require_supervisor()
    level = request.form.get("level", "").strip()
    note = request.form.get("note", "")
    try:
        with transaction(sessions()) as db:
            case = region_case(db, number, for_update=True)
            escalation = figures.raise_escalation(db, case, level, note, db.get(Staff, g.staff.id))
            done = f"已将 {case.number} 提交{escalation.level}（E{escalation.id}），已写入台账。"
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


@bp.post("/escalations/<int:escalation_id>/resolve")
def resolve_escalation(escalation_id: int):
    require_supervisor()
    try:
        with transaction(sessions()) as db:
            row = db.execute(sa.select(Escalation, Case).join(Case, Case.id == Escalation.case_id)
                             .where(Escalation.id == escalation_id, Case.region == g.staff.region)
                             .with_for_update()).first()
            if row is None:
                abort(404)
            escalation, case = row
            figures.resolve_escalation(db, escalation, case, request.form.get("resolution", ""),
                                       db.get(Staff, g.staff.id))
    except CaseError as err:
        flash(str(err), "error")
    else:
        flash(f"E{escalation_id} 已记录协调结果，已写入台账。", "success")
    return _back()
