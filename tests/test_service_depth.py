"""Issue 17, items 8, 9 and 11: 服务选项 (延津: 24小时, 分阶段 or 全程 帮办代办) and 提前介入; the
enterprise changing its 联系人/联系电话 after submitting; the 重点项目 green channel (earlier 临期提醒
per region, its own 挂图作战 panel, the supervisor told on assignment). Chat, console, ledger,
dashboard and exports, on SQLite and the real PostgreSQL."""
from __future__ import annotations

import logging
import re
from datetime import date

import pytest
import sqlalchemy as sa
from conftest import CAL, FLASH, PERMIT, db_of, fill_database
from test_dashboard import rows_after_header, signed_in, workbook_of

from bot.casework import case_actions, case_details, cases
from bot.casework.cases import ACTION_NAMES, CaseError
from bot.models import Case, CaseInvitation, LedgerEntry, Notification, Staff
from bot.platform import region_service
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.kv import MemoryKV
from bot.supervision import sla
from dialogs import build_manager
from dialogs.texts import case_details as T

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91350100M000100Y43"


@pytest.fixture()
def app(console_app):
    return console_app


@pytest.fixture()
def manager(database_url, kb, retriever):
    fill_database(database_url, "roster")
    m = build_manager(Settings(database_url=database_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    with transaction(m.sessions) as db:
        for s in db.scalars(sa.select(Staff).where(Staff.region == "yanjin")):
            s.wechat_openid = f"oStaff_{s.username.replace('-', '_')}"
    return m


def submit(db, openid="oEnt", region="yanjin", key_project=False, phone="13800138000", **extra) -> Case:
    return cases.submit(db, cases.Application(
        mode="帮办", applicant_openid=openid, company_name="延津县示例面业有限公司", credit_code=CODE,
        project_name=extra.pop("project_name", "示例小麦深加工项目"), region=region, investment_type="社会投资",
        stage="3", contact_name="陈经理", contact_phone=phone, items=(PERMIT,), key_project=key_project, **extra), CAL)


def pushes(db, purpose) -> list[Notification]:
    return list(db.scalars(sa.select(Notification).where(Notification.purpose == purpose).order_by(Notification.id)))


def ledger(db, number, action) -> list[str]:
    case = cases.by_number(db, number)
    return [e.detail for e in cases.ledger_of(db, case) if e.action == action]


# -- configuration -----------------------------------------------------------------------

def test_the_regions_service_comes_from_one_config_file(tmp_path, monkeypatch):
    assert region_service.for_region("yanjin").service_options == region_service.SERVICE_OPTIONS
    assert region_service.for_region("donghu").service_options == ()
    assert region_service.key_project_warn_workdays("yanjin", 2) == 5
    assert region_service.key_project_warn_workdays("jiangbei", 2) == 2  # not configured: as other projects
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions:\n  yanjin:\n    service_options: [半程帮办]\n", encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(bad))
    with pytest.raises(ValueError, match="半程帮办"):
        region_service.for_region("yanjin")
    for code in ("contact_changed", "key_project_alerted", "invitation:sent", "invitation:accepted",
                 "invitation:declined"):
        assert re.fullmatch(r"[\u4e00-\u9fff]+", ACTION_NAMES[code])


# -- 服务选项 in the form, 我的申请, the case page and the exports ----------------------------------

YANJIN_ANSWERS = ["我要申请帮办", "2"]
REST = ["延津县示例面业有限公司", CODE, "示例小麦深加工项目", "无", "1", "否", "1", "3", "1 3", "陈明", "13800138000"]


def test_yanjin_asks_the_service_option_and_the_case_keeps_it(manager):
    turns = [manager.handle_text("oYan", m) for m in YANJIN_ANSWERS]
    assert "24小时帮办代办" in turns[-1].reply and "全程帮办代办" in turns[-1].reply
    wrong = manager.handle_text("oYan", "半程")
    assert "请回复数字 1-3" in wrong.reply
    for m in ["3", *REST]:
        last = manager.handle_text("oYan", m)
    assert "服务选项：全程帮办代办" in last.reply  # the summary before 「确认」
    manager.handle_text("oYan", "确认")
    with manager.sessions() as db:
        [case] = db.scalars(sa.select(Case).where(Case.applicant_openid == "oYan")).all()
        assert case.service_option == "全程帮办代办"
        assert ledger(db, case.number, "submitted") == ["企业在线提交帮办申请（2个事项，全程帮办代办）"]
    assert "服务选项：全程帮办代办" in manager.handle_text("oYan", "我的申请").reply


def test_a_region_without_options_does_not_ask_and_refuses_one(manager):
    turns = [manager.handle_text("oDh", m) for m in ["我要申请帮办", "5"]]
    assert "24小时" not in turns[-1].reply and "企业" in turns[-1].reply
    with transaction(manager.sessions) as db, pytest.raises(CaseError, match="不提供此服务选项"):
        submit(db, region="donghu", service_option="24小时帮办代办")


def test_the_case_page_and_the_archive_show_the_option(app):
    with db_of(app) as db:
        number = submit(db, service_option="分阶段帮办代办").number
    client = signed_in(app, "yanjin-lead")
    assert "分阶段帮办代办" in client.get(f"/console/cases/{number}").get_data(as_text=True)
    archive = workbook_of(client.get(f"/console/cases/{number}/archive.xlsx"))
    _, facts = rows_after_header(archive["案件信息"], "项目")
    assert dict(facts)["服务选项"] == "分阶段帮办代办"
    ledger_wb = workbook_of(client.get("/console/export/ledger.xlsx"))
    _, rows = rows_after_header(ledger_wb["服务记录台账"], "时间")
    assert any(r[1] == number and "分阶段帮办代办" in r[8] for r in rows)
    from test_api import auth, token_for

    api = app.test_client().get(f"/api/v1/cases/{number}", headers=auth(token_for(app, "yanjin-1")))
    assert api.get_json()["service_option"] == "分阶段帮办代办"


# -- 修改联系人 after submitting ---------------------------------------------------------------

def test_the_enterprise_changes_its_phone_with_confirmation(manager, caplog):
    with transaction(manager.sessions) as db:
        number = submit(db, openid="oChg").number
    ask = manager.handle_text("oChg", "修改联系电话")
    assert number in ask.reply and "13800138000" in ask.reply
    bad = manager.handle_text("oChg", "1390000")
    assert "没有修改" in bad.reply
    confirm = manager.handle_text("oChg", "13912345678")
    assert "13800138000 → 13912345678" in confirm.reply and "确认" in confirm.reply
    with manager.sessions() as db:
        assert cases.by_number(db, number).contact_phone == "13800138000"  # not yet
    with caplog.at_level(logging.INFO):
        done = manager.handle_text("oChg", "确认")
    assert "已修改" in done.reply and "郭雨晴" in done.reply
    with manager.sessions() as db:
        case = cases.by_number(db, number)
        assert case.contact_phone == "13912345678"
        assert ledger(db, number, "contact_changed") == ["联系电话：13800138000 → 13912345678"]
        [push] = pushes(db, "contact_changed")
        assert push.recipient_openid == "oStaff_yanjin_1" and "13912345678" in push.text
    assert "13912345678" not in caplog.text and "139****5678" in caplog.text


def test_with_several_open_cases_it_asks_which_and_a_cancel_changes_nothing(manager):
    with transaction(manager.sessions) as db:
        first = submit(db, openid="oTwo").number
        second = submit(db, openid="oTwo", project_name="示例第二个项目").number
    ask = manager.handle_text("oTwo", "修改联系人")
    assert first in ask.reply and second in ask.reply
    assert "序号" in manager.handle_text("oTwo", "7").reply
    assert "陈经理" in manager.handle_text("oTwo", "2").reply
    assert "2-20个字" in manager.handle_text("oTwo", "1").reply  # a digit is no name
    confirm = manager.handle_text("oTwo", "王芳 13700001111")
    assert "联系人：陈经理 → 王芳" in confirm.reply and "13700001111" in confirm.reply
    assert manager.handle_text("oTwo", "取消").reply == T.CONTACT_CANCELLED
    with manager.sessions() as db:
        assert {c.contact_name for c in db.scalars(sa.select(Case).where(Case.applicant_openid == "oTwo"))} == {"陈经理"}
        assert not pushes(db, "contact_changed")
    # Then done for the second case, by number
    manager.handle_text("oTwo", f"修改联系人 {second}")
    manager.handle_text("oTwo", "王芳")
    manager.handle_text("oTwo", "确认")
    with manager.sessions() as db:
        assert cases.by_number(db, second).contact_name == "王芳" and cases.by_number(db, first).contact_name == "陈经理"
        assert ledger(db, second, "contact_changed") == ["联系人：陈经理 → 王芳"]


def test_without_a_case_the_old_answer_stands_and_other_fields_are_for_the_commissioner(manager):
    from dialogs import texts

    assert manager.handle_text("oNone", "修改联系人").reply.startswith(texts.EDIT_OUTSIDE_FORM[:10])
    with transaction(manager.sessions) as db:
        submit(db, openid="oOther")
    assert manager.handle_text("oOther", "修改企业名称").reply == T.CONTACT_ONLY


def test_the_commissioner_changes_the_contact_in_the_console(app):
    with db_of(app) as db:
        number = submit(db).number
    client = signed_in(app, "yanjin-1")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post(f"/console/cases/{number}/contact", data={"contact_phone": "12345", "csrf_token": token},
                    follow_redirects=True)
    assert FLASH.search(r.get_data(as_text=True)).group(1) == "error"
    client.post(f"/console/cases/{number}/contact", data={"contact_name": "李工", "csrf_token": token})
    with db_of(app) as db:
        assert cases.by_number(db, number).contact_name == "李工"
        assert ledger(db, number, "contact_changed") == ["联系人：陈经理 → 李工"]


# -- 重点项目 green channel --------------------------------------------------------------------

def _openids(db, region="yanjin"):
    for s in db.scalars(sa.select(Staff).where(Staff.region == region)):
        s.wechat_openid = f"oStaff_{s.username.replace('-', '_')}"


def test_a_key_project_tells_the_supervisor_on_assignment_and_reassignment(app):
    with db_of(app) as db:
        _openids(db)
    with db_of(app) as db:
        plain = submit(db, openid="oPlain").number
        key = submit(db, openid="oKey", key_project=True).number
    with db_of(app) as db:
        [alert] = pushes(db, "key_project")
        first = db.get(Staff, cases.by_number(db, key).commissioner_id)
        assert alert.recipient_openid == "oStaff_yanjin_lead" and key in alert.text and first.name in alert.text
        assert ledger(db, key, "key_project_alerted") == ["重点项目已告知主管 宋立新"]
        assert ledger(db, plain, "key_project_alerted") == []
        lead = db.scalar(sa.select(Staff).where(Staff.username == "yanjin-lead"))
        other = db.scalar(sa.select(Staff).where(Staff.region == "yanjin", Staff.role == "commissioner",
                                                 Staff.id != first.id))
        case_actions.assign(db, cases.by_number(db, key), other.id, case_actions.Actor.person(lead))
        other_name = other.name
    with db_of(app) as db:
        assert len(pushes(db, "key_project")) == 2 and other_name in pushes(db, "key_project")[-1].text


def test_key_projects_are_warned_earlier_where_the_region_says_so(db_sessions):
    with transaction(db_sessions) as db:
        db.add_all([Staff(username="yj", name="郭专员", role="commissioner", region="yanjin", wechat_openid="oYj"),
                    Staff(username="dh", name="周专员", role="commissioner", region="donghu", wechat_openid="oDh")])
    today = date(2026, 11, 16)  # a Monday
    due = CAL.add_workdays(today, 4)  # beyond the normal 2 days, within yanjin's 5 and donghu's 4
    numbers = {}
    with transaction(db_sessions) as db:
        for name, region, key in [("yj_key", "yanjin", True), ("yj_plain", "yanjin", False),
                                  ("dh_key", "donghu", True), ("jb_key", "jiangbei", True)]:
            case = submit(db, openid=name, region=region, key_project=key)
            for item in cases.items_of(db, case):
                item.due_date, item.state = due, "submitted"
            numbers[case.number] = name
    with transaction(db_sessions) as db:
        sla.sweep(db, CAL, Settings(), today=today)
    with transaction(db_sessions) as db:
        warned = {numbers[n.text.split("「")[0].replace("【临期提醒】", "")] for n in pushes(db, "sla_warn")}
    assert warned == {"yj_key", "dh_key"}  # jiangbei (no commissioner, not configured) and plain ones: not yet


def test_the_dashboard_has_a_key_project_panel_and_sheet(app):
    with db_of(app) as db:
        key = submit(db, openid="oKey", key_project=True, service_option="24小时帮办代办").number
        plain = submit(db, openid="oPlain").number
    client = signed_in(app, "yanjin-lead")
    page = client.get("/console/dashboard").get_data(as_text=True)
    panel = page[page.index('id="t-key-projects"'):]
    panel = panel[:panel.index("</table>")]
    assert key in panel and plain not in panel and "24小时帮办代办" in panel
    wb = workbook_of(client.get("/console/export/dashboard.xlsx"))
    _, rows = rows_after_header(wb["重点项目"], "案件编号")
    assert [r[0] for r in rows] == [key] and rows[0][4] == "24小时帮办代办"


# -- 提前介入 -------------------------------------------------------------------------------

def _post_early(client, **fields):
    page = client.get("/console/cases/early").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"company_name": "延津县示例食品科技有限公司", "project_name": "示例冷链物流中心", "contact_name": "周经理",
            "investment_type": "社会投资", "stage": "1", "csrf_token": token, **fields}
    return client.post("/console/cases/early", data=data)


def test_a_commissioner_opens_a_case_early_and_the_enterprise_accepts_in_the_chat(app):
    client = signed_in(app, "yanjin-1")
    assert "全程帮办代办" in client.get("/console/cases/early").get_data(as_text=True)
    refused = _post_early(client)  # neither openid nor phone
    assert refused.status_code == 422 and "微信用户标识或联系电话" in refused.get_data(as_text=True)
    with db_of(app) as db:
        assert db.scalar(sa.select(sa.func.count(Case.id))) == 0
    r = _post_early(client, openid="oInvited", key_project="1", service_option="全程帮办代办")
    assert r.status_code == 303
    number = r.headers["Location"].rsplit("/", 1)[-1]
    with db_of(app) as db:
        case = cases.by_number(db, number)
        assert case.applicant_openid == "" and case.key_project and case.service_option == "全程帮办代办"
        [invite] = pushes(db, "invitation")
        assert invite.recipient_openid == "oInvited" and number in invite.text
        assert len(ledger(db, number, "invitation:sent")) == 1
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "待企业确认" in page
    manager = app.extensions["bangban_dialogs"]
    assert "【我的申请】" not in (hello := manager.handle_text("oInvited", "你好").reply)
    assert "【提前介入邀请】" in hello and number in hello
    assert "【提前介入邀请】" not in manager.handle_text("oInvited", "谢谢").reply  # once
    assert "【提前介入邀请】" in manager.handle_text("oInvited", "我的申请").reply  # and with 我的申请
    accepted = manager.handle_text("oInvited", "确认")
    assert number in accepted.reply and "郭雨晴" in accepted.reply
    with db_of(app) as db:
        case = cases.by_number(db, number)
        assert case.applicant_openid == "oInvited"
        assert ledger(db, number, "invitation:accepted") == ["企业在微信中确认接受提前介入服务"]
        assert db.scalar(sa.select(CaseInvitation.state)) == "accepted"
        assert len(pushes(db, "invitation_answered")) == 1
    assert "【提前介入邀请】" not in manager.handle_text("oInvited", "你好").reply
    assert "企业已确认" in client.get(f"/console/cases/{number}").get_data(as_text=True)


def test_an_invitation_by_phone_reaches_the_user_of_that_phone_and_can_be_declined(app):
    with db_of(app) as db:
        submit(db, openid="oKnown", phone="13700002222")
    client = signed_in(app, "yanjin-1")
    bad = _post_early(client, phone="1370000")
    assert bad.status_code == 422
    number = _post_early(client, phone="137 0000 2222").headers["Location"].rsplit("/", 1)[-1]
    manager = app.extensions["bangban_dialogs"]
    assert "【提前介入邀请】" not in manager.handle_text("oStranger", "你好").reply
    assert number in manager.handle_text("oKnown", "你好").reply
    assert number in manager.handle_text("oKnown", "不需要").reply
    with db_of(app) as db:
        case = cases.by_number(db, number)
        assert case.state == "terminated" and case.applicant_openid == ""
        assert ledger(db, number, "invitation:declined") == ["企业在微信中谢绝提前介入服务"]
    assert number not in manager.handle_text("oKnown", "你好").reply


def test_answering_an_invitation_twice_changes_nothing(db_sessions):
    with transaction(db_sessions) as db:
        db.add(Staff(username="yj", name="郭专员", role="commissioner", region="yanjin"))
    with transaction(db_sessions) as db:
        staff = db.scalar(sa.select(Staff))
        case, inv = case_details.open_early(db, staff, case_details.EarlyCase(
            company_name="延津县示例食品科技有限公司", project_name="示例冷链物流中心", contact_name="周经理",
            openid="oOnce"))
        inv_id, number = inv.id, case.number
    with transaction(db_sessions) as db:
        case_details.answer_invitation(db, inv_id, "oOnce", accept=True)
    with transaction(db_sessions) as db, pytest.raises(CaseError):
        case_details.answer_invitation(db, inv_id, "oOnce", accept=False)
    with transaction(db_sessions) as db:
        assert cases.by_number(db, number).state == "applied"
        actions = [e.action for e in db.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id))]
        assert actions == ["invitation:sent", "assigned", "invitation:accepted"]


