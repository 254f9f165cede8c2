"""Console sign-in, the guard in front of every console page, and who may see or do what.

- Session: Flask's signed cookie (HttpOnly, SameSite=Lax, Secure on https) holding the staff id
  and the account's session generation (Staff.session_generation), checked on every request.
  Signing out, a new password or deactivation moves the generation on, so a copied cookie stops
  working then: the cookie alone cannot be revoked. Signing out ends the account's sessions on
  every computer.
- CSRF: every console POST (login and logout included) must carry the form's csrf_token
  (Flask-WTF, bound to the session).
- Failed logins: limited per account and, separately, per client address (throttle.py); the
  address is the client's as the trusted proxies report it (TRUSTED_PROXIES, create_app).
"""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from bot.identifiers import case_number
from bot.models import Case, Staff
from bot.people.staff import authenticate, end_sessions
from bot.platform import region_tiers
from bot.platform.db import transaction
from bot.vocabulary import ROLES, Role

from . import bp, csrf, region_name, sessions
from .throttle import LoginThrottle

PUBLIC_ENDPOINTS = {"console.login", "console.static"}


def _staff_from_session() -> Staff | None:
    staff_id = session.get("staff_id")
    if not isinstance(staff_id, int):
        return None
    with sessions()() as db:
        staff = db.get(Staff, staff_id)
    if staff is None or not staff.active or session.get("gen") != staff.session_generation:
        session.clear()
        return None
    return staff


@bp.before_request
def guard():
    """Sign-in first (so an anonymous POST is sent to the login page, not told about CSRF),
    then the CSRF check on every POST."""
    g.staff = _staff_from_session()
    if g.staff is None and request.endpoint not in PUBLIC_ENDPOINTS:
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("console.login", next=target), 303)
    if request.method == "POST":
        csrf.protect()
    return None


@bp.after_request
def harden(response):
    # Case pages hold personal data: no caching, no framing, nothing loaded from elsewhere.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(err: CSRFError):
    return render_template("console/error.html", code=400,
                           message="页面已过期或来源不明，请返回刷新页面后重试。"), 400


@bp.errorhandler(403)
def forbidden(err):
    return render_template("console/error.html", code=403, message=getattr(err, "description", "") or
                           "您没有权限进行此操作。"), 403


@bp.errorhandler(404)
def not_found(err):
    return render_template("console/error.html", code=404, message="没有找到该页面或案件。"), 404


@bp.context_processor
def staff_context():
    staff = g.get("staff")
    return {"me": staff, "role_label": ROLES.get(staff.role, staff.role) if staff else "",
            "region_label": region_name(staff.region) if staff else "",
            "region_name": region_name}  # a case of a region below the supervisor's names it (regions in tiers)


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console: never an open redirect to another site."""
    if not target:
        return None
    if any(ch < " " or ch == "\x7f" for ch in target):
        return None  # CR/LF would split the Location header (and no console path has a control character)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "\\" in target:
        return None
    return target.rstrip("?")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if g.staff is not None:
            return redirect(url_for("console.case_list"))
        return render_template("console/login.html", next=_safe_next(request.args.get("next")))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    next_url = _safe_next(request.form.get("next"))
    throttle: LoginThrottle = current_app.extensions["bangban_login_throttle"]
    wait = throttle.retry_after(username, request.remote_addr)
    if wait:
        minutes = (wait + 59) // 60
        return render_template("console/login.html", username=username, next=next_url,
                               error=f"登录失败次数过多，请 {minutes} 分钟后再试。"), 429, {"Retry-After": str(wait)}
    with transaction(sessions()) as db:
        staff = authenticate(db, username, password)
    if staff is None:
        throttle.fail(username, request.remote_addr)
        return render_template("console/login.html", username=username, next=next_url,
                               error="用户名或密码错误。"), 401
    throttle.succeeded(username)
    session.clear()  # a fresh session (and a fresh CSRF token) for the signed-in user
    session.permanent = True
    remember(staff)
    return redirect(next_url or url_for("console.case_list"), 303)


def remember(staff: Staff) -> None:
    """Bind this session to `staff` as the account stands now (after sign-in, or after the
    person changed their own password and should stay signed in here)."""
    session["staff_id"] = staff.id
    session["gen"] = staff.session_generation


@bp.post("/logout")
def logout():
    with transaction(sessions()) as db:
        me = db.get(Staff, g.staff.id, with_for_update=True)
        if me is not None:
            end_sessions(me)
    session.clear()
    return redirect(url_for("console.login"), 303)


# -- who may see and do what --------------------------------------------------------------

# A commissioner works their own cases; a supervisor oversees the region and may leave a 督办
# note or hand a case to another commissioner, but the case work itself is the commissioner's.
ACTIONS_BY_ROLE = {
    Role.COMMISSIONER: {"accept", "item", "correction", "note", "complete", "deliver", "terminate", "resend",
                        "appointment"},  # appointment: 上门受理 / 窗口预约 (issue 17 item 1)
    Role.SUPERVISOR: {"note", "assign", "resend"},
}


def case_scope(staff: Staff):
    """The SQL condition for the cases `staff` may see."""
    if staff.role == Role.SUPERVISOR:
        return Case.region.in_(region_tiers.subtree(staff.region))  # their region and the tiers below it
    if staff.role == Role.COMMISSIONER:
        return Case.commissioner_id == staff.id
    return sa.false()


def case_or_404(db, number: str, scope, for_update: bool = False) -> Case:
    """The case with this number inside `scope`, else 404 — whether it exists elsewhere or not,
    so nobody learns about cases outside their scope. `for_update` makes two people acting on
    one case queue up instead of racing."""
    stmt = sa.select(Case).where(Case.number == case_number(number), scope)
    if for_update:
        stmt = stmt.with_for_update()
    case = db.scalar(stmt)
    if case is None:
        abort(404)
    return case


def may(staff: Staff, action: str) -> bool:
    return action in ACTIONS_BY_ROLE.get(staff.role, set())


def staff_scope(staff: Staff):
    """The SQL condition for the accounts `staff` may manage (deactivate): a supervisor, the
    commissioners of their own region and of the tiers below it, and the supervisors of those
    lower tiers; nobody else, anyone."""
    if staff.role == Role.SUPERVISOR:
        below = region_tiers.subtree(staff.region)
        return sa.or_(sa.and_(Staff.region.in_(below), Staff.role == Role.COMMISSIONER),
                      sa.and_(Staff.region.in_(below[1:]), Staff.role == Role.SUPERVISOR))
    return sa.false()
