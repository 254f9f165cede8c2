"""Accounts in the console: everyone changes their own password; a supervisor sees the region's
staff and deactivates its commissioners (who may do that is auth.staff_scope)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from bot.models import Case, Staff
from bot.people import staff as accounts
from bot.platform import region_tiers
from bot.platform.db import transaction
from bot.vocabulary import OPEN_STATES, ROLES, Role

from . import bp, region_name, sessions
from .auth import remember, staff_scope
from .dashboard import area_choices


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
    return _staff_page()


def _staff_page(error: str | None = None, form=None, status: int = 200):
    """The region's staff and the tiers' below it, with the form that adds an account."""
    open_cases = (sa.select(sa.func.count(Case.id))
                  .where(Case.commissioner_id == Staff.id, Case.state.in_(OPEN_STATES))
                  .correlate(Staff).scalar_subquery())
    with sessions()() as db:
        rows = db.execute(sa.select(Staff, open_cases, staff_scope(g.staff))
                          .where(Staff.region.in_(region_tiers.subtree(g.staff.region)))
                          .order_by(Staff.role, Staff.active.desc(), Staff.username)).all()
    return render_template("console/staff.html", rows=rows, roles=ROLES, areas=area_choices(), error=error,
                           form=form or {}, region_name=region_name), status


# -- regions in tiers (issue 17 item 6): an account for the region or a region below it ----

@bp.post("/staff/new")
def add_staff():
    """A supervisor adds a commissioner of their region or of a region below it, or a supervisor
    of a region below it (a 县's supervisor sets up its 镇's); nothing is written on bad input."""
    _supervisor_only()
    form = request.form
    region, role = form.get("region", "").strip(), form.get("role", Role.COMMISSIONER)
    below = region_tiers.subtree(g.staff.region)
    if region not in below:
        return _staff_page("地区只能为本人所在地区或其下级地区。", form, 400)
    if role not in (Role.COMMISSIONER, Role.SUPERVISOR) or (role == Role.SUPERVISOR and region == g.staff.region):
        return _staff_page("主管账号只能建在下级地区；本地区只能新增帮代办专员。", form, 400)
    if not form.get("name", "").strip():
        return _staff_page("请填写姓名。", form, 400)
    try:
        with transaction(sessions()) as db:
            person = accounts.create_staff(db, username=form.get("username", ""), name=form["name"], role=role,
                                           region=region, password=form.get("password", ""))
    except accounts.StaffError as err:
        return _staff_page(f"未新增：{err}。", form, 400)
    flash(f"已新增{ROLES.get(role, role)} {person.name}（{person.username}，{region_name(region)}）；"
          "请其登录后修改密码，并用 `bangban staff bind-qr` 绑定微信提醒。", "success")
    return redirect(url_for("console.staff_list"), 303)


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
