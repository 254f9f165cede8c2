"""Console side of 立卷归档 (issue 17 item 5; bot/casework/archiving.py): the completeness check page
of a case, the archiving form (「无需退还」, a supervisor's reason), and the case page's card. The
case's commissioner or a supervisor of its region archives; everyone else who sees the case sees
the check and, once archived, the record."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for

from bot.casework import archiving
from bot.casework.cases import CaseError
from bot.identifiers import case_number
from bot.models import Case, Staff
from bot.platform import region_service
from bot.platform.db import transaction
from bot.vocabulary import ACTOR_KINDS, CASE_STATES, Role

from . import bp, sessions
from .auth import case_scope
from .cases import _visible_case


@bp.app_template_global()
def archive_extras(case: Case) -> dict:
    """The case page's 立卷归档 card: the archive once made, else whether the signed-in staff may start it."""
    with sessions()() as db:
        record = archiving.of_case(db, case)
        by = db.get(Staff, record.archived_by) if record and record.archived_by else None
    staff = g.get("staff")
    return {"record": record, "by": by.name if by else None,
            "may": staff is not None and record is None and archiving.may_archive(staff, case)
            and case.state in archiving.ARCHIVABLE_STATES}


def waiting_board(commissioner_id: int | None = None) -> tuple[list[archiving.Waiting], int]:
    """The cases the signed-in staff sees that wait to be archived, and how many are archived: the
    same for 挂图作战's panel and its Excel export."""
    scope = case_scope(g.staff)
    if commissioner_id is not None:
        scope = sa.and_(scope, Case.commissioner_id == commissioner_id)
    with sessions()() as db:
        rows = archiving.waiting(db, scope)
        done = archiving.archived_count(db, scope)
        for row in rows:
            db.expunge(row.case)
    return rows, done


@bp.app_template_global()
def archive_board(commissioner_id: int | None = None) -> dict:
    """挂图作战's 待立卷归档 panel: the cases the signed-in supervisor sees that wait to be archived."""
    rows, done = waiting_board(commissioner_id)
    return {"rows": rows, "archived": done, "case_states": CASE_STATES}


@bp.get("/cases/<number>/archive")
def archive_check(number: str):
    """The completeness check: each point ok or missing, with a link to where it is put right."""
    with sessions()() as db:
        case = _visible_case(db, number)
        record = archiving.of_case(db, case)
        checks = ([archiving.Check(**{**c, "key": archiving.ArchiveCheck(c["key"])}) for c in record.checklist]
                  if record else archiving.check(db, case))
        by = db.get(Staff, record.archived_by) if record and record.archived_by else None
        db.expunge(case)
    missing = [c for c in checks if not c.ok]
    return render_template(
        "console/archive.html", case=case, checks=checks, record=record, by=by.name if by else None,
        essential=[c for c in missing if c.required], optional=[c for c in missing if not c.required],
        may_archive=record is None and archiving.may_archive(g.staff, case),
        is_supervisor=g.staff.role == Role.SUPERVISOR, case_states=CASE_STATES, actor_kinds=ACTOR_KINDS,
        archivable=case.state in archiving.ARCHIVABLE_STATES, rating_wait_days=region_service.for_region(case.region).rating_wait_days,
        no_return=archiving.NO_RETURN, max_reason=archiving.MAX_REASON)


@bp.post("/cases/<number>/archive")
def archive_case(number: str):
    """立卷归档: refused with what is missing (nothing changes), else archived with its ledger line."""
    reason = request.form.get("reason", "")
    no_return_needed = request.form.get("no_return_needed") == "1"
    try:
        with transaction(sessions()) as db:
            case = _visible_case(db, number, for_update=True)
            staff = db.get(Staff, g.staff.id)
            if not archiving.may_archive(staff, case):
                abort(403, description="立卷归档由案件的承办专员或本地区主管进行。")
            row = archiving.archive(db, case, staff, reason=reason, no_return_needed=no_return_needed)
            done = f"案件已立卷归档（归档编号 {row.number}），写入台账；此后案件只读，不能再变更。"
    except CaseError as err:
        flash(str(err), "error")
        return redirect(url_for("console.archive_check", number=case_number(number)), 303)
    flash(done, "success")
    return redirect(url_for("console.case_page", number=case_number(number)), 303)
