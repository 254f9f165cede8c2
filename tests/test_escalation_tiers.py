"""Issue 17 item 7: escalation tiers per region. Each region's ladder comes from its document
(config/region_service.yaml `escalation_ladder`): 延津 项目服务专员 → 联席会议 → 市政府 (seed 001 五（三）),
岳阳 部门会商 → 工改领导小组, 江北 帮代办服务专班 → 专题会议, 东湖 协调会议, 县级市 行政审批局协调. A supervisor
raises to the next tier (skipping one needs a reason), each tier has a due date in working days,
the people told get a push, 「告知企业」 tells the enterprise (push and 「我的申请」), an overdue one is
flagged once by the scheduler, and raise / notify / due-passed / move-up / resolve are ledger lines,
on the dashboard (by tier) and in the Excel exports. Rows from before the ladders stay valid."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from conftest import CAL, FLASH, PERMIT, db_of
from test_dashboard import csrf_token, rows_after_header, signed_in, workbook_of

from bot.casework import cases
from bot.casework.cases import ACTION_NAMES, CaseError
from bot.models import Case, Escalation, Notification, Staff
from bot.platform import clock, region_service
from bot.platform.config import Settings
from bot.scheduler import Jobs, job_definitions
from bot.supervision import dashboard as figures
from bot.supervision import escalations
from bot.vocabulary import ESCALATION_STATES, EscalationState
from webhook.simulator import WeChatServer, reply_fields, text_xml

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91410726MA9F5C1X0T"


@pytest.fixture()
def app(console_app):
    return console_app


def submit(db, openid="oYanjinCo", region="yanjin", key=None):
    case = cases.submit(db, cases.Application(
        mode="帮办", applicant_openid=openid, company_name="延津县示例食品有限公司", credit_code=CODE,
        project_name="示例冷链仓储项目", region=region, investment_type="社会投资", stage="3",
        contact_name="李经理", contact_phone="13903730011", items=(PERMIT,), submission_key=key), CAL)
    for s in db.scalars(sa.select(Staff).where(Staff.region == region)):
        s.wechat_openid = f"oStaff_{s.username.replace('-', '_')}"
    return case


def pushes(db, purpose) -> list[Notification]:
    return list(db.scalars(sa.select(Notification).where(Notification.purpose == purpose).order_by(Notification.id)))


def ledger(db, number, action) -> list[str]:
    return [e.detail for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action == action]


def post(client, url, **data):
    token = csrf_token(client.get("/console/dashboard").get_data(as_text=True))
    r = client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)
    return FLASH.findall(r.get_data(as_text=True))[0], r.get_data(as_text=True)


def chat(app, openid, text) -> str:
    """What the enterprise reads, through the signed WeChat callback."""
    wx = WeChatServer(app.extensions["bangban_dialogs"].settings.wechat_token)
    cb = wx.callback(text_xml(openid, text))
    r = app.test_client().post(cb.path, data=cb.body, content_type="text/xml")
    assert r.status_code == 200
    return reply_fields(wx.read_reply(r.data))["Content"]


# -- the ladders ----------------------------------------------------------------------------

def test_each_region_has_the_ladder_its_document_names():
    levels = {r: [t.level for t in escalations.ladder(r)] for r in ("jiangbei", "yanjin", "yueyang", "county_city", "donghu")}
    assert levels == {"jiangbei": ["帮代办服务专班", "专题会议"], "yanjin": ["项目服务专员", "联席会议", "市政府"],
                      "yueyang": ["部门会商", "工改领导小组"], "county_city": ["行政审批局协调"], "donghu": ["协调会议"]}
    assert [t.level for t in escalations.ladder("somewhere_else")] == ["专班", "联席会议", "工改领导小组"]
    yanjin = escalations.ladder("yanjin")
    assert "项目专家团队召开联席会议" in yanjin[1].source and "提交市政府" in yanjin[2].source
    assert yanjin[1].who == ("项目专家团队", "县政务服务中心") and all(t.due_workdays >= 1 for t in yanjin)
    assert "重大问题报工改领导小组会办" in escalations.ladder("yueyang")[1].source
    for code in ("escalation:raised", "escalation:notified", "escalation:overdue", "escalation:moved_up",
                 "escalation:resolved"):
        assert re.fullmatch(r"[\u4e00-\u9fff]+", ACTION_NAMES[code])
    assert ESCALATION_STATES[EscalationState.MOVED_UP] == "已上报上一级"


@pytest.mark.parametrize("ladder, complaint", [
    ("[]", "non-empty"),
    ("[{level: 联席会议, who: [办公室], due_workdays: 0, source: x}]", "due_workdays"),
    ("[{level: 联席会议, who: [], due_workdays: 5, source: x}]", "who"),
    ("[{level: 联席会议, who: [办公室], due_workdays: 5}]", "source"),
    ("[{level: 联席会议, who: [a], due_workdays: 5, source: x}, {level: 联席会议, who: [b], due_workdays: 5, source: y}]",
     "twice"),
])
def test_a_bad_ladder_is_refused_naming_what_is_wrong(tmp_path, monkeypatch, ladder, complaint):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"regions:\n  yanjin:\n    escalation_ladder: {ladder}\n", encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(bad))
    with pytest.raises(ValueError, match=complaint):
        region_service.for_region("yanjin")


# -- raise, move up, resolve, with the enterprise told ---------------------------------------

def test_raise_then_move_up_then_resolve_with_the_enterprise_told(app):
    with db_of(app) as db:
        number = submit(db).number
    lead = signed_in(app, "yanjin-lead")
    (kind, text), _ = post(lead, "/console/escalate", number=number, level="", note="消防设计审查与规划条件冲突",
                           tell_enterprise="1")
    today = clock.today()
    first_due = CAL.add_workdays(today, 3)
    assert kind == "success" and text.startswith(f"已将 {number} 提交项目服务专员（E") and "已告知企业" in text
    with db_of(app) as db:
        [first] = db.scalars(sa.select(Escalation))
        assert (first.level, first.state, first.due_date, first.tell_enterprise) == ("项目服务专员", "open", first_due, True)
        raised = pushes(db, "escalation")
        told = {n.recipient_openid for n in raised}
        assert told == {"oStaff_yanjin_1"} or "oStaff_yanjin_1" in told  # the commissioner (the raiser is not told)
        assert "oStaff_yanjin_lead" not in told and "项目服务专员" in raised[0].text
        [ent] = pushes(db, "escalation_told")
        assert ent.recipient_openid == "oYanjinCo" and "已提交项目服务专员协调" in ent.text
        [line] = ledger(db, number, "escalation:notified")
        assert "协调单位 项目服务专员" in line and "已告知企业" in line and "郭雨晴" in line
    assert f"协调中：已提交项目服务专员（预计{clock.date_text(first_due, today)}前答复）" in chat(app, "oYanjinCo", "我的申请")

    # 上报上一级: the first tier is closed as moved up, the 联席会议 carries on (the enterprise told again)
    (kind, text), html = post(lead, f"/console/escalations/{first.id}/move-up", note="意见未能解决，提交专家团队")
    assert kind == "success" and "提交联席会议" in text
    assert 'data-tier="2"' in html and "第2级 · 联席会议" in html and "上报市政府" in html
    with db_of(app) as db:
        first, second = db.scalars(sa.select(Escalation).order_by(Escalation.id))
        assert first.state == EscalationState.MOVED_UP and second.previous_id == first.id
        assert second.level == "联席会议" and second.due_date == CAL.add_workdays(today, 10) and second.tell_enterprise
        assert second.note == "消防设计审查与规划条件冲突"  # the same problem; why it moved up is the ledger line
        assert ledger(db, number, "escalation:moved_up") == [f"E{first.id} 项目服务专员 → 联席会议（E{second.id}）：意见未能解决，提交专家团队"]
        assert len(pushes(db, "escalation_told")) == 2
    mine = chat(app, "oYanjinCo", "我的申请")
    assert "协调中：已提交联席会议（预计" in mine and "已提交项目服务专员" not in mine

    # resolve with 告知企业: the enterprise reads the result, the commissioner is told
    (kind, text), _ = post(lead, f"/console/escalations/{second.id}/resolve", resolution="专家团队同意按规划条件调整消防车道",
                           tell_enterprise="1")
    assert kind == "success" and "已告知企业" in text
    with db_of(app) as db:
        second = db.get(Escalation, second.id)
        assert second.state == "resolved" and second.resolution_told and second.resolved_by is not None
        [result] = pushes(db, "escalation_result")
        assert "联席会议协调结果：专家团队同意按规划条件调整消防车道" in result.text
        assert [n.recipient_openid for n in pushes(db, "escalation_resolved")] == ["oStaff_yanjin_1"]
        actions = [e.action for e in cases.ledger_of(db, cases.by_number(db, number)) if e.action.startswith("escalation:")]
    assert actions == ["escalation:raised", "escalation:notified", "escalation:moved_up", "escalation:raised",
                       "escalation:notified", "escalation:resolved", "escalation:notified"]
    mine = chat(app, "oYanjinCo", "我的申请")
    assert "协调结果（联席会议）：专家团队同意按规划条件调整消防车道" in mine and "协调中" not in mine
    # twice is refused, nothing more written
    (kind, text), _ = post(lead, f"/console/escalations/{second.id}/resolve", resolution="再记一次")
    assert kind == "error" and "已解决" in text
    # the archive workbook has every tier
    wb = workbook_of(lead.get(f"/console/cases/{number}/archive.xlsx"))
    header, rows = rows_after_header(wb["协调事项"], "编号")
    assert "答复期限" in header and "由下级上报" in header
    assert [(r[1], r[5]) for r in rows] == [("项目服务专员", "已上报上一级"), ("联席会议", "已解决")]
    assert rows[1][header.index("由下级上报")] == f"E{first.id}"


def test_not_skipping_a_tier_without_a_reason_and_other_refusals(app):
    with db_of(app) as db:
        number = submit(db, openid="oSkip").number
    lead = signed_in(app, "yanjin-lead")
    (kind, text), _ = post(lead, f"/console/cases/{number}/escalate", level="市政府", note="重大项目用地问题")
    assert kind == "error" and "越级提交市政府须写明理由（下一层级是项目服务专员）" == text
    (kind, text), _ = post(lead, f"/console/cases/{number}/escalate", level="市长专题会", note="x")
    assert kind == "error" and "项目服务专员、联席会议、市政府" in text
    (kind, _), _ = post(lead, f"/console/cases/{number}/escalate", level="", note="  ")
    assert kind == "error"
    with db_of(app) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Escalation)) == 0
        assert ledger(db, number, "escalation:raised") == []
    (kind, _), _ = post(lead, f"/console/cases/{number}/escalate", level="市政府", note="重大项目用地问题",
                        skip_reason="省重点项目，县级无权调整用地指标")
    assert kind == "success"
    with db_of(app) as db:
        [e] = db.scalars(sa.select(Escalation))
        assert e.level == "市政府" and e.skip_reason == "省重点项目，县级无权调整用地指标"
        assert "越级理由：省重点项目" in ledger(db, number, "escalation:raised")[0]
        assert pushes(db, "escalation_told") == []  # 告知企业 not ticked
    assert "协调中" not in chat(app, "oSkip", "我的申请")
    (kind, text), _ = post(lead, f"/console/cases/{number}/escalate", level="联席会议", note="x")
    assert kind == "error" and "不能再提交较低的联席会议" in text
    (kind, text), _ = post(lead, f"/console/escalations/{e.id}/move-up", note="x")
    assert kind == "error" and "最高协调层级" in text
    # another region's supervisor cannot touch it
    other = signed_in(app, "donghu-lead")
    token = csrf_token(other.get("/console/dashboard").get_data(as_text=True))
    assert other.post(f"/console/escalations/{e.id}/move-up", data={"csrf_token": token}).status_code == 404
    # a commissioner cannot raise
    commissioner = signed_in(app, "yanjin-1")
    token = csrf_token(commissioner.get("/console/cases").get_data(as_text=True))
    assert commissioner.post(f"/console/cases/{number}/escalate",
                             data={"note": "x", "csrf_token": token}).status_code == 403


# -- overdue: flagged once, the next tier offered ---------------------------------------------

def test_an_overdue_escalation_is_flagged_once_and_the_next_tier_offered(app):
    with db_of(app) as db:
        case = submit(db, openid="oLate")
        number = case.number
        lead = db.scalar(sa.select(Staff).where(Staff.username == "yanjin-lead"))
        e = escalations.raise_escalation(db, case, "", "施工图审查意见反复", lead, calendar=CAL, today=date(2026, 12, 1))
        escalation_id, due = e.id, e.due_date
    assert due == CAL.add_workdays(date(2026, 12, 1), 3)
    manager = app.extensions["bangban_dialogs"]
    jobs = Jobs(Settings(database_url="sqlite://"), sessions=manager.sessions, client=object(), calendar=CAL)
    noon = datetime.combine(due, datetime.min.time(), tzinfo=timezone(timedelta(hours=8))) + timedelta(hours=12)
    assert jobs.escalation_deadlines(now=noon) == {"escalations_overdue": 0}  # the due day itself is still in time
    assert jobs.escalation_deadlines(now=noon + timedelta(days=1)) == {"escalations_overdue": 1}
    assert jobs.escalation_deadlines(now=noon + timedelta(days=2)) == {"escalations_overdue": 0}
    with db_of(app) as db:
        [line] = ledger(db, number, "escalation:overdue")
        assert f"E{escalation_id} 项目服务专员答复期限" in line and "可上报联席会议" in line
        [alert] = pushes(db, "escalation_overdue")
        assert alert.recipient_openid == "oStaff_yanjin_lead" and "上报联席会议" in alert.text
        assert db.get(Escalation, escalation_id).state == "open"  # offered, never moved up by a timer
    assert "escalation-deadlines" in [j["id"] for j in job_definitions(Settings(database_url="sqlite://"))]
    with db_of(app) as db:
        rows = figures.open_escalations(db, figures.Filters("yanjin", date(2026, 1, 1), date(2026, 12, 31)),
                                        due + timedelta(days=1))
    assert [(r.id, r.overdue, r.tier_no, r.next_level) for r in rows] == [(escalation_id, True, 1, "联席会议")]


# -- rows from before the ladders, dashboard and the dashboard sheet -------------------------------

def test_rows_from_before_the_ladders_stay_readable_and_resolvable(app):
    with db_of(app) as db:
        case = submit(db, openid="oOld", region="donghu")
        number = case.number
        lead = db.scalar(sa.select(Staff).where(Staff.username == "donghu-lead"))
        old = Escalation(case_id=case.id, level="联席会议", note="消防审验意见与规划条件冲突", raised_by=lead.id)
        db.add(old)
        db.flush()
        old_id = old.id
    client = signed_in(app, "donghu-lead")
    html = client.get("/console/dashboard").get_data(as_text=True)
    assert "联席会议（原协调层级）" in html and "未设期限" in html and f'action="/console/escalations/{old_id}/move-up"' not in html
    wb = workbook_of(client.get("/console/export/dashboard.xlsx"))
    header, rows = rows_after_header(wb["协调事项"], "编号")
    assert header[:5] == ("编号", "案件编号", "项目单位", "项目名称", "提请层级")
    row = dict(zip(header, next(r for r in rows if r[0] == f"E{old_id}")))
    assert (row["提请层级"], row["层级"], row["答复期限"], row["是否超期"]) == ("联席会议", "原协调层级", "未设期限", "否")
    (kind, text), _ = post(client, f"/console/escalations/{old_id}/move-up", note="x")
    assert kind == "error" and "不在本地区的协调层级中" in text
    # a new escalation on the region's own ladder beside it, then the old one resolved
    (kind, _), html = post(client, f"/console/cases/{number}/escalate", level="", note="再次协调")
    assert kind == "success" and "第1级 · 协调会议" in html
    (kind, _), _ = post(client, f"/console/escalations/{old_id}/resolve", resolution="已协调一致")
    assert kind == "success"
    with db_of(app) as db:
        assert db.get(Escalation, old_id).state == "resolved"
        assert db.scalar(sa.select(Escalation.level).where(Escalation.id != old_id)) == "协调会议"


def test_a_one_tier_region_says_so_when_asked_for_more(app):
    with db_of(app) as db:
        case = submit(db, openid="oCounty", region="county_city")
        lead = db.scalar(sa.select(Staff).where(Staff.username == "county_city-lead"))
        e = escalations.raise_escalation(db, case, None, "多部门意见不一", lead, calendar=CAL)
        assert e.level == "行政审批局协调"
        with pytest.raises(CaseError, match="最高协调层级"):
            escalations.raise_escalation(db, case, "", "再上报", lead, calendar=CAL)


# -- the demo -----------------------------------------------------------------------------------

def test_the_demo_seeds_a_case_moved_up_a_resolved_tier_and_an_overdue_one(app):
    from webhook.cli import demo_escalations

    with db_of(app) as db:
        numbers = {r: submit(db, openid=f"oDemo_{r}", region=r, key=f"demo-test-{r}").number
                   for r in ("yanjin", "jiangbei", "donghu")}
    manager = app.extensions["bangban_dialogs"]
    said = demo_escalations.seed(manager.sessions, manager.settings, CAL)
    assert "项目服务专员 → 联席会议" in said and "已解决" in said and "已超期" in said
    assert demo_escalations.seed(manager.sessions, manager.settings, CAL) == "already seeded"
    with db_of(app) as db:
        by_case = {n: [(e.level, e.state) for e in db.scalars(sa.select(Escalation).join(
            cases.Case, Case.id == Escalation.case_id).where(Case.number == n).order_by(Escalation.id))]
            for n in numbers.values()}
        assert by_case[numbers["yanjin"]] == [("项目服务专员", "moved_up"), ("联席会议", "open")]
        assert by_case[numbers["jiangbei"]] == [("帮代办服务专班", "resolved")]
        assert by_case[numbers["donghu"]] == [("协调会议", "open")]
        assert len(ledger(db, numbers["donghu"], "escalation:overdue")) == 1
    assert "协调中：已提交联席会议（预计" in chat(app, "oDemo_yanjin", "我的申请")
    html = signed_in(app, "donghu-lead").get("/console/dashboard").get_data(as_text=True)
    assert "已超期" in html and numbers["donghu"] in html


def test_the_case_page_lists_every_tier_and_a_supervisor_raises_from_it(app):
    with db_of(app) as db:
        number = submit(db, openid="oPage", region="yueyang").number
    lead = signed_in(app, "yueyang-lead")
    page = lead.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "本地区协调层级：部门会商 → 工改领导小组" in page and "本案暂无协调事项" in page
    token = csrf_token(page)
    r = lead.post(f"/console/cases/{number}/escalate", data={"note": "规划与消防意见冲突", "tell_enterprise": "1",
                                                         "back": f"/console/cases/{number}", "csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"] == f"/console/cases/{number}"
    with db_of(app) as db:
        commissioner = db.get(Staff, cases.by_number(db, number).commissioner_id).username
    page = signed_in(app, commissioner).get(f"/console/cases/{number}").get_data(as_text=True)
    table = page.split('id="t-case-escalations"')[1].split("</table>")[0]
    assert "部门会商" in table and "规划与消防意见冲突" in table and "待解决" in table and "已告知企业" in table
    assert "提交下一层级" not in page  # a commissioner sees the tiers, the supervisor raises them
    assert "提交部门会商协调（E" in page and "协调单位 市政务服务中心项目代办科、上级政务服务部门" in page  # the ledger lines


def test_a_tier_may_name_the_colleagues_who_serve_on_it(app, tmp_path, monkeypatch):
    custom = tmp_path / "region_service.yaml"
    custom.write_text("regions:\n  yanjin:\n    escalation_ladder:\n"
                      "      - {level: 联席会议, who: [项目专家团队], due_workdays: 4, source: 「项目专家团队召开联席会议」, staff: [yanjin-2]}\n",
                      encoding="utf-8")
    monkeypatch.setenv("BANGBAN_REGION_SERVICE", str(custom))
    with db_of(app) as db:
        case = submit(db, openid="oStaffTier")
        lead = db.scalar(sa.select(Staff).where(Staff.username == "yanjin-lead"))
        e = escalations.raise_escalation(db, case, "", "需要专家团队研究", lead, calendar=CAL, today=date(2026, 12, 1))
        assert (e.level, e.due_date) == ("联席会议", CAL.add_workdays(date(2026, 12, 1), 4))
        told = {n.recipient_openid for n in pushes(db, "escalation")}
        assert "oStaff_yanjin_2" in told and "oStaff_yanjin_lead" not in told
        [line] = ledger(db, case.number, "escalation:notified")
        assert "孟凡超" in line and "不告知企业" in line


def test_a_towns_case_reaches_the_supervisors_above_and_the_api_carries_its_tiers_and_visits(app):
    """A 镇's case with no supervisor of its own: the push of its escalation goes to the 县's (here
    the nearest tier above that has any, 延津县's yanjin-lead); the JSON API's case detail lists the
    escalation and the case's appointments (issue 17 items 1 and 7)."""
    from datetime import time

    from test_api import auth, token_for

    from bot.casework import appointments

    with db_of(app) as db:
        case = submit(db, openid="oTownCo")
        case.region = "yanjin_dongtun"
        lead = db.scalar(sa.select(Staff).where(Staff.username == "yanjin-lead"))
        lead.wechat_openid = "oStaff_yanjin_lead"
        escalations.raise_escalation(db, case, None, "东屯镇的供水接入迟迟不定", db.scalar(
            sa.select(Staff).where(Staff.username == "yanjin-1")))
        day = CAL.add_workdays(clock.today(), 2)
        appointments.propose(db, case, kind="window", starts_at=appointments.local_datetime(day, time(9, 30)),
                             place="延津县政务服务中心二楼", bring="营业执照复印件", actor_kind="commissioner", actor_id="yanjin-1",
                             calendar=CAL)
        number = case.number
        assert "oStaff_yanjin_lead" in {n.recipient_openid for n in pushes(db, "escalation")}  # was nobody
    r = app.test_client().get(f"/api/v1/cases/{number}", headers=auth(token_for(app, "yanjin-1")))
    body = r.get_json()
    assert [(e["level"], e["state"]) for e in body["escalations"]] == [("项目服务专员", "open")]
    assert [(a["kind_name"], a["place"]) for a in body["appointments"]] == [("窗口预约", "延津县政务服务中心二楼")]
