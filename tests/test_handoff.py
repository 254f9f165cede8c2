"""转人工 end to end: the bot hands an unanswered question to the region's people, a person
answers in the console, and the answer goes back to the user through the outbox."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from bot import staff as staff_module
from bot.config import Settings
from bot.db import transaction, upgrade
from bot.kv import MemoryKV
from bot.models import Handoff, Notification
from dialogs import build_manager, texts
from knowledge import load
from webhook import create_app

PASSWORD = "correct-horse-9"


pytestmark = pytest.mark.usefixtures("fast_password_hashes")

@pytest.fixture()
def app(database_url):
    upgrade(database_url)
    settings = Settings(database_url=database_url)
    manager = build_manager(settings, kb=load(), kv=MemoryKV())
    with transaction(manager.sessions) as db:
        staff_module.seed_demo_roster(db, password=PASSWORD)
    return create_app(settings, manager=manager)


def chat(app, user, text):
    return app.extensions["bangban_dialogs"].handle_text(user, text)


def pushes(app, **where):
    with app.extensions["bangban_dialogs"].sessions() as s:
        stmt = sa.select(Notification).order_by(Notification.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(Notification, k) == v)
        return s.scalars(stmt).all()


def signed_in(app, username):
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token}).status_code == 303
    return client


def test_unanswered_question_goes_to_a_person_and_the_answer_comes_back(app):
    chat(app, "oAsk", "我们项目在东湖")  # nothing the KB knows
    unsure = chat(app, "oAsk", "东湖这边的地下管线迁改找谁审批呢")
    assert unsure.reply == texts.UNSURE
    handed = chat(app, "oAsk", "转人工")
    assert "编号 H" in handed.reply and "帮代办主管" in handed.reply
    with app.extensions["bangban_dialogs"].sessions() as s:
        h = s.scalars(sa.select(Handoff)).one()
    assert h.question == "东湖这边的地下管线迁改找谁审批呢" and h.state == "open"
    # Unknown region: every supervisor is alerted, and any supervisor may answer it.
    alerts = pushes(app, purpose="handoff")
    assert alerts and all(f"H{h.id}" in a.text for a in alerts)

    lead = signed_in(app, "donghu-lead")
    inbox = lead.get("/console/handoffs").get_data(as_text=True)
    assert "地下管线迁改" in inbox
    token = re.search(r'name="csrf_token" value="([^"]+)"', inbox).group(1)
    r = lead.post(f"/console/handoffs/{h.id}/answer", data={"answer": "请联系区住建局管线科，我们也会协助。",
                                                           "csrf_token": token}, follow_redirects=True)
    assert f"已答复 H{h.id}" in r.get_data(as_text=True)
    [answer] = pushes(app, recipient_openid="oAsk")
    assert answer.purpose == "handoff_answer" and "管线科" in answer.text and "地下管线迁改" in answer.text
    again = lead.post(f"/console/handoffs/{h.id}/answer", data={"answer": "再答一次", "csrf_token": token},
                      follow_redirects=True)
    assert "已经答复过了" in again.get_data(as_text=True)
    assert len(pushes(app, recipient_openid="oAsk")) == 1


def test_human_without_a_question_asks_for_it_first(app):
    assert chat(app, "oAsk2", "转人工").reply == texts.HANDOFF_ASK
    assert "编号 H" in chat(app, "oAsk2", "用地红线调整需要走什么程序").reply


def test_question_in_the_same_message_and_one_open_handoff_per_user(app):
    first = chat(app, "oAsk3", "转人工：厂区道路开口要去哪个部门办")
    second = chat(app, "oAsk3", "人工客服，另外还想问围墙高度限制")
    number = re.search(r"H(\d+)", first.reply).group(1)
    assert f"H{number}" in second.reply
    with app.extensions["bangban_dialogs"].sessions() as s:
        [h] = s.scalars(sa.select(Handoff)).all()
    assert "道路开口" in h.question and "围墙高度" in h.question


def test_region_staff_see_only_their_region(app):
    with app.extensions["bangban_dialogs"].sessions.begin() as s:
        from bot.models import WechatUser
        s.add(WechatUser(openid="oJB", region="jiangbei"))
    chat(app, "oJB", "转人工：江北的临时占道怎么审批")
    assert "临时占道" not in signed_in(app, "donghu-lead").get("/console/handoffs").get_data(as_text=True)
    assert "临时占道" in signed_in(app, "jiangbei-1").get("/console/handoffs").get_data(as_text=True)
    with app.extensions["bangban_dialogs"].sessions() as s:
        h = s.scalars(sa.select(Handoff)).one()
    lead = signed_in(app, "donghu-lead")
    token = re.search(r'name="csrf_token" value="([^"]+)"', lead.get("/console/handoffs").get_data(as_text=True)).group(1)
    assert lead.post(f"/console/handoffs/{h.id}/answer", data={"answer": "x", "csrf_token": token}).status_code == 404
