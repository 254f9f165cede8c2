"""The web chat page as a visitor uses it: the same conversation as WeChat (state kept per browser
session, never shared between sessions), CSRF on every message, polite answers to empty, long
and too-fast input, and — in a real headless browser when one is installed — a cited answer."""
from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
from browser import CHROMIUM, launch, served
from conftest import migrated

from bot.platform.config import Settings
from bot.platform.kv import MemoryKV
from dialogs import build_manager, texts
from webhook import chat, create_app

SEED_QUESTION = "施工许可证要什么材料"


@pytest.fixture()
def app(sqlite_url, kb, retriever):
    settings = Settings(database_url=migrated(sqlite_url))
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
    yield create_app(settings, manager=manager)
    manager.sessions.kw["bind"].dispose()


def open_page(client) -> str:
    r = client.get("/chat")
    assert r.status_code == 200
    return re.search(r'name="csrf-token" content="([^"]+)"', r.get_data(as_text=True))[1]


def say(client, token, text, **kw):
    return client.post("/chat/api/messages", json={"text": text}, headers={"X-CSRFToken": token}, **kw)


def test_page_is_a_phone_chat_with_quick_replies_and_local_assets(app):
    client = app.test_client()
    html = client.get("/chat").get_data(as_text=True)
    for label in ("菜单", "申请帮办", "我的申请", "转人工"):
        assert f'data-text="{label}"' in html
    assert 'name="viewport"' in html and "<textarea" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/chat/static/") for a in assets), assets  # nothing from a CDN
    for asset in assets:
        assert client.get(asset).status_code == 200
    js = client.get("/chat/static/chat.js").get_data(as_text=True)
    assert "innerHTML" not in js and "textContent" in js  # replies are rendered as text


def test_seed_question_gets_the_cited_answer(app):
    client = app.test_client()
    r = say(client, open_page(client), SEED_QUESTION)
    assert r.status_code == 200
    data = r.get_json()
    assert data["intent"] == "consult"
    assert "建设工程规划许可证" in data["reply"] and "来源：《" in data["reply"]


def test_state_is_kept_across_messages_of_one_session(app):
    client = app.test_client()
    token = open_page(client)
    started = say(client, token, "申请帮办").get_json()
    assert started["intent"] == "apply_bangban" and "哪个地区" in started["reply"]
    cancelled = say(client, token, "取消").get_json()
    assert "已取消本次申请" in cancelled["reply"]  # the form it started is remembered
    with client.session_transaction() as s:
        assert s[chat.VISITOR_KEY].startswith("web-")  # never collides with a WeChat openid


def test_separate_sessions_have_separate_conversations(app):
    alice, bob = app.test_client(), app.test_client()
    alice_token, bob_token = open_page(alice), open_page(bob)
    assert "哪个地区" in say(alice, alice_token, "申请帮办").get_json()["reply"]
    # Bob never started a form: his 「取消」 has nothing to cancel.
    assert say(bob, bob_token, "取消").get_json()["reply"] == texts.NOTHING_TO_CANCEL
    assert "已取消本次申请" in say(alice, alice_token, "取消").get_json()["reply"]
    with alice.session_transaction() as a, bob.session_transaction() as b:
        assert a[chat.VISITOR_KEY] != b[chat.VISITOR_KEY]


def test_messages_need_the_csrf_token(app):
    client = app.test_client()
    open_page(client)
    r = client.post("/chat/api/messages", json={"text": SEED_QUESTION})
    assert r.status_code == 400 and "刷新页面" in r.get_json()["reply"]
    r = say(client, "forged-token", SEED_QUESTION)
    assert r.status_code == 400
    # Another visitor's token does not work with this session either.
    other = app.test_client()
    assert say(client, open_page(other), SEED_QUESTION).status_code == 400


def test_empty_and_overlong_input_get_polite_answers(app):
    client = app.test_client()
    token = open_page(client)
    for empty in ("", "   \n"):
        r = say(client, token, empty)
        assert r.status_code == 200 and r.get_json()["reply"] == texts.EMPTY
    r = say(client, token, "施工许可" * 400)  # 4,800 bytes: more than WeChat lets one message carry
    assert r.status_code == 413 and "太长" in r.get_json()["reply"]
    r = client.post("/chat/api/messages", data="not json", headers={"X-CSRFToken": token,
                                                                    "Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["reply"]
    assert say(client, token, "施工许可" * 100).status_code == 200  # long but within the limit


def test_a_visitor_sending_too_fast_is_slowed_down(app, monkeypatch):
    monkeypatch.setattr(chat, "RATE_LIMIT", 3)
    client = app.test_client()
    token = open_page(client)
    assert all(say(client, token, "你好").status_code == 200 for _ in range(3))
    r = say(client, token, "你好")
    assert r.status_code == 429 and "稍等" in r.get_json()["reply"]
    other = app.test_client()  # the limit is per visitor
    assert say(other, open_page(other), "你好").status_code == 200


# -- a real browser -----------------------------------------------------------------------

def _browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM}"
    return None


@pytest.fixture()
def live_url(app):
    with served(app) as base:
        yield base


@pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")
def test_in_a_real_browser_a_question_gets_a_cited_bot_bubble(live_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            outside = []
            page.on("request", lambda req: outside.append(req.url)
                    if not req.url.startswith(live_url) else None)
            page.goto(f"{live_url}/chat")
            page.fill("#input", SEED_QUESTION)
            page.keyboard.press("Enter")
            user = page.locator(".msg.user .bubble").last
            expect(user).to_have_text(SEED_QUESTION)
            answer = page.locator(".msg.bot:not(.pending) .bubble").nth(1)
            expect(answer).to_contain_text("来源", timeout=15000)
            text = answer.inner_text()
            assert "建设工程规划许可证" in text and "\n" in text  # line breaks preserved
            # A quick-reply button sends its words, and the conversation goes on in the same session.
            page.click('button.chip[data-text="申请帮办"]')
            expect(page.locator(".msg.bot:not(.pending) .bubble").nth(2)).to_contain_text("哪个地区",
                                                                                          timeout=15000)
            # Markup typed by the visitor is shown as text, never interpreted.
            page.fill("#input", "<b id=injected>取消</b>")
            page.click("#send")
            expect(page.locator(".msg.user .bubble").last).to_have_text("<b id=injected>取消</b>")
            assert page.locator("#injected").count() == 0
            shot = Path(tmp_path) / "chat.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
            assert outside == []  # every asset is served locally
        finally:
            browser.close()
