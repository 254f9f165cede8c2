"""Pushes as staff see them in the console, on SQLite and the real PostgreSQL: every purpose and
failure in Chinese, with what to do for the person the push was for; 重新发送 for a failed push
(audited, never a second copy of one that is waiting or sent); 「已通知企业」 only when the push can
reach the enterprise; and a push still 待发送 says why."""
from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import FLASH, db_of
from test_console import act, csrf_token, new_case, signed_in

from bot.casework import cases
from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import LedgerEntry, Notification, Staff, utcnow
from bot.people import users
from bot.push import labels as push_labels
from bot.scheduler import Jobs

REPO = Path(__file__).resolve().parent.parent
NO_API = "http://127.0.0.1:9"  # configured, but these tests never send unless an emulator is served
LATIN = re.compile(r"[A-Za-z]")

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture()
def app(console_app):
    return console_app


def configure(app, **changes):
    """Give the app an Official Account (the console reads its settings per request)."""
    base = dict(wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base=NO_API)
    app.config["BANGBAN_SETTINGS"] = app.config["BANGBAN_SETTINGS"].with_(**{**base, **changes})
    return app.config["BANGBAN_SETTINGS"]


def pushes_of(app, number, purpose=None):
    with db_of(app) as db:
        case = cases.by_number(db, number)
        query = sa.select(Notification).where(Notification.case_id == case.id).order_by(Notification.id)
        if purpose:
            query = query.where(Notification.purpose == purpose)
        return list(db.scalars(query))


def set_push(app, push_id, **values):
    with db_of(app) as db:
        n = db.get(Notification, push_id)
        for k, v in values.items():
            setattr(n, k, v)


def push_item(page: str, push_id: int) -> str:
    match = re.search(rf'<li class="push[^"]*" id="push-{push_id}">(.*?)</li>', page, re.S)
    assert match, f"push {push_id} not on the page"
    return match.group(1)


def visible_text(html: str) -> str:
    """What a reader sees: tags, attributes and the push's own quoted text left out."""
    html = re.sub(r'<pre class="push-text">.*?</pre>', "", html, flags=re.S)
    return re.sub(r"<[^>]+>", "", html)


# -- labels ---------------------------------------------------------------------------------

def test_every_purpose_the_code_queues_has_a_chinese_name():
    sources = [p for d in ("bot", "dialogs", "webhook") for p in (REPO / d).rglob("*.py")]
    written = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(r'purpose="(\w+)"', text)) | set(re.findall(r'(?:"staff"|"enterprise"|RecipientKind\.STAFF|RecipientKind\.ENTERPRISE), "(\w+)"', text))
        written |= set(re.findall(r'literal\("(sla_\w+)"\)', text))
    assert {"urge", "rectification", "rectification_feedback", "sla_escalate", "sla_overdue", "late_reply"} <= written
    missing = {p for p in written if p not in push_labels.PURPOSE_NAMES}
    assert not missing, missing
    assert all(not LATIN.search(name) for name in push_labels.PURPOSE_NAMES.values())


def test_every_push_is_a_function_of_bot_notify():
    """Issue 14, item 1: no module but bot/push/notify.py queues a push (outbox.enqueue) or builds a
    Notification; the SLA sweep's set-based INSERT … SELECT (bot/supervision/sla.py) is the one other writer."""
    found = []
    for path in [p for d in ("bot", "dialogs", "webhook") for p in (REPO / d).rglob("*.py")]:
        if path.relative_to(REPO).as_posix() in ("bot/push/notify.py", "bot/push/outbox.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if called in ("enqueue", "Notification"):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {called}(…)")
    assert not found, found


def test_every_template_key_the_code_uses_is_described():
    """bot/push/templates.py is what the demo account registers and the web chat labels with."""
    from bot.push.templates import TEMPLATE_FIELDS

    used = set()
    for path in [p for d in ("bot", "dialogs", "webhook") for p in (REPO / d).rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'template="(\w+)"', text)) | set(re.findall(r'literal\("(sla_\w+)"\)', text))
        used |= set(re.findall(r'(?:"staff"|"enterprise"|RecipientKind\.STAFF|RecipientKind\.ENTERPRISE), "(sla_\w+)"', text))  # bot/supervision/sla.py: template = purpose
    assert {"assignment", "rating", "digest", "sla_overdue", "sla_warn", "handoff_answer"} <= used
    assert used <= set(TEMPLATE_FIELDS), used - set(TEMPLATE_FIELDS)
    assert all(not LATIN.search(f.label) for fields in TEMPLATE_FIELDS.values() for f in fields)


