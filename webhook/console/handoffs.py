"""转人工 inbox: questions the bot handed over, answered back to the enterprise through the outbox."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import aliased

from bot.casework import handoffs
from bot.models import Case, Handoff, Staff
from bot.platform.db import transaction
from bot.push import reach
from bot.vocabulary import HandoffState

from . import bp, region_name, sessions, settings


@bp.get("/handoffs")
def handoff_list():
    """Each card: who asks (company and case, linked), where it went, the question."""
    show = request.args.get("show", "open")
    answerer, commissioner = aliased(Staff), aliased(Staff)
    with transaction(sessions()) as db:
        stmt = sa.select(Handoff, answerer, Case, commissioner) \
            .outerjoin(answerer, answerer.id == Handoff.answered_by) \
            .outerjoin(Case, Case.id == Handoff.case_id) \
            .outerjoin(commissioner, commissioner.id == Handoff.commissioner_id) \
            .where(handoffs.visible_to(g.staff))
        if show == "open":
            stmt = stmt.where(Handoff.state == HandoffState.OPEN)
        rows = db.execute(stmt.order_by(Handoff.asked_at.desc()).limit(100)).all()
    return render_template("console/handoffs.html", rows=rows, show=show, region_name=region_name)


@bp.post("/handoffs/<int:handoff_id>/answer")
def answer_handoff(handoff_id: int):
    text = request.form.get("answer", "")
    with transaction(sessions()) as db:
        handoff = db.scalar(sa.select(Handoff).where(Handoff.id == handoff_id, handoffs.visible_to(g.staff))
                            .with_for_update())
        if handoff is None:
            abort(404)
        try:
            handoffs.answer(db, handoff, db.get(Staff, g.staff.id), text)
        except handoffs.HandoffError as err:
            flash(str(err), "error")
            return redirect(url_for("console.handoff_list"), 303)
        # 「将推送给企业」 only when the push can reach them (bot/push/reach.py, as on the case page).
        told = reach.notice(db, db.get(Case, handoff.case_id) if handoff.case_id else None, settings(),
                            "答复将推送给企业。")
    flash(f"已答复 H{handoff_id}。{told}", "success")
    return redirect(url_for("console.handoff_list"), 303)
