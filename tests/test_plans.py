"""Issue 17, item 10: the 一企一策 plan against progress. On 受理 a plan is proposed from the items'
time limits and working days (the case schedule, reused); the commissioner edits it per item
(ledger 计划调整); the case page, the chat's 「我的申请」 and the 挂图作战 dashboard show plan
against actual, late items 滞后 N 个工作日, and the dashboard lists projects by slippage."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, DRAWINGS, FLASH, PERMIT, db_of, fill_database
from test_dashboard import rows_after_header, signed_in, workbook_of

from bot.casework import case_actions, cases, plans
from bot.models import Case, CaseItem, LedgerEntry, Notification, Staff
from bot.platform import clock
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.kv import MemoryKV
from bot.vocabulary import ItemState
from dialogs import build_manager
from dialogs.notice import item_plans

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91350100M000100Y43"


@pytest.fixture()
def app(console_app):
    return console_app


def submit(db, openid="oEnt", region="county_city", project="示例精密零部件厂房") -> Case:
    return cases.submit(db, cases.Application(
        mode="帮办", applicant_openid=openid, company_name="示例精密机械有限公司", credit_code=CODE,
        project_name=project, region=region, investment_type="社会投资", stage="3", contact_name="陈经理",
        contact_phone="13800138000", items=(PERMIT, DRAWINGS)), CAL)


def commissioner_of(db, case) -> Staff:
    return db.get(Staff, case.commissioner_id)


def token_of(client, number) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/console/cases/{number}").get_data(as_text=True)).group(1)


def items_by_code(db, number) -> dict[str, CaseItem]:
    return {i.item_code: i for i in cases.items_of(db, cases.by_number(db, number))}


def flash(response) -> tuple[str, str]:
    return FLASH.search(response.get_data(as_text=True)).groups()


def accepted(app, **kw) -> tuple[str, str]:
    """A case accepted in the console by its commissioner: (number, username)."""
    with db_of(app) as db:
        case = submit(db, **kw)
        number, username = case.number, commissioner_of(db, case).username
    client = signed_in(app, username)
    r = client.post(f"/console/cases/{number}/accept", data={"csrf_token": token_of(client, number)})
    assert r.status_code == 303
    return number, username


# -- proposed on 受理 ---------------------------------------------------------------------------

def test_acceptance_proposes_a_plan_from_the_time_limits_and_working_days(app):
    before = None
    with db_of(app) as db:
        before = submit(db, openid="oBefore").number
        assert all(i.planned_date is None for i in items_by_code(db, before).values())  # no plan before 受理
    number, username = accepted(app)
    today = clock.today()
    with db_of(app) as db:
        items = items_by_code(db, number)
        assert items["construction_permit"].planned_date == CAL.add_workdays(today, 7)
        assert items["drawing_review"].planned_date == CAL.add_workdays(today, 10)
        [line] = [e.detail for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action == "plan_proposed"]
    assert f"施工图审查 {CAL.add_workdays(today, 10):%Y-%m-%d}" in line and "计划全部办结" in line
    html = signed_in(app, username).get(f"/console/cases/{number}").get_data(as_text=True)
    assert f"计划 {CAL.add_workdays(today, 7)}" in html and "项目申报进度计划：" in html and "按计划" in html  # 县级市's name
    assert line.startswith("项目申报进度计划：")


def test_the_plan_reuses_the_case_schedule_with_the_catalogue(db_sessions, kb):
    """Stages and prerequisites come from the knowledge base's items, dates from cases.plan_schedule."""
    codes = [i.id for i in kb.items.values() if i.after][:1]
    codes += list(kb.items[codes[0]].after) if codes else []
    assert codes, "the shipped catalogue has an item that needs another's result"
    with transaction(db_sessions) as db:
        staff = Staff(username="c1", name="陆佳怡", role="commissioner", region="county_city")
        db.add(staff)
        db.flush()
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid="oK", company_name="示例精密机械有限公司", credit_code=CODE,
            project_name="示例厂房", region="county_city", investment_type="社会投资", stage=kb.items[codes[0]].stage,
            contact_name="陈经理", items=tuple(item_plans(kb, codes))), CAL)
        case_actions.accept(db, case, case_actions.Actor.person(staff), CAL, kb.items)
        expected = {p.plan.code: p.due for p in cases.plan_schedule(item_plans(kb, codes), clock.today(), CAL).items}
        assert {i.item_code: i.planned_date for i in cases.items_of(db, case)} == expected


