"""Console pages: 我的案件 (list, filter, search), the case page, and the action forms.

Views only parse the form, check who may act and hand over to bot/casework/case_actions.py inside one transaction;
a refused change (CaseError) rolls everything back and comes back as a flash message.
"""
from __future__ import annotations

from datetime import date
from typing import Callable

import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from bot.casework import case_actions as actions
from bot.casework import cases
from bot.casework import materials as case_materials
from bot.casework import resend as resend_push
from bot.casework.case_actions import Actor
from bot.casework.cases import ITEM_TRANSITIONS, TERMINATION_REASONS, CaseError
from bot.identifiers import case_number
from bot.models import Case, CaseItem, Notification, Staff, utcnow
from bot.platform.clock import today as china_today
from bot.platform.db import transaction
from bot.push import labels as push_labels
from bot.push import reach
from bot.push.notify import DELIVERY_METHODS
from bot.vocabulary import (
    ACTOR_KINDS,
    CASE_STATES,
    ITEM_STATES,
    OPEN_STATES,
    ActorKind,
    ItemState,
    NotificationState,
    RecipientKind,
)

from ..params import MAX_ID, MAX_INT, int_arg
from . import bp, region_name, services, sessions, settings, stage_name
from .auth import case_or_404, case_scope, may

PAGE_SIZE = 30
STATE_FILTERS = {"": "全部", "open": "未结（办理中）", **CASE_STATES}


def _number_arg(values, name: str, label: str, default: int | None, *, at_most: int) -> int | None:
    """webhook.params.int_arg, whose refusal names the field as the page does (「页码超出范围」),
    not by its parameter (page)."""
    try:
        return int_arg(values, name, default, at_most=at_most)
    except BadRequest:
        abort(400, description=f"{label}超出范围，请返回后重试。")


def _visible_case(db: Session, number: str, for_update: bool = False) -> Case:
    """The case if the signed-in staff may see it; otherwise 404."""
    return case_or_404(db, number, case_scope(g.staff), for_update)


# -- pages --------------------------------------------------------------------------------

@bp.get("/")
def home():
    return redirect(url_for("console.case_list"))


