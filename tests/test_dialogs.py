"""Conversations through the dialog manager: menus, regions, paging, state that survives."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import fixture_retriever

from bot.models import KbQuery, WechatUser
from bot.platform.config import Settings
from bot.platform.kv import MemoryKV, RedisKV
from dialogs import build_manager, texts
from knowledge import Retriever, Thresholds, load

FIXTURE_KB = Path(__file__).with_name("kb_fixture")


@pytest.fixture(scope="module")
def fixture_kb():
    return load(FIXTURE_KB)


@pytest.fixture()
def manager(sqlite_url, fixture_kb):
    return build_manager(Settings(database_url=sqlite_url), kb=fixture_kb, kv=MemoryKV(),
                         retriever=fixture_retriever(fixture_kb))


def test_greeting_and_menu(manager):
    assert texts.MENU in manager.handle_text("u1", "你好").reply
    assert manager.handle_text("u1", "菜单").reply == texts.MENU


@pytest.mark.parametrize("message", ["", "   ", "😀😀", "🎉", "\u200b"])
def test_empty_or_emoji_only_gets_polite_prompt(manager, message):
    turn = manager.handle_text("u1", message)
    assert (turn.intent, turn.reply) == ("empty", texts.EMPTY)


def test_thumbs_up_is_an_acknowledgement(manager):
    assert manager.handle_text("u1", "👍").reply == texts.THANKS


def test_region_specific_question_asks_region_once_then_remembers(manager):
    turn = manager.handle_text("u2", "我们的项目能申请代办吗")
    assert turn.intent == "ask_region"
    assert "1. 武汉东湖新技术开发区" in turn.reply and "2. 重庆市江北区" in turn.reply
    answer = manager.handle_text("u2", "2").reply
    assert "已记下您的项目在重庆市江北区" in answer and "社会投资建设项目" in answer
    assert answer.splitlines()[-1].startswith("来源：《重庆市江北区")
    again = manager.handle_text("u2", "哪些项目可以申请帮办代办")
    assert again.intent == "consult" and "江北区" in again.reply  # not asked twice
    with manager.sessions() as s:
        assert s.get(WechatUser, "u2").region == "jiangbei"


def test_region_named_in_the_question_is_used(manager):
    turn = manager.handle_text("u3", "光谷那边哪些项目可以申请帮办代办")
    assert "经营性房地产开发" in turn.reply


def test_other_region_without_general_answer_still_answers(manager):
    manager.handle_text("u4", "哪些项目可以申请帮办代办")
    turn = manager.handle_text("u4", "其他")
    assert turn.topic == "service.scope" and "来源" in turn.reply


def test_region_menu_out_of_range_keeps_menu_open(manager):
    manager.handle_text("u5", "哪些项目可以申请帮办代办")
    assert "1-2" in manager.handle_text("u5", "9").reply
    assert "东湖" in manager.handle_text("u5", "1").reply


def test_bare_number_without_menu(manager):
    assert manager.handle_text("u6", "3").reply == texts.MENU_EXPIRED


def test_unanswerable_question_is_honest_and_logged_for_curators(manager):
    turn = manager.handle_text("u7", "明天武汉天气怎么样")
    assert turn.reply == texts.UNSURE
    manager.query_log.flush()  # logged in batches, off the request path
    with manager.sessions() as s:
        row = s.scalars(sa.select(KbQuery)).one()
    assert row.outcome == "unsure" and row.question == "明天武汉天气怎么样"
    assert row.user_ref != "u7"  # never the raw openid


def test_clarification_menu_answers_by_number(sqlite_url, fixture_kb):
    # Thresholds pinned so any match is "not sure enough": this tests the menu, not calibration.
    unsure_retriever = Retriever(fixture_kb, thresholds=Thresholds(answer=0.999, clarify=0.0, menu_ratio=0.0))
    manager = build_manager(Settings(database_url=sqlite_url), kb=fixture_kb, kv=MemoryKV(), retriever=unsure_retriever)
    turn = manager.handle_text("u8", "施工许可证多久")
    assert texts.CLARIFY_HEAD in turn.reply
    options = [line for line in turn.reply.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(options) >= 2 and "施工许可证多久能办下来" in turn.reply
    chosen = manager.handle_text("u8", "1")
    assert chosen.intent == "select" and "来源" in chosen.reply
    assert manager.handle_text("u8", "1").reply == texts.MENU_EXPIRED  # a menu answers one message only


def test_an_option_chosen_from_a_menu_answers_for_the_region_the_question_named(sqlite_url, fixture_kb):
    # 「我们在东湖，想找人帮忙跑施工许可，怎么弄」 then 「1」 got the general answer, not 东湖's.
    unsure_retriever = Retriever(fixture_kb, thresholds=Thresholds(answer=0.999, clarify=0.0, menu_ratio=0.0))
    manager = build_manager(Settings(database_url=sqlite_url), kb=fixture_kb, kv=MemoryKV(), retriever=unsure_retriever)
    turn = manager.handle_text("u8r", "我们在江北，哪些项目可以申请帮办代办")
    assert texts.CLARIFY_HEAD in turn.reply
    options = manager.store.load("u8r")["menu"]["options"]
    chosen = manager.handle_text("u8r", str(options.index("service.scope") + 1))
    assert chosen.intent == "select" and "社会投资建设项目" in chosen.reply  # 江北's, no region question


class _Scripted:
    """The fixture's retriever, with the readings of some texts written by the test."""

    def __init__(self, real, script: dict):
        self._real, self._script = real, script

    def search(self, text):
        return self._script.get(text) or self._real.search(text)

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_two_questions_the_whole_of_which_is_a_menu_get_the_sure_one_answered_and_a_menu_for_the_other(
        sqlite_url, fixture_kb):
    # 「延津审批过程中有问题，帮办多久反馈一次？还有帮办是一对一吗」 got one menu mixing both questions.
    from knowledge import Candidate, Result

    first, second = "施工许可证材料和时限怎么说", "还有代办要钱吗"
    menu = lambda *topics: Result("clarify", tuple(Candidate(t, 10.0 - i) for i, t in enumerate(topics)), 0.6)  # noqa: E731
    script = {f"{first}？{second}": menu("materials.construction_permit", "service.free",
                                        "materials.construction_permit_time"),
              first: menu("materials.construction_permit", "materials.construction_permit_time"),
              second: Result("answer", (Candidate("service.free", 20.0),), 0.95)}
    manager = build_manager(Settings(database_url=sqlite_url), kb=fixture_kb, kv=MemoryKV(),
                            retriever=_Scripted(fixture_retriever(fixture_kb), script))
    turn = manager.handle_text("u8p", f"{first}？{second}")
    assert turn.reply.startswith(texts.SEVERAL_QUESTIONS.format(n="两"))
    one, two = turn.reply.split("\n\n")[1:]
    assert one.startswith(f"一、{first}") and texts.CLARIFY_HEAD in one and "施工许可证多久能办下来" in one
    assert two.startswith(f"二、{second}") and "一律免费" in two and "帮办代办收费吗" not in one
    chosen = manager.handle_text("u8p", "2")
    assert chosen.intent == "select" and "7日内" in chosen.reply
    # The sure half is not among the whole message's menu: read whole, one menu as before.
    script[f"{first}？{second}"] = menu("materials.construction_permit", "materials.construction_permit_time")
    assert manager.handle_text("u8q", f"{first}？{second}").reply.startswith(texts.CLARIFY_HEAD)


