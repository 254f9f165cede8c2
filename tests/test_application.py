"""Applying for 帮办/代办 in chat, end to end: through the signed webhook, through the dialog
manager with Redis state, and through the real rasa-sdk action server over HTTP."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import sqlalchemy as sa
from conftest import fill_database

from bot.models import Case, CaseItem, Handoff, LedgerEntry, Notification, Staff
from bot.platform import clock
from bot.platform.config import Settings
from bot.platform.kv import MemoryKV, RedisKV
from dialogs import build_manager, texts
from webhook import create_app
from webhook.simulator import WeChatServer, reply_fields, text_xml

VALID_CODE = "91350100M000100Y43"
BANGBAN_ANSWERS = [
    "我要申请帮办", "5", "武汉光谷示例科技有限公司", VALID_CODE, "光谷示例研发楼", "无",
    "1", "否", "1", "3", "1 3", "陈明", "13800138000",
]


def seed_staff(sessions):
    with sessions.begin() as db:
        db.add_all([
            Staff(username="dh1", name="周专员", role="commissioner", region="donghu", wechat_openid="oStaffZhou"),
            Staff(username="dh2", name="吴专员", role="commissioner", region="donghu", wechat_openid="oStaffWu"),
            Staff(username="dhs", name="郑主任", role="supervisor", region="donghu", wechat_openid="oBossZheng"),
        ])


@pytest.fixture()
def manager(database_url, kb, retriever):
    fill_database(database_url)
    m = build_manager(Settings(database_url=database_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    seed_staff(m.sessions)
    return m


def talk(manager, user, messages):
    return [manager.handle_text(user, m) for m in messages]


def cases_of(manager, user):
    with manager.sessions() as s:
        return list(s.scalars(sa.select(Case).where(Case.applicant_openid == user)))


def test_bangban_application_is_stored_assigned_and_answered_with_number(manager):
    turns = talk(manager, "oEnt1", BANGBAN_ANSWERS)
    assert "请核对您的帮办申请" in turns[-1].reply and "陈明" in turns[-1].reply
    done = manager.handle_text("oEnt1", "确认")
    assert done.intent == "submitted"
    [case] = cases_of(manager, "oEnt1")
    assert case.number in done.reply and done.reply.startswith("✅ 申请已提交")
    assert (case.mode, case.region, case.credit_code, case.project_code) == ("帮办", "donghu", VALID_CODE, None)
    assert case.agreement_consented_at is None
    with manager.sessions() as s:
        items = s.scalars(sa.select(CaseItem).where(CaseItem.case_id == case.id)).all()
        assert sorted(i.item_code for i in items) == ["construction_permit", "drawing_review"]
        commissioner = s.get(Staff, case.commissioner_id)
        alert = s.scalars(sa.select(Notification).where(Notification.purpose == "assignment")).one()
    assert commissioner.region == "donghu" and commissioner.name in done.reply
    assert alert.recipient_openid == commissioner.wechat_openid and case.number in alert.text
    # 一次性告知: every chosen item with department, limit, materials and an expected date.
    assert "【一次性告知】" in done.reply
    assert "建筑工程施工许可证申请表" in done.reply and "预计" in done.reply
    # Asking again later gives the same notice.
    assert "【一次性告知】" in manager.handle_text("oEnt1", "我还要准备什么").reply


def test_progress_shows_state_items_and_commissioner(manager):
    talk(manager, "oEnt2", BANGBAN_ANSWERS + ["确认"])
    [case] = cases_of(manager, "oEnt2")
    reply = manager.handle_text("oEnt2", "我的申请怎么样了").reply
    with manager.sessions() as s:
        name = s.get(Staff, case.commissioner_id).name
    assert case.number in reply and "已申请" in reply and name in reply
    assert "建筑工程施工许可证核发：待申报" in reply
    assert manager.handle_text("oSomeoneElse", "我的申请怎么样了").reply == texts.NO_CASE


def test_daiban_records_explicit_agreement_consent(manager):
    answers = ["申请代办"] + BANGBAN_ANSWERS[1:]
    talk(manager, "oEnt3", answers)
    agreement = manager.handle_text("oEnt3", "好吧")  # not a clear yes
    assert "请回复「同意」" in agreement.reply
    assert "请核对您的代办申请" in manager.handle_text("oEnt3", "同意").reply
    manager.handle_text("oEnt3", "确认")
    [case] = cases_of(manager, "oEnt3")
    assert case.mode == "代办" and case.agreement_consented_at is not None
    with manager.sessions() as s:
        actions = [e.action for e in s.scalars(sa.select(LedgerEntry).where(LedgerEntry.case_id == case.id))]
    assert "agreement_consented" in actions


def test_invalid_credit_code_is_explained_and_nothing_stored(manager):
    talk(manager, "oEnt4", BANGBAN_ANSWERS[:3])
    wrong_check = manager.handle_text("oEnt4", VALID_CODE[:-1] + "4").reply
    assert "校验" in wrong_check and "统一社会信用代码" in wrong_check
    too_short = manager.handle_text("oEnt4", VALID_CODE[:-1]).reply
    assert "18位" in too_short and "17位" in too_short
    letter_o = manager.handle_text("oEnt4", VALID_CODE.replace("0", "O", 1)).reply
    assert "O" in letter_o
    assert "项目名称" in manager.handle_text("oEnt4", VALID_CODE).reply
    assert cases_of(manager, "oEnt4") == []


def test_cancel_midway_leaves_cleanly(manager):
    talk(manager, "oEnt5", BANGBAN_ANSWERS[:5])
    assert manager.handle_text("oEnt5", "算了").reply == texts.FORM_CANCELLED
    assert cases_of(manager, "oEnt5") == []
    after = manager.handle_text("oEnt5", "施工许可证需要哪些材料")
    assert after.intent == "consult" and "来源" in after.reply


def test_the_region_a_conversation_was_about_is_offered_not_assumed_when_applying(manager):
    """「东湖代办怎么申请」 then 「我要申请代办」 asked the region as if nothing had been said."""
    assert manager.handle_text("oEntHint", "东湖代办怎么申请").intent == "consult"
    start = manager.handle_text("oEntHint", "我要申请代办").reply
    names = [line.split(". ", 1)[1] for line in start.splitlines() if line[:1].isdigit() and ". " in line]
    n = names.index(manager.kb.regions["donghu"].name) + 1
    assert texts.REGION_HINT.format(region=manager.kb.regions["donghu"].name, n=n) in start
    assert "项目单位" in manager.handle_text("oEntHint", str(n)).reply  # the number it offered is 东湖's
    # Nothing talked about: no hint.
    assert "您刚才问的是" not in manager.handle_text("oEntNoHint", "我要申请代办").reply
    # A 镇 talked about (config/region_tiers.yaml) is offered by name, and typing it routes there.
    manager.handle_text("oEntTown", "荣家湾镇的项目能代办吗")
    manager.handle_text("oEntTown", "要钱吗")
    start = manager.handle_text("oEntTown", "我要申请代办").reply
    assert texts.REGION_HINT_PLACE.format(place="荣家湾镇", region=manager.kb.regions["yueyang"].name) in start
    assert "项目单位" in manager.handle_text("oEntTown", "荣家湾镇").reply
    slots = manager.store.load("oEntTown")["form"]["slots"]
    assert (slots["region"], slots["region_area"]) == ("yueyang", "yyx_rongjiawan")


def test_question_midway_is_answered_and_form_resumes(manager):
    talk(manager, "oEnt6", BANGBAN_ANSWERS[:4])  # next question: project name
    turn = manager.handle_text("oEnt6", "施工许可证一般多久能办下来？")
    assert "来源" in turn.reply and texts.FORM_RESUME in turn.reply and "请输入项目名称" in turn.reply
    assert "项目代码" in manager.handle_text("oEnt6", "光谷示例研发楼").reply


def test_question_the_kb_cannot_answer_at_a_choice_is_not_taken_as_the_answer(manager):
    talk(manager, "oEnt6b", BANGBAN_ANSWERS)  # at the summary: awaiting 「确认」
    turn = manager.handle_text("oEnt6b", "社保断缴了怎么补交？")
    # Answered honestly (outside the approval service, who to ask) or "not sure"; never taken as 确认.
    assert texts.FORM_RESUME in turn.reply and "确认" in turn.reply.split(texts.FORM_RESUME)[-1]
    assert cases_of(manager, "oEnt6b") == []
    handed = manager.handle_text("oEnt6b", "转人工")  # the question goes to a person with the form intact
    assert "编号 H" in handed.reply
    with manager.sessions() as db:
        assert db.scalars(sa.select(Handoff.question).where(Handoff.openid == "oEnt6b")).one() == "社保断缴了怎么补交？"
    manager.handle_text("oEnt6b", "确认")
    assert len(cases_of(manager, "oEnt6b")) == 1


def test_question_the_kb_cannot_answer_at_a_free_text_field_is_not_validated_as_the_answer(manager):
    talk(manager, "oEnt6c", BANGBAN_ANSWERS[:3])  # next question: the credit code
    turn = manager.handle_text("oEnt6c", "社保怎么交？")
    assert texts.FORM_RESUME in turn.reply and "统一社会信用代码" in turn.reply.split(texts.FORM_RESUME)[-1]
    assert "项目名称" in manager.handle_text("oEnt6c", VALID_CODE).reply  # the form goes on as before


@pytest.mark.parametrize("question", ["取消了会怎样", "取消预约要提前多久说"])
def test_a_question_about_cancelling_midway_neither_cancels_nor_fills_the_form(manager, question):
    # 「取消了会怎样」 cancelled the form; read as a question it was then taken as the company's name.
    talk(manager, "oEnt6d", BANGBAN_ANSWERS[:2])  # next question: the company's name
    turn = manager.handle_text("oEnt6d", question)
    assert texts.FORM_RESUME in turn.reply and "项目单位" in turn.reply.split(texts.FORM_RESUME)[-1]
    assert manager.store.load("oEnt6d")["form"]["slots"]["company_name"] is None


def test_edit_contact_before_submitting(manager):
    talk(manager, "oEnt7", BANGBAN_ANSWERS)
    assert "联系人" in manager.handle_text("oEnt7", "修改联系人").reply
    summary = manager.handle_text("oEnt7", "林晓").reply
    assert "联系人：林晓" in summary and "请核对" in summary
    manager.handle_text("oEnt7", "确认")
    assert cases_of(manager, "oEnt7")[0].contact_name == "林晓"


def test_a_message_delivered_twice_is_answered_the_same_and_acted_on_once(manager):
    """WeChat re-sends a message whose reply was slow or lost: the same MsgId gets the first reply
    again, moves no form a second step and submits no second application — while a message with a
    new MsgId and the same words is a new message."""
    for i, text in enumerate(BANGBAN_ANSWERS):
        manager.handle_text("oTwice", text, message_id=str(i))
    first = manager.handle_text("oTwice", "确认", message_id="confirm")
    again = manager.handle_text("oTwice", "确认", message_id="confirm")
    assert first.intent == "submitted" and again.intent == "repeat" and again.reply == first.reply
    assert len(cases_of(manager, "oTwice")) == 1
    manager.handle_text("oTwice2", "我要申请帮办", message_id="a")
    asked = manager.handle_text("oTwice2", "5", message_id="b")  # the region: 东湖
    retried = manager.handle_text("oTwice2", "5", message_id="b")
    assert "企业）全称" in asked.reply and (retried.intent, retried.reply) == ("repeat", asked.reply)
    # Had the retry been taken as the company's name, the form would be past it by now.
    assert "统一社会信用代码" in manager.handle_text("oTwice2", "武汉光谷示例科技有限公司", message_id="c").reply
    same_words = manager.handle_text("oTwice2", "帮办和代办有什么区别", message_id="d")
    assert manager.handle_text("oTwice2", "帮办和代办有什么区别", message_id="e").intent != "repeat"
    assert same_words.intent != "repeat"


def test_remembered_replies_cover_wechats_retries_and_stay_few():
    from dialogs.state import REPEAT_WINDOW_S, REPEATS_KEPT, earlier_reply, remember_reply

    state: dict = {}
    remember_reply(state, "m1", "答复一", now=1000.0)
    assert earlier_reply(state, "m1") == "答复一" and earlier_reply(state, "m2") is None
    remember_reply(state, "m2", "答复二", now=1000.0 + REPEAT_WINDOW_S - 1)
    assert earlier_reply(state, "m1") == "答复一"  # WeChat's last retry comes 15 s after the first
    remember_reply(state, "m3", "答复三", now=1000.0 + REPEAT_WINDOW_S + 1)
    assert earlier_reply(state, "m1") is None and earlier_reply(state, "m2") == "答复二"
    for i in range(10):
        remember_reply(state, f"n{i}", "…", now=2000.0)
    assert len(state["answered"]) == REPEATS_KEPT and earlier_reply(state, "n9") == "…"


def test_ineligible_project_is_told_why_and_what_else(manager):
    answers = BANGBAN_ANSWERS[:8] + ["3"]  # 东湖 + 经营性房地产开发
    turn = talk(manager, "oEnt8", answers)[-1]
    assert turn.intent == "ineligible"
    assert "经营性房地产开发" in turn.reply and "咨询" in turn.reply
    assert cases_of(manager, "oEnt8") == []


def test_urge_reaches_commissioner_once_a_day(manager):
    talk(manager, "oEnt9", BANGBAN_ANSWERS + ["确认"])
    first = manager.handle_text("oEnt9", "催一下").reply
    second = manager.handle_text("oEnt9", "能快点吗，怎么还没办").reply
    assert "已把您的催办转告帮代办专员" in first
    assert "今天已经为您催办过" in second
    with manager.sessions() as s:
        urges = s.scalars(sa.select(Notification).where(Notification.purpose == "urge")).all()
    assert len(urges) == 1 and f"urge:{cases_of(manager, 'oEnt9')[0].number}:{clock.today()}" in urges[0].idempotency_key


def test_two_users_filling_forms_at_once(manager):
    errors = []

    def fill(user):
        try:
            talk(manager, user, BANGBAN_ANSWERS + ["确认"])
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=fill, args=(f"oPar{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = [cases_of(manager, f"oPar{i}")[0].number for i in range(4)]
    assert len(set(numbers)) == 4


def test_form_survives_a_restart_with_redis(sqlite_url, kb, retriever, redis_client):
    fill_database(sqlite_url)
    settings = Settings(database_url=sqlite_url)
    first = build_manager(settings, kb=kb, kv=RedisKV(redis_client), retriever=retriever)
    seed_staff(first.sessions)
    talk(first, "oRestart", BANGBAN_ANSWERS[:6])
    restarted = build_manager(settings, kb=kb, kv=RedisKV(redis_client), retriever=retriever)
    talk(restarted, "oRestart", BANGBAN_ANSWERS[6:] + ["确认"])
    assert len(cases_of(restarted, "oRestart")) == 1


def test_application_through_the_signed_webhook(sqlite_url, kb, retriever):
    fill_database(sqlite_url)
    settings = Settings(wechat_token="t0k", database_url=sqlite_url)
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
    seed_staff(manager.sessions)
    client = create_app(settings, manager=manager).test_client()
    wx = WeChatServer("t0k")
    replies = []
    for i, message in enumerate(BANGBAN_ANSWERS + ["确认"]):
        xml = text_xml("oViaWeChat", message, msg_id=5000 + i)
        r = client.post(wx.callback(xml).path, data=wx.callback(xml).body, content_type="text/xml")
        replies.append(reply_fields(r.get_data(as_text=True))["Content"])
    # WeChat retries the confirming message: same reply, still one case.
    xml = text_xml("oViaWeChat", "确认", msg_id=5000 + len(BANGBAN_ANSWERS))
    cb = wx.callback(xml)
    retry = reply_fields(client.post(cb.path, data=cb.body, content_type="text/xml").get_data(as_text=True))["Content"]
    assert retry == replies[-1]
    assert len(cases_of(manager, "oViaWeChat")) == 1
    assert all(len(r.encode("utf-8")) <= 2048 for r in replies)


# -- the same actions behind the rasa-sdk action server ---------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def action_server(sqlite_url, kb_cache_dir):
    fill_database(sqlite_url)
    port = _free_port()
    # The run's knowledge index (the file the server would write): it loads it on its first
    # action instead of building it (~8 s) into the checkout's var/cache.
    env = {**os.environ, "DATABASE_URL": sqlite_url, "BANGBAN_CACHE_DIR": kb_cache_dir}
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "dialogs.actions", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("action server exited: " + proc.stdout.read().decode(errors="replace")[-2000:])
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("action server did not start")
    yield base
    proc.terminate()
    # communicate, not wait: it drains the server's log pipe, which a full pipe would otherwise
    # block on while shutting down (CI once timed out here after 10 s on a busy machine).
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_actions_served_by_rasa_sdk_over_http(action_server):
    from dialogs.actions.application import DOMAIN, SLOTS

    with urllib.request.urlopen(action_server + "/actions", timeout=10) as r:
        names = {a["name"] for a in json.loads(r.read())}
    assert {"validate_application_form", "action_submit_application", "action_case_progress", "action_urge"} <= names

    slots = {s: None for s in SLOTS} | {"service_mode": "帮办", "region": "donghu", "company_name": "武汉光谷示例科技有限公司"}
    tracker = {
        "sender_id": "oRasa", "slots": {**slots, "requested_slot": "credit_code", "credit_code": "91350100M000100Y44"},
        "latest_message": {"text": "91350100M000100Y44", "intent": {"name": "inform"}, "entities": []},
        "events": [{"event": "user", "text": "91350100M000100Y44"},
                   {"event": "slot", "name": "credit_code", "value": "91350100M000100Y44"}],
        "paused": False, "followup_action": None, "active_loop": {"name": "application_form"},
        "latest_action_name": "action_listen",
    }
    bad = _post(action_server + "/webhook", {"next_action": "validate_application_form", "tracker": tracker,
                                             "domain": DOMAIN, "sender_id": "oRasa"})
    assert {"event": "slot", "name": "credit_code", "value": None} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in bad["events"]]
    assert any("校验" in (m.get("text") or "") for m in bad["responses"])

    tracker["events"][-1]["value"] = VALID_CODE
    tracker["slots"]["credit_code"] = VALID_CODE
    good = _post(action_server + "/webhook", {"next_action": "validate_application_form", "tracker": tracker,
                                              "domain": DOMAIN, "sender_id": "oRasa"})
    events = {e["name"]: e["value"] for e in good["events"] if e["event"] == "slot"}
    assert events["credit_code"] == VALID_CODE and events["requested_slot"] == "project_name"
    assert any("项目名称" in (m.get("text") or "") for m in good["responses"])


def test_commissioner_accepts_in_chat_and_enterprise_is_told(manager):
    talk(manager, "oEnt10", BANGBAN_ANSWERS + ["确认"])
    [case] = cases_of(manager, "oEnt10")
    with manager.sessions() as s:
        mine = s.get(Staff, case.commissioner_id)
        other = s.scalar(sa.select(Staff).where(Staff.id != mine.id, Staff.role == "commissioner"))
    assert manager.handle_text("oEnt10", f"受理 {case.number}").reply == texts.NOT_STAFF
    refused = manager.handle_text(other.wechat_openid, f"受理 {case.number}").reply
    assert "没有找到分派给您的案件" in refused
    done = manager.handle_text(mine.wechat_openid, f"受理 {case.number}").reply
    assert done.startswith(f"已受理 {case.number}")
    again = manager.handle_text(mine.wechat_openid, f"受理 {case.number}").reply
    assert "未能受理" in again and "已受理" in again
    with manager.sessions() as s:
        assert s.get(Case, case.id).state == "accepted"
        pushes = s.scalars(sa.select(Notification).where(Notification.recipient_openid == "oEnt10")).all()
    assert len(pushes) == 1 and mine.name in pushes[0].text
    assert mine.name in manager.handle_text("oEnt10", "我的申请怎么样了").reply
