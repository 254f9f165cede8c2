"""差评整改: the region's open 整改 for its supervisor, with the 回访 and close forms."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from bot.models import Case, Staff
from bot.platform import clock
from bot.platform.db import transaction
from bot.push import reach
from bot.supervision import ratings
from bot.vocabulary import RECTIFICATION_STATES, Role

from . import bp, sessions, settings


def _supervisor_only() -> None:
    if g.staff.role != Role.SUPERVISOR:
        abort(403, description="整改与回访由主管办理。")


@bp.get("/rectifications")
def rectification_list():
    _supervisor_only()
    show = request.args.get("show", "open")
    with transaction(sessions()) as db:
        rows = ratings.rectifications_of_region(db, g.staff.region, include_closed=show == "all")
    return render_template("console/rectifications.html", rows=rows, show=show, today=clock.today(),
                           levels=ratings.LEVELS, states=RECTIFICATION_STATES, summary=ratings.summary,
                           number=ratings.rectification_number)


def _act(rect_id: int, do, done):
    """`done` says how it went: a text, or a function of what `do` returned, called inside the
    transaction (to say whether the enterprise can be reached)."""
    _supervisor_only()
    with transaction(sessions()) as db:
        try:
            result = do(db, db.get(Staff, g.staff.id))
        except ratings.RatingError as err:
            flash(str(err), "error")
            return redirect(url_for("console.rectification_list"), 303)
        said = done(db, result) if callable(done) else done
    flash(said, "success")
    return redirect(url_for("console.rectification_list"), 303)


@bp.post("/rectifications/<int:rect_id>/visit")
def visit_rectification(rect_id: int):
    note = request.form.get("note", "")
    return _act(rect_id, lambda db, staff: ratings.record_visit(db, rect_id, staff, note),
                f"已登记整改 {ratings.rectification_number(rect_id)} 的回访。")


@bp.post("/rectifications/<int:rect_id>/close")
def close_rectification(rect_id: int):
    outcome = request.form.get("outcome", "")
    # 「将推送给企业」 only when the push can reach them (bot/push/reach.py, as on the case page).
    return _act(rect_id, lambda db, staff: ratings.close_rectification(db, rect_id, staff, outcome),
                lambda db, rect: f"整改 {ratings.rectification_number(rect_id)} 已办结。" + reach.notice(
                    db, db.get(Case, rect.case_id), settings(), "整改结果将推送给企业。"))