def test_human_handoff_and_thanks(manager):
    assert manager.handle_text("u9", "转人工").intent == "human"
    assert manager.handle_text("u9", "谢谢").reply == texts.THANKS


def test_state_survives_restart_in_redis(sqlite_url, fixture_kb, redis_client):
    settings = Settings(database_url=sqlite_url)
    first = build_manager(settings, kb=fixture_kb, kv=RedisKV(redis_client), retriever=fixture_retriever(fixture_kb))
    assert first.handle_text("uR", "哪些项目可以申请帮办代办").intent == "ask_region"
    restarted = build_manager(settings, kb=fixture_kb, kv=RedisKV(redis_client), retriever=fixture_retriever(fixture_kb))
    assert "东湖" in restarted.handle_text("uR", "1").reply


def test_two_users_at_once_keep_their_own_menus(manager):
    results = {}

    def converse(user, pick):
        manager.handle_text(user, "哪些项目可以申请帮办代办")
        results[user] = manager.handle_text(user, pick).reply

    threads = [threading.Thread(target=converse, args=(f"par{i}", str(1 + i % 2))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        expected = "东湖" if i % 2 == 0 else "江北区"
        assert expected in results[f"par{i}"]


def test_same_user_turns_are_serialised(sqlite_url, fixture_kb):
    manager = build_manager(Settings(database_url=sqlite_url), kb=fixture_kb, kv=MemoryKV())
    inside, overlap = [0], [0]
    original = manager._decide

    def slow_decide(*args, **kwargs):
        inside[0] += 1
        overlap[0] = max(overlap[0], inside[0])
        threading.Event().wait(0.05)
        inside[0] -= 1
        return original(*args, **kwargs)

    manager._decide = slow_decide
    threads = [threading.Thread(target=manager.handle_text, args=("same", "你好")) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap[0] == 1


def test_configured_contacts_follow_contact_answers(sqlite_url, kb, retriever):
    settings = Settings(database_url=sqlite_url, contacts={"donghu": {"window": "光谷示例窗口", "phone": "027-0000000"}})
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
    reply = manager.handle_text("uC", "帮代办窗口电话是多少").reply
    assert "当地公布的联系方式" in reply and "光谷示例窗口" in reply and "027-0000000" in reply
    plain = build_manager(Settings(database_url=sqlite_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    assert "当地公布的联系方式" not in plain.handle_text("uD", "帮代办窗口电话是多少").reply


@pytest.fixture()
def real_manager_parts(kb, retriever):
    return kb, retriever


def test_follow_up_asks_the_previous_question_about_something_else(sqlite_url, real_manager_parts):
    kb, retriever = real_manager_parts
    m = build_manager(Settings(database_url=sqlite_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    assert m.handle_text("uF", "施工许可证要准备什么材料").topic == "materials.construction_permit"
    assert m.handle_text("uF", "那竣工验收备案呢").topic == "materials.completion_filing"
    # 规划证 is ambiguous: it asks between exactly the two planning permits, then answers the
    # previous question (materials) about the one chosen.
    menu = m.handle_text("uF2", "施工许可证要准备什么材料") and m.handle_text("uF2", "那规划证呢")
    assert texts.FOLK_HEAD.format(term="规划证") in menu.reply
    assert "1. 建设用地规划许可证" in menu.reply and "2. 建设工程规划许可证" in menu.reply
    assert m.handle_text("uF2", "2").topic == "materials.construction_planning_permit"


def test_follow_up_never_answers_about_the_old_subject(sqlite_url, real_manager_parts):
    kb, retriever = real_manager_parts
    m = build_manager(Settings(database_url=sqlite_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    m.handle_text("uG", "施工许可证多久能办下来")
    turn = m.handle_text("uG", "那用地规划许可证呢")
    assert turn.topic != "timing.construction_permit"
    assert "施工许可证" not in turn.reply.split("\n")[0]


def test_with_redis_down_consultation_works_and_forms_say_so(sqlite_url, kb, retriever):
    down = RedisKV.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    m = build_manager(Settings(database_url=sqlite_url), kb=kb, kv=down, retriever=retriever)
    answer = m.handle_text("uDown", "施工许可证需要准备哪些材料")
    assert answer.topic == "materials.construction_permit" and "来源" in answer.reply
    assert m.handle_text("uDown", "我要申请代办").reply == texts.STATE_UNAVAILABLE
    assert m.handle_text("uDown", "我的申请怎么样了").reply == texts.NO_CASE  # reads the database


def test_webhook_answers_with_redis_down(sqlite_url, kb, retriever):
    from webhook import create_app
    from webhook.simulator import WeChatServer, reply_fields, text_xml

    settings = Settings(wechat_token="t", database_url=sqlite_url)
    m = build_manager(settings, kb=kb, kv=RedisKV.from_url("redis://127.0.0.1:1/0"), retriever=retriever)
    wx = WeChatServer("t")
    cb = wx.callback(text_xml("oDown", "代办要收费吗"))
    r = create_app(settings, manager=m).test_client().post(cb.path, data=cb.body, content_type="text/xml")
    assert r.status_code == 200 and "免费" in reply_fields(r.get_data(as_text=True))["Content"]
