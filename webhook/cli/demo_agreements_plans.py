"""`bangban demo`'s examples of issue 17 items 2 and 10. The demo's 代办 cases agree to their
region's 委托协议 version on submission and every accepted case gets its 一企一策 plan on 受理
(webhook/cli/demo.py); this adds one 计划调整 (an open case's first unfinished item moved by a
week, as agreed with the enterprise) and says what there is to see. Idempotent."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

DEMO_PREFIX = "demo-"  # webhook/cli/demo.py's _DEMO_PREFIX
REASON = "企业申请顺延：设计单位修改施工图（示例）"


def seed(sessions, settings) -> str:
    from bot.casework import plans
    from bot.models import Case, CaseAgreement, CaseItem, LedgerEntry, Staff
    from bot.platform.db import transaction
    from bot.vocabulary import ActorKind, CaseState, ItemState

    demo = Case.submission_key.like(DEMO_PREFIX + "%")
    with transaction(sessions) as db:
        changed = db.scalar(sa.select(LedgerEntry.id).join(Case, Case.id == LedgerEntry.case_id)
                            .where(demo, LedgerEntry.action == "plan_changed").limit(1))
        if changed is None:
            row = db.execute(sa.select(Case, CaseItem).join(CaseItem, CaseItem.case_id == Case.id).where(
                demo, Case.state.in_((CaseState.ACCEPTED, CaseState.IN_PROGRESS)), CaseItem.state != ItemState.DONE,
                CaseItem.planned_date.is_not(None), Case.commissioner_id.is_not(None))
                .order_by(Case.id, CaseItem.id).limit(1)).first()
            if row is not None:
                case, item = row
                who = db.get(Staff, case.commissioner_id)
                plans.change(db, case, item.id, item.planned_date + timedelta(days=7), actor_kind=ActorKind.COMMISSIONER,
                             actor_id=who.username, reason=REASON)
        agreed = db.scalar(sa.select(sa.func.count(CaseAgreement.id)).join(Case, Case.id == CaseAgreement.case_id)
                           .where(demo))
        planned = db.scalar(sa.select(sa.func.count(sa.distinct(CaseItem.case_id))).join(Case, Case.id == CaseItem.case_id)
                            .where(demo, CaseItem.planned_date.is_not(None)))
    return (f"{agreed} 委托协议 kept with their version ({settings.public_url}/agreements/county_city/v1), "
            f"{planned} cases with a 一企一策 plan (挂图作战: 一企一策 计划与进度)")