def test_each_region_names_its_plan_as_its_document_does(tmp_path, monkeypatch):
    from bot.platform import region_service

    assert region_service.for_region("county_city").plan_name == "项目申报进度计划"  # seed 003
    assert region_service.for_region("donghu").plan_name == "进度计划表"  # seed 004
    assert region_service.for_region("jiangbei").plan_name == "一企一策计划"  # the default
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions:\n  donghu:\n    plan_name: 表\n", encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(bad))
    with pytest.raises(ValueError, match="plan_name"):
        region_service.for_region("donghu")


# -- 计划调整 -------------------------------------------------------------------------------------

def test_no_plan_is_changed_before_acceptance(db_sessions):
    with transaction(db_sessions) as db:
        case = submit(db)
        item_id = cases.items_of(db, case)[0].id
    with pytest.raises(cases.CaseError, match="请先受理"), transaction(db_sessions) as db:
        plans.change(db, cases.by_number(db, case.number), item_id, clock.today(), actor_kind="commissioner", actor_id="x")


def test_the_commissioner_changes_a_planned_date_with_a_ledger_line(app):
    number, username = accepted(app)
    client = signed_in(app, username)
    with db_of(app) as db:
        item = items_by_code(db, number)["drawing_review"]
        item_id, old = item.id, item.planned_date
    url = f"/console/cases/{number}/items/{item_id}/plan"
    for bad in ("", "2026-13-40", (clock.today() - timedelta(days=400)).isoformat()):
        r = client.post(url, data={"planned": bad, "csrf_token": token_of(client, number)}, follow_redirects=True)
        assert flash(r)[0] == "error", bad
    with db_of(app) as db:
        assert items_by_code(db, number)["drawing_review"].planned_date == old  # nothing changed
        assert not [e for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action == "plan_changed"]
    new = old + timedelta(days=14)
    r = client.post(url, data={"planned": new.isoformat(), "reason": "企业要求顺延", "csrf_token": token_of(client, number)},
                    follow_redirects=True)
    assert flash(r) == ("success", "计划已调整，已写入台账。")
    with db_of(app) as db:
        assert items_by_code(db, number)["drawing_review"].planned_date == new
        [line] = [e.detail for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action == "plan_changed"]
    assert line == f"施工图审查：计划 {old:%Y-%m-%d} → {new:%Y-%m-%d}（企业要求顺延）"
    with db_of(app) as db:  # the enterprise is told
        [push] = db.scalars(sa.select(Notification).where(Notification.purpose == "plan_changed")).all()
        assert push.recipient_openid == "oEnt" and f"{old:%Y-%m-%d} → {new:%Y-%m-%d}" in push.text
        assert "企业要求顺延" in push.text
    lead = signed_in(app, "county_city-lead")  # a supervisor reads the plan, does not change it
    r = lead.post(url, data={"planned": new.isoformat(), "csrf_token": token_of(lead, number)})
    assert r.status_code == 403


# -- plan against actual ----------------------------------------------------------------------------

def _late_by(db, number, code, workdays) -> int:
    """Move an item's plan back so it is `workdays` working days late today; returns that figure."""
    item = items_by_code(db, number)[code]
    day = clock.today() - timedelta(days=1)
    while CAL.workdays_between(day, clock.today()) < workdays:
        day -= timedelta(days=1)
    item.planned_date = day
    return CAL.workdays_between(day, clock.today())


