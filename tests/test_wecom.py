"""企业微信 (WeCom) alerts for staff, end to end against the emulator on SQLite and PostgreSQL: a
commissioner with a WeCom UserID gets the assignment alert as a WeCom application message (and
not also through the Official Account); an expired WeCom token is refreshed once; a UserID out
of the app's visible range dies for good with a Chinese explanation on the case page, or, for a
colleague who also has the Official Account, goes there instead; the emulator keeps WeCom's rules."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests
import sqlalchemy as sa
from conftest import db_of
from test_console import new_case, signed_in

from bot.casework import cases
from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.emulator.wecom import DEFAULT_AGENTID, DEFAULT_CORPID, DEFAULT_CORPSECRET, WeComControl
from bot.models import Notification, Staff
from bot.push import notify, wecom
from bot.scheduler import Jobs

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture()
def app(console_app):
    return console_app


@pytest.fixture()
def emulator():
    with serve() as base:
        control = EmulatorControl(base)
        control.add_template("tpl-assignment", ["number", "company", "mode"])
        yield base, control, WeComControl(base)


def configure(app, base, **changes):
    base_settings = dict(wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base=base,
                         wechat_templates={"assignment": "tpl-assignment"},
                         wecom_corpid=DEFAULT_CORPID, wecom_secret=DEFAULT_CORPSECRET,
                         wecom_agentid=str(DEFAULT_AGENTID), wecom_api_base=base)
    app.config["BANGBAN_SETTINGS"] = app.config["BANGBAN_SETTINGS"].with_(**{**base_settings, **changes})
    return app.config["BANGBAN_SETTINGS"]


def give_wecom(app, region="donghu", openid_too=True) -> dict[str, str]:
    """Every commissioner of `region` gets a WeCom UserID (the case goes to one of them)."""
    with db_of(app) as db:
        people = db.scalars(sa.select(Staff).where(Staff.region == region, Staff.role == "commissioner")).all()
        for s in people:
            s.wecom_userid = f"wecom-{s.username}"
            if not openid_too:
                s.wechat_openid = None
        return {s.username: s.wecom_userid for s in people}


def assignment_push(app, number) -> Notification:
    with db_of(app) as db:
        case = cases.by_number(db, number)
        return db.scalars(sa.select(Notification).where(Notification.case_id == case.id,
                                                        Notification.purpose == "assignment")).one()


def jobs_for(app, settings) -> Jobs:
    return Jobs(settings, sessions=app.extensions["bangban_dialogs"].sessions)


def test_a_commissioner_with_a_wecom_id_gets_the_assignment_alert_in_wecom(app, emulator):
    base, control, wecom_control = emulator
    settings = configure(app, base)
    ids = give_wecom(app)
    for userid in ids.values():
        wecom_control.add_user(userid)
        control.add_user(f"oStaff_{userid}")  # they follow the account too: WeCom must come first anyway
    number = new_case(app)
    push = assignment_push(app, number)
    assert push.recipient_wecom_userid in ids.values()

    counts = jobs_for(app, settings).dispatch_outbox()
    assert counts.by_channel == {"wecom": 1}
    push = assignment_push(app, number)
    assert (push.state, push.channel) == ("sent", "wecom")
    received = wecom_control.messages(push.recipient_wecom_userid)
    assert len(received) == 1
    message = received[0]
    assert message["msgtype"] == "text" and message["agentid"] == DEFAULT_AGENTID
    assert number in message["content"] and "请尽快受理" in message["content"]
    assert control.messages() == []  # not also through the Official Account

    page = signed_in(app, "donghu-lead").get(f"/console/cases/{number}").get_data(as_text=True)
    item = re.search(rf'<li class="push[^"]*" id="push-{push.id}">(.*?)</li>', page, re.S).group(1)
    assert "企业微信" in item and "已发送" in item


def test_a_wecom_only_colleague_is_reachable_and_told_so(app, emulator):
    """No Official Account binding at all: the alert is queued (and said to reach them) for WeCom."""
    base, control, wecom_control = emulator
    configure(app, base)
    ids = give_wecom(app, openid_too=False)
    for userid in ids.values():
        wecom_control.add_user(userid)
    number = new_case(app)
    push = assignment_push(app, number)
    assert push.recipient_openid is None and push.recipient_wecom_userid in ids.values()
    jobs_for(app, app.config["BANGBAN_SETTINGS"]).dispatch_outbox()
    assert assignment_push(app, number).state == "sent"
    assert len(wecom_control.messages(push.recipient_wecom_userid)) == 1


def test_an_expired_wecom_token_is_refreshed_once(app, emulator):
    base, control, wecom_control = emulator
    settings = configure(app, base)
    ids = give_wecom(app)
    for userid in ids.values():
        wecom_control.add_user(userid)
    jobs = jobs_for(app, settings)
    first = new_case(app)
    jobs.dispatch_outbox()
    assert wecom_control.stats()["token_fetches"] == 1

    control.advance_clock(7200 + 60)  # WeCom's token has expired; our cache does not know yet
    second = new_case(app, openid="oAnother")
    jobs.dispatch_outbox()
    push = assignment_push(app, second)
    assert (push.state, push.channel, push.last_error) == ("sent", "wecom", None)
    assert wecom_control.stats()["token_fetches"] == 2
    received = [m for m in wecom_control.messages() if second in m["content"]]
    assert len(received) == 1 and assignment_push(app, first).state == "sent"


def test_a_user_outside_the_apps_visible_range_dies_for_good_with_a_chinese_reason(app, emulator):
    base, control, wecom_control = emulator
    settings = configure(app, base)
    give_wecom(app, openid_too=False)  # nobody of them is in the app's visible range
    number = new_case(app)
    counts = jobs_for(app, settings).dispatch_outbox()
    assert counts.dead == 1
    push = assignment_push(app, number)
    assert push.state == "dead" and push.attempts == 1 and push.last_error.startswith("wecom: 81013")
    assert wecom_control.messages() == []

    page = signed_in(app, "donghu-lead").get(f"/console/cases/{number}").get_data(as_text=True)
    item = re.search(rf'<li class="push[^"]*" id="push-{push.id}">(.*?)</li>', page, re.S).group(1)
    assert "企业微信里找不到该工作人员" in item and "可见范围" in item and "当面或电话告知该工作人员" in item
    assert "81013" not in re.sub(r'<pre class="push-text">.*?</pre>', "", item, flags=re.S).replace("（81013）", "")


def test_wecom_precedes_the_official_account_which_takes_over_when_wecom_cannot_reach_them(app, emulator):
    base, control, wecom_control = emulator
    settings = configure(app, base)
    give_wecom(app)  # and they keep their Official Account binding (oStaff_donghu_N)
    with db_of(app) as db:
        for s in db.scalars(sa.select(Staff).where(Staff.region == "donghu", Staff.role == "commissioner")):
            control.add_user(s.wechat_openid)
    number = new_case(app)
    jobs_for(app, settings).dispatch_outbox()
    push = assignment_push(app, number)
    assert (push.state, push.channel) == ("sent", "template")
    assert push.last_error.startswith("wecom: 81013")  # the fallback on the way, for the operator
    assert [m["openid"] for m in control.messages()] == [push.recipient_openid]


def test_a_transient_wecom_failure_is_retried_not_sent_elsewhere(app, emulator):
    base, control, wecom_control = emulator
    settings = configure(app, base)
    ids = give_wecom(app)
    for userid in ids.values():
        wecom_control.add_user(userid)
    control.inject_fault("/cgi-bin/message/send", "busy")
    number = new_case(app)
    jobs = jobs_for(app, settings)
    jobs.dispatch_outbox()
    push = assignment_push(app, number)
    assert push.state == "pending" and push.last_error.startswith("wecom: -1") and control.messages() == []
    with db_of(app) as db:
        db.get(Notification, push.id).next_attempt_at = push.created_at
    jobs.dispatch_outbox()
    assert assignment_push(app, number).state == "sent"
    assert len(wecom_control.messages()) == 1


def test_urge_overdue_and_handoff_alerts_go_to_wecom_too(app, emulator):
    """催办 and 转人工 are queued with the WeCom address; the SLA sweep's rows carry it too."""
    base, control, wecom_control = emulator
    settings = configure(app, base)
    give_wecom(app, openid_too=False)
    number = new_case(app)
    with db_of(app) as db:
        case = cases.by_number(db, number)
        staff = db.get(Staff, case.commissioner_id)
        n = notify.urged(db, case, staff, "施工许可", case.created_at.date())
        assert n is not None and n.recipient_wecom_userid == staff.wecom_userid and n.recipient_openid is None
        from datetime import date, timedelta

        from bot.models import CaseItem
        from bot.platform.workdays import load_calendar
        from bot.supervision import sla

        item = db.scalars(sa.select(CaseItem).where(CaseItem.case_id == case.id)).first()
        item.due_date = date.today() - timedelta(days=10)
        case.state = "accepted"
        db.flush()
        sla.sweep(db, load_calendar(), settings)
        urge = db.scalars(sa.select(Notification).where(Notification.purpose == "sla_urge")).one()
        assert urge.recipient_wecom_userid == staff.wecom_userid


