"""What changes on a case besides its progress (issue 17, items 8 and 9): the enterprise's 联系人
and 联系电话 after submitting, and 提前介入 (a commissioner opens a case for a project before the
enterprise applies and invites it; the enterprise accepts or declines in the chat). Each change
is one unit with its ledger line and its push; the caller opens the transaction."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import identifiers
from bot.casework import agreements, cases
from bot.casework.cases import CaseError
from bot.models import Case, CaseInvitation, Staff, utcnow
from bot.platform import clock, region_service
from bot.platform.text_safety import single_line
from bot.push import notify
from bot.vocabulary import OPEN_STATES, ActorKind, CaseState, InvitationState, Role

log = logging.getLogger(__name__)

INVITATION_DECLINED_REASON = "企业主动终止"  # one of cases.TERMINATION_REASONS
INVESTMENT_TYPES = ("社会投资", "政府投资")


# -- 联系人 / 联系电话 ------------------------------------------------------------------------------

def check_contact_name(text: str) -> str | None:
    """The form's rule for a contact's name: 2-20 characters, no digits; None when it is not one."""
    name = re.sub(r"\s+", "", single_line(text or "")).strip("：:，,。")
    return name if 2 <= len(name) <= 20 and not re.search(r"\d", name) else None


@dataclass(frozen=True)
class ContactChange:
    case: Case
    detail: str  # 「联系人：张三 → 李四；联系电话：13800000000 → 13900000000」
    notified: bool  # the commissioner's push was queued


def change_contact(session: Session, case: Case, *, name: str | None = None, phone: str | None = None,
                   actor_kind: str, actor_id: str | None, console_url: str = "") -> ContactChange:
    """Change the case's 联系人 and/or 联系电话 (validated here as the form validates them), write
    the ledger line (old → new) and tell the commissioner. Nothing changes on a bad value."""
    if case.state not in OPEN_STATES:
        raise CaseError("案件已结束，联系人不能再修改")
    new_name = case.contact_name
    if name is not None:
        new_name = check_contact_name(name)
        if new_name is None:
            raise CaseError("联系人姓名应为2至20个字，且不含数字")
    new_phone = case.contact_phone
    if phone is not None:
        checked = identifiers.check_phone(phone)
        if not checked.ok:
            raise CaseError(checked.error)
        new_phone = checked.value
    parts, masked = [], []
    if new_name != case.contact_name:
        parts.append(f"联系人：{case.contact_name} → {new_name}")
        masked.append("contact_name")
    if new_phone != case.contact_phone:
        parts.append(f"联系电话：{case.contact_phone or '未填'} → {new_phone}")
        masked.append(f"phone {identifiers.mask_phone(case.contact_phone or '')} -> {identifiers.mask_phone(new_phone or '')}")
    if not parts:
        raise CaseError("新的联系方式与原来的相同，无需修改")
    detail = "；".join(parts)
    case.contact_name, case.contact_phone = new_name, new_phone
    entry = cases.log(session, case, "contact_changed", detail, actor_kind=actor_kind, actor_id=actor_id)
    session.flush()
    commissioner = session.get(Staff, case.commissioner_id) if case.commissioner_id else None
    pushed = None
    if commissioner is not None and actor_kind == ActorKind.ENTERPRISE:
        pushed = notify.contact_changed(session, case, commissioner, detail, entry.id, console_url)
    log.info("case %s: contact changed (%s)", case.number, ", ".join(masked))
    return ContactChange(case, detail, pushed is not None)


# -- 提前介入 ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EarlyCase:
    company_name: str
    project_name: str
    contact_name: str
    openid: str | None = None
    phone: str | None = None
    credit_code: str = ""
    mode: str = "帮办"
    investment_type: str = "社会投资"
    stage: str = "1"
    key_project: bool = False
    service_option: str | None = None


def open_early(session: Session, staff: Staff, early: EarlyCase, console_url: str = "") -> tuple[Case, CaseInvitation]:
    """A commissioner (or supervisor) opens a case for a project before the enterprise applies and
    invites the enterprise (by its openid, or a phone it gave as a contact before). The case waits
    as 已申请 with no applicant until the enterprise confirms in the chat."""
    company = single_line(early.company_name or "").strip()
    project = single_line(early.project_name or "").strip()
    if not 4 <= len(company) <= 60:
        raise CaseError("请填写项目单位全称（4至60个字）")
    if not 2 <= len(project) <= 100:
        raise CaseError("请填写项目名称（2至100个字）")
    contact = check_contact_name(early.contact_name)
    if contact is None:
        raise CaseError("联系人姓名应为2至20个字，且不含数字")
    openid = (early.openid or "").strip() or None
    phone = None
    if early.phone and early.phone.strip():
        checked = identifiers.check_phone(early.phone)
        if not checked.ok:
            raise CaseError(checked.error)
        phone = checked.value
    if openid is None and phone is None:
        raise CaseError("请填写企业联系人的微信用户标识或联系电话，以便邀请企业确认")
    credit = ""
    if early.credit_code and early.credit_code.strip():
        checked = identifiers.check_credit_code(early.credit_code)
        if not checked.ok:
            raise CaseError(checked.error)
        credit = checked.value
    if early.mode not in ("帮办", "代办"):
        raise CaseError("服务方式只能是帮办或代办")
    if early.mode == "代办" and agreements.in_effect(staff.region) is None:
        # the enterprise agrees to the 委托协议 when it accepts the invitation: there must be one
        raise CaseError("本地区尚未配置委托协议文本，提前介入请先以帮办开通")
    if early.investment_type not in INVESTMENT_TYPES:
        raise CaseError("投资类型只能是社会投资或政府投资")
    offered = region_service.for_region(staff.region).service_options
    if early.service_option and early.service_option not in offered:
        raise CaseError("该地区不提供此服务选项")
    today = clock.today()
    case = Case(number=cases.next_number(session, today.year), mode=early.mode, state=CaseState.APPLIED,
                applicant_openid="", company_name=company, credit_code=credit, project_name=project,
                region=staff.region, investment_type=early.investment_type, key_project=early.key_project,
                stage=early.stage, contact_name=contact, contact_phone=phone,
                service_option=early.service_option or None)
    commissioner = staff if staff.role == Role.COMMISSIONER else cases.pick_commissioner(session, staff.region)
    case.commissioner_id = commissioner.id if commissioner else None
    session.add(case)
    session.flush()
    invitation = CaseInvitation(case_id=case.id, openid=openid, phone=phone, invited_by=staff.id,
                                state=InvitationState.PENDING)
    session.add(invitation)
    global invitations_opened
    invitations_opened += 1
    session.flush()
    whom = "微信用户" if openid else f"联系电话 {phone}"
    cases.log(session, case, "invitation:sent",
              f"提前介入：{staff.name}为{company}「{project}」开通{early.mode}服务"
              + (f"（{early.service_option}）" if early.service_option else "") + f"，邀请企业确认（{whom}）",
              actor_kind=ActorKind(staff.role), actor_id=staff.username)
    if commissioner is not None:
        cases.log(session, case, "assigned", f"分派给帮代办专员 {commissioner.name}",
                  actor_kind=ActorKind(staff.role), actor_id=staff.username)
    if openid:
        notify.invitation(session, case, openid, commissioner, invitation.id)
    cases.alert_key_project(session, case, commissioner, console_url)
    return case, invitation


# Bumped by every invitation opened in this process, so a reader's cache of who has one (below)
# is refreshed at once here; other processes see it within their cache's lifetime.
invitations_opened = 0


def pending_targets(session: Session) -> frozenset[str]:
    """The WeChat users who have a pending 提前介入 invitation (by openid, or by a phone they gave
    as the contact of a case): one query, so the chat need not look each message up."""
    waiting = sa.select(CaseInvitation).join(Case, Case.id == CaseInvitation.case_id).where(
        CaseInvitation.state == InvitationState.PENDING, Case.state == CaseState.APPLIED).subquery()
    direct = session.scalars(sa.select(waiting.c.openid).where(waiting.c.openid.is_not(None)))
    by_phone = session.scalars(sa.select(Case.applicant_openid).where(
        Case.contact_phone.in_(sa.select(waiting.c.phone).where(waiting.c.openid.is_(None), waiting.c.phone.is_not(None))),
        Case.applicant_openid != ""))
    return frozenset([*direct, *by_phone])


def pending_for(session: Session, openid: str) -> list[tuple[CaseInvitation, Case]]:
    """The 提前介入 invitations waiting for this WeChat user: sent to its openid, or to a phone it
    gave as the contact of one of its cases."""
    phones = sa.select(Case.contact_phone).where(Case.applicant_openid == openid, Case.contact_phone.is_not(None))
    rows = session.execute(sa.select(CaseInvitation, Case).join(Case, Case.id == CaseInvitation.case_id)
                           .where(CaseInvitation.state == InvitationState.PENDING, Case.state == CaseState.APPLIED,
                                  sa.or_(CaseInvitation.openid == openid,
                                         sa.and_(CaseInvitation.openid.is_(None), CaseInvitation.phone.in_(phones))))
                           .order_by(CaseInvitation.id))
    return [(inv, case) for inv, case in rows]


def answer_invitation(session: Session, invitation_id: int, openid: str, accept: bool,
                      console_url: str = "", agreement_version: str | None = None) -> Case:
    """The enterprise accepts (the case becomes its own) or declines (the case ends, 终止 with
    the reason) a pending invitation; recorded in the ledger, the commissioner told. Accepting a
    提前介入 代办 is also the consent to the region's 委托协议 shown with the invitation
    (`agreement_version`), kept as every 代办 application keeps it."""
    mine = {inv.id: (inv, case) for inv, case in pending_for(session, openid)}
    if invitation_id not in mine:
        raise CaseError("这份邀请已处理或不属于您")
    inv, case = mine[invitation_id]
    session.refresh(inv, with_for_update=True)
    if inv.state != InvitationState.PENDING:
        raise CaseError("这份邀请已处理")
    inv.state = InvitationState.ACCEPTED if accept else InvitationState.DECLINED
    inv.answered_at = utcnow()
    inv.answered_openid = openid
    if accept:
        case.applicant_openid = openid
        entry = cases.log(session, case, "invitation:accepted", "企业在微信中确认接受提前介入服务",
                          actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
        if case.mode == "代办" and agreements.of_case(session, case) is None and agreements.in_effect(case.region):
            agreed = agreements.record(session, case, agreed_at=inv.answered_at, openid=openid,
                                       name=case.contact_name, phone=case.contact_phone, version=agreement_version)
            cases.log(session, case, "agreement_consented", f"企业确认代办委托协议{agreements.label(agreed)}"
                      f"（{clock.stamp(inv.answered_at)}，随提前介入邀请确认）",
                      actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
    else:
        entry = cases.log(session, case, "invitation:declined", "企业在微信中谢绝提前介入服务",
                          actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
        cases.transition(session, case, CaseState.TERMINATED, actor_kind=ActorKind.ENTERPRISE, actor_id=openid,
                         reason=INVITATION_DECLINED_REASON)
    session.flush()
    commissioner = session.get(Staff, case.commissioner_id) if case.commissioner_id else None
    if commissioner is not None:
        notify.invitation_answered(session, case, commissioner, accept, entry.id, console_url)
    return case


def invitation_of(session: Session, case: Case) -> CaseInvitation | None:
    return session.scalar(sa.select(CaseInvitation).where(CaseInvitation.case_id == case.id))
