"""Accounts in the console: everyone changes their own password; a supervisor sees the region's
staff and deactivates its commissioners (who may do that is auth.staff_scope)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from bot.models import Case, Staff
from bot.people import staff as accounts
from bot.platform.db import transaction
from bot.vocabulary import OPEN_STATES, ROLES, Role

from . import bp, sessions
from .auth import remember, staff_scope


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    if request.method == "GET":
        return render_template("console/password.html")
    new = request.form.get("new", "")
    # A wrong current password is a guess at the account like a failed sign-in, and counts as one:
    # a session left open must not become an unthrottled password oracle.
    throttle = current_app.extensions["bangban_login_throttle"]
    wait = throttle.retry_after(g.staff.username, request.remote_addr)
    if wait:
        return render_template("console/password.html", error=f"尝试次数过多，请 {(wait + 59) // 60} 分钟后再试。"), \
            429, {"Retry-After": str(wait)}
    try:
        if new != request.form.get("confirm", ""):
            raise accounts.StaffError("两次输入的新密码不一致")
        with transaction(sessions()) as db:
            me = db.get(Staff, g.staff.id)
            accounts.change_password(me, request.form.get("current", ""), new)
    except accounts.StaffError as err:
        if isinstance(err, accounts.WrongPassword):
            throttle.fail(g.staff.username, request.remote_addr)
        return render_template("console/password.html", error=str(err)), 400
    remember(me)  # this session stays; every other one of this account ends
    flash("密码已修改；其他设备上的登录已退出。", "success")
    return redirect(url_for("console.case_list"), 303)


def _supervisor_only() -> None:
    if g.staff.role != Role.SUPERVISOR:
        abort(403, description="人员管理仅限主管使用。")


@bp.get("/staff")
def staff_list():
    _supervisor_only()
    open_cases = (sa.select(sa.func.count(Case.id))
                  .where(Case.commissioner_id == Staff.id, Case.state.in_(OPEN_STATES))
                  .correlate(Staff).scalar_subquery())
    with sessions()() as db:
        rows = db.execute(sa.select(Staff, open_cases, staff_scope(g.staff))
                          .where(Staff.region == g.staff.region)
                          .order_by(Staff.role, Staff.active.desc(), Staff.username)).all()
    return render_template("console/staff.html", rows=rows, roles=ROLES)


@bp.post("/staff/<int:staff_id>/deactivate")
def deactivate_staff(staff_id: int):
    _supervisor_only()
    with transaction(sessions()) as db:
        person = db.scalar(sa.select(Staff).where(Staff.id == staff_id, staff_scope(g.staff)).with_for_update())
        if person is None:
            abort(404)
        still_open = accounts.deactivate(db, person)
    flash(f"已停用 {person.name} 的账号" + (f"；其 {still_open} 件未结案件请重新分派。" if still_open else "。"),
          "success")
    return redirect(url_for("console.staff_list"), 303)
