"""The web chat as the visitor's WeChat, with the local emulator: writing opens the window there
too, and the pushes the account sent this visitor (texts and template messages) come back to the
page, drawn as WeChat draws them; nobody else's, and nothing at all against the real API."""
from __future__ import annotations

import re

import pytest
from conftest import migrated

from bot.emulator import EmulatorControl, demo_wechat, serve
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.kv import MemoryKV
from bot.push import outbox
from bot.scheduler import Jobs
from dialogs import build_manager
from webhook import create_app


@pytest.fixture()
def world(sqlite_url, kb, retriever):
    with serve() as base:
        control = EmulatorControl(base)
        settings = demo_wechat.settings_for(Settings(database_url=migrated(sqlite_url)), base)
        manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
        demo_wechat.register(control, manager.sessions)  # the demo account's templates (no users yet)
        yield create_app(settings, manager=manager), control, Jobs(settings, sessions=manager.sessions)
        manager.sessions.kw["bind"].dispose()


def open_page(client) -> tuple[str, str]:
    html = client.get("/chat").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html)[1], html


def visitor_of(client) -> str:
    with client.session_transaction() as s:
        return s["chat_visitor"]


def queue(app, openid, key, text, template=None, data=None):
    with transaction(app.extensions["bangban_dialogs"].sessions) as db:
        outbox.enqueue(db, key=key, recipient=openid, recipient_kind="enterprise", purpose=template or "late_reply",
                       text=text, template=template, data=data)


def test_the_visitor_receives_pushes_as_wechat_shows_them(world):
    app, control, jobs = world
    client = app.test_client()
    token, html = open_page(client)
    assert 'data-pushes="/chat/api/pushes"' in html
    assert client.post("/chat/api/messages", json={"text": "你好"}, headers={"X-CSRFToken": token}).status_code == 200
    me = visitor_of(client)  # writing made them a follower with an open window: texts reach them

    queue(app, me, "p1", "【专员答复】田雅琪：\n材料齐了。")
    for n in range(4):  # the window's five customer-service messages go first, then templates carry on
        queue(app, me, f"p-extra{n}", f"第{n}条")
    queue(app, me, "p2", "【办理进度】…", template="progress",
          data={"number": "BD-2026-000001", "item": "建筑工程施工许可证核发", "state": "已受理"})
    counts = jobs.dispatch_outbox()
    assert counts.sent == 6 and counts.by_channel == {"custom": 5, "template": 1}, counts.as_dict()

    got = client.get("/chat/api/pushes?after=0").get_json()
    assert got["available"] is True
    texts = [p for p in got["pushes"] if p["kind"] == "text"]
    cards = [p for p in got["pushes"] if p["kind"] == "card"]
    assert texts[0]["text"] == "【专员答复】田雅琪：\n材料齐了。"
    progress = [c for c in cards if c["title"] == "进度通知"]
    assert progress and progress[0]["lines"] == ["案件编号：BD-2026-000001", "审批事项：建筑工程施工许可证核发",
                                                 "办理状态：已受理"]
    # Polling asks only for what came since the last one it drew.
    last = got["pushes"][-1]["msgid"]
    assert client.get(f"/chat/api/pushes?after={last}").get_json()["pushes"] == []
    assert client.get("/chat/api/pushes?after=-3").status_code == 200

    stranger = app.test_client()
    open_page(stranger)
    assert stranger.get("/chat/api/pushes").get_json() == {"available": True, "pushes": []}


def test_against_the_real_api_the_page_shows_no_pushes(sqlite_url, kb, retriever):
    settings = Settings(database_url=migrated(sqlite_url))  # api.weixin.qq.com: never probed from here
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
    app = create_app(settings, manager=manager)
    client = app.test_client()
    _, html = open_page(client)
    assert "data-pushes" not in html
    assert client.get("/chat/api/pushes").get_json() == {"available": False, "pushes": []}
    manager.sessions.kw["bind"].dispose()


def test_the_emulator_lists_one_users_messages_since_a_msgid():
    with serve() as base:
        control = EmulatorControl(base)
        control.interact("oA")
        control.interact("oB")
        from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET
        from bot.push.wechat_api import make_client, send_text

        client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base)
        for openid, text in [("oA", "一"), ("oB", "二"), ("oA", "三")]:
            assert send_text(client, openid, text).ok
        mine = control.messages(openid="oA")
        assert [m["payload"]["text"]["content"] for m in mine] == ["一", "三"]
        assert [m["payload"]["text"]["content"] for m in control.messages(openid="oA", after=mine[0]["msgid"])] == ["三"]
        assert len(control.messages()) == 3
        import requests

        assert requests.get(f"{base}/_emulator/messages?after=x", timeout=5).status_code == 400


def test_a_subscribe_message_reads_with_our_field_names():
    from webhook.chat_pushes import EmulatorLink

    link = EmulatorLink(Settings(wechat_api_base="http://127.0.0.1:9", wechat_subscribe_templates={
        "sla_apology": {"id": "sub-1", "fields": {"thing1": "item", "time2": "due"}}}))
    shown = link.display({"msgid": 7, "kind": "subscribe", "template_id": "sub-1",
                          "payload": {"data": {"time2": {"value": "2026-12-01"}, "thing1": {"value": "施工许可"}}}})
    assert shown == {"msgid": 7, "at": None, "kind": "card", "title": "逾期致歉",
                     "lines": ["审批事项：施工许可", "承诺期限：2026-12-01"]}
