"""What people do to a case, each as one unit: the change, its ledger line, the push it causes.

Staff act in the console, the JSON API and WeChat (「受理 BD-…」); the enterprise urges (催办) from
the chat. Every caller follows the same rules and sends the same pushes (bot/push/notify.py). The
caller opens the transaction (and decides who may act); a CaseError raised here rolls all of it
back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.casework import appointments, cases, completion, plans
from bot.casework.cases import TERMINATION_REASONS, CaseError
from bot.models import Case, CaseItem, LedgerEntry, Notification, Staff
from bot.people import region_staff
from bot.platform import clock
from bot.platform.config import Settings
from bot.platform.text_safety import xml_safe
from bot.push import notify
from bot.vocabulary import CASE_STATES, OPEN_STATES, ActorKind, CaseState, ItemState, Role

MAX_TEXT = 500


@dataclass(frozen=True)
class Actor:
    """Who does it, as the ledger records it: a person in the console, or the approval system."""

    staff: Staff
    kind: ActorKind  # commissioner | supervisor | system
    id: str

    @classmethod
    def person(cls, staff: Staff) -> "Actor":
        return cls(staff, ActorKind(staff.role), staff.username)

    @classmethod
    def approval_system(cls, staff: Staff) -> "Actor":
        return cls(staff, ActorKind.SYSTEM, f"api:{staff.username}")


def _clean(text: str | None, what: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = xml_safe(text or "").strip()  # a NUL or \x01 would fail PostgreSQL, then every export
    if required and not value:
        raise CaseError(f"请填写{what}")
    if len(value) > limit:
        raise CaseError(f"{what}最多 {limit} 个字")
    return value


def _commissioner_of(session: Session, case: Case) -> Staff | None:
    return session.get(Staff, case.commissioner_id) if case.commissioner_id else None


def _ensure_items_can_move(case: Case) -> None:
    if case.state == CaseState.APPLIED:
        raise CaseError("请先受理案件，再更新事项进度")
    if case.state not in OPEN_STATES:
        raise CaseError(f"案件{CASE_STATES[case.state]}，事项不能再变更")


def _start_if_needed(session: Session, case: Case, actor: Actor) -> None:
    """The first item that moves starts 承办: 已受理 → 办理中."""
    if case.state == CaseState.ACCEPTED:
        cases.transition(session, case, CaseState.IN_PROGRESS, actor_kind=actor.kind, actor_id=actor.id,
                         detail="开始承办：事项进入申报办理")


def _item_of(session: Session, case: Case, item_id: int) -> CaseItem:
    item = session.get(CaseItem, item_id)
    if item is None or item.case_id != case.id:
        raise CaseError("该案件没有这个事项")
    return item


# -- actions ------------------------------------------------------------------------------

def accept(session: Session, case: Case, actor: Actor, calendar=None, catalogue=None, today: date | None = None) -> None:
    """受理. The enterprise learns who its one-to-one commissioner is. The 一企一策 plan is proposed
    from today (bot/casework/plans.py; `catalogue` is the knowledge base's items, for stages and
    prerequisites; `calendar` the working days)."""
    commissioner = _commissioner_of(session, case)
    if commissioner is None:
        raise CaseError("案件尚未分派专员，请主管先分派")
    if case.mode == "代办" and case.agreement_consented_at is None:
        raise CaseError("代办需企业先确认委托协议，才能受理")
    if not case.applicant_openid:
        raise CaseError("提前介入的案件须企业在微信中确认邀请后才能受理")
    cases.transition(session, case, CaseState.ACCEPTED, actor_kind=actor.kind, actor_id=actor.id,
                     detail=f"受理{case.mode}申请，专员 {commissioner.name} 一对一服务")
    plans.propose(session, case, calendar=calendar, catalogue=catalogue, start=today, actor_kind=actor.kind,
                  actor_id=actor.id)
    notify.accepted(session, case, commissioner)


def move_item(session: Session, case: Case, item_id: int, to: str, actor: Actor,
              console_url: str = "") -> CaseItem:
    """An item's progress (已申报, 已受理, 审批中, 已办结). 需补正 goes through request_correction,
    which says what is missing and by when."""
    if to == ItemState.CORRECTION:
        raise CaseError("转为「需补正」请使用“请求补正”，并写明需补正的材料和期限")
    _ensure_items_can_move(case)
    item = _item_of(session, case, item_id)
    before = item.state
    _start_if_needed(session, case, actor)
    cases.move_item(session, case, item, to, actor_kind=actor.kind, actor_id=actor.id)
    event_id = _ledger_event_id(session, case, item)
    notify.item_progress(session, case, item, before, event_id)
    if actor.kind == ActorKind.SYSTEM:
        commissioner = _commissioner_of(session, case)
        if commissioner is not None:
            notify.item_reported(session, case, item, commissioner, before, event_id, console_url)
    return item


def request_correction(session: Session, case: Case, item_id: int, missing: str, due: date | None,
                       actor: Actor, today: date | None = None, console_url: str = "") -> CaseItem:
    """补正: the item goes to 需补正 and the enterprise gets exactly what is missing and by when."""
    missing = _clean(missing, "需补正的材料", limit=200)
    if due is None:
        raise CaseError("请填写补正期限")
    if due < (today or clock.today()):
        raise CaseError("补正期限不能早于今天")
    _ensure_items_can_move(case)
    item = _item_of(session, case, item_id)
    before = item.state
    _start_if_needed(session, case, actor)
    cases.move_item(session, case, item, ItemState.CORRECTION, actor_kind=actor.kind, actor_id=actor.id,
                    detail=f"{item.name}：请求补正——{missing}（期限 {due:%Y-%m-%d}）")
    event_id = _ledger_event_id(session, case, item)
    notify.correction_requested(session, case, item, missing, due, _commissioner_of(session, case), event_id)
    if actor.kind == ActorKind.SYSTEM:
        commissioner = _commissioner_of(session, case)
        if commissioner is not None:
            notify.item_reported(session, case, item, commissioner, before, event_id, console_url)
    return item


def add_note(session: Session, case: Case, text: str, actor: Actor) -> None:
    """服务记录: anything done for the enterprise (a call, a visit, a coordination meeting)."""
    cases.log(session, case, "note", _clean(text, "服务记录内容"), actor_kind=actor.kind, actor_id=actor.id)


def complete(session: Session, case: Case, actor: Actor) -> bool:
    """办结: only when every item is done. Where the region asks the enterprise to confirm it
    (县级市, bot/casework/completion.py), the enterprise is asked instead and the case waits
    (「待企业确认办结」): False then, True when the case is 办结 now."""
    if case.state in OPEN_STATES:
        unfinished = [i.name for i in cases.items_of(session, case) if i.state != ItemState.DONE]
        if unfinished:
            raise CaseError(f"还有 {len(unfinished)} 个事项未办结（{'、'.join(unfinished[:5])}"
                            f"{'等' if len(unfinished) > 5 else ''}），不能办结案件")
        if completion.required(case):
            completion.request(session, case, actor_kind=actor.kind, actor_id=actor.id, staff=actor.staff)
            return False
    cases.transition(session, case, CaseState.COMPLETED, actor_kind=actor.kind, actor_id=actor.id,
                     detail="全部事项已办结")
    notify.completed(session, case)
    return True


def deliver(session: Session, case: Case, method: str, actor: Actor, tracking_number: str = "",
            note: str = "") -> None:
    """统一送达 (上门 / 邮寄 with tracking number / 电子证照), then the rating invitation."""
    if method not in notify.DELIVERY_METHODS:
        raise CaseError(f"送达方式只能是{'、'.join(notify.DELIVERY_METHODS)}")
    tracking_number = _clean(tracking_number, "快递单号", required=method == "邮寄", limit=40)
    note = _clean(note, "说明", required=False, limit=200)
    detail = f"送达方式：{method}" + (f"，快递单号 {tracking_number}" if method == "邮寄" else "") \
        + (f"；{note}" if note else "")
    cases.transition(session, case, CaseState.DELIVERED, actor_kind=actor.kind, actor_id=actor.id, detail=detail)
    notify.delivered(session, case, method, tracking_number if method == "邮寄" else None, note)
    notify.rating_invitation(session, case)


def terminate(session: Session, case: Case, reason: str, actor: Actor, other: str = "") -> None:
    """终止 with one of the documented reasons (seed 003/004); 其他 needs the words."""
    if reason not in TERMINATION_REASONS:
        raise CaseError(f"请选择终止原因：{'、'.join(TERMINATION_REASONS)}")
    other = _clean(other, "具体原因", required=reason == "其他", limit=150)
    full = f"{reason}：{other}" if other else reason
    cases.transition(session, case, CaseState.TERMINATED, actor_kind=actor.kind, actor_id=actor.id, reason=full)
    completion.withdraw(session, case)  # a 办结 the enterprise was asked to confirm is moot now
    appointments.withdraw(session, case, actor.kind, actor.id)  # so is a 上门受理 / 窗口预约 still ahead
    notify.terminated(session, case, full)
    notify.rating_invitation(session, case)


def assign(session: Session, case: Case, commissioner_id: int, actor: Actor, console_url: str = "") -> Staff:
    """A supervisor hands an open case to a commissioner of the same region (属地)."""
    if case.state not in OPEN_STATES:
        raise CaseError("已结束的案件不能再分派")
    commissioner = session.get(Staff, commissioner_id)
    if (commissioner is None or commissioner.role != Role.COMMISSIONER or not commissioner.active
            or commissioner.region not in region_staff.serving_regions(case.region)):
        raise CaseError("只能分派给本地区在岗的帮代办专员")
    if commissioner.id == case.commissioner_id:
        raise CaseError(f"案件已由 {commissioner.name} 承办")
    previous = _commissioner_of(session, case)
    case.commissioner_id = commissioner.id
    entry = cases.log(session, case, "assigned",
                      f"分派给帮代办专员 {commissioner.name}" + (f"（原为 {previous.name}）" if previous else ""),
                      actor_kind=actor.kind, actor_id=actor.id)
    session.flush()
    notify.assigned(session, case, commissioner, entry.id, console_url)
    cases.alert_key_project(session, case, commissioner, console_url)
    return commissioner


@dataclass(frozen=True)
class Urge:
    """What an enterprise's 催办 came to; the chat words the reply from it."""

    waiting: list[CaseItem]  # the items not 办结 yet; none: there was nothing to urge
    earlier: datetime | None = None  # today's urge was already made then: this one did nothing
    commissioner: Staff | None = None  # whom it went to (None: the region's supervisors)
    reached: bool = False  # a push to someone was queued and a channel to them is open now