FAILURES = [
    "custom: 40003 invalid openid",
    "template: 43004 require subscribe",
    "43004: require subscribe",
    "custom: 45015 response out of time limit or subscription is canceled; template: 40037 invalid template_id",
    "no channel left: outside the 48 h customer-service window and no template or subscribe message configured for 'progress'",
    "custom: 45015 response out of time limit; no channel left: staff outside the 48 h window and no template configured for 'urge'",
    "gave up after 8 attempts; last: custom: -1 system error",
    "gave up after 8 attempts; last: network error: ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9)",
    "gave up after 8 attempts; last: template: 40001 invalid credential, access_token is invalid or not latest",
    "template: 47003 argument invalid! data.item.value is empty",
    "custom: 45002 content size out of limit",
    "internal error: KeyError: 'progress'",
    "template: 99999 something new",
    None,
]


@pytest.mark.parametrize("error", FAILURES)
def test_failure_reasons_are_chinese_and_advise_the_right_audience(error):
    for kind in ("enterprise", "staff"):
        said = str(push_labels.explain_failure(error, kind, "progress", attempts=8))
        assert not LATIN.search(said.replace("48", "")), said
        assert not re.search(r"\d{5}", said), said  # no WeChat error codes
        if kind == "staff":
            assert "电话联系企业" not in said and "企业" not in said.split("。")[0], said
        else:
            assert "电话联系企业" in said, said


def test_the_reason_names_what_went_wrong():
    explain = push_labels.explain_failure
    assert explain("custom: 40003 invalid openid", "staff").reason == "该工作人员绑定的微信账号无效"
    assert explain("template: 43004 require subscribe", "enterprise").reason == "企业已取消关注公众号，收不到消息"
    no_template = explain(FAILURES[4], "enterprise", "progress")
    assert "48 小时" in no_template.reason and "「进度通知」模板消息" in no_template.reason
    assert "已尝试 8 次" in explain(FAILURES[6], "enterprise", attempts=8).reason


# -- the case page ----------------------------------------------------------------------------

def test_case_page_shows_failures_in_chinese_for_whom_they_were_meant(app):
    configure(app)
    number = new_case(app, commissioner="donghu-1")
    client = signed_in(app, "donghu-1")
    act(client, number, "accept")
    staff_push = pushes_of(app, number, "assignment")[0]
    enterprise_push = pushes_of(app, number, "accepted")[0]
    set_push(app, staff_push.id, state="dead", last_error="custom: 40003 invalid openid", attempts=1)
    set_push(app, enterprise_push.id, state="dead", last_error="template: 43004 require subscribe", attempts=1)
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)

    staff_item = visible_text(push_item(page, staff_push.id))
    assert "分派提醒" in staff_item and "→ 工作人员" in staff_item
    assert "失败原因：该工作人员绑定的微信账号无效。" in staff_item
    assert "请电话联系企业" not in staff_item and "当面或电话告知该工作人员" in staff_item
    enterprise_item = visible_text(push_item(page, enterprise_push.id))
    assert "受理通知" in enterprise_item and "企业已取消关注公众号" in enterprise_item
    assert "请电话联系企业" in enterprise_item
    for item in (staff_item, enterprise_item):
        assert not LATIN.search(item), item  # no purpose keys, error codes or English reasons
        assert "重新发送" in item


def test_a_push_waiting_past_its_time_says_why(app):
    number = new_case(app, commissioner="donghu-1")
    client = signed_in(app, "donghu-1")
    push = pushes_of(app, number)[0]
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "尚未发出：本系统尚未接入微信公众号" in push_item(page, push.id)

    configure(app)
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "尚未发出" not in push_item(page, push.id)  # just queued: next in line, nothing to explain
    set_push(app, push.id, next_attempt_at=utcnow() - timedelta(minutes=10))
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "发送程序还没有处理这条消息" in push_item(page, push.id)
    set_push(app, push.id, attempts=2, last_error="template: -1 system error",
             next_attempt_at=utcnow() + timedelta(minutes=5))
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    item = visible_text(push_item(page, push.id))
    assert "第 2 次发送未成功（微信接口繁忙或连接不上），将于" in item and "自动重试" in item
    assert "重新发送" not in item  # waiting for its retry: resending could double it


# -- 重新发送 -----------------------------------------------------------------------------------

def resend(client, number, push_id, token=None):
    token = token or csrf_token(client.get(f"/console/cases/{number}").get_data(as_text=True))
    r = client.post(f"/console/cases/{number}/pushes/{push_id}/resend", data={"csrf_token": token},
                    follow_redirects=True)
    return r, FLASH.findall(r.get_data(as_text=True))