def test_an_early_case_waits_for_the_enterprise_before_acceptance_and_tells_nobody(db_sessions):
    with transaction(db_sessions) as db:
        db.add(Staff(username="yj", name="郭专员", role="commissioner", region="yanjin"))
    with transaction(db_sessions) as db:
        staff = db.scalar(sa.select(Staff))
        case, _ = case_details.open_early(db, staff, case_details.EarlyCase(
            company_name="延津县示例食品科技有限公司", project_name="示例冷链物流中心", contact_name="周经理",
            phone="13700003333"))
        with pytest.raises(CaseError, match="确认邀请后"):
            case_actions.accept(db, case, case_actions.Actor.person(staff))
        case_actions.terminate(db, case, "项目不具备条件", case_actions.Actor.person(staff))
        assert case.state == "terminated"
        assert db.scalar(sa.select(sa.func.count(Notification.id))) == 0  # no push to an enterprise not yet known


def test_an_early_daiban_is_agreed_to_with_the_invitation(app):
    """提前介入 as 代办 (issue 17 item 8): the invitation shows the region's 委托协议, and 「确认」 is
    the consent, kept with its version like a 代办 application's (was: early cases only as 帮办)."""
    from bot.casework import agreements

    client = signed_in(app, "donghu-1")
    r = _post_early(client, openid="oEarlyDaiban", mode="代办")
    assert r.status_code == 303
    number = r.headers["Location"].rsplit("/", 1)[-1]
    manager = app.extensions["bangban_dialogs"]
    hello = manager.handle_text("oEarlyDaiban", "你好").reply
    shown = agreements.in_effect("donghu")
    assert "【提前介入邀请】" in hello and f"《{shown.title}》（{shown.version_name}）" in hello and shown.path in hello
    manager.handle_text("oEarlyDaiban", "确认")
    with db_of(app) as db:
        case = cases.by_number(db, number)
        agreed = agreements.of_case(db, case)
        assert case.mode == "代办" and agreed.version == shown.version and agreed.agreed_openid == "oEarlyDaiban"
        [line] = ledger(db, number, "agreement_consented")
        assert "随提前介入邀请确认" in line