def test_the_wecom_emulator_keeps_wecoms_rules(emulator):
    base, control, wecom_control = emulator
    get = lambda **q: requests.get(f"{base}/cgi-bin/gettoken", params=q, timeout=5).json()  # noqa: E731
    assert get(corpsecret="x")["errcode"] == 41002
    assert get(corpid=DEFAULT_CORPID)["errcode"] == 41004
    assert get(corpid="wwnobody", corpsecret=DEFAULT_CORPSECRET)["errcode"] == 40013
    assert get(corpid=DEFAULT_CORPID, corpsecret="wrong")["errcode"] == 40001
    token = get(corpid=DEFAULT_CORPID, corpsecret=DEFAULT_CORPSECRET)
    assert token["expires_in"] == 7200
    assert get(corpid=DEFAULT_CORPID, corpsecret=DEFAULT_CORPSECRET)["access_token"] == token["access_token"]

    def send(body, access_token=token["access_token"]):
        return requests.post(f"{base}/cgi-bin/message/send", params={"access_token": access_token},
                             json=body, timeout=5).json()

    text = {"touser": "zhou", "msgtype": "text", "agentid": DEFAULT_AGENTID, "text": {"content": "你好"}}
    assert send(text, "bogus")["errcode"] == 40014
    assert send(text)["errcode"] == 81013 and send(text)["invaliduser"] == "zhou"
    wecom_control.add_user("zhou")
    assert send({**text, "touser": "zhou|ghost"}) | {"msgid": None} == {
        "errcode": 0, "errmsg": "ok", "invaliduser": "ghost", "msgid": None}
    assert send({**text, "agentid": 9})["errcode"] == 40056
    wecom_control.register_app(DEFAULT_CORPID, 1000003, "another-secret")
    assert send({**text, "agentid": 1000003})["errcode"] == 301002
    assert send({**text, "text": {"content": ""}})["errcode"] == 44004
    assert send({**text, "msgtype": "voice", "voice": {}})["errcode"] == 40008
    long = send({**text, "text": {"content": "长" * 1000}})
    assert long["errcode"] == 0 and wecom_control.messages("zhou")[-1]["truncated"] is True
    control.advance_clock(7201)
    assert send(text)["errcode"] == 42001
    assert get(corpid=DEFAULT_CORPID, corpsecret=DEFAULT_CORPSECRET)["access_token"] != token["access_token"]