def test_resend_requeues_a_dead_push_once_and_the_ledger_says_who(app):
    configure(app)
    number = new_case(app, commissioner="donghu-1")
    client = signed_in(app, "donghu-1")
    act(client, number, "accept")
    push = pushes_of(app, number, "accepted")[0]
    set_push(app, push.id, state="dead", attempts=8, last_error="gave up after 8 attempts; last: custom: -1 system error")

    r, flashes = resend(client, number, push.id)
    assert flashes and flashes[0][0] == "success" and "「受理通知」已重新排入发送队列" in flashes[0][1], flashes
    again = pushes_of(app, number, "accepted")[0]
    assert (again.state, again.attempts, again.last_error) == ("pending", 0, None)
    with db_of(app) as db:
        lines = list(db.scalars(sa.select(LedgerEntry).where(LedgerEntry.action == "push_resent")))
    assert len(lines) == 1
    assert (lines[0].actor_kind, lines[0].actor_id) == ("commissioner", "donghu-1") and lines[0].at is not None
    assert "重新发送受理通知（发给企业；上次失败：微信接口多次繁忙或连接不上" in lines[0].detail

    # Pressed again (a second tab, a double click): it is waiting now, so nothing more is queued.
    r, flashes = resend(client, number, push.id)
    assert flashes == [("error", "这条推送正在等待发送，无需重新发送")]
    set_push(app, push.id, state="sent", sent_at=utcnow())
    r, flashes = resend(client, number, push.id)
    assert flashes == [("error", "这条推送已经发出，无需重新发送")]
    with db_of(app) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                         .where(LedgerEntry.action == "push_resent")) == 1
    assert pushes_of(app, number, "accepted")[0].state == "sent"


def test_resend_is_a_console_action_with_its_rules(app):
    configure(app)
    number = new_case(app, commissioner="donghu-1")
    other = new_case(app, commissioner="donghu-2", openid="oOther")
    client = signed_in(app, "donghu-1")
    push = pushes_of(app, number)[0]
    foreign = pushes_of(app, other)[0]
    for p in (push, foreign):
        set_push(app, p.id, state="dead", last_error="custom: 40003 invalid openid")

    r = client.post(f"/console/cases/{number}/pushes/{push.id}/resend", data={})  # no CSRF token
    assert r.status_code == 400 and pushes_of(app, number)[0].state == "dead"
    r, _ = resend(client, other, foreign.id)  # another commissioner's case
    assert r.status_code == 404 and pushes_of(app, other)[0].state == "dead"
    r, flashes = resend(client, number, foreign.id)  # a push of another case, through this one
    assert flashes == [("error", "找不到这条推送，请刷新页面后再试")] and pushes_of(app, other)[0].state == "dead"
    r, flashes = resend(signed_in(app, "donghu-lead"), number, push.id)  # the region's supervisor may
    assert flashes[0][0] == "success" and pushes_of(app, number)[0].state == "pending"


def test_a_resent_push_arrives_once_after_the_cause_is_fixed(app):
    """Dead because the emulator did not know the commissioner; known now, resent, delivered once."""
    with serve() as base:
        control = EmulatorControl(base)
        control.add_template("tpl-assignment", ["number", "company", "mode"])
        settings = configure(app, wechat_api_base=base, wechat_templates={"assignment": "tpl-assignment"})
        number = new_case(app, commissioner="donghu-1")
        jobs = Jobs(settings, sessions=app.extensions["bangban_dialogs"].sessions)
        jobs.dispatch_outbox()
        push = pushes_of(app, number, "assignment")[0]
        assert push.state == "dead" and "40003" in push.last_error

        control.add_user("oStaff_donghu_1")
        _, flashes = resend(signed_in(app, "donghu-lead"), number, push.id)
        assert flashes[0][0] == "success"
        jobs.dispatch_outbox()
        assert pushes_of(app, number, "assignment")[0].state == "sent"
        arrived = [m for m in control.messages(openid="oStaff_donghu_1")]
        assert len(arrived) == 1 and arrived[0]["payload"]["data"]["number"]["value"] == number


# -- 「已通知企业」 --------------------------------------------------------------------------------

def wrote(app, openid, hours_ago=0.0, subscribed=True):
    with db_of(app) as db:
        user = users.touch(db, openid, subscribed=subscribed)
        user.last_message_at = utcnow() - timedelta(hours=hours_ago)