def test_late_items_show_their_lag_on_the_case_page_and_a_done_one_its_actual(app):
    number, username = accepted(app)
    with db_of(app) as db:
        n = _late_by(db, number, "drawing_review", 3)
        done = items_by_code(db, number)["construction_permit"]
        done.planned_date = clock.today() + timedelta(days=5)
        done.state = ItemState.DONE  # on time: done before its plan
    html = signed_in(app, username).get(f"/console/cases/{number}").get_data(as_text=True)
    assert f"滞后 {n} 个工作日" in html and "1 个事项滞后" in html
    from test_api import auth, token_for

    api = app.test_client().get(f"/api/v1/cases/{number}", headers=auth(token_for(app, username))).get_json()
    assert {i["code"]: i["late_workdays"] for i in api["items"]} == {"drawing_review": n, "construction_permit": 0}
    assert all(i["planned_date"] for i in api["items"])
    assert f"实际 {clock.today()}" in html
    with db_of(app) as db:
        lines = {p.name: p for p in plans.of_case(db, cases.by_number(db, number), CAL)}
    assert lines["施工图审查"].late_workdays == n and lines["建筑工程施工许可证核发"].late_workdays == 0
    assert lines["建筑工程施工许可证核发"].actual == clock.today()


def test_a_done_item_past_its_plan_stays_late_by_the_days_it_took(db_sessions):
    with transaction(db_sessions) as db:
        case = submit(db)
        item = cases.items_of(db, case)[0]
        item.state, item.planned_date = ItemState.DONE, clock.today() - timedelta(days=7)
    with db_sessions() as db:
        [line, _] = plans.of_case(db, cases.by_number(db, case.number), CAL)
    assert line.actual == clock.today() and line.late_workdays == CAL.workdays_between(
        clock.today() - timedelta(days=7), clock.today())


def test_the_chat_shows_plan_against_progress(database_url, kb, retriever):
    fill_database(database_url, "roster")
    m = build_manager(Settings(database_url=database_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    with transaction(m.sessions) as db:
        case = submit(db, openid="oMine")
        case_actions.accept(db, case, case_actions.Actor.person(commissioner_of(db, case)), CAL)
        number = case.number
        n = _late_by(db, number, "drawing_review", 2)
    reply = m.handle_text("oMine", "我的申请").reply
    assert f"滞后{n}个工作日" in reply and "项目申报进度计划：" in reply and "1个事项滞后" in reply, reply
    assert "计划" in reply.split("建筑工程施工许可证核发")[1].split("\n")[0]


def test_the_dashboard_lists_projects_by_slippage(app):
    first, _ = accepted(app, openid="oA", project="按计划的项目")
    second, _ = accepted(app, openid="oB", project="滞后较少的项目")
    third, _ = accepted(app, openid="oC", project="滞后最多的项目")
    with db_of(app) as db:
        small = _late_by(db, second, "drawing_review", 1)
        big = _late_by(db, third, "construction_permit", 4)
    client = signed_in(app, "county_city-lead")
    html = client.get("/console/dashboard").get_data(as_text=True)
    table = html.split('id="t-plans"')[1].split("</table>")[0]
    assert table.index(third) < table.index(second) < table.index(first)
    assert f"滞后 {big} 个工作日" in table and f"施工图审查 滞后 {small} 个工作日" in table
    wb = workbook_of(client.get("/console/export/dashboard.xlsx"))
    _, rows = rows_after_header(wb["计划与进度"], "案件编号")
    assert [r[0] for r in rows][:3] == [third, second, first] and rows[0][9] == big
    with db_of(app) as db:
        assert db.scalar(sa.select(sa.func.count(LedgerEntry.id)).where(LedgerEntry.action == "plan_proposed")) == 3


def test_the_archive_workbook_holds_the_plan(app):
    number, _ = accepted(app)
    with db_of(app) as db:
        case = cases.by_number(db, number)
        case_actions.terminate(db, case, "企业主动终止", case_actions.Actor.person(commissioner_of(db, case)))
    wb = workbook_of(signed_in(app, "county_city-lead").get(f"/console/cases/{number}/archive.xlsx"))
    _, rows = rows_after_header(wb["一企一策计划"], "审批事项")
    assert {r[0] for r in rows} == {"建筑工程施工许可证核发", "施工图审查"} and all(r[2] for r in rows)