def urge(session: Session, case: Case, openid: str, settings: Settings, today: date | None = None) -> Urge:
    """催办 by the enterprise (`openid`): at most once per case and day (Beijing time; the ledger's
    「企业催办」 line is the day's mark), to the commissioner, or to the region's supervisors while
    none is assigned, so it reaches a person. Its ledger line names the items still waiting."""
    today = today or clock.today()
    waiting = [i for i in cases.items_of(session, case) if i.state != ItemState.DONE]
    if not waiting:
        return Urge(waiting)
    earlier = session.scalar(sa.select(LedgerEntry.at).where(
        LedgerEntry.case_id == case.id, LedgerEntry.action == "urged", LedgerEntry.at >= clock.start_of_day(today)))
    if earlier is not None:
        return Urge(waiting, earlier=earlier)
    names = "、".join(i.name for i in waiting)
    cases.log(session, case, "urged", f"企业在线催办：{names}", actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    commissioner = _commissioner_of(session, case)
    recipients = [commissioner] if commissioner else regional_supervisors(session, case.region)
    queued = [n for person in recipients
              if (n := notify.urged(session, case, person, names, today, settings.public_url)) is not None]
    return Urge(waiting, commissioner=commissioner, reached=bool(_reachable(session, queued, settings)))


def _reachable(session: Session, queued: list[Notification], settings: Settings) -> list[Notification]:
    """The pushes a channel is open to now (bot.push.dispatcher.obstacles). On an install with no
    Official Account yet (the web chat, `bangban chat`) nobody is on WeChat: the push waits in the
    outbox, goes out once one is connected, and the console says so; that is not held against it."""
    from bot.push import dispatcher  # and wechatpy: the chat needs them only for an urge

    return [n for n, obstacle in zip(queued, dispatcher.obstacles(session, queued, settings))
            if obstacle in (None, dispatcher.UNCONFIGURED)]


def regional_commissioners(session: Session, region: str) -> list[Staff]:
    """Who may take a case of `region`: the commissioners of its tier, the tiers above it and below
    it (regions in tiers, bot/people/region_staff.py)."""
    return list(session.scalars(sa.select(Staff).where(
        Staff.region.in_(region_staff.serving_regions(region)), Staff.role == Role.COMMISSIONER,
        Staff.active.is_(True)).order_by(Staff.name)))


def regional_supervisors(session: Session, region: str) -> list[Staff]:
    return region_staff.nearest_supervisors(session, region)  # a 镇 without its own: its 县's, or 市's


def _ledger_event_id(session: Session, case: Case, item: CaseItem) -> int:
    """The id of the ledger line just written for `item`: it names the event in the push's key."""
    session.flush()
    return session.scalar(sa.select(sa.func.max(LedgerEntry.id)).where(
        LedgerEntry.case_id == case.id, LedgerEntry.case_item_id == item.id))
