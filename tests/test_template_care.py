"""Template message care, end to end against the emulator on SQLite and PostgreSQL: every field is
cut to its WeChat type's limit (a thing to 20 characters with 「…」, a phrase to 5 Chinese
characters without one, a character_string to 32), the msgid WeChat answers is kept on the push,
and the TEMPLATESENDJOBFINISH event WeChat posts afterwards is recorded against it: a user who
blocked the account's template messages shows on the case page as a push never received
(「用户拒收」), with what to do; the event gets no chat reply."""
from __future__ import annotations

import re

import pytest
import requests
import sqlalchemy as sa
from conftest import db_of
from test_console import new_case, signed_in

from bot.casework import cases
from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import Notification
from bot.push import notify, templates
from bot.scheduler import Jobs
from webhook.simulator import WeChatServer

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

LONG_COMPANY = "重庆市江北区观音桥街道示例建筑工程设计咨询有限责任公司第二分公司"


@pytest.fixture()
def app(console_app):
    return console_app


@pytest.fixture()
def emulator():
    with serve() as base:
        control = EmulatorControl(base)
        control.add_template("tpl-assignment", ["number", "company", "mode"])
        control.add_template("tpl-delivered", ["number", "method"])
        control.add_template("tpl-progress", ["number", "item", "state"])
        yield base, control


def configure(app, base):
    app.config["BANGBAN_SETTINGS"] = app.config["BANGBAN_SETTINGS"].with_(
        wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base=base,
        wechat_templates={"assignment": "tpl-assignment", "delivered": "tpl-delivered",
                          "progress": "tpl-progress"})
    return app.config["BANGBAN_SETTINGS"]


def dispatch(app):
    Jobs(app.config["BANGBAN_SETTINGS"], sessions=app.extensions["bangban_dialogs"].sessions).dispatch_outbox()


def push_of(app, number, purpose) -> Notification:
    with db_of(app) as db:
        case = cases.by_number(db, number)
        return db.scalars(sa.select(Notification).where(Notification.case_id == case.id,
                                                        Notification.purpose == purpose)).one()


def deliver_receipts(app, base, after=None):
    """What WeChat does once the deliveries finish: post each TEMPLATESENDJOBFINISH to /wechat."""
    jobs = requests.get(f"{base}/_emulator/template_jobs", params={"after": after} if after else None,
                        timeout=5).json()
    wx = WeChatServer(app.config["BANGBAN_SETTINGS"].wechat_token)
    replies = []
    for job in jobs:
        cb = wx.callback(job["xml"])
        r = app.test_client().post(cb.path, data=cb.body, content_type="text/xml")
        assert r.status_code == 200
        replies.append(r.get_data(as_text=True))
    return jobs, replies


def push_item(app, number, push_id) -> str:
    page = signed_in(app, "donghu-lead").get(f"/console/cases/{number}").get_data(as_text=True)
    match = re.search(rf'<li class="push[^"]*" id="push-{push_id}">(.*?)</li>', page, re.S)
    assert match, f"push {push_id} not on the page"
    return match.group(1)


# -- fields cut to their type's limit ----------------------------------------------------------

def test_each_field_is_cut_to_its_types_limit_on_the_way_to_wechat(app, emulator):
    base, control = emulator
    configure(app, base)
    with db_of(app) as db:
        openid = db.scalar(sa.text("SELECT wechat_openid FROM staff WHERE username = 'donghu-1'"))
    control.add_user(openid)
    number = new_case(app, company=LONG_COMPANY, commissioner="donghu-1")
    with db_of(app) as db:
        case = cases.by_number(db, number)
        staff = db.scalar(sa.text("SELECT id FROM staff WHERE username = 'donghu-1'"))
        from bot.models import Staff

        notify.assigned(db, case, db.get(Staff, staff), event_id=999)
    dispatch(app)
    sent = [m for m in control.messages(openid=openid) if m["template_id"] == "tpl-assignment"]
    assert sent, "the assignment template reached the commissioner"
    for message in sent:
        data = {k: v["value"] for k, v in message["payload"]["data"].items()}
        assert data["number"] == number  # a character_string of 14: whole
        assert len(data["company"]) == 20 and data["company"].endswith("…")  # a thing: 19 + 「…」
        assert data["company"][:19] == LONG_COMPANY[:19]
        assert data["mode"] == "帮办"


