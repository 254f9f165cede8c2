"""Issue 17 item 3: 办结 the enterprise confirms (县级市, seed 003 五、4. 「委托代办事项经投资者确认后
办结」). Where config/region_service.yaml says so, the commissioner's 办结 asks the enterprise; its
「确认办结」 closes the case, 「有问题」 (with a reason) sends it back to the commissioner, and the
scheduler counts silence past the deadline as confirmation. Console, chat, ledger, dashboard and
archive, on SQLite and the real PostgreSQL."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from conftest import CAL, FLASH, PERMIT, db_of
from test_dashboard import rows_after_header, signed_in, workbook_of

from bot.casework import case_actions, cases, completion
from bot.casework.case_actions import Actor
from bot.casework.cases import ACTION_NAMES, CaseError
from bot.models import CompletionConfirmation, Notification, Staff
from bot.platform import region_service
from bot.platform.config import Settings
from bot.scheduler import Jobs
from bot.vocabulary import CaseState, ItemState

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91350100M000100Y43"


@pytest.fixture()
def app(console_app):
    return console_app


def submit(db, openid="oCounty", region="county_city"):
    case = cases.submit(db, cases.Application(
        mode="帮办", applicant_openid=openid, company_name="某县级市示例机械有限公司", credit_code=CODE,
        project_name="示例扩产项目", region=region, investment_type="社会投资", stage="3",
        contact_name="顾经理", contact_phone="13912500012", items=(PERMIT,)), CAL)
    for s in db.scalars(sa.select(Staff).where(Staff.region == region)):
        s.wechat_openid = f"oStaff_{s.username.replace('-', '_')}"
    return case


def all_done(db, case) -> Actor:
    actor = Actor.person(db.get(Staff, case.commissioner_id))
    case_actions.accept(db, case, actor)
    for item in cases.items_of(db, case):
        for to in (ItemState.SUBMITTED, ItemState.ACCEPTED, ItemState.DONE):
            case_actions.move_item(db, case, item.id, to, actor)
    return actor


def token_of(client, number) -> str:
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def pushes(db, purpose) -> list[Notification]:
    return list(db.scalars(sa.select(Notification).where(Notification.purpose == purpose).order_by(Notification.id)))


def ledger(db, number, action) -> list[str]:
    return [e.detail for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action == action]


def test_the_region_decides_and_bad_configuration_is_refused(tmp_path, monkeypatch):
    assert region_service.for_region("county_city").completion_confirmation is True
    assert region_service.for_region("county_city").completion_confirm_workdays == 5
    assert region_service.for_region("donghu").completion_confirmation is False
    for code in ("completion:requested", "completion:confirmed", "completion:deemed", "completion:objected"):
        assert re.fullmatch(r"[\u4e00-\u9fff]+", ACTION_NAMES[code])
    assert ACTION_NAMES["completion:deemed"] == "逾期视为确认" and ACTION_NAMES["completion:objected"] == "对办结有异议"
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions:\n  county_city:\n    completion_confirmation: true\n    completion_confirm_workdays: 0\n",
                   encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(bad))
    with pytest.raises(ValueError, match="completion_confirm_workdays"):
        region_service.for_region("county_city")


def test_county_city_completion_waits_for_the_enterprise_then_closes_on_its_confirmation(app):
    with db_of(app) as db:
        case = submit(db)
        number = case.number
        all_done(db, case)
    client = signed_in(app, "county_city-1")
    r = client.post(f"/console/cases/{number}/complete", data={"csrf_token": token_of(client, number)},
                    follow_redirects=True)
    assert FLASH.search(r.get_data(as_text=True)).group(1) == "success"
    assert "待企业确认办结" in r.get_data(as_text=True)
    with db_of(app) as db:
        case = cases.by_number(db, number)
        assert case.state == CaseState.IN_PROGRESS and case.closed_at is None
        [ask] = pushes(db, "completion_confirm")
        assert ask.recipient_openid == "oCounty" and "「确认办结」" in ask.text and "「有问题」" in ask.text
        assert pushes(db, "completed") == []
        [line] = ledger(db, number, "completion:requested")
        assert "前未答复视为确认" in line
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "待企业确认办结" in page and "标记办结" not in page
    listed = client.get("/console/cases").get_data(as_text=True)
    assert number in listed and "待企业确认办结" in listed
    # asking twice is refused, nothing doubles
    with db_of(app) as db, pytest.raises(CaseError, match="等待企业答复"):
        case = cases.by_number(db, number)
        case_actions.complete(db, case, Actor.person(db.get(Staff, case.commissioner_id)))
    dashboard = signed_in(app, "county_city-lead").get("/console/dashboard").get_data(as_text=True)
    assert 'id="t-completion-waiting"' in dashboard and number in dashboard.split('id="t-completion-waiting"')[1]
    sheet = workbook_of(signed_in(app, "county_city-lead").get("/console/export/dashboard.xlsx"))["待企业确认办结"]
    _, waiting = rows_after_header(sheet, "案件编号")
    assert [(r[0], r[3]) for r in waiting] == [(number, "待企业确认办结")]

    from test_api import auth, token_for

    api = app.test_client().get(f"/api/v1/cases/{number}", headers=auth(token_for(app, "county_city-1"))).get_json()
    assert api["state"] == "in_progress" and api["completion_waiting"]["label"] == "待企业确认办结"
    manager = app.extensions["bangban_dialogs"]
    mine = manager.handle_text("oCounty", "我的申请").reply
    assert "待企业确认办结" in mine and "确认办结" in mine
    assert "没有待确认办结" in manager.handle_text("oSomeoneElse", "确认办结").reply
    done = manager.handle_text("oCounty", "确认办结")
    assert number in done.reply and "已确认办结" in done.reply
    with db_of(app) as db:
        case = cases.by_number(db, number)
        assert case.state == CaseState.COMPLETED and case.closed_at is not None
        assert ledger(db, number, "completion:confirmed") == ["企业在微信中确认办结"]
        assert len(pushes(db, "completed")) == 1
        assert db.scalar(sa.select(CompletionConfirmation.state)) == "confirmed"
    assert "没有待确认办结" in manager.handle_text("oCounty", "确认办结").reply  # twice: nothing more
    archive = workbook_of(signed_in(app, "county_city-lead").get(f"/console/cases/{number}/archive.xlsx"))
    _, rows = rows_after_header(archive["办结确认"], "请企业确认时间")
    assert [r[2] for r in rows] == ["企业确认办结"]


def test_an_objection_goes_back_to_the_commissioner_and_the_case_stays_open(app):
    with db_of(app) as db:
        case = submit(db, openid="oObj")
        number = case.number
        actor = all_done(db, case)
        assert case_actions.complete(db, case, actor) is False
    manager = app.extensions["bangban_dialogs"]
    ask = manager.handle_text("oObj", "有问题")
    assert "写明" in ask.reply
    with db_of(app) as db:
        assert ledger(db, number, "completion:objected") == []  # nothing recorded without a reason
    said = manager.handle_text("oObj", "施工许可证原件还没拿到")
    assert number in said.reply and "施工许可证原件还没拿到" in said.reply
    with db_of(app) as db:
        case = cases.by_number(db, number)
        assert case.state == CaseState.IN_PROGRESS
        assert ledger(db, number, "completion:objected") == ["企业对办结有异议：施工许可证原件还没拿到"]
        [told] = pushes(db, "completion_objected")
        commissioner = db.get(Staff, case.commissioner_id)
        assert told.recipient_openid == commissioner.wechat_openid and "施工许可证原件还没拿到" in told.text
    page = signed_in(app, "county_city-1").get(f"/console/cases/{number}").get_data(as_text=True)
    assert "企业对办结有异议" in page and "标记办结" in page  # can be reported 办结 again
    # an objection in one message, after the commissioner asks again
    with db_of(app) as db:
        case = cases.by_number(db, number)
        assert case_actions.complete(db, case, Actor.person(db.get(Staff, case.commissioner_id))) is False
    manager.handle_text("oObj", f"有问题 {number} 证书上的项目名称写错了")
    with db_of(app) as db:
        assert ledger(db, number, "completion:objected")[-1] == "企业对办结有异议：证书上的项目名称写错了"
        assert len(pushes(db, "completion_confirm")) == 2 and len(pushes(db, "completion_objected")) == 2


def test_silence_past_the_deadline_counts_as_confirmed_once(app):
    with db_of(app) as db:
        case = submit(db, openid="oQuiet")
        number = case.number
        actor = all_done(db, case)
        completion.request(db, case, actor_kind=actor.kind, actor_id=actor.id, calendar=CAL, today=date(2026, 12, 1))
        deadline = completion.pending(db, case).deadline
    assert deadline == CAL.add_workdays(date(2026, 12, 1), 5)
    manager = app.extensions["bangban_dialogs"]
    jobs = Jobs(Settings(database_url="sqlite://"), sessions=manager.sessions, client=object(), calendar=CAL)
    on_deadline = datetime.combine(deadline, datetime.min.time(), tzinfo=timezone(timedelta(hours=8))) + timedelta(hours=12)
    assert jobs.completion_deadlines(now=on_deadline) == {"deemed_confirmed": 0}  # the last day is the enterprise's
    assert jobs.completion_deadlines(now=on_deadline + timedelta(days=1)) == {"deemed_confirmed": 1}
    assert jobs.completion_deadlines(now=on_deadline + timedelta(days=2)) == {"deemed_confirmed": 0}
    with db_of(app) as db:
        assert cases.by_number(db, number).state == CaseState.COMPLETED
        [line] = ledger(db, number, "completion:deemed")
        assert "逾期视为确认" in line
        assert len(pushes(db, "completed")) == 1
    assert "completion-deadlines" in [j["id"] for j in __import__("bot.scheduler", fromlist=["x"]).job_definitions(
        Settings(database_url="sqlite://"))]


def test_a_region_without_confirmation_completes_at_once(app):
    with db_of(app) as db:
        case = submit(db, openid="oDonghu", region="donghu")
        actor = all_done(db, case)
        assert case_actions.complete(db, case, actor) is True
        assert case.state == CaseState.COMPLETED
        assert pushes(db, "completion_confirm") == []
        assert ledger(db, case.number, "completion:requested") == []


def test_a_case_terminated_while_waiting_withdraws_the_question(app):
    with db_of(app) as db:
        case = submit(db, openid="oStop")
        number = case.number
        actor = all_done(db, case)
        assert case_actions.complete(db, case, actor) is False
        case_actions.terminate(db, case, "企业主动终止", actor)
        assert db.scalar(sa.select(CompletionConfirmation.state)) == "withdrawn"
    manager = app.extensions["bangban_dialogs"]
    assert "没有待确认办结" in manager.handle_text("oStop", "确认办结").reply
    jobs = Jobs(Settings(database_url="sqlite://"), sessions=manager.sessions, client=object(), calendar=CAL)
    assert jobs.completion_deadlines(now=datetime.now(timezone.utc) + timedelta(days=30)) == {"deemed_confirmed": 0}
    with db_of(app) as db:
        assert cases.by_number(db, number).state == CaseState.TERMINATED
        assert ledger(db, number, "completion:deemed") == [] and ledger(db, number, "completion:confirmed") == []
    page = signed_in(app, "county_city-1").get(f"/console/cases/{number}").get_data(as_text=True)
    assert "案件终止，办结确认撤回" in page and "登记材料交还" in page