@bp.get("/cases")
def case_list():
    state = request.args.get("state", "")
    state = state if state in STATE_FILTERS else ""
    query = request.args.get("q", "").strip()[:60]
    page = max(1, _number_arg(request.args, "page", "页码", 1, at_most=MAX_INT // PAGE_SIZE) or 1)
    today = china_today()
    overdue = (sa.select(sa.func.count(CaseItem.id))
               .where(CaseItem.case_id == Case.id, CaseItem.overdue_on(today))
               .correlate(Case).scalar_subquery())
    stmt = (sa.select(Case, overdue.label("overdue"), Staff.name.label("commissioner"))
            .outerjoin(Staff, Staff.id == Case.commissioner_id).where(case_scope(g.staff)))
    if state == "open":
        stmt = stmt.where(Case.state.in_(OPEN_STATES))
    elif state:
        stmt = stmt.where(Case.state == state)
    if query:
        stmt = stmt.where(sa.or_(Case.number.icontains(query, autoescape=True),
                                 Case.company_name.icontains(query, autoescape=True),
                                 Case.project_name.icontains(query, autoescape=True)))
    with sessions()() as db:
        total = db.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
        rows = db.execute(stmt.order_by(Case.created_at.desc(), Case.id.desc())
                          .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    return render_template("console/cases.html", rows=rows, total=total, page=page, pages=pages,
                           state=state, query=query, state_filters=STATE_FILTERS, case_states=CASE_STATES)


@bp.get("/cases/<number>")
def case_page(number: str):
    today = china_today()
    with sessions()() as db:
        case = _visible_case(db, number)
        items = cases.items_of(db, case)
        ledger = cases.ledger_of(db, case)
        pushes = _pushes(db, case)
        commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
        actor_ids = {e.actor_id for e in ledger if e.actor_kind in (ActorKind.COMMISSIONER, ActorKind.SUPERVISOR)}
        names = dict(db.execute(sa.select(Staff.username, Staff.name).where(Staff.username.in_(actor_ids))).all())
        candidates = actions.regional_commissioners(db, case.region) if may(g.staff, "assign") else []
        material_rows = _materials(db, case)
    rows = [{
        "item": item,
        "overdue_days": (today - item.due_date).days if item.overdue_on(today) else 0,
        "next_states": [(s, ITEM_STATES[s]) for s in ITEM_STATES
                        if s in ITEM_TRANSITIONS[item.state] and s != ItemState.CORRECTION],
        "can_correct": ItemState.CORRECTION in ITEM_TRANSITIONS[item.state],
    } for item in items]
    return render_template(
        "console/case.html", case=case, rows=rows, ledger=ledger, pushes=pushes,
        commissioner=commissioner, names=names, candidates=candidates, today=today,
        region=region_name(case.region), stage=stage_name(case.stage), case_states=CASE_STATES, item_states=ITEM_STATES,
        actor_kinds=ACTOR_KINDS,
        open_states=OPEN_STATES, reasons=TERMINATION_REASONS, delivery_methods=DELIVERY_METHODS,
        may=lambda action: may(g.staff, action), materials=material_rows,
    )


def _materials(db: Session, case: Case) -> list[dict]:
    """Photos and files the enterprise sent in the chat (bot/casework/materials.py): who, when, what."""
    items = {i.id: i.name for i in cases.items_of(db, case)}
    return [{"m": m, "kind": case_materials.KIND_NAMES.get(m.kind, m.kind),
             "state": case_materials.STATE_NAMES.get(m.state, m.state),
             "sender": (f"企业（{case.contact_name}）" if m.sender_openid == case.applicant_openid else "企业"),
             "item": items.get(m.case_item_id), "size_kb": (m.size + 1023) // 1024 if m.size else None}
            for m in case_materials.of_case(db, case)]


@bp.get("/cases/<number>/materials/<int:material_id>")
def material_file(number: str, material_id: int):
    """One stored material, for the staff who may see its case (the same 404 as the case otherwise)."""
    from bot.casework.materials_store import store_for
    from bot.models import CaseMaterial

    with sessions()() as db:
        case = _visible_case(db, number)
        m = db.get(CaseMaterial, material_id)
        if m is None or m.case_id != case.id or m.state != case_materials.STORED or not m.storage_key:
            abort(404)
        key, content_type, name = m.storage_key, m.content_type, f"{case.number}-{m.storage_key.rsplit('/', 1)[-1]}"
    try:
        data = store_for(settings()).get(key)
    except FileNotFoundError:
        abort(404)
    return Response(data, mimetype=content_type or "application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


def _pushes(db: Session, case: Case) -> list[dict]:
    """The case's pushes as staff read them: names, and for a failed or stuck one why and what to do."""
    official_account = bool(settings().wechat_appid and settings().wechat_secret)
    wecom = settings().wecom_configured
    now = utcnow()
    rows = []
    for n in db.scalars(sa.select(Notification).where(Notification.case_id == case.id).order_by(Notification.id)):
        failure = (push_labels.explain_failure(n.last_error, n.recipient_kind, n.template, n.attempts)
                   if n.state == NotificationState.DEAD else None)
        waiting = (push_labels.explain_waiting(attempts=n.attempts, last_error=n.last_error,
                                               next_attempt_at=n.next_attempt_at, now=now,
                                               configured=official_account or wecom and bool(n.recipient_wecom_userid))
                   if n.state == NotificationState.PENDING else None)
        rows.append({"n": n, "name": push_labels.purpose_name(n.purpose),
                     "to": push_labels.recipient_name(n.recipient_kind),
                     "state": push_labels.STATE_NAMES.get(n.state, n.state),
                     "channel": push_labels.CHANNEL_NAMES.get(n.channel or ""),
                     "failure": failure, "waiting": waiting})
    return rows


# -- actions ------------------------------------------------------------------------------

def _act(number: str, action: str, change: Callable[[Session, Case, Actor], None], done: str | Callable[[], str],
         told: str = "", audience: RecipientKind = RecipientKind.ENTERPRISE):
    """One action = one transaction; a refusal changes nothing and is shown as a flash message.
    `told` ends the message when the action's push to `audience` can reach them (「已通知企业。」)."""
    try:
        with transaction(sessions()) as db:
            case = _visible_case(db, number, for_update=True)
            cases.ensure_editable(case)  # 立卷归档: an archived case is read-only (issue 17 item 5)
            if not may(g.staff, action):
                abort(403, description="此操作由承办专员进行；主管可分派案件或添加督办记录。")
            change(db, case, Actor.person(g.staff))
            notice = reach.notice(db, case, settings(), told, audience) if told else ""
    except CaseError as err:
        flash(str(err), "error")
    else:
        done = done() if callable(done) else done  # a callable says what the change found out
        flash(done.format(notice=notice) if "{notice}" in done else done + notice, "success")
    return redirect(url_for("console.case_page", number=case_number(number)), 303)


def _form(name: str) -> str:
    return request.form.get(name, "").strip()


def _form_date(name: str, what: str) -> date | None:
    raw = _form(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CaseError(f"{what}格式不正确，请按 年-月-日 填写") from None


@bp.post("/cases/<number>/accept")
def accept(number: str):
    return _act(number, "accept", lambda db, case, actor: actions.accept(
        db, case, actor, services().calendar, services().kb.items), "已受理。",
        told="已通知企业。")


@bp.post("/cases/<number>/items/<int:item_id>/state")
def move_item(number: str, item_id: int):
    to = _form("to")
    return _act(number, "item", lambda db, case, actor: actions.move_item(
        db, case, item_id, to, actor, console_url=settings().public_url),
        f"事项已更新为「{ITEM_STATES.get(to, to)}」。", told="已通知企业。")


@bp.post("/cases/<number>/items/<int:item_id>/correction")
def request_correction(number: str, item_id: int):
    return _act(number, "correction", lambda db, case, actor: actions.request_correction(
        db, case, item_id, _form("missing"), _form_date("due", "补正期限"), actor),
        "已请求补正。", told="企业将收到需补正的材料和期限。")


@bp.post("/cases/<number>/notes")
def add_note(number: str):
    return _act(number, "note", lambda db, case, actor: actions.add_note(db, case, _form("text"), actor),
                "服务记录已写入台账。")


@bp.post("/cases/<number>/complete")
def complete(number: str):
    closed: list[bool] = []  # False: the region asks the enterprise to confirm first (bot/casework/completion.py)
    return _act(number, "complete", lambda db, case, actor: closed.append(actions.complete(db, case, actor)),
                lambda: "案件已办结。{notice}请安排统一送达。" if all(closed) else
                "已请企业确认办结（待企业确认办结）。{notice}企业确认或逾期未答复后案件办结；企业有异议时会通知您。",
                told="已通知企业。")


@bp.post("/cases/<number>/deliver")
def deliver(number: str):
    return _act(number, "deliver", lambda db, case, actor: actions.deliver(
        db, case, _form("method"), actor, tracking_number=_form("tracking_number"), note=_form("note")),
        "已记录送达。", told="企业将收到送达通知和评价邀请。")


@bp.post("/cases/<number>/terminate")
def terminate(number: str):
    return _act(number, "terminate", lambda db, case, actor: actions.terminate(
        db, case, _form("reason"), actor, other=_form("other")),
        "案件已终止。", told="企业将收到终止原因和评价邀请。")


@bp.post("/cases/<number>/assign")
def assign(number: str):
    commissioner_id = _number_arg(request.form, "commissioner_id", "所选专员", None, at_most=MAX_ID)

    def change(db: Session, case: Case, actor: Actor) -> None:
        if commissioner_id is None:
            raise CaseError("请选择要分派的专员")
        actions.assign(db, case, commissioner_id, actor, console_url=settings().public_url)

    return _act(number, "assign", change, "已分派。", told="专员会收到提醒。", audience=RecipientKind.STAFF)


@bp.post("/cases/<number>/pushes/<int:notification_id>/resend")
def resend(number: str, notification_id: int):
    """重新发送 a failed push: back in the outbox, with a ledger line saying who and when."""
    said: list[str] = []

    def change(db: Session, case: Case, actor: Actor) -> None:
        n = resend_push.resend(db, case, notification_id, actor)
        said.append(f"「{push_labels.purpose_name(n.purpose)}」已重新排入发送队列，稍后刷新本页可看到结果。")
        said.append(reach.notice(db, case, settings(), "", n.recipient_kind, rows=[n]))

    return _act(number, "resend", change, lambda: "".join(said))
