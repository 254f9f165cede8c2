"""Console side of issue 17 items 3 and 4: a case whose 办结 waits for the enterprise's
confirmation (县级市; bot/casework/completion.py) and the record of materials handed back on 办结
or 终止 (bot/casework/handbacks.py): what the case page shows and the hand-back form."""
from __future__ import annotations

from datetime import date

from flask import abort, g, request

from bot.casework import completion, handbacks
from bot.casework.case_actions import Actor
from bot.casework.cases import CaseError
from bot.models import Case
from bot.vocabulary import COMPLETION_STATES, HANDBACK_METHODS, OPEN_STATES

from . import bp, services, sessions
from .auth import may
from .cases import _act, _form


def item_materials() -> dict[str, tuple[str, ...]]:
    """Each catalogue item's materials as the 一次性告知 lists them (knowledge/data/items.yaml)."""
    kb = services().kb
    return {code: tuple(item.materials or ()) for code, item in (getattr(kb, "items", None) or {}).items()}


@bp.app_template_global()
def completion_extras(case: Case) -> dict:
    """The case page's 办结确认 line and 材料交还 card."""
    with sessions()() as db:
        waiting = completion.pending(db, case) if case.state in OPEN_STATES else None
        answers = [{"state": COMPLETION_STATES.get(r.state, r.state), "requested_at": r.requested_at,
                    "deadline": r.deadline, "answered_at": r.answered_at, "objection": r.objection}
                   for r in completion.history(db, case)]
        returned = handbacks.of_case(db, case)
        checklist = handbacks.checklist(db, case, item_materials()) \
            if case.state in handbacks.RETURNABLE_STATES else []
        return {"waiting": waiting, "label": completion.WAITING, "answers": answers, "handbacks": returned,
                "checklist": checklist, "methods": HANDBACK_METHODS,
                "may_return": case.state in handbacks.RETURNABLE_STATES, "required": completion.required(case)}


@bp.post("/cases/<number>/handback")
def record_handback(number: str):
    """The commissioner records the materials handed back (checklist, 当面/邮寄, date, 签收人)."""
    if not may(g.staff, "complete"):
        abort(403)
    ticked = [v.strip() for v in request.form.getlist("material") if v.strip()]
    raw_day = _form("returned_on")

    def change(db, case, actor: Actor) -> None:
        try:
            day = date.fromisoformat(raw_day) if raw_day else None
        except ValueError:
            raise CaseError("交还日期格式应为 YYYY-MM-DD") from None
        handbacks.record(db, case, returned=ticked, allowed=handbacks.checklist(db, case, item_materials()),
                         method=_form("method"), returned_on=day, signed_by=_form("signed_by"),
                         actor_kind=actor.kind, actor_id=actor.id, staff=actor.staff, other=_form("other"),
                         tracking_number=_form("tracking_number"), note=_form("note"))

    return _act(number, "complete", change, "材料交还已登记，写入台账。{notice}企业可在微信中回复「已收到材料」确认。",
                told="已通知企业。")


@bp.app_template_global()
def completion_waiting_among(rows) -> set[int]:
    """Of a case list's rows ((case, …) each), the ids of the cases waiting for 企业确认办结."""
    ids = [row[0].id for row in rows if row[0].state in OPEN_STATES]
    with sessions()() as db:
        return completion.waiting_case_ids(db, ids)
