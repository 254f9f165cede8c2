"""Issue 17 items 2 and 10 on the web: the 委托协议 texts as public pages (/agreements/<region>/<version>,
readable without login and printable: the chat's consent step links here), the case page's
agreement (version, time, who) with its printable 委托书 for the window, and the 一企一策 plan
against progress with its per-item 计划调整 form. The rules are bot/casework/agreements.py and
bot/casework/plans.py."""
from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for

from bot.casework import agreements, cases, plans
from bot.casework.case_actions import Actor
from bot.models import Case, Staff
from bot.platform import region_service
from bot.platform.clock import today as china_today

from . import bp, region_name, services, sessions, stage_name
from .auth import case_or_404, case_scope, may
from .cases import _act, _form, _form_date

public_bp = Blueprint("agreements", __name__, url_prefix="/agreements", template_folder="templates")


@public_bp.get("/<region>")
def agreement_in_effect(region: str):
    """The text a region's enterprises agree to today."""
    text = agreements.in_effect(region)
    if text is None:
        abort(404)
    return redirect(url_for("agreements.agreement_text", region=text.region, version=text.version))


@public_bp.get("/<region>/<version>")
def agreement_text(region: str, version: str):
    text = agreements.get(region, version)
    if text is None:
        abort(404)
    current = agreements.in_effect(region if region != agreements.DEFAULT_REGION else None)
    return render_template("console/agreement_text.html", text=text,
                           superseded=current is not None and current.version != text.version
                           and current.region == text.region, current=current,
                           region=region_name(region) if region != agreements.DEFAULT_REGION else "")


@bp.app_template_global()
def case_agreement_and_plan(case: Case) -> dict:
    """What the case page shows of items 2 and 10: the agreement kept with the case, and the plan
    against progress per item and for the project."""
    today = china_today()
    with sessions()() as db:
        agreed = agreements.of_case(db, case)
        lines = plans.lines(cases.items_of(db, case), services().calendar, today)
        agreed_row = None if agreed is None else {
            "label": agreements.label(agreed), "version": agreed.version, "region": agreed.region,
            "at": agreed.agreed_at, "name": agreed.agreed_name, "phone": agreed.agreed_phone,
            "openid": agreed.agreed_openid, "sha256": agreed.sha256[:12]}
    return {"agreement": agreed_row, "plan": {p.item_id: p for p in lines}, "project": plans.project(lines),
            "plan_name": region_service.for_region(case.region).plan_name,
            "may_plan": may(g.staff, "item") and case.state in ("accepted", "in_progress")}


@bp.get("/cases/<number>/agreement")
def agreement_print(number: str):
    """The 委托书/协议 for the window, with the case's details filled in: the text as agreed."""
    with sessions()() as db:
        case = case_or_404(db, number, case_scope(g.staff))
        agreed = agreements.of_case(db, case)
        if agreed is None:
            abort(404, description="该案件没有委托协议（帮办无需委托，或企业尚未确认）。")
        commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
        items = cases.items_of(db, case)
        db.expunge_all()
    return render_template("console/agreement_print.html", case=case, agreed=agreed, items=items,
                           commissioner=commissioner, region=region_name(case.region), stage=stage_name(case.stage),
                           label=agreements.label(agreed), version_name=agreements.version_name(agreed.version))


@bp.post("/cases/<number>/items/<int:item_id>/plan")
def change_plan(number: str, item_id: int):
    """计划调整: one item's planned date, with its ledger line."""
    if not may(g.staff, "item"):
        abort(403)

    def change(db, case: Case, actor: Actor) -> None:
        plans.change(db, case, item_id, _form_date("planned", "计划日期"), actor_kind=actor.kind, actor_id=actor.id,
                     reason=_form("reason"))

    return _act(number, "item", change, "计划已调整，已写入台账。")

