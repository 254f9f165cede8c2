"""「已通知企业」 only when it is true, in WeChat as in the console (issue 15, item 3): a commissioner
who accepts a case with 「受理 BD-…」 is told the enterprise was notified only when the push can
reach it now; otherwise why not (no Official Account, unfollowed, outside the 48-hour window with
no template) and whom to phone, in the same words as the console (bot/push/reach.py serves both). An
enterprise's 「催一下」 is said to be passed on only to a commissioner it can reach; closing a 整改
says its feedback reaches the enterprise only when it can (the handoff answer: test_handoff.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import db_of
from test_console import act, new_case, signed_in

from bot.casework import cases
from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET
from bot.models import Notification, Staff, utcnow
from bot.people import users
from dialogs import texts

NO_API = "http://127.0.0.1:9"  # configured, never sent to: nothing here runs the dispatcher
CONTACT = "陈经理、13800000000"  # test_console.new_case's contact

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture()
def app(console_app, monkeypatch):
    # The console reads the app's settings per request, the chat's actions their services': one
    # Official Account for both (monkeypatch undoes it for the next test's app).
    services = console_app.extensions["bangban_services"]
    monkeypatch.setattr(services, "settings", services.settings)
    return console_app


def configure(app, **changes):
    base = dict(wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base=NO_API)
    settings = app.config["BANGBAN_SETTINGS"].with_(**{**base, **changes})
    app.config["BANGBAN_SETTINGS"] = settings
    app.extensions["bangban_services"].settings = settings
    return settings


def manager_of(app):
    return app.extensions["bangban_dialogs"]


def wrote(app, openid, hours_ago=0.0, subscribed=True):
    with db_of(app) as db:
        user = users.touch(db, openid, subscribed=subscribed)
        user.last_message_at = utcnow() - timedelta(hours=hours_ago)


def staff_openid(app, username):
    with db_of(app) as db:
        return db.scalar(sa.select(Staff.wechat_openid).where(Staff.username == username))


def accept_in_wechat(app, number, username="donghu-1") -> str:
    commissioner = staff_openid(app, username)
    wrote(app, commissioner)  # a commissioner writing to the account is a follower inside the window
    return manager_of(app).handle_text(commissioner, f"受理 {number}").reply


def accepted(app, number) -> bool:
    with db_of(app) as db:
        return cases.by_number(db, number).state == "accepted"


# -- 「受理 BD-…」 in WeChat ----------------------------------------------------------------------

def test_wechat_accept_says_the_enterprise_was_told_only_when_the_push_can_reach_it(app):
    configure(app)
    number = new_case(app, commissioner="donghu-1", openid="oWrote")
    wrote(app, "oWrote", hours_ago=1)
    reply = accept_in_wechat(app, number)
    assert reply == f"已受理 {number}（武汉光谷示例科技有限公司·光谷示例研发楼）。已通知企业联系人陈经理。"

    number = new_case(app, commissioner="donghu-1", openid="oLeft")
    wrote(app, "oLeft", hours_ago=1, subscribed=False)
    reply = accept_in_wechat(app, number)
    assert accepted(app, number) and "已通知企业" not in reply
    assert reply.endswith(f"。企业已取消关注公众号，收不到微信通知，请电话告知企业（{CONTACT}）。")

    number = new_case(app, commissioner="donghu-1", openid="oQuiet")
    wrote(app, "oQuiet", hours_ago=72)
    reply = accept_in_wechat(app, number)
    assert accepted(app, number) and "已通知企业" not in reply
    assert "超过 48 小时没有在公众号留言，且未配置「受理通知」模板消息" in reply and f"请电话告知企业（{CONTACT}）" in reply

    configure(app, wechat_templates={"accepted": "tpl-accepted"})  # a template reaches them outside the window
    number = new_case(app, commissioner="donghu-1", openid="oQuiet")
    assert accept_in_wechat(app, number).endswith("。已通知企业联系人陈经理。")


def test_wechat_accept_without_an_official_account_says_to_phone(app):
    number = new_case(app, commissioner="donghu-1", openid="oWrote")
    wrote(app, "oWrote", hours_ago=1)
    reply = accept_in_wechat(app, number)
    assert accepted(app, number) and "已通知企业" not in reply
    assert reply.endswith(f"。本系统尚未接入微信公众号，通知暂存待发送，请电话告知企业（{CONTACT}）。")
    with db_of(app) as db:  # the push is still queued: it goes out once the account is connected
        assert db.scalar(sa.select(sa.func.count(Notification.id)).where(
            Notification.recipient_openid == "oWrote", Notification.purpose == "accepted")) == 1


def test_wechat_and_the_console_say_the_same(app):
    """One judgement (bot/push/reach.py) for both: the words after 「已受理」 match."""
    configure(app)
    console = signed_in(app, "donghu-1")
    for openid, hours_ago, subscribed in (("oSame1", 1, True), ("oSame2", 1, False), ("oSame3", 72, True)):
        in_console, in_wechat = (new_case(app, commissioner="donghu-1", openid=openid) for _ in range(2))
        wrote(app, openid, hours_ago=hours_ago, subscribed=subscribed)
        _, [(kind, flashed)] = act(console, in_console, "accept")
        assert kind == "success" and flashed.startswith("已受理。")
        said = accept_in_wechat(app, in_wechat).split("）。", 1)[1]
        if flashed == "已受理。已通知企业。":
            assert said == "已通知企业联系人陈经理。"
        else:
            assert said == flashed.removeprefix("已受理。")


# -- 「催一下」 ----------------------------------------------------------------------------------

def test_an_urge_is_said_to_reach_the_commissioner_only_when_it_can(app):
    configure(app)
    commissioner = staff_openid(app, "donghu-1")
    new_case(app, commissioner="donghu-1", openid="oUrge1")
    wrote(app, commissioner, hours_ago=1)
    reply = manager_of(app).handle_text("oUrge1", "催一下").reply
    assert reply.startswith("已把您的催办转告帮代办专员田雅琪")

    # unfollowed: recorded on the case, not 「转告」
    new_case(app, commissioner="donghu-1", openid="oUrge2")
    wrote(app, commissioner, hours_ago=1, subscribed=False)
    reply = manager_of(app).handle_text("oUrge2", "催一下").reply
    assert "转告" not in reply and reply.startswith("已记录您的催办") and "田雅琪暂时收不到微信提醒" in reply

    # no WeChat bound at all
    with db_of(app) as db:
        db.scalar(sa.select(Staff).where(Staff.username == "donghu-1")).wechat_openid = None
    number = new_case(app, commissioner="donghu-1", openid="oUrge3")
    reply = manager_of(app).handle_text("oUrge3", "催一下").reply
    assert reply.startswith("已记录您的催办") and "转告" not in reply
    with db_of(app) as db:  # on the case's ledger all the same: the commissioner sees it there
        case = cases.by_number(db, number)
        assert [e.action for e in cases.ledger_of(db, case)].count("urged") == 1
    assert texts.URGE_UNREACHED.split("（")[0] in reply


def test_an_urge_without_an_official_account_waits_for_one(app):
    """No account configured (the web chat, `bangban chat`): the urge waits in the outbox for it."""
    new_case(app, commissioner="donghu-1", openid="oUrge4")
    reply = manager_of(app).handle_text("oUrge4", "催一下").reply
    assert reply.startswith(texts.URGE_SENT.split("{")[0])


# -- the console's other pushes to the enterprise ----------------------------------------------

def test_closing_a_rectification_says_the_feedback_reaches_the_enterprise_only_when_it_can(app):
    """「整改结果将推送给企业」 was said whatever became of the push."""
    import re

    from test_console import csrf_token

    from bot.models import Rectification
    from bot.supervision import ratings

    settings = configure(app)
    lead = signed_in(app, "donghu-lead")
    for openid, subscribed, said in (("oRated1", True, "整改结果将推送给企业。"),
                                     ("oRated2", False, f"企业已取消关注公众号，收不到微信通知，请电话告知企业（{CONTACT}）。")):
        number = new_case(app, commissioner="donghu-1", openid=openid)
        with db_of(app) as db:
            case = cases.by_number(db, number)
            case.state = "delivered"
            ratings.record(db, case, openid, 1, settings=settings, calendar=app.extensions["bangban_services"].calendar,
                           comment="专员回复太慢")
        with db_of(app) as db:
            rect = db.scalar(sa.select(Rectification).where(Rectification.case_id == case.id))
            ratings.record_visit(db, rect.id, db.scalar(sa.select(Staff).where(Staff.username == "donghu-lead")),
                                 "电话回访企业经办人")
        wrote(app, openid, hours_ago=1, subscribed=subscribed)
        token = csrf_token(lead.get("/console/rectifications").get_data(as_text=True))
        r = lead.post(f"/console/rectifications/{rect.id}/close", data={"outcome": "已约谈专员", "csrf_token": token},
                      follow_redirects=True)
        flashes = re.findall(r'<p class="flash flash-(\w+)"[^>]*>([^<]+)</p>', r.get_data(as_text=True))
        assert flashes == [("success", f"整改 {ratings.rectification_number(rect.id)} 已办结。{said}")]
