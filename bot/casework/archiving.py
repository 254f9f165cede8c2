"""立卷归档 as a staff action (issue 17 item 5; seed 004 「对帮办代办服务过程中申报材料及证照结果进行
立卷归档」, seed 003 「终止及办结的代办项目，代办服务机构应及时归档，并将涉及项目的有关资料及时交还投资者」,
seed 001 「做好帮办代办项目相关资料的整理归档、保管和移交工作」).

Before a case is archived its record is checked for completeness: `completeness(facts)` is a pure
function of what `facts_of` read from the database, so the rules are tested on their own. A
required point missing refuses archiving for everyone; a non-essential one (the rating still
possible, materials neither handed back nor marked 「无需退还」, a chat material lost) may be
overridden by a supervisor of the case's region with a written reason. The
archive (models.CaseArchive) keeps the checklist as it stood, who, when and why; the ledger gets
one 「立卷归档」 line. From then on the case is read-only (cases.ensure_editable, checked in
cases.log for every change).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import identifiers
from bot.casework import agreements, cases, handbacks
from bot.casework import materials as chat_materials
from bot.casework.cases import ArchivedCaseError, CaseError
from bot.models import Case, CaseArchive, Escalation, LedgerEntry, Rating, Rectification, Staff, utcnow
from bot.platform import clock, region_service
from bot.platform.region_service import RegionService
from bot.platform.text_safety import xml_safe
from bot.vocabulary import (
    ARCHIVE_CHECKS,
    CASE_STATES,
    ITEM_STATES,
    RATING_LEVELS,
    ArchiveCheck,
    CaseState,
    EscalationState,
    ItemState,
    RectificationState,
    Role,
)

# The enterprise rates after 送达 or 终止 (reminded after rating_reminder_hours); a case whose
# enterprise has not rated in its region's rating_wait_days (config/region_service.yaml) is archived
# with 「企业未评价」 recorded, not held open.
MAX_REASON = 300
# The states a case may be archived from (cases.CASE_TRANSITIONS).
ARCHIVABLE_STATES = (CaseState.DELIVERED, CaseState.RATED, CaseState.TERMINATED)
NOT_RATED = "企业未评价"
NO_RETURN = "无需退还"


@dataclass(frozen=True)
class CaseFacts:
    """What the completeness check looks at, read from the database by facts_of (or written by a test)."""

    mode: str  # 帮办 | 代办
    state: str
    today: date
    agreement: str | None = None  # the agreed 委托协议's label (agreements.label)
    items: tuple[tuple[str, str], ...] = ()  # (name, ItemState) of each approval item
    termination_reason: str | None = None
    delivery: str | None = None  # the 送达 ledger line's detail
    closed_on: date | None = None  # the day of 送达 (or of 终止): the rating wait counts from it
    rating: str | None = None  # the rating as people read it
    handbacks: tuple[str, ...] = ()  # each hand-back, in words
    no_return_needed: bool = False  # 「无需退还」 ticked by the archiving staff member
    materials: tuple[tuple[str, str], ...] = ()  # (label, CaseMaterial state) of each chat material
    open_rectifications: tuple[str, ...] = ()  # numbers of 整改 not closed
    open_escalations: tuple[str, ...] = ()  # 协调事项 not resolved (E12 联席会议)
    rating_wait_days: int = RegionService.rating_wait_days  # the region's (facts_of), else the default


@dataclass(frozen=True)
class Check:
    key: ArchiveCheck
    ok: bool
    detail: str
    required: bool = True  # essential: nobody archives without it
    anchor: str = "facts"  # where on the case page it is put right
    title: str = field(default="")

    def __post_init__(self):
        if not self.title:
            object.__setattr__(self, "title", ARCHIVE_CHECKS[self.key])

    def as_dict(self) -> dict:
        return {**asdict(self), "key": str(self.key)}


def completeness(f: CaseFacts) -> list[Check]:
    """The checklist of 立卷归档, in the order a record is put together."""
    terminated = f.state == CaseState.TERMINATED or bool(f.termination_reason)
    return [_agreement(f), _results(f, terminated), _delivery(f, terminated), _rating(f), _handback(f),
            _materials(f), _rectification(f), _escalation(f)]


def _agreement(f: CaseFacts) -> Check:
    if f.mode != "代办":
        return Check(ArchiveCheck.AGREEMENT, True, "帮办服务无需委托协议")
    if f.agreement:
        return Check(ArchiveCheck.AGREEMENT, True, f"企业已确认{f.agreement}")
    return Check(ArchiveCheck.AGREEMENT, False, "代办案件没有企业确认的委托协议记录")


def _results(f: CaseFacts, terminated: bool) -> Check:
    if terminated:
        return Check(ArchiveCheck.RESULTS, True, f"案件已终止（{f.termination_reason or '原因见台账'}）", anchor="items")
    waiting = [f"{name}（{ITEM_STATES.get(state, state)}）" for name, state in f.items if state != ItemState.DONE]
    if not f.items:
        return Check(ArchiveCheck.RESULTS, False, "案件没有审批事项", anchor="items")
    if waiting:
        return Check(ArchiveCheck.RESULTS, False, f"{len(waiting)} 个事项尚无办理结果：{'、'.join(waiting)}", anchor="items")
    return Check(ArchiveCheck.RESULTS, True, f"{len(f.items)} 个事项均已办结", anchor="items")


def _delivery(f: CaseFacts, terminated: bool) -> Check:
    if terminated:
        return Check(ArchiveCheck.DELIVERY, True, "终止的案件没有办理结果需要送达", anchor="actions")
    if f.delivery:
        return Check(ArchiveCheck.DELIVERY, True, f.delivery, anchor="ledger")
    if f.state == CaseState.COMPLETED:
        return Check(ArchiveCheck.DELIVERY, False, "办理结果尚未送达，请先记录送达（上门 / 邮寄 / 电子证照）",
                     anchor="actions")
    return Check(ArchiveCheck.DELIVERY, False, f"案件{CASE_STATES.get(f.state, f.state)}，尚未办结送达", anchor="actions")


def _rating(f: CaseFacts) -> Check:
    if f.rating:
        return Check(ArchiveCheck.RATING, True, f.rating, required=False, anchor="ledger")
    if f.closed_on is None:
        return Check(ArchiveCheck.RATING, False, "案件尚未送达或终止，企业还不能评价", required=False, anchor="ledger")
    waited = (f.today - f.closed_on).days
    if waited >= f.rating_wait_days:
        return Check(ArchiveCheck.RATING, True, f"{NOT_RATED}（{f.closed_on:%Y-%m-%d}起 {waited} 天未评价，归档时记为「{NOT_RATED}」）",
                     required=False, anchor="ledger")
    left = f.rating_wait_days - waited
    return Check(ArchiveCheck.RATING, False, f"企业尚未评价（{f.closed_on:%Y-%m-%d}起 {f.rating_wait_days} 天内可评价，"
                 f"还有 {left} 天；期满未评价即可记为「{NOT_RATED}」）", required=False, anchor="ledger")


def _handback(f: CaseFacts) -> Check:
    if f.handbacks:
        return Check(ArchiveCheck.HANDBACK, True, "；".join(f.handbacks), required=False, anchor="handbacks")
    if f.no_return_needed:
        return Check(ArchiveCheck.HANDBACK, True, f"{NO_RETURN}（归档时确认没有需要交还企业的材料）",
                     required=False, anchor="handbacks")
    return Check(ArchiveCheck.HANDBACK, False, f"没有材料交还记录：请登记材料交还，或在归档时勾选「{NO_RETURN}」",
                 required=False, anchor="handbacks")


def _materials(f: CaseFacts) -> Check:
    if not f.materials:
        return Check(ArchiveCheck.MATERIALS, True, "企业未在微信中发来材料", anchor="materials")
    pending = [label for label, state in f.materials if state == chat_materials.PENDING]
    failed = [label for label, state in f.materials if state == chat_materials.FAILED_STATE]
    if pending:
        return Check(ArchiveCheck.MATERIALS, False, f"{len(pending)} 份材料还在下载中（{'、'.join(pending)}），"
                     "请稍后再归档", anchor="materials")
    if failed:
        return Check(ArchiveCheck.MATERIALS, False, f"{len(failed)} 份材料未能保存（{'、'.join(failed)}），"
                     "请向企业补要原件或说明原因", required=False, anchor="materials")
    return Check(ArchiveCheck.MATERIALS, True, f"{len(f.materials)} 份材料均已保存或登记", anchor="materials")


def _rectification(f: CaseFacts) -> Check:
    if f.open_rectifications:
        return Check(ArchiveCheck.RECTIFICATION, False, f"整改未办结：{'、'.join(f.open_rectifications)}，"
                     "请先完成回访并办结整改", anchor="ledger")
    return Check(ArchiveCheck.RECTIFICATION, True, "没有未办结的整改", anchor="ledger")


def _escalation(f: CaseFacts) -> Check:
    # Required: an escalation left open would stay on 挂图作战 with no way to record its result
    # (an archived case takes no more ledger lines).
    if f.open_escalations:
        return Check(ArchiveCheck.ESCALATION, False, f"协调事项未解决：{'、'.join(f.open_escalations)}，"
                     "请先登记协调结果", anchor="ledger")
    return Check(ArchiveCheck.ESCALATION, True, "没有未解决的协调事项", anchor="ledger")


# -- reading the facts ----------------------------------------------------------------------

def _last_line(session: Session, case: Case, action: str) -> LedgerEntry | None:
    return session.scalar(sa.select(LedgerEntry).where(LedgerEntry.case_id == case.id, LedgerEntry.action == action)
                          .order_by(LedgerEntry.id.desc()).limit(1))


def _rating_text(rating: Rating) -> str:
    dims = [f"{label}{value}" for label, value in (("效率", rating.efficiency), ("态度", rating.attitude),
                                                    ("廉洁", rating.integrity)) if value is not None]
    return RATING_LEVELS.get(rating.level, str(rating.level)) + (f"（{' '.join(dims)}）" if dims else "") \
        + (f"：{rating.comment}" if rating.comment else "")


def facts_of(session: Session, case: Case, *, today: date | None = None, no_return_needed: bool = False) -> CaseFacts:
    today = today or clock.today()
    agreed = agreements.of_case(session, case)
    delivered = _last_line(session, case, f"state:{CaseState.DELIVERED}")
    closed_at = delivered.at if delivered else (case.closed_at if case.state == CaseState.TERMINATED
                                                or case.termination_reason else None)
    rating = session.scalar(sa.select(Rating).where(Rating.case_id == case.id))
    returned = tuple(f"{h.occasion}交还（{h.method}，{h.returned_on:%Y-%m-%d}，签收人 {h.signed_by}）：{'、'.join(h.materials)}"
                     + ("，企业已确认收到" if h.confirmed_at else "") for h in handbacks.of_case(session, case))
    materials = tuple((f"材料 M{m.id}" + (f"《{m.file_name}》" if m.file_name else ""), m.state)
                      for m in chat_materials.of_case(session, case))
    rectifications = tuple(identifiers.rectification_number(r) for r in session.scalars(
        sa.select(Rectification.id).where(Rectification.case_id == case.id,
                                          Rectification.state != RectificationState.CLOSED).order_by(Rectification.id)))
    escalations = tuple(f"E{e.id} {e.level}" for e in session.scalars(
        sa.select(Escalation).where(Escalation.case_id == case.id, Escalation.state == EscalationState.OPEN)
        .order_by(Escalation.id)))
    return CaseFacts(
        mode=case.mode, state=case.state, today=today, agreement=agreements.label(agreed) if agreed else None,
        items=tuple((i.name, i.state) for i in cases.items_of(session, case)),
        termination_reason=case.termination_reason, delivery=delivered.detail if delivered else None,
        closed_on=clock.to_local(closed_at).date() if closed_at else None,
        rating=_rating_text(rating) if rating else None, handbacks=returned, no_return_needed=no_return_needed,
        materials=materials, open_rectifications=rectifications, open_escalations=escalations,
        rating_wait_days=region_service.for_region(case.region).rating_wait_days)


def check(session: Session, case: Case, *, today: date | None = None, no_return_needed: bool = False) -> list[Check]:
    """The checklist of the case as it stands."""
    return completeness(facts_of(session, case, today=today, no_return_needed=no_return_needed))


# -- the action -----------------------------------------------------------------------------

def archive_number(case: Case) -> str:
    """归档编号: the case's number under the archive's prefix (BD-2026-000123 → GD-2026-000123), one per case."""
    return "GD-" + case.number.split("-", 1)[1] if "-" in case.number else f"GD-{case.number}"


def of_case(session: Session, case: Case) -> CaseArchive | None:
    return session.scalar(sa.select(CaseArchive).where(CaseArchive.case_id == case.id))


def may_archive(staff: Staff, case: Case) -> bool:
    """The case's commissioner, or a supervisor of its region."""
    if staff.role == Role.SUPERVISOR:
        return staff.region == case.region
    return staff.role == Role.COMMISSIONER and staff.id == case.commissioner_id


