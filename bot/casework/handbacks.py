"""Materials handed back (issue 17 item 4; seed 003 五、4. 「终止及办结的代办项目，代办服务机构应
及时归档，并将涉及项目的有关资料及时交还投资者」, seed 004 「做好帮办项目档案整理、保管、保密和移交
工作」).

On 办结 or 终止 the commissioner records what was returned: a checklist of the case's materials —
the materials of its approval items as the 一次性告知 lists them (the caller reads the knowledge
base and passes them in: bot/ does not read knowledge/) and every material received in the chat
(bot/casework/materials.py) — how (当面/邮寄), when, and who signed for it. The enterprise is told
(push) and confirms receipt in the chat (「已收到材料」). Ledger: 「交还材料」, 「企业确认收到材料」.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import cases
from bot.casework import materials as chat_materials
from bot.casework.cases import CaseError
from bot.models import Case, MaterialHandback, Staff, utcnow
from bot.platform import clock
from bot.platform.text_safety import xml_safe
from bot.push import notify
from bot.vocabulary import CASE_STATES, HANDBACK_METHODS, ActorKind, CaseState

# The states a case is in after its 办结 or 终止 and before 立卷归档 (an archived case is read-only).
RETURNABLE_STATES = (CaseState.COMPLETED, CaseState.DELIVERED, CaseState.RATED, CaseState.TERMINATED)
MAX_MATERIALS = 60
MAX_OTHER = 200


def occasion_of(case: Case) -> str:
    return "终止" if case.state == CaseState.TERMINATED or case.termination_reason else "办结"


def checklist(session: Session, case: Case, item_materials: Mapping[str, Sequence[str]]) -> list[str]:
    """What the case holds that can be handed back, each name once: the item materials of its
    一次性告知 (`item_materials`: item code → the catalogue's materials) and what came in the chat."""
    names: list[str] = []
    for item in cases.items_of(session, case):
        for m in item_materials.get(item.item_code, ()) or ():
            if m not in names:
                names.append(str(m))
    for m in chat_materials.of_case(session, case):
        if m.state == chat_materials.FAILED_STATE:
            continue
        label = f"微信发来的{chat_materials.KIND_NAMES.get(m.kind, '材料')}" \
            + (f"《{m.file_name}》" if m.file_name else "") + f"（材料 M{m.id}）"
        names.append(label)
    return names


def of_case(session: Session, case: Case) -> list[MaterialHandback]:
    return list(session.scalars(sa.select(MaterialHandback).where(MaterialHandback.case_id == case.id)
                                .order_by(MaterialHandback.id)))


def _clean(text: str | None, what: str, limit: int, required: bool = True) -> str:
    value = " ".join(xml_safe(text or "").split())
    if required and not value:
        raise CaseError(f"请填写{what}")
    if len(value) > limit:
        raise CaseError(f"{what}最多 {limit} 个字")
    return value


def record(session: Session, case: Case, *, returned: Sequence[str], allowed: Sequence[str], method: str,
           returned_on: date | None, signed_by: str, actor_kind: str, actor_id: str, staff: Staff | None = None,
           other: str = "", tracking_number: str = "", note: str = "", today: date | None = None) -> MaterialHandback:
    """The commissioner's record of a hand-back. `returned`: ticked names of the checklist
    (`allowed`); `other`: anything else returned, in words."""
    if case.state not in RETURNABLE_STATES:
        if case.state == CaseState.ARCHIVED:
            raise CaseError("案件已立卷归档，不能再变更")
        raise CaseError(f"案件当前为「{CASE_STATES[case.state]}」，办结或终止后才能登记材料交还")
    unknown = [r for r in returned if r not in allowed]
    if unknown:
        raise CaseError(f"材料清单中没有「{unknown[0][:30]}」，请从清单中勾选")
    other = _clean(other, "其他交还材料", MAX_OTHER, required=False)
    chosen = list(dict.fromkeys(returned)) + ([other] if other else [])
    if not chosen:
        raise CaseError("请勾选交还的材料（或填写其他交还材料）")
    if len(chosen) > MAX_MATERIALS:
        raise CaseError(f"一次最多登记 {MAX_MATERIALS} 项材料")
    if method not in HANDBACK_METHODS:
        raise CaseError(f"交还方式只能是{'、'.join(HANDBACK_METHODS)}")
    tracking_number = _clean(tracking_number, "快递单号", 40, required=method == "邮寄")
    if returned_on is None:
        raise CaseError("请填写交还日期")
    if returned_on > (today or clock.today()):
        raise CaseError("交还日期不能晚于今天")
    signed_by = _clean(signed_by, "签收人", 32)
    note = _clean(note, "说明", 200, required=False)
    occasion = occasion_of(case)
    row = MaterialHandback(case_id=case.id, occasion=occasion, materials=chosen, method=method,
                           returned_on=returned_on, signed_by=signed_by,
                           tracking_number=tracking_number if method == "邮寄" else None, note=note or None,
                           recorded_by=staff.id if staff else None, recorded_at=utcnow())
    session.add(row)
    session.flush()
    how = f"邮寄（快递单号 {tracking_number}）" if method == "邮寄" else method
    cases.log(session, case, "handback:recorded",
              f"{occasion}交还材料（{how}，{returned_on:%Y-%m-%d}，签收人 {signed_by}）：{'、'.join(chosen)}"
              + (f"；{note}" if note else ""), actor_kind=actor_kind, actor_id=actor_id)
    notify.materials_returned(session, case, row.id, occasion, chosen, method, returned_on, signed_by,
                              tracking_number or None)
    return row


@dataclass(frozen=True)
class Confirmed:
    case: Case
    handback: MaterialHandback


def unconfirmed_for(session: Session, openid: str) -> list[tuple[MaterialHandback, Case]]:
    """The hand-backs to `openid`'s cases not confirmed yet, newest first."""
    return [(h, c) for h, c in session.execute(
        sa.select(MaterialHandback, Case).join(Case, Case.id == MaterialHandback.case_id)
        .where(Case.applicant_openid == openid, MaterialHandback.confirmed_at.is_(None))
        .order_by(MaterialHandback.id.desc()))]


def confirm(session: Session, handback_id: int, openid: str) -> Confirmed:
    """「已收到材料」 from the enterprise; a second confirmation changes nothing."""
    row = session.scalar(sa.select(MaterialHandback).where(MaterialHandback.id == handback_id).with_for_update())
    case = session.get(Case, row.case_id) if row is not None else None
    if row is None or case is None or case.applicant_openid != openid:
        raise CaseError("没有找到交还给您的材料")
    if row.confirmed_at is not None:
        raise CaseError(f"案件{case.number}的交还材料已确认收到")
    row.confirmed_at, row.confirmed_openid = utcnow(), openid
    cases.log(session, case, "handback:confirmed", f"企业在微信中确认已收到交还的材料：{'、'.join(row.materials)}",
              actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    return Confirmed(case, row)