def test_the_enterprise_is_said_to_be_told_only_when_the_push_can_reach_it(app):
    configure(app)
    client = signed_in(app, "donghu-1")

    number = new_case(app, commissioner="donghu-1", openid="oWrote")
    wrote(app, "oWrote", hours_ago=1)
    _, flashes = act(client, number, "accept")
    assert flashes == [("success", "已受理。已通知企业。")]

    number = new_case(app, commissioner="donghu-1", openid="oLeft")
    wrote(app, "oLeft", hours_ago=1, subscribed=False)
    _, flashes = act(client, number, "accept")
    assert flashes == [("success", "已受理。企业已取消关注公众号，收不到微信通知，请电话告知企业（陈经理、13800000000）。")]

    number = new_case(app, commissioner="donghu-1", openid="oQuiet")
    wrote(app, "oQuiet", hours_ago=72)
    _, flashes = act(client, number, "accept")
    assert "已通知企业" not in flashes[0][1]
    assert "超过 48 小时没有在公众号留言，且未配置「受理通知」模板消息" in flashes[0][1] and "请电话告知企业" in flashes[0][1]

    configure(app, wechat_templates={"accepted": "tpl-accepted", "assignment": "tpl-assignment"})
    number = new_case(app, commissioner="donghu-1", openid="oQuiet")
    _, flashes = act(client, number, "complete")  # not accepted yet: refused, nothing said about pushes
    assert flashes[0][0] == "error"
    _, flashes = act(client, number, "accept")
    assert flashes == [("success", "已受理。已通知企业。")]  # the template reaches them outside the window

    lead = signed_in(app, "donghu-lead")
    with db_of(app) as db:
        donghu_2 = db.scalar(sa.select(Staff.id).where(Staff.username == "donghu-2"))
    _, flashes = act(lead, number, "assign", commissioner_id=donghu_2)
    assert flashes == [("success", "已分派。专员会收到提醒。")]


def test_a_commissioner_without_wechat_is_not_said_to_be_alerted(app):
    configure(app, wechat_templates={"assignment": "tpl-assignment"})
    with db_of(app) as db:
        staff = db.scalar(sa.select(Staff).where(Staff.username == "donghu-2"))
        staff.wechat_openid = None
        donghu_2 = staff.id
    number = new_case(app, commissioner="donghu-1")
    _, flashes = act(signed_in(app, "donghu-lead"), number, "assign", commissioner_id=donghu_2)
    assert flashes == [("success", "已分派。该专员未绑定微信，收不到提醒，请另行告知。")]


def test_permanently_unreachable_people_are_found_before_anything_is_sent(app):
    """bot.push.dispatcher.obstacles judges what the dispatcher would find, without sending."""
    from bot.push import dispatcher

    settings = configure(app, wechat_templates={"progress": "tpl-progress"})
    wrote(app, "oFresh", hours_ago=1)
    wrote(app, "oOld", hours_ago=50)
    wrote(app, "oGone", subscribed=False)
    rows = [Notification(recipient_openid=o, recipient_kind=k, template=t, purpose="x", text="x")
            for o, k, t in [("oFresh", "enterprise", "accepted"), ("oOld", "enterprise", "accepted"),
                            ("oOld", "enterprise", "progress"), ("oGone", "enterprise", "progress"),
                            ("oNever", "enterprise", "progress"), ("oStaff", "staff", "urge"),
                            ("oStaff", "staff", "progress")]]
    with db_of(app) as db:
        found = dispatcher.obstacles(db, rows, settings)
        assert found == [None, "no_channel", None, "unsubscribed", None, "no_channel", None]
        assert dispatcher.obstacles(db, rows[:1], settings.with_(wechat_appid="")) == ["unconfigured"]


def test_dead_rows_are_logged_in_one_line_per_batch(app, caplog):
    import logging

    settings = configure(app)
    with db_of(app) as db:
        for k in range(7):
            db.add(Notification(idempotency_key=f"k{k}", recipient_openid=f"oNobody{k}", recipient_kind="enterprise",
                                purpose="progress", text="x", template="progress"))
    with serve() as base, caplog.at_level(logging.WARNING, logger="bot.push.dispatcher"):
        counts = Jobs(settings.with_(wechat_api_base=base), sessions=app.extensions["bangban_dialogs"].sessions
                      ).dispatch_outbox()
    assert counts.dead == 7
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.push.dispatcher"]
    assert len(lines) == 1 and lines[0].startswith("7 notification(s) failed for good") and "4 more" in lines[0]
