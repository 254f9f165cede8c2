"""Issue 17 item 4: materials handed back on 办结 and 终止 (seed 003 五、4. 「将涉及项目的有关资料及时
交还投资者」). The commissioner records what was returned from a checklist of the case's materials
(the 一次性告知's item materials and what came in the chat), how, when and who signed for it; the
enterprise is told and confirms 「已收到材料」 in the chat; the case page, 我的申请, the ledger and
the archive workbook hold it. On SQLite and the real PostgreSQL."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, FLASH, PERMIT, db_of
from test_dashboard import rows_after_header, signed_in, workbook_of

from bot.casework import case_actions, cases, handbacks
from bot.casework.case_actions import Actor
from bot.casework.cases import ACTION_NAMES, CaseError
from bot.models import CaseMaterial, MaterialHandback, Notification, Staff
from bot.platform import clock
from bot.vocabulary import CaseState

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91350100M000100Y43"


@pytest.fixture()
def app(console_app):
    return console_app


def terminated_case(db, openid="oBack"):
    case = cases.submit(db, cases.Application(
        mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司", credit_code=CODE,
        project_name="光谷示例研发楼", region="donghu", investment_type="社会投资", stage="3",
        contact_name="陈经理", contact_phone="13800138000", items=(PERMIT,)), CAL)
    db.add(CaseMaterial(case_id=case.id, sender_openid=openid, message_key=f"{openid}:1", kind="file",
                        file_name="营业执照复印件.pdf", state="stored"))
    db.flush()
    actor = Actor.person(db.get(Staff, case.commissioner_id))
    case_actions.accept(db, case, actor)
    case_actions.terminate(db, case, "企业主动终止", actor)
    return case


def token_of(client, number) -> str:
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def ledger(db, number, action) -> list[str]:
    return [e.detail for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action == action]


def test_the_checklist_is_the_notices_item_materials_and_what_came_in_the_chat(app):
    from knowledge import load

    shipped = {code: tuple(item.materials or ()) for code, item in load().items.items()}
    assert shipped["construction_permit"], "the 一次性告知 lists the permit's materials"
    with db_of(app) as db:
        case = terminated_case(db)
        listed = handbacks.checklist(db, case, shipped)
    assert listed[:len(shipped["construction_permit"])] == list(shipped["construction_permit"])
    assert listed[-1].startswith("微信发来的文件《营业执照复印件.pdf》")
    for code in ("handback:recorded", "handback:confirmed"):
        assert re.fullmatch(r"[\u4e00-\u9fff]+", ACTION_NAMES[code])


def test_the_commissioner_records_the_handback_and_the_enterprise_confirms_in_the_chat(app):
    with db_of(app) as db:
        number = terminated_case(db).number
    client = signed_in(app, "donghu-1")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "材料交还" in page and "营业执照复印件.pdf" in page and "登记材料交还" in page
    token = token_of(client, number)
    chat_item = next(v for v in re.findall(r'name="material" value="([^"]+)"', page) if "营业执照" in v)
    today = clock.today()
    refused = [
        {"method": "当面", "returned_on": today.isoformat(), "signed_by": "陈经理"},  # nothing ticked
        {"material": "不在清单里的材料", "method": "当面", "returned_on": today.isoformat(), "signed_by": "陈经理"},
        {"material": chat_item, "method": "邮寄", "returned_on": today.isoformat(), "signed_by": "陈经理"},  # no 单号
        {"material": chat_item, "method": "当面", "returned_on": (today + timedelta(days=1)).isoformat(),
         "signed_by": "陈经理"},
        {"material": chat_item, "method": "当面", "returned_on": "明天", "signed_by": "陈经理"},
        {"material": chat_item, "method": "当面", "returned_on": today.isoformat(), "signed_by": ""},
        {"material": chat_item, "method": "快递", "returned_on": today.isoformat(), "signed_by": "陈经理"},
    ]
    for data in refused:
        r = client.post(f"/console/cases/{number}/handback", data={**data, "csrf_token": token}, follow_redirects=True)
        assert FLASH.search(r.get_data(as_text=True)).group(1) == "error", data
    with db_of(app) as db:
        assert db.scalar(sa.select(sa.func.count(MaterialHandback.id))) == 0
        assert ledger(db, number, "handback:recorded") == []
    r = client.post(f"/console/cases/{number}/handback", follow_redirects=True, data={
        "material": chat_item, "other": "项目用地红线图原件", "method": "邮寄", "tracking_number": "SF1234567890",
        "returned_on": today.isoformat(), "signed_by": "陈经理", "note": "复印件留档", "csrf_token": token})
    assert FLASH.search(r.get_data(as_text=True)).group(1) == "success"
    with db_of(app) as db:
        row = db.scalar(sa.select(MaterialHandback))
        assert row.occasion == "终止" and row.materials == [chat_item, "项目用地红线图原件"]
        assert (row.method, row.tracking_number, row.signed_by, row.returned_on) == ("邮寄", "SF1234567890", "陈经理", today)
        [line] = ledger(db, number, "handback:recorded")
        assert "终止交还材料" in line and "SF1234567890" in line and "项目用地红线图原件" in line
        [push] = db.scalars(sa.select(Notification).where(Notification.purpose == "materials_returned")).all()
        assert push.recipient_openid == "oBack" and "「已收到材料」" in push.text and "项目用地红线图原件" in push.text
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "待企业确认收到" in page and "签收人 陈经理" in page

    manager = app.extensions["bangban_dialogs"]
    assert "已收到材料" in manager.handle_text("oBack", "我的申请").reply
    assert "没有交还给您" in manager.handle_text("oStranger", "已收到材料").reply
    done = manager.handle_text("oBack", "已收到材料")
    assert number in done.reply and "项目用地红线图原件" in done.reply
    with db_of(app) as db:
        assert db.scalar(sa.select(MaterialHandback.confirmed_openid)) == "oBack"
        assert ledger(db, number, "handback:confirmed") == [
            f"企业在微信中确认已收到交还的材料：{chat_item}、项目用地红线图原件"]
    assert "没有交还给您" in manager.handle_text("oBack", "材料已收到").reply  # twice: nothing more
    assert "您已确认收到" in manager.handle_text("oBack", "我的申请").reply
    assert "企业已确认收到" in client.get(f"/console/cases/{number}").get_data(as_text=True)

    from test_api import auth, token_for

    api = app.test_client().get(f"/api/v1/cases/{number}", headers=auth(token_for(app, "donghu-1"))).get_json()
    [returned] = api["handbacks"]
    assert returned["method"] == "邮寄" and returned["signed_by"] == "陈经理" and returned["confirmed_at"]
    archive = workbook_of(signed_in(app, "donghu-lead").get(f"/console/cases/{number}/archive.xlsx"))
    header, rows = rows_after_header(archive["材料交还"], "交还时机")
    assert header[:6] == ("交还时机", "交还材料", "交还方式", "快递单号", "交还日期", "签收人")
    [(occasion, what, method, tracking, *_rest, confirmed)] = rows
    assert (occasion, method, tracking) == ("终止", "邮寄", "SF1234567890") and "项目用地红线图原件" in what
    assert confirmed != "未确认"


def test_only_a_finished_case_before_its_archive_takes_a_handback(app):
    with db_of(app) as db:
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid="oOpen", company_name="武汉光谷示例科技有限公司", credit_code=CODE,
            project_name="光谷示例研发楼", region="donghu", investment_type="社会投资", stage="3",
            contact_name="陈经理", items=(PERMIT,)), CAL)
        staff = db.get(Staff, case.commissioner_id)
        args = dict(returned=["项目用地红线图"], allowed=["项目用地红线图"], method="当面", returned_on=date(2026, 12, 1),
                    signed_by="陈经理", actor_kind="commissioner", actor_id=staff.username, today=date(2026, 12, 3))
        with pytest.raises(CaseError, match="办结或终止后"):
            handbacks.record(db, case, **args)
        case_actions.terminate(db, case, "企业主动终止", Actor.person(staff))
        handbacks.record(db, case, **args)
        cases.transition(db, case, CaseState.ARCHIVED, actor_kind="commissioner", actor_id=staff.username)
        with pytest.raises(CaseError, match="已立卷归档"):
            handbacks.record(db, case, **args)
        assert len(handbacks.of_case(db, case)) == 1
