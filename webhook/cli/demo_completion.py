"""`bangban demo`'s examples of issue 17 items 3 and 4: a 县级市 case whose 办结 waits for the
enterprise's 「确认办结」 (seed 003: 「委托代办事项经投资者确认后办结」), and materials handed back
on a finished case (seed 003: 「将涉及项目的有关资料及时交还投资者」), waiting for the enterprise's
「已收到材料」. Idempotent: a second run adds nothing."""
from __future__ import annotations

import sqlalchemy as sa

WAITING_KEY = "demo-completion-county_city"  # webhook/cli/demo.py's _DEMO_PREFIX
WAITING_COMPANY = "某县级市示例精密机械有限公司"


def seed(sessions, settings, kb, calendar) -> str:
    from bot.casework import case_actions, cases, handbacks
    from bot.casework.case_actions import Actor
    from bot.models import Case, MaterialHandback, Staff
    from bot.people import users
    from bot.platform import clock
    from bot.platform.db import transaction
    from bot.vocabulary import CaseState, ItemState, Role
    from dialogs.notice import item_plans

    said = []
    with transaction(sessions) as db:
        commissioner = db.scalar(sa.select(Staff).where(Staff.region == "county_city", Staff.role == Role.COMMISSIONER,
                                                        Staff.active.is_(True)).order_by(Staff.id).limit(1))
        plans = item_plans(kb, [code for code in kb.items if kb.items[code].stage == "3"][:1])
        if (commissioner is not None and plans and "county_city" in kb.regions
                and db.scalar(sa.select(Case.id).where(Case.submission_key == WAITING_KEY)) is None):
            users.touch(db, "oDemo_county_city_confirm")  # a follower (the emulator's account has it too)
            users.set_region(db, "oDemo_county_city_confirm", "county_city")
            case = cases.submit(db, cases.Application(
                mode="帮办", applicant_openid="oDemo_county_city_confirm", company_name=WAITING_COMPANY,
                credit_code="91320500MA1XYZ0012", project_name="示例精密零部件扩产项目", region="county_city",
                investment_type="社会投资", stage="3", contact_name="顾经理", contact_phone="13912500012",
                items=tuple(plans), submission_key=WAITING_KEY), calendar, console_url=settings.public_url)
            if case.commissioner_id != commissioner.id:
                case.commissioner_id = commissioner.id
            actor = Actor.person(commissioner)
            case_actions.accept(db, case, actor)
            for item in cases.items_of(db, case):
                for to in (ItemState.SUBMITTED, ItemState.ACCEPTED, ItemState.DONE):
                    case_actions.move_item(db, case, item.id, to, actor)
            if not case_actions.complete(db, case, actor):
                said.append(f"{case.number} 待企业确认办结 (县级市, oDemo_county_city_confirm replies 「确认办结」)")
        if db.scalar(sa.select(MaterialHandback.id).limit(1)) is None:
            done = db.scalar(sa.select(Case).where(
                Case.state.in_([CaseState.DELIVERED, CaseState.RATED, CaseState.COMPLETED]),
                Case.applicant_openid.like("oDemo_%"), Case.commissioner_id.is_not(None))
                .order_by((Case.region == "donghu").desc(), Case.id).limit(1))
            staff = db.get(Staff, done.commissioner_id) if done is not None else None
            if done is not None and staff is not None:
                materials = {code: tuple(item.materials or ()) for code, item in kb.items.items()}
                checklist = handbacks.checklist(db, done, materials)
                if checklist:
                    handbacks.record(db, done, returned=checklist[:3], allowed=checklist, method="当面",
                                     returned_on=clock.today(),
                                     signed_by=done.contact_name, actor_kind="commissioner", actor_id=staff.username,
                                     staff=staff, note="原件当面交还，复印件留档")
                    said.append(f"材料交还 on {done.number} (waiting for 「已收到材料」)")
    return "; ".join(said) or "already seeded"
