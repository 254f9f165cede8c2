"""Console side of issue 17 (items 8, 9, 11): 提前介入 (open a case for a project before the
enterprise applies, and invite it), the contact change form of a case page, and what the case
page shows of 服务选项, 重点项目 and the invitation. The rules are bot/casework/case_details.py."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from bot.casework import case_details
from bot.casework.case_actions import Actor
from bot.casework.cases import CaseError
from bot.models import Case
from bot.platform import region_service
from bot.platform.db import transaction
from bot.vocabulary import Role

from . import bp, services, sessions, settings
from .auth import may
from .cases import _act, _form

INVITATION_STATES = {"pending": "待企业确认", "accepted": "企业已确认", "declined": "企业已谢绝"}


@bp.app_template_global()
def case_extras(case: Case) -> dict:
    """What the case page shows of issue 17: the 提前介入 invitation, if the case began as one."""
    with sessions()() as db:
        inv = case_details.invitation_of(db, case)
        if inv is None:
            return {"invitation": None}
        return {"invitation": {"state": INVITATION_STATES.get(inv.state, inv.state), "at": inv.invited_at,
                               "answered_at": inv.answered_at, "to": "微信用户" if inv.openid else inv.phone}}


def _early_form(values: dict | None = None, status: int = 200):
    kb = services().kb
    stages = [(sid, s.name) for sid, s in kb.stages.items()]
    return render_template("console/early.html", values=values or {}, stages=stages,
                           options=region_service.for_region(g.staff.region).service_options), status


@bp.get("/cases/early")
def early_case_form():
    if g.staff.role not in (Role.COMMISSIONER, Role.SUPERVISOR):
        abort(403)
    return _early_form()


@bp.post("/cases/early")
def open_early_case():
    if g.staff.role not in (Role.COMMISSIONER, Role.SUPERVISOR):
        abort(403)
    form = {k: _form(k) for k in ("company_name", "project_name", "contact_name", "openid", "phone", "credit_code",
                                  "investment_type", "stage", "service_option", "mode")}
    form["key_project"] = request.form.get("key_project") == "1"
    try:
        with transaction(sessions()) as db:
            case, inv = case_details.open_early(db, g.staff, case_details.EarlyCase(
                company_name=form["company_name"], project_name=form["project_name"],
                contact_name=form["contact_name"], openid=form["openid"] or None, phone=form["phone"] or None,
                credit_code=form["credit_code"], investment_type=form["investment_type"] or "社会投资",
                stage=form["stage"] or "1", key_project=form["key_project"],
                service_option=form["service_option"] or None, mode=form["mode"] or "帮办"),
                console_url=settings().public_url)
            number, by_openid = case.number, bool(inv.openid)
    except CaseError as err:
        flash(str(err), "error")
        return _early_form(form, 422)
    flash(f"已提前介入：{number}。" + ("邀请已推送给企业，企业回复「确认」后案件归其名下。" if by_openid else
                                     "企业下次用该联系电话对应的微信留言时会看到邀请，回复「确认」即接受。"), "success")
    return redirect(url_for("console.case_page", number=number), 303)


@bp.post("/cases/<number>/contact")
def change_contact(number: str):
    """The commissioner records a new 联系人/联系电话 the enterprise gave by phone or at the window."""
    name = _form("contact_name") or None
    phone = _form("contact_phone") or None

    def change(db, case, actor: Actor) -> None:
        if name is None and phone is None:
            raise CaseError("请填写新的联系人或联系电话")
        case_details.change_contact(db, case, name=name, phone=phone, actor_kind=actor.kind, actor_id=actor.id)

    if not may(g.staff, "note"):
        abort(403)
    return _act(number, "note", change, "联系方式已修改，变更已写入台账。")