def _said(checks: Sequence[Check], key: ArchiveCheck, words: str) -> bool:
    """Whether the check `key` passed by recording an absence (「企业未评价」, 「无需退还」)."""
    return any(c.key == key and c.ok and c.detail.startswith(words) for c in checks)


def _listing(checks: Sequence[Check]) -> str:
    return "；".join(f"{c.title}（{c.detail}）" for c in checks)


def archive(session: Session, case: Case, staff: Staff, *, reason: str = "", no_return_needed: bool = False,
            now: datetime | None = None) -> CaseArchive:
    """立卷归档 by `staff`. Refused, changing nothing, while a required point is missing; with only
    non-essential points missing, a supervisor may archive by writing why (kept with the archive)."""
    if case.state == CaseState.ARCHIVED:
        done = of_case(session, case)
        raise ArchivedCaseError(f"案件已立卷归档（{done.number}，{clock.stamp(done.archived_at)}），不能再变更"
                                if done else cases.ARCHIVED_MESSAGE)
    if not may_archive(staff, case):
        raise CaseError("立卷归档由案件的承办专员或本地区主管进行")
    now = now or utcnow()
    checks = check(session, case, today=clock.to_local(now).date(), no_return_needed=no_return_needed)
    missing = [c for c in checks if not c.ok]
    essential = [c for c in missing if c.required]
    if essential:
        raise CaseError(f"还不能立卷归档，缺少：{_listing(essential)}。请补齐后再归档。")
    reason = " ".join(xml_safe(reason or "").split())
    if len(reason) > MAX_REASON:
        raise CaseError(f"归档原因最多 {MAX_REASON} 个字")
    if missing:
        if staff.role != Role.SUPERVISOR:
            raise CaseError(f"还不能立卷归档，缺少：{_listing(missing)}。请补齐后再归档；"
                            "确需先行归档的，请本地区主管填写原因后归档。")
        if not reason:
            raise CaseError(f"缺少：{_listing(missing)}。主管先行归档须填写原因。")
    rating_absent = _said(checks, ArchiveCheck.RATING, NOT_RATED)
    if not missing:
        reason = reason if staff.role == Role.SUPERVISOR else ""  # a commissioner's archive needs no reason
    row = CaseArchive(case_id=case.id, number=archive_number(case), archived_by=staff.id, actor_kind=staff.role,
                      archived_at=now, checklist=[c.as_dict() for c in checks], reason=reason or None,
                      no_return_needed=_said(checks, ArchiveCheck.HANDBACK, NO_RETURN), rating_absent=rating_absent)
    notes = ([f"「{NOT_RATED}」"] if rating_absent else []) \
        + ([f"「{NO_RETURN}」"] if row.no_return_needed else []) \
        + ([f"缺{'、'.join(c.title for c in missing)}，原因：{reason}"] if missing else [])
    cases.transition(session, case, CaseState.ARCHIVED, actor_kind=staff.role, actor_id=staff.username,
                     detail=f"立卷归档（{row.number}）：{len(checks) - len(missing)}/{len(checks)} 项齐全"
                     + (f"；{'；'.join(notes)}" if notes else ""))
    session.add(row)
    session.flush()
    return row


