"""`bangban demo`'s examples of issue 17 item 7, escalation tiers per region (config/region_service.yaml):
- 延津: a problem raised to the 项目服务专员 and moved up to the 联席会议 (seed 001 五（三）「对复杂问题，
  提交项目专家团队研究解决，项目专家团队召开联席会议」), the enterprise told: 「我的申请」 reads 「协调中：已提交
  联席会议（预计…前答复）」; yanjin-lead sees it under 第2级 on 挂图作战;
- 江北: a 帮代办服务专班 tier resolved, its result told to the enterprise;
- 东湖: a 协调会议 past its due date, flagged by the escalation-deadlines job (donghu-lead sees 已超期).
Idempotent: a second run adds nothing."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

DEMO_PREFIX = "demo-"  # webhook/cli/demo.py's _DEMO_PREFIX: the demo's own cases
EXAMPLES = (  # region, problem, what happens
    ("yanjin", "消防设计审查意见与规划条件中的消防车道要求冲突，项目服务专员意见未能解决", "moved_up"),
    ("jiangbei", "施工许可阶段供水管线迁改需多部门共同确认", "resolved"),
    ("donghu", "用地规划许可与园区控规调整不同步，需牵头部门召开协调会议", "overdue"),
)


def seed(sessions, settings, calendar) -> str:
    from bot.models import Case, Escalation, Staff
    from bot.platform import clock
    from bot.platform.db import transaction
    from bot.supervision import escalations
    from bot.vocabulary import OPEN_STATES, CaseState, Role

    said = []
    with transaction(sessions) as db:
        if db.scalar(sa.select(Escalation.id).join(Case, Case.id == Escalation.case_id)
                     .where(Case.submission_key.like(DEMO_PREFIX + "%")).limit(1)) is not None:
            return "already seeded"
        today = clock.today()
        for region, problem, outcome in EXAMPLES:
            lead = db.scalar(sa.select(Staff).where(Staff.region == region, Staff.role == Role.SUPERVISOR,
                                                    Staff.active.is_(True)).order_by(Staff.id).limit(1))
            case = db.scalar(sa.select(Case).where(
                Case.region == region, Case.state.in_(OPEN_STATES), Case.submission_key.like(DEMO_PREFIX + "%"),
                Case.applicant_openid.is_not(None), Case.commissioner_id.is_not(None))
                .order_by((Case.state == CaseState.IN_PROGRESS).desc(), Case.id).limit(1))
            if case is None or lead is None:
                continue
            url = settings.public_url
            if outcome == "overdue":  # raised two weeks ago: its due date has passed
                late = escalations.raise_escalation(db, case, "", problem, lead, tell_enterprise=True, calendar=calendar,
                                                    today=today - timedelta(days=14), console_url=url)
                late.raised_at -= timedelta(days=14)
                escalations.flag_overdue(db, today, url)
                said.append(f"{case.number} 协调会议 已超期 (东湖)")
                continue
            first = escalations.raise_escalation(db, case, "", problem, lead, tell_enterprise=True, calendar=calendar,
                                                 today=today, console_url=url)
            if outcome == "moved_up":
                second = escalations.move_up(db, first, case, "项目服务专员出具的办理意见未能解决，请项目专家团队召开联席会议",
                                             lead, calendar=calendar, today=today, console_url=url)
                said.append(f"{case.number} {first.level} → {second.level} (延津, 企业已告知)")
            else:
                escalations.resolve_escalation(db, first, case, "专班成员单位会商一致：管线迁改与施工许可并联办理，企业按新方案报审",
                                               lead, tell_enterprise=True, console_url=url)
                said.append(f"{case.number} {first.level} 已解决 (江北)")
    return "; ".join(said) or "no open demo case to escalate"
