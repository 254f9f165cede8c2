"""Issue 17 item 1: 上门受理 and 窗口预约 (江北 seed 000 代办 「上门受理」, 东湖 seed 004 「预约企业上门」).
The commissioner proposes one in the console; the enterprise answers 「确认预约」 or 「改个时间 …」 in
the chat (through the signed webhook too) and sees 「我的预约」; the scheduler reminds it the day
before, once; the commissioner records the outcome. Ledger, case page, 我的申请, Excel ledger and
archive, on SQLite and the real PostgreSQL."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, FLASH, PERMIT, db_of
from test_dashboard import rows_after_header, signed_in, workbook_of

from bot.casework import appointments, cases
from bot.casework.cases import ACTION_NAMES, CaseError
from bot.models import Appointment, LedgerEntry, Notification, Staff
from bot.platform import clock, region_service
from bot.platform.config import Settings
from bot.scheduler import Jobs, job_definitions
from bot.vocabulary import ActorKind, AppointmentState
from dialogs.texts import appointments as texts

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91500105M000100Y41"


@pytest.fixture()
def app(console_app):
    return console_app


def submit(db, openid="oJiangbei", region="jiangbei", mode="代办"):
    case = cases.submit(db, cases.Application(
        mode=mode, applicant_openid=openid, company_name="重庆示例建设有限公司", credit_code=CODE,
        project_name="江北示例厂房项目", region=region, investment_type="社会投资", stage="3",
        contact_name="陈经理", contact_phone="13912500031", items=(PERMIT,),
        agreement_consented_at=clock.now()), CAL)
    for s in db.scalars(sa.select(Staff).where(Staff.region == region)):
        s.wechat_openid = f"oStaff_{s.username.replace('-', '_')}"
    return case


def workday_after(day: date, n: int = 2) -> date:
    return CAL.add_workdays(day, n)


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return appointments.local_datetime(day, time(hour, minute))


def token_of(client, number) -> str:
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def pushes(db, purpose) -> list[Notification]:
    return list(db.scalars(sa.select(Notification).where(Notification.purpose == purpose).order_by(Notification.id)))


def ledger(db, number, action) -> list[str]:
    return [e.detail for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action == action]


def commissioner_of(db, case) -> Staff:
    return db.get(Staff, case.commissioner_id)


def propose(db, case, day=None, kind="visit", **kw):
    staff = commissioner_of(db, case)
    return appointments.propose(db, case, kind=kind, starts_at=kw.pop("starts_at", None) or at(day),
                                place=kw.pop("place", "江北区示例路1号 项目部"), bring=kw.pop("bring", "营业执照复印件\n授权委托书"),
                                actor_kind=ActorKind.COMMISSIONER, actor_id=staff.username, staff=staff, calendar=CAL,
                                **kw)


def test_the_regions_offer_what_their_documents_say_and_bad_configuration_is_refused(tmp_path, monkeypatch):
    assert region_service.for_region("jiangbei").appointment_kinds == ("visit", "window")
    assert region_service.for_region("donghu").appointment_kinds == ("visit", "window")
    assert region_service.for_region("yanjin").appointment_kinds == ("window",)
    assert region_service.for_region("nowhere").appointment_kinds == ("window",)
    for code in [c for c in ACTION_NAMES if c.startswith("appointment:")]:
        assert re.fullmatch(r"[\u4e00-\u9fff]+", ACTION_NAMES[code]), code
    assert {"appointment:proposed", "appointment:confirmed", "appointment:reschedule_requested",
            "appointment:reminded", "appointment:done", "appointment:missed"} <= set(ACTION_NAMES)
    assert "appointment-reminders" in [j["id"] for j in job_definitions(Settings(database_url="sqlite://"))]
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions:\n  jiangbei:\n    appointment_kinds: [visit, helicopter]\n", encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(bad))
    with pytest.raises(ValueError, match="appointment_kinds"):
        region_service.for_region("jiangbei")
    bad.write_text("regions:\n  jiangbei:\n    visit_modes: [代跑]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="visit_modes"):
        region_service.for_region("jiangbei")


def test_a_visit_is_offered_for_the_modes_the_regions_document_has_it_for(app):
    # 江北's 帮办 is 咨询指导 at the window or by phone; 上门受理 is in its 代办 mechanism. 东湖's 帮办专员
    # 「上门主动告知」: both modes there.
    with db_of(app) as db:
        bangban = submit(db, openid="oJbBangban", mode="帮办")
        assert appointments.kinds_for(bangban) == ["window"]
        assert appointments.kinds_for(submit(db, openid="oJbDaiban")) == ["visit", "window"]
        assert appointments.kinds_for(submit(db, openid="oDhBangban", region="donghu", mode="帮办")) == ["visit", "window"]
        with pytest.raises(CaseError, match="本地区帮办不提供上门受理（可约定：窗口预约）"):
            propose(db, bangban, workday_after(clock.today()))
        assert appointments.of_case(db, bangban) == []


def test_bad_proposals_are_refused_with_a_clear_reason_and_change_nothing(app):
    with db_of(app) as db:
        case = submit(db)
        number = case.number
        today = clock.today()
        monday = workday_after(today, 3)
        saturday = next(today + timedelta(days=d) for d in range(2, 12)
                        if (today + timedelta(days=d)).weekday() == 5 and not CAL.is_workday(today + timedelta(days=d)))
        refusals = [
            (dict(starts_at=clock.now() - timedelta(hours=1)), "晚于现在"),
            (dict(starts_at=at(today + timedelta(days=120))), "90 天"),
            (dict(starts_at=at(saturday)), "不是工作日"),
            (dict(starts_at=at(monday, 12, 45)), "不在工作时间"),
            (dict(starts_at=at(monday), place="  "), "地点"),
        ]
        for kw, message in refusals:
            with pytest.raises(CaseError, match=message):
                propose(db, case, **kw)
        yanjin = submit(db, openid="oYanjin", region="yanjin")
        with pytest.raises(CaseError, match="本地区不提供上门受理"):
            propose(db, yanjin, monday)
        assert db.scalar(sa.select(sa.func.count(Appointment.id))) == 0
        assert ledger(db, number, "appointment:proposed") == []
        # the enterprise asked for a Saturday: the commissioner says so, and it goes out
        row = propose(db, case, saturday, off_hours_agreed=True)
        assert row.state == AppointmentState.PROPOSED
        assert "企业要求的非工作时间" in ledger(db, number, "appointment:proposed")[0]
    client = signed_in(app, "jiangbei-1")
    r = client.post(f"/console/cases/{number}/appointments", data={
        "csrf_token": token_of(client, number), "kind": "visit", "day": monday.isoformat(), "time": "13:00",
        "place": "项目部"}, follow_redirects=True)
    assert FLASH.search(r.get_data(as_text=True)).group(1) == "error"
    assert "不在工作时间" in r.get_data(as_text=True)
    r = client.post(f"/console/cases/{number}/appointments", data={
        "csrf_token": token_of(client, number), "kind": "visit", "day": "12/08", "time": "10:00", "place": "项目部"},
        follow_redirects=True)
    assert "格式不正确" in r.get_data(as_text=True)
    with db_of(app) as db:
        assert db.scalar(sa.select(sa.func.count(Appointment.id))) == 1  # only the agreed Saturday


def test_propose_in_the_console_then_the_enterprise_confirms_in_the_chat(app):
    with db_of(app) as db:
        case = submit(db)
        number = case.number
    day = workday_after(clock.today())
    client = signed_in(app, "jiangbei-1")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "约定预约" in page and "上门受理" in page and "窗口预约" in page
    r = client.post(f"/console/cases/{number}/appointments", data={
        "csrf_token": token_of(client, number), "kind": "visit", "day": day.isoformat(), "time": "09:30",
        "place": "江北区示例路1号 项目部", "bring": "营业执照复印件\n授权委托书", "note": "请法定代表人或经办人在场"},
        follow_redirects=True)
    html = r.get_data(as_text=True)
    assert FLASH.search(html).group(1) == "success" and "预约已发送给企业" in html
    assert "待企业确认" in html and "江北区示例路1号 项目部" in html
    with db_of(app) as db:
        [told] = pushes(db, "appointment")
        assert told.recipient_openid == "oJiangbei" and "「确认预约」" in told.text and "「改个时间」" in told.text
        assert "上门受理" in told.text and "请准备：营业执照复印件、授权委托书" in told.text and f"{day:%m月%d日}" in told.text
        [line] = ledger(db, number, "appointment:proposed")
        assert "上门受理" in line and f"{day:%Y-%m-%d} 09:30" in line
    manager = app.extensions["bangban_dialogs"]
    mine = manager.handle_text("oJiangbei", "我的申请").reply
    assert "下次预约：上门受理" in mine and "待您确认" in mine
    listed = manager.handle_text("oJiangbei", "我的预约")
    assert listed.intent == "appointment" and number in listed.reply and "营业执照复印件" in listed.reply
    assert "没有待确认的预约" in manager.handle_text("oSomeoneElse", "确认预约").reply
    done = manager.handle_text("oJiangbei", "确认预约")
    assert done.intent == "appointment" and "已确认" in done.reply and number in done.reply
    with db_of(app) as db:
        row = db.scalar(sa.select(Appointment))
        assert row.state == AppointmentState.CONFIRMED and row.answered_at is not None
        assert len(ledger(db, number, "appointment:confirmed")) == 1
        [answer] = pushes(db, "appointment_answered")
        assert answer.recipient_openid == "oStaff_jiangbei_1" and "企业已确认" in answer.text
    assert "没有待确认的预约" in manager.handle_text("oJiangbei", "确认预约").reply  # twice: nothing more
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "企业已确认" in page and "企业约定预约" not in page
    assert "您已确认" in manager.handle_text("oJiangbei", "我的申请").reply


def test_another_time_goes_back_to_the_commissioner_who_proposes_again(app):
    with db_of(app) as db:
        case = submit(db, openid="oMove")
        number = case.number
        first = propose(db, case, workday_after(clock.today()))
        first_id = first.id
    manager = app.extensions["bangban_dialogs"]
    asked = manager.handle_text("oMove", "改个时间 下周二上午")
    assert asked.intent == "appointment" and "下周二上午" in asked.reply and "已转达" in asked.reply
    with db_of(app) as db:
        row = db.get(Appointment, first_id)
        assert row.state == AppointmentState.RESCHEDULE_REQUESTED and row.enterprise_note == "下周二上午"
        assert ledger(db, number, "appointment:reschedule_requested")[0].endswith("：下周二上午")
        [told] = pushes(db, "appointment_answered")
        assert "下周二上午" in told.text and "改期" in told.text
    client = signed_in(app, "jiangbei-1")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "企业希望改期：</strong>下周二上午" in page and "重新约定" in page
    later = workday_after(clock.today(), 4)
    r = client.post(f"/console/cases/{number}/appointments", data={
        "csrf_token": token_of(client, number), "kind": "window", "day": later.isoformat(), "time": "10:00",
        "place": "江北区政务服务中心 帮代办专区"}, follow_redirects=True)
    assert FLASH.search(r.get_data(as_text=True)).group(1) == "success"
    with db_of(app) as db:
        old, new = db.scalars(sa.select(Appointment).order_by(Appointment.id)).all()
        assert old.state == AppointmentState.CANCELLED and "重新约定" in old.outcome
        assert new.state == AppointmentState.PROPOSED and new.kind == "window"
        [line] = ledger(db, number, "appointment:rescheduled")
        assert "企业希望：下周二上午" in line
        assert "【预约改期】" in pushes(db, "appointment")[-1].text
    # a question about changing is answered as usual, nothing recorded
    assert manager.handle_text("oMove", "改期了怎么办").intent != "appointment"
    with db_of(app) as db:
        assert db.get(Appointment, new.id).state == AppointmentState.PROPOSED
    # 「改个时间」 alone (or 「…可以吗」) asks for the time; the next message is it
    ask = manager.handle_text("oMove", "改个时间可以吗")
    assert "方便的时间" in ask.reply
    with db_of(app) as db:
        assert db.get(Appointment, new.id).state == AppointmentState.PROPOSED
    manager.handle_text("oMove", "12月20日下午3点可以吗")
    with db_of(app) as db:
        row = db.get(Appointment, new.id)
        assert row.state == AppointmentState.RESCHEDULE_REQUESTED and row.enterprise_note == "12月20日下午3点可以吗"


def test_the_words_do_not_hijack_questions_without_an_appointment(app):
    manager = app.extensions["bangban_dialogs"]
    for text in ("改个时间", "时间可以", "改期怎么申请"):
        assert manager.handle_text("oNobody", text).intent != "appointment", text
    with db_of(app) as db:
        submit(db, openid="oHasCase")
    assert manager.handle_text("oHasCase", "改时间要多久").intent != "appointment"
    assert "没有待进行的预约" in manager.handle_text("oHasCase", "我的预约").reply


def test_the_enterprise_answers_through_the_signed_webhook(app):
    from webhook.simulator import WeChatServer, reply_fields, text_xml  # the signed callback, as WeChat calls it

    with db_of(app) as db:
        case = submit(db, openid="oWire")
        propose(db, case, workday_after(clock.today()))
    cb = WeChatServer(app.config["BANGBAN_SETTINGS"].wechat_token).callback(text_xml("oWire", "确认预约", to="gh_acct"))
    r = app.test_client().post(cb.path, data=cb.body, content_type="text/xml")
    reply = reply_fields(r.get_data(as_text=True))["Content"]
    assert "已确认" in reply and "上门受理" in reply
    with db_of(app) as db:
        assert db.scalar(sa.select(Appointment.state)) == AppointmentState.CONFIRMED


def test_the_day_before_reminder_is_sent_once(app):
    day = workday_after(clock.today(), 3)
    with db_of(app) as db:
        case = submit(db, openid="oRemind")
        number = case.number
        propose(db, case, day)
        other = submit(db, openid="oRemind2")
        late = propose(db, other, day, starts_at=at(day, 15))
        late.proposed_at = appointments.local_datetime(day - timedelta(days=1), time(11, 0))  # proposed after 09:00
    jobs = Jobs(Settings(database_url="sqlite://"), sessions=app.extensions["bangban_dialogs"].sessions,
                client=object(), calendar=CAL)
    eve = day - timedelta(days=1)
    assert jobs.appointment_reminders(now=at(eve, 8, 30)) == {"appointments_reminded": 0}  # before 09:00
    assert jobs.appointment_reminders(now=at(eve - timedelta(days=1), 10)) == {"appointments_reminded": 0}
    assert jobs.appointment_reminders(now=at(eve, 9, 5)) == {"appointments_reminded": 1}
    assert jobs.appointment_reminders(now=at(eve, 9, 20)) == {"appointments_reminded": 0}
    assert jobs.appointment_reminders(now=at(eve, 15)) == {"appointments_reminded": 0}
    with db_of(app) as db:
        [sent] = pushes(db, "appointment_reminder")
        assert sent.recipient_openid == "oRemind" and "明天" in sent.text and "「确认预约」" in sent.text
        [staff] = pushes(db, "appointment_staff_reminder")
        assert staff.recipient_openid == "oStaff_jiangbei_1" and "【明日预约】" in staff.text and "企业尚未确认" in staff.text
        assert len(ledger(db, number, "appointment:reminded")) == 1
        assert db.scalar(sa.select(sa.func.count(LedgerEntry.id)).where(LedgerEntry.action == "appointment:reminded")) == 1
    page = signed_in(app, "jiangbei-1").get(f"/console/cases/{number}").get_data(as_text=True)
    assert "提醒企业" in page


def test_the_outcome_is_recorded_after_the_appointment_and_reaches_the_exports(app):
    today = clock.today()
    past = CAL.add_workdays(today - timedelta(days=12), 1)
    with db_of(app) as db:
        case = submit(db, openid="oDone")
        number = case.number
        row = propose(db, case, starts_at=at(past), now=at(past - timedelta(days=2)))
        ahead_case = submit(db, openid="oAhead")
        ahead = propose(db, ahead_case, workday_after(today))
        with pytest.raises(CaseError, match="还没到"):
            appointments.record_outcome(db, ahead_case, ahead.id, "done", "收到材料",
                                        actor_kind=ActorKind.COMMISSIONER, actor_id="jiangbei-1")
        row_id = row.id
    client = signed_in(app, "jiangbei-1")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "登记结果" in page
    r = client.post(f"/console/cases/{number}/appointments/{row_id}/outcome", data={
        "csrf_token": token_of(client, number), "outcome": "done", "text": ""}, follow_redirects=True)
    assert "请填写收到的材料或办理情况" in r.get_data(as_text=True)
    r = client.post(f"/console/cases/{number}/appointments/{row_id}/outcome", data={
        "csrf_token": token_of(client, number), "outcome": "done",
        "text": "收到营业执照复印件、授权委托书；代填申报表单已上传审批系统"}, follow_redirects=True)
    assert FLASH.search(r.get_data(as_text=True)).group(1) == "success"
    with db_of(app) as db:
        assert db.get(Appointment, row_id).state == AppointmentState.DONE
        [line] = ledger(db, number, "appointment:done")
        assert "已完成" in line and "授权委托书" in line
    again = client.post(f"/console/cases/{number}/appointments/{row_id}/outcome", data={
        "csrf_token": token_of(client, number), "outcome": "missed", "text": "企业未到"}, follow_redirects=True)
    assert "已是「已完成」" in again.get_data(as_text=True)
    lead = signed_in(app, "jiangbei-lead")
    wb = workbook_of(lead.get(f"/console/export/ledger.xlsx?from={(past - timedelta(days=3)).isoformat()}"))
    actions = [r[7] for r in wb.active.iter_rows(values_only=True)]
    assert "约定预约" in actions and "预约完成" in actions
    archive = workbook_of(lead.get(f"/console/cases/{number}/archive.xlsx"))
    _, rows = rows_after_header(archive["预约上门"], "类型")
    assert [(r[0], r[3]) for r in rows] == [("上门受理", "已完成")]
    assert "授权委托书" in rows[0][6]


def test_a_commissioner_cancels_and_the_enterprise_is_told(app):
    with db_of(app) as db:
        case = submit(db, openid="oCancel")
        number = case.number
        row_id = propose(db, case, workday_after(clock.today())).id
    client = signed_in(app, "jiangbei-1")
    r = client.post(f"/console/cases/{number}/appointments/{row_id}/cancel", data={
        "csrf_token": token_of(client, number), "reason": ""}, follow_redirects=True)
    assert "请填写取消原因" in r.get_data(as_text=True)
    r = client.post(f"/console/cases/{number}/appointments/{row_id}/cancel", data={
        "csrf_token": token_of(client, number), "reason": "企业项目选址调整"}, follow_redirects=True)
    assert FLASH.search(r.get_data(as_text=True)).group(1) == "success"
    with db_of(app) as db:
        assert db.get(Appointment, row_id).state == AppointmentState.CANCELLED
        [told] = pushes(db, "appointment_cancelled")
        assert "企业项目选址调整" in told.text
    supervisor = signed_in(app, "jiangbei-lead")
    assert "发送预约给企业" not in supervisor.get(f"/console/cases/{number}").get_data(as_text=True)
    assert supervisor.post(f"/console/cases/{number}/appointments", data={
        "csrf_token": token_of(supervisor, number), "kind": "visit"}).status_code == 403


def test_the_enterprise_calls_an_appointment_off_in_the_chat_and_the_commissioner_is_told(app):
    with db_of(app) as db:
        case = submit(db, openid="oCallOff")
        number = case.number
        row_id = propose(db, case, workday_after(clock.today())).id
    manager = app.extensions["bangban_dialogs"]
    # A question about cancelling is answered as usual, nothing changed.
    assert manager.handle_text("oCallOff", "取消预约要提前多久说？").intent == "consult"  # not 「好的。还有什么…」
    with db_of(app) as db:
        assert db.get(Appointment, row_id).state == AppointmentState.PROPOSED
    listed = manager.handle_text("oCallOff", "我的预约").reply
    assert "「取消预约」" in listed
    done = manager.handle_text("oCallOff", "取消预约，我们自己去窗口办")
    assert done.intent == "appointment" and "已取消" in done.reply and number in done.reply
    with db_of(app) as db:
        row = db.get(Appointment, row_id)
        assert row.state == AppointmentState.CANCELLED and "我们自己去窗口办" in row.outcome
        [line] = ledger(db, number, "appointment:cancelled")
        assert line.startswith("企业在微信中取消") and line.endswith("原因：我们自己去窗口办")
        [told] = pushes(db, "appointment_answered")
        assert told.recipient_openid == "oStaff_jiangbei_1" and "企业已取消" in told.text and "我们自己去窗口办" in told.text
    # Nothing left to cancel: said so, nothing more recorded; the case page shows it called off.
    assert manager.handle_text("oCallOff", "取消预约").reply == texts.NOTHING_TO_CANCEL
    with db_of(app) as db:
        assert len(ledger(db, number, "appointment:cancelled")) == 1
    page = signed_in(app, "jiangbei-1").get(f"/console/cases/{number}").get_data(as_text=True)
    assert "企业取消" in page


def test_the_case_list_and_the_dashboard_show_what_is_ahead(app):
    day = workday_after(clock.today())
    with db_of(app) as db:
        waiting = submit(db, openid="oList")
        propose(db, waiting, day)
        moved = submit(db, openid="oList2")
        moved_id = propose(db, moved, day, kind="window", starts_at=at(day, 15)).id
        numbers = waiting.number, moved.number
    app.extensions["bangban_dialogs"].handle_text("oList2", "改个时间 周五下午")
    with db_of(app) as db:
        assert db.get(Appointment, moved_id).state == AppointmentState.RESCHEDULE_REQUESTED
    listed = signed_in(app, "jiangbei-lead").get("/console/cases").get_data(as_text=True)  # the two commissioners' cases
    assert f"上门受理 {day:%m-%d} 10:00" in listed and "企业请求改期" in listed
    board = signed_in(app, "jiangbei-lead").get("/console/dashboard").get_data(as_text=True)
    panel = board.split('id="t-appointments"')[1].split("</table>")[0]
    assert panel.index(numbers[1]) < panel.index(numbers[0])  # the request for another time first
    assert "企业请求改期：周五下午" in panel and "上门受理" in panel
    sheet = workbook_of(signed_in(app, "jiangbei-lead").get("/console/export/dashboard.xlsx"))["近期预约"]
    _, rows = rows_after_header(sheet, "案件编号")
    assert [(r[0], r[2], r[5], r[6]) for r in rows] == [(numbers[1], "窗口预约", "企业请求改期", "周五下午"),
                                                        (numbers[0], "上门受理", "待企业确认", None)]  # an empty cell
    other = signed_in(app, "donghu-lead").get("/console/dashboard").get_data(as_text=True)
    assert numbers[0] not in other and "未来两周暂无预约" in other


def test_terminating_the_case_calls_off_the_appointment_ahead(app):
    from bot.casework import case_actions
    from bot.casework.case_actions import Actor

    with db_of(app) as db:
        case = submit(db, openid="oStop")
        number = case.number
        row_id = propose(db, case, workday_after(clock.today())).id
        case_actions.terminate(db, case, "企业主动终止", Actor.person(commissioner_of(db, case)))
        assert db.get(Appointment, row_id).state == AppointmentState.CANCELLED
        assert ledger(db, number, "appointment:cancelled")[0].startswith("案件终止，取消上门受理")
    manager = app.extensions["bangban_dialogs"]
    assert "没有待进行的预约" in manager.handle_text("oStop", "我的预约").reply
    assert manager.handle_text("oStop", "改个时间 明天").intent != "appointment"