def test_an_early_daiban_needs_an_agreement_text(app, monkeypatch):
    from bot.casework import agreements

    monkeypatch.setattr(agreements, "in_effect", lambda region, on=None: None)
    r = _post_early(signed_in(app, "donghu-1"), openid="oEarlyNo", mode="代办")
    assert r.status_code == 422 and "尚未配置委托协议" in r.get_data(as_text=True)


def test_messages_of_users_without_an_invitation_do_not_look_one_up(app, monkeypatch):
    """The invitation check read the database on every message (a third of the webhook's CPU); now
    a list of who has one, refreshed every few seconds or when this process opens one."""
    from bot.casework import case_details as early

    looked = []
    real = early.pending_for
    monkeypatch.setattr(early, "pending_for", lambda db, openid: looked.append(openid) or real(db, openid))
    manager = app.extensions["bangban_dialogs"]
    for text in ("你好", "代办收费吗", "谢谢"):
        manager.handle_text("oNobodyInvited", text)
    assert looked == []
    r = _post_early(signed_in(app, "yanjin-1"), openid="oInvitedNow")
    assert r.status_code == 303
    assert "【提前介入邀请】" in manager.handle_text("oInvitedNow", "你好").reply  # seen at once in this process
    assert looked == ["oInvitedNow"]