# -- 挂图作战: the cases waiting to be archived ------------------------------------------------

@dataclass(frozen=True)
class Waiting:
    case: Case
    commissioner: str | None
    closed_on: date | None  # 送达 or 终止
    essential: tuple[str, ...]  # titles of the required points missing
    optional: tuple[str, ...]  # titles of the non-essential points missing


def waiting(session: Session, scope, *, today: date | None = None, limit: int = 50) -> list[Waiting]:
    """Cases delivered, rated or terminated and not yet archived, within `scope` (an SQL condition
    on Case), the longest waiting first, each with what its check still misses."""
    rows = session.execute(
        sa.select(Case, Staff.name).outerjoin(Staff, Staff.id == Case.commissioner_id)
        .where(scope, Case.state.in_(ARCHIVABLE_STATES)).order_by(Case.closed_at, Case.id).limit(limit)).all()
    out = []
    for case, name in rows:
        f = facts_of(session, case, today=today)
        missing = [c for c in completeness(f) if not c.ok]
        out.append(Waiting(case, name, f.closed_on, tuple(c.title for c in missing if c.required),
                           tuple(c.title for c in missing if not c.required)))
    return out


def archived_count(session: Session, scope) -> int:
    return session.scalar(sa.select(sa.func.count(CaseArchive.id)).join(Case, Case.id == CaseArchive.case_id)
                          .where(scope)) or 0