def test_field_rules_are_per_type_and_data_driven():
    fit = templates.fit
    assert fit("progress", "state", "正在审批中请等待") == "正在审批中"  # phrase: 5 Chinese, no 「…」
    assert fit("delivered", "tracking", "SF" + "1" * 40) == "SF" + "1" * 29 + "…"  # character_string 32
    assert fit("digest", "open", "123456") == "123456"  # a number is never cut
    assert fit("handoff", "question", "第一行\n第二行") == "第一行 第二行"  # one line
    assert fit("any", "thing7", "字" * 30) == "字" * 19 + "…"  # a new-style keyword names its type
    assert fit("any", "phrase2", "审批中审批中") == "审批中审批"
    assert templates.field_type("correction", "due") == "date"
    # every field of every template has a type WeChat knows
    assert all(f.type in templates.FIELD_TYPES for fs in templates.TEMPLATE_FIELDS.values() for f in fs)


# -- TEMPLATESENDJOBFINISH ----------------------------------------------------------------------

def test_a_blocked_template_push_shows_as_never_received(app, emulator):
    base, control = emulator
    configure(app, base)
    control.add_user("oBlocker")  # follows, but wrote nothing in 48 h: a template message it is
    requests.post(f"{base}/_emulator/template_outcomes",
                  json={"openid": "oBlocker", "status": "failed:user block"}, timeout=5).raise_for_status()
    number = new_case(app, openid="oBlocker", commissioner="donghu-1")
    with db_of(app) as db:
        case = cases.by_number(db, number)
        notify.delivered(db, case, "上门")
    dispatch(app)
    push = push_of(app, number, "delivered")
    assert push.state == "sent" and push.channel == "template" and push.msgid
    assert "已发送" in push_item(app, number, push.id)

    jobs, replies = deliver_receipts(app, base)
    assert [j["msgid"] for j in jobs if j["openid"] == "oBlocker"] == [push.msgid]
    assert all(reply == "success" for reply in replies)  # a receipt is not a chat turn: no reply
    push = push_of(app, number, "delivered")
    assert push.receipt == "failed:user block" and push.state == "dead"
    item = push_item(app, number, push.id)
    assert "用户拒收" in item and "请电话联系企业告知" in item and "重新发送" in item

    deliver_receipts(app, base)  # WeChat repeats the event: nothing changes
    again = push_of(app, number, "delivered")
    assert (again.state, again.receipt, again.receipt_at) == (push.state, push.receipt, push.receipt_at)


def test_a_delivered_template_push_is_recorded_and_stays_sent(app, emulator):
    base, control = emulator
    configure(app, base)
    control.add_user("oReader")
    number = new_case(app, openid="oReader", commissioner="donghu-1")
    with db_of(app) as db:
        notify.delivered(db, cases.by_number(db, number), "上门")
    dispatch(app)
    deliver_receipts(app, base)
    push = push_of(app, number, "delivered")
    assert (push.state, push.receipt) == ("sent", "success") and push.receipt_at is not None
    assert "用户拒收" not in push_item(app, number, push.id)


def test_a_receipt_naming_another_users_msgid_changes_nothing(app, emulator):
    base, control = emulator
    configure(app, base)
    control.add_user("oReader")
    number = new_case(app, openid="oReader", commissioner="donghu-1")
    with db_of(app) as db:
        notify.delivered(db, cases.by_number(db, number), "上门")
    dispatch(app)
    push = push_of(app, number, "delivered")
    from bot.emulator.template_jobs import event_xml

    wx = WeChatServer(app.config["BANGBAN_SETTINGS"].wechat_token)
    cb = wx.callback(event_xml("oSomeoneElse", push.msgid, "failed:user block", 1_700_000_000))
    r = app.test_client().post(cb.path, data=cb.body, content_type="text/xml")
    assert r.status_code == 200 and r.get_data(as_text=True) == "success"
    assert push_of(app, number, "delivered").state == "sent"


def test_the_emulators_template_send_answers_a_msgid_and_keeps_the_job(emulator):
    base, control = emulator
    control.add_user("oX")
    from bot.push.wechat_api import make_client, send_template

    result = send_template(make_client(DEFAULT_APPID, DEFAULT_SECRET, base), "oX", "tpl-delivered",
                           {"number": "BD-2026-000001", "method": "上门"})
    assert result.ok and isinstance(result.msgid, int)
    jobs = requests.get(f"{base}/_emulator/template_jobs", timeout=5).json()
    assert [(j["msgid"], j["status"]) for j in jobs] == [(result.msgid, "success")]
    assert "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>" in jobs[0]["xml"]
    assert f"<MsgID>{result.msgid}</MsgID>" in jobs[0]["xml"]
    bad = requests.post(f"{base}/_emulator/template_outcomes", json={"openid": "oX", "status": "maybe"}, timeout=5)
    assert bad.status_code == 400
