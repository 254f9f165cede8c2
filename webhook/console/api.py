"""JSON API for the 工程建设项目审批管理系统: read cases, report an item's state.

Auth: `Authorization: Bearer <token>` (minted with bot.people.staff.mint_token). A token acts for one
staff member under the console's own rules (auth.case_scope, auth.may): a commissioner's token
sees and moves that commissioner's cases, a supervisor's sees the region's and moves no item;
anything outside its scope is 404. Its scopes narrow it further: "read" lists and reads cases,
"write" also reports item progress. There is no cookie auth here, so browsers cannot be tricked
into calling it (no CSRF surface).

Item updates go through the same actions as the console, so the same rules and pushes apply; the
ledger records them as the approval system acting for the token's staff member.
"""
from __future__ import annotations

from datetime import date
from functools import wraps

import sqlalchemy as sa
from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy.orm import Session

from bot.casework import case_actions as actions
from bot.casework import cases
from bot.casework.case_actions import Actor
from bot.casework.cases import CaseError
from bot.models import Case, CaseItem, Staff
from bot.people.staff import verify_token
from bot.platform.clock import today as china_today
from bot.platform.db import transaction
from bot.vocabulary import CASE_STATES, ITEM_STATES, OPEN_STATES, ItemState

from ..params import int_arg, json_body
from . import china_time, services, sessions, settings
from .auth import case_or_404, case_scope, may

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_LIMIT = 100


def _error(status: int, code: str, message: str, **extra):
    response = jsonify(error=code, message=message, **extra)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bangban"'
    elif code == "insufficient_scope":  # RFC 6750: the token is good, its scope is not enough
        response.headers["WWW-Authenticate"] = f'Bearer realm="bangban", error="insufficient_scope", scope="{extra["needed"]}"'
    return response


@bp.before_request
def require_token():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "unauthorized", "缺少访问令牌（Authorization: Bearer …）")
    with transaction(sessions()) as db:
        grant = verify_token(db, token.strip())
    if grant is None:
        return _error(401, "unauthorized", "访问令牌无效或已撤销")
    g.api_staff, g.api_scopes = grant.staff, grant.scopes
    return None


def requires(scope: str):
    """The route needs this scope of the token (checked before anything is looked up)."""
    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if scope not in g.api_scopes:
                return _error(403, "insufficient_scope", f"该令牌没有 {scope} 权限", needed=scope)
            return view(*args, **kwargs)
        return checked
    return decorate


@bp.errorhandler(400)
def bad_request(err):
    return _error(400, "bad_request", getattr(err, "description", "") or "请求参数不正确")


@bp.errorhandler(404)
def not_found(err):
    return _error(404, "not_found", "没有找到该案件或事项")


@bp.errorhandler(403)
def forbidden(err):
    return _error(403, "forbidden", getattr(err, "description", "") or "该令牌所属人员无权进行此操作")


@bp.errorhandler(405)
def not_allowed(err):
    return _error(405, "method_not_allowed", "不支持该请求方法")


def _visible_case(db: Session, number: str, for_update: bool = False) -> Case:
    """A case the token's staff member may see in the console, else 404."""
    return case_or_404(db, number, case_scope(g.api_staff), for_update)


def _iso(value) -> str | None:
    return china_time(value, "%Y-%m-%dT%H:%M:%S+08:00") if value else None


def item_json(item: CaseItem, today: date) -> dict:
    return {
        "id": item.id, "code": item.item_code, "name": item.name, "department": item.department,
        "state": item.state, "state_label": ITEM_STATES[item.state],
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "overdue": item.overdue_on(today),
        "updated_at": _iso(item.updated_at),
    }


def case_json(case: Case, commissioner: Staff | None) -> dict:
    # The enterprise's openid and phone stay here: the approval system has no use for them.
    return {
        "number": case.number, "mode": case.mode, "state": case.state, "state_label": CASE_STATES[case.state],
        "company_name": case.company_name, "credit_code": case.credit_code, "project_name": case.project_name,
        "project_code": case.project_code, "region": case.region, "stage": case.stage,
        "investment_type": case.investment_type, "key_project": case.key_project,
        "service_option": case.service_option,  # 服务选项 where the region offers them (issue 17)
        "commissioner": commissioner.name if commissioner else None,
        "created_at": _iso(case.created_at), "accepted_at": _iso(case.accepted_at),
        "closed_at": _iso(case.closed_at), "termination_reason": case.termination_reason,
    }


def _case_detail(db: Session, case: Case) -> dict:
    from bot.casework import agreements, plans  # issue 17 items 2 and 10

    commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
    today = china_today()
    items = cases.items_of(db, case)
    plan = {p.item_id: p for p in plans.lines(items, services().calendar, today)}
    agreed = agreements.of_case(db, case)
    return {**case_json(case, commissioner),
            "items": [{**item_json(i, today), "planned_date": i.planned_date.isoformat() if i.planned_date else None,
                       "late_workdays": plan[i.id].late_workdays} for i in items],
            # the 委托协议 version agreed, and when (who stays in the console: the approval system has no use for it)
            "agreement": {"region": agreed.region, "version": agreed.version, "title": agreed.title,
                          "agreed_at": _iso(agreed.agreed_at)} if agreed else None,
            **_completion_and_handbacks(db, case), **_archive(db, case), **_visits_and_escalations(db, case)}