def test_our_wecom_text_is_cut_to_2048_bytes_on_a_character():
    cut = wecom.cut_bytes("长" * 1000)
    assert len(cut.encode("utf-8")) <= 2048 and cut.endswith("…") and set(cut[:-1]) == {"长"}
    assert wecom.cut_bytes("短") == "短"


def test_staff_wecom_cli_sets_shows_and_refuses_a_bad_userid(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "PATH": "/usr/bin:/bin"}

    def bangban(*args):
        return subprocess.run([sys.executable, "-m", "webhook.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    added = bangban("staff", "add", "zhou", "--name", "周专员", "--role", "commissioner", "--region", "donghu",
                    "--password", "correct-horse-9", "--wecom-userid", "ZhouYi")
    assert added.returncode == 0, added.stderr
    assert "WeCom ZhouYi" in bangban("staff", "list").stdout
    bad = bangban("staff", "wecom", "zhou", "周 一")
    assert bad.returncode == 2 and "企业微信账号只能由字母" in bad.stderr
    assert bangban("staff", "wecom", "zhou", "zhou.yi@gov").returncode == 0
    assert "WeCom zhou.yi@gov" in bangban("staff", "list").stdout
    assert bangban("staff", "wecom", "zhou", "--clear").returncode == 0
    assert "no alerts" in bangban("staff", "list").stdout
    assert bangban("staff", "wecom", "nobody", "x").returncode == 1


def test_a_corrected_wecom_id_is_used_when_the_dead_alert_is_resent(app, emulator):
    """The console's advice for 81013 is: fix the UserID, then 重新发送. The resend goes to the new id."""
    from test_pushes import resend

    base, control, wecom_control = emulator
    settings = configure(app, base)
    give_wecom(app, openid_too=False)  # ids nobody has in the app's visible range
    number = new_case(app)
    jobs = jobs_for(app, settings)
    jobs.dispatch_outbox()
    push = assignment_push(app, number)
    assert push.state == "dead"
    with db_of(app) as db:
        staff = db.get(Staff, db.scalar(sa.select(Notification.recipient_staff_id).where(Notification.id == push.id)))
        staff.wecom_userid, username = "TianYaqi", staff.username
    wecom_control.add_user("TianYaqi")
    _, flashes = resend(signed_in(app, "donghu-lead"), number, push.id)
    assert flashes[0][0] == "success"
    jobs.dispatch_outbox()
    assert assignment_push(app, number).state == "sent"
    assert [m["touser"] for m in wecom_control.messages()] == ["TianYaqi"], username


def test_the_staff_page_says_where_each_colleagues_alerts_go(app):
    give_wecom(app)
    with db_of(app) as db:
        db.scalars(sa.select(Staff).where(Staff.username == "donghu-2")).one().wechat_openid = None
    page = signed_in(app, "donghu-lead").get("/console/staff").get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r'<td data-label="用户名">([\w-]+)</td>.*?<td data-label="提醒渠道">(.*?)</td>', page, re.S)}
    assert rows["donghu-1"] == "企业微信（wecom-donghu-1）、公众号"
    assert rows["donghu-2"] == "企业微信（wecom-donghu-2）"
    assert rows["donghu-lead"] == "公众号"


def test_a_waiting_wecom_alert_on_a_wecom_only_install_is_not_said_to_lack_an_official_account(app, emulator):
    """With 企业微信 set up and no Official Account, a staff alert still waiting (before the dispatcher
    ran) reads as next in line, not 「本系统尚未接入微信公众号」; an enterprise push still says it."""
    base, control, wecom_control = emulator
    configure(app, base, wechat_appid="", wechat_secret="")
    give_wecom(app)
    number = new_case(app)
    push = assignment_push(app, number)
    page = signed_in(app, "donghu-lead").get(f"/console/cases/{number}").get_data(as_text=True)
    item = re.search(rf'<li class="push[^"]*" id="push-{push.id}">(.*?)</li>', page, re.S).group(1)
    assert "待发送" in item and "尚未接入微信公众号" not in item
