"""`bangban demo`'s examples of issue 17 (items 8, 9, 11): a 提前介入 case waiting for its enterprise
(延津, invited by the phone of a demo enterprise, so that chat user sees the invitation), and a
contact change recorded on a submitted case. 服务选项 and 重点项目 come with the demo's own cases
(webhook/cli/demo.py). Idempotent: a second run adds nothing."""
from __future__ import annotations

import sqlalchemy as sa

EARLY_COMPANY = "延津县示例食品科技有限公司"
EARLY_PROJECT = "示例冷链物流中心（新签约招商项目）"
DEMO_KEY = "demo-early-yanjin"  # webhook/cli/demo.py's _DEMO_PREFIX


def seed(sessions, settings) -> str:
    from bot.casework import case_details
    from bot.models import Case, LedgerEntry, Staff
    from bot.platform.db import transaction
    from bot.vocabulary import OPEN_STATES, ActorKind, CaseState, Role

    said = []
    with transaction(sessions) as db:
        if db.scalar(sa.select(Case.id).where(Case.company_name == EARLY_COMPANY)) is None:
            commissioner = db.scalar(sa.select(Staff).where(Staff.region == "yanjin", Staff.role == Role.COMMISSIONER,
                                                            Staff.active.is_(True)).order_by(Staff.id).limit(1))
            invitee = db.scalar(sa.select(Case).where(Case.region == "yanjin", Case.contact_phone.is_not(None),
                                                      Case.applicant_openid.like("oDemo_%")).order_by(Case.id.desc()).limit(1))
            if commissioner is not None and invitee is not None:
                case, _ = case_details.open_early(db, commissioner, case_details.EarlyCase(
                    company_name=EARLY_COMPANY, project_name=EARLY_PROJECT, contact_name="周经理",
                    phone=invitee.contact_phone, key_project=True, service_option="全程帮办代办", stage="1"),
                    console_url=settings.public_url)
                case.submission_key = DEMO_KEY  # a demo case, as `bangban demo` tells them from real ones
                said.append(f"提前介入 {case.number} (延津, waiting for {invitee.applicant_openid} to reply 「确认」)")
        changed = db.scalar(sa.select(LedgerEntry.id).join(Case, Case.id == LedgerEntry.case_id).where(
            LedgerEntry.action == "contact_changed", Case.applicant_openid.like("oDemo_%")).limit(1))
        if changed is None:
            case = db.scalar(sa.select(Case).where(Case.region == "yanjin", Case.state.in_(OPEN_STATES),
                                                   Case.state != CaseState.APPLIED,
                                                   Case.applicant_openid.like("oDemo_%")).order_by(Case.id).limit(1))
            if case is not None and case.contact_phone not in _invited_phones(db):
                case_details.change_contact(db, case, phone="13903730173", actor_kind=ActorKind.ENTERPRISE,
                                            actor_id=case.applicant_openid, console_url=settings.public_url)
                said.append(f"修改联系人 on {case.number}")
    return "; ".join(said) or "already seeded"


def _invited_phones(db) -> set:
    from bot.models import CaseInvitation

    return set(db.scalars(sa.select(CaseInvitation.phone).where(CaseInvitation.phone.is_not(None))))