def _visits_and_escalations(db: Session, case: Case) -> dict:
    """Issue 17 items 1 and 7: 上门受理 / 窗口预约 and the tiers a problem of the case went up."""
    from bot.casework import appointments
    from bot.models import Escalation

    rows = db.scalars(sa.select(Escalation).where(Escalation.case_id == case.id).order_by(Escalation.id))
    return {"appointments": [{"kind": a.kind, "kind_name": appointments.kind_name(a.kind), "starts_at": _iso(a.starts_at),
                              "place": a.place, "bring": a.bring, "state": a.state,
                              "state_name": appointments.state_name(a.state), "enterprise_note": a.enterprise_note,
                              "outcome": a.outcome} for a in appointments.of_case(db, case)],
            "escalations": [{"id": e.id, "level": e.level, "note": e.note, "state": e.state, "raised_at": _iso(e.raised_at),
                             "due_date": e.due_date.isoformat() if e.due_date else None, "resolution": e.resolution,
                             "resolved_at": _iso(e.resolved_at)} for e in rows]}


def _archive(db: Session, case: Case) -> dict:
    """Issue 17 item 5: the 立卷归档 record, once made (the case is read-only from then on)."""
    from bot.casework import archiving

    row = archiving.of_case(db, case)
    return {"archive": {"number": row.number, "archived_at": _iso(row.archived_at), "rating_absent": row.rating_absent,
                        "no_return_needed": row.no_return_needed,
                        "missing": [c["title"] for c in row.checklist if not c.get("ok")]} if row else None}


def _completion_and_handbacks(db: Session, case: Case) -> dict:
    """Issue 17 items 3 and 4: a 办结 waiting for the enterprise (待企业确认办结), the materials handed back."""
    from bot.casework import completion, handbacks

    waiting = completion.pending(db, case) if case.state in OPEN_STATES else None
    return {"completion_waiting": {"label": completion.WAITING, "requested_at": _iso(waiting.requested_at),
                                   "deadline": waiting.deadline.isoformat()} if waiting else None,
            "handbacks": [{"occasion": h.occasion, "materials": list(h.materials), "method": h.method,
                           "tracking_number": h.tracking_number, "returned_on": h.returned_on.isoformat(),
                           "signed_by": h.signed_by, "confirmed_at": _iso(h.confirmed_at)}
                          for h in handbacks.of_case(db, case)]}


@bp.get("/cases")
@requires("read")
def list_cases():
    state = request.args.get("state", "")
    if state and state != "open" and state not in CASE_STATES:
        return _error(400, "bad_request", "state 取值不正确", allowed=["open", *CASE_STATES])
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), MAX_LIMIT)
    offset = max(int_arg(request.args, "offset", 0) or 0, 0)
    stmt = sa.select(Case).where(case_scope(g.api_staff))
    if state == "open":
        stmt = stmt.where(Case.state.in_(OPEN_STATES))
    elif state:
        stmt = stmt.where(Case.state == state)
    with sessions()() as db:
        total = db.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
        page = list(db.scalars(stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit).offset(offset)))
        names = dict(db.execute(sa.select(Staff.id, Staff.name).where(
            Staff.id.in_({c.commissioner_id for c in page if c.commissioner_id}))).all())
    return jsonify(total=total, limit=limit, offset=offset, cases=[
        {**case_json(c, None), "commissioner": names.get(c.commissioner_id)} for c in page])


@bp.get("/cases/<number>")
@requires("read")
def get_case(number: str):
    with sessions()() as db:
        return jsonify(_case_detail(db, _visible_case(db, number)))


@bp.post("/cases/<number>/items/<int:item_id>/status")
@requires("write")
def update_item(number: str, item_id: int):
    """Body: {"state": "accepted"}; for 需补正 also "missing" (what) and "due" (YYYY-MM-DD).
    Repeating an update the item already has answers 200 with "changed": false (safe retries)."""
    body = json_body()
    if not isinstance(body, dict):
        return _error(400, "bad_request", "请求体须为 JSON 对象")
    to = body.get("state")
    if to not in ITEM_STATES:
        return _error(400, "bad_request", "state 取值不正确", allowed=list(ITEM_STATES))
    due = None
    if to == ItemState.CORRECTION:
        try:
            due = date.fromisoformat(str(body.get("due", "")))
        except ValueError:
            return _error(400, "bad_request", "需补正须提供 due（YYYY-MM-DD）和 missing")
    actor = Actor.approval_system(g.api_staff)
    try:
        with transaction(sessions()) as db:
            case = _visible_case(db, number, for_update=True)
            if not may(g.api_staff, "correction" if to == ItemState.CORRECTION else "item"):
                abort(403, description="事项进度由承办专员更新；主管的令牌只能读取案件。")
            item = db.get(CaseItem, item_id)
            if item is None or item.case_id != case.id:
                abort(404)
            changed = item.state != to
            if changed and to == ItemState.CORRECTION:
                actions.request_correction(db, case, item_id, str(body.get("missing", "")), due, actor,
                                           console_url=settings().public_url)
            elif changed:
                actions.move_item(db, case, item_id, to, actor, console_url=settings().public_url)
            db.flush()
            detail = _case_detail(db, case)
    except CaseError as err:
        return _error(409, "refused", str(err))
    return jsonify(changed=changed, case=detail)
