"""`bangban demo`'s examples of issue 17 item 1: a confirmed 上门受理 on a 江北 case (seed 000 代办
「上门受理」) and a 窗口预约 proposed on a 东湖 case (seed 004 「预约企业上门」), still waiting for the
enterprise's 「确认预约」. Idempotent: a second run adds nothing."""
from __future__ import annotations

from datetime import time

import sqlalchemy as sa

DEMO_PREFIX = "demo-"  # webhook/cli/demo.py's _DEMO_PREFIX: the demo's own cases
EXAMPLES = (  # region, kind, hour, place, what to bring, confirmed
    ("jiangbei", "visit", time(10, 0), "企业项目部（按申请表所填地址）",
     "营业执照复印件\n项目备案证明\n授权委托书（法定代表人签字盖章）", True),
    ("donghu", "window", time(14, 30), "东湖新技术开发区政务服务中心 帮办代办窗口",
     "《投资项目帮办代办服务申请表》（项目经办人签署）\n项目基本情况介绍", False),
)


def seed(sessions, settings, calendar) -> str:
    from bot.casework import appointments
    from bot.models import Appointment, Case, Staff
    from bot.platform import clock
    from bot.platform.db import transaction
    from bot.vocabulary import OPEN_STATES, ActorKind

    said = []
    with transaction(sessions) as db:
        if db.scalar(sa.select(Appointment.id).join(Case, Case.id == Appointment.case_id)
                     .where(Case.submission_key.like(DEMO_PREFIX + "%")).limit(1)) is not None:
            return "already seeded"
        day = clock.today()
        for region, kind, at, place, bring, confirmed in EXAMPLES:
            day = calendar.add_workdays(day, 1)  # the next working days: one each, 江北's first
            case = db.scalar(sa.select(Case).where(
                Case.region == region, Case.state.in_(OPEN_STATES), Case.submission_key.like(DEMO_PREFIX + "%"),
                Case.applicant_openid.is_not(None), Case.commissioner_id.is_not(None)).order_by(Case.id).limit(1))
            if case is None:
                continue
            staff = db.get(Staff, case.commissioner_id)
            row = appointments.propose(db, case, kind=kind, starts_at=appointments.local_datetime(day, at),
                                       place=place, bring=bring, actor_kind=ActorKind.COMMISSIONER,
                                       actor_id=staff.username, staff=staff, calendar=calendar)
            if confirmed:
                appointments.confirm(db, row.id, case.applicant_openid, console_url=settings.public_url)
            said.append(f"{case.number} {appointments.kind_name(kind)} {appointments.stamp(row.starts_at)}"
                        + ("（企业已确认）" if confirmed else "（待企业「确认预约」）"))
    return "; ".join(said) or "no open demo case in 江北/东湖"
