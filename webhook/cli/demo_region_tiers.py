"""`bangban demo`'s example of regions in tiers (issue 17 item 6; config/region_tiers.yaml): a
commissioner of 荣家湾镇 (an example 镇 of 岳阳县), a supervisor of 岳阳县, and an application naming
荣家湾镇 routed to that 镇's commissioner — so 岳阳县's supervisor (yyx-lead) and 岳阳市's
(yueyang-lead) both see it, on the case list and on 挂图作战's 下级地区 table, while the 镇's
commissioner works it. Idempotent: a second run adds nothing."""
from __future__ import annotations

import sqlalchemy as sa

TOWN = "yyx_rongjiawan"  # 荣家湾镇, under yy_yueyang_county (岳阳县), under yueyang (岳阳市)
COUNTY = "yy_yueyang_county"
CASE_KEY = "demo-region-tiers-rongjiawan"  # webhook/cli/demo.py's _DEMO_PREFIX: counted with the demo's cases
OPENID = "oDemo_yueyang_town"
# (username, name, role, region): fictitious people, password DEMO_PASSWORD like the roster's.
PEOPLE = (("yyx-rjw-1", "黎晓东", "commissioner", TOWN), ("yyx-lead", "方建国", "supervisor", COUNTY))


def seed(sessions, settings, kb, calendar) -> str:
    from bot.casework import cases
    from bot.models import Case
    from bot.people import staff, users
    from bot.platform import region_tiers
    from bot.platform.db import transaction
    from dialogs.notice import item_plans

    if not all(region_tiers.known(code) for code in (TOWN, COUNTY)) or "yueyang" not in kb.regions:
        return "skipped (config/region_tiers.yaml has no 荣家湾镇 / 岳阳县)"
    with transaction(sessions) as db:
        people = {}
        for username, name, role, region in PEOPLE:
            person = staff.by_username(db, username) or staff.create_staff(
                db, username=username, name=name, role=role, region=region, password=staff.DEMO_PASSWORD,
                wechat_openid=f"oStaff_{username.replace('-', '_')}")
            people[username] = person
        case = db.scalar(sa.select(Case).where(Case.submission_key == CASE_KEY))
        if case is None:
            plans = item_plans(kb, [code for code in kb.items if kb.items[code].stage == "2"][:2])
            users.touch(db, OPENID)
            users.set_region(db, OPENID, "yueyang")
            case = cases.submit(db, cases.Application(
                mode="帮办", applicant_openid=OPENID, company_name="岳阳县示例农产品加工有限公司",
                credit_code="91430621MA4XYZ0016", project_name="荣家湾镇农产品冷链仓储项目", region="yueyang",
                investment_type="社会投资", stage="2", contact_name="李经理", contact_phone="13907300016",
                items=tuple(plans), submission_key=CASE_KEY, area=TOWN), calendar, console_url=settings.public_url)
        who = people["yyx-rjw-1"]
        return (f"{case.number} routed to 荣家湾镇's {who.name} ({who.username}); seen by yyx-lead (岳阳县) "
                f"and yueyang-lead (岳阳市)" + ("" if case.commissioner_id == who.id else " — but it went elsewhere"))
