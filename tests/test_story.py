"""The whole service story, every part real but WeChat (the emulator): an enterprise applies in
chat through the signed webhook, is assigned, the commissioner works the case in the console,
the dispatcher delivers each push, and the enterprise's WeChat receives them in order."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from conftest import STAFF_PASSWORD, fill_database

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import Case, Notification, Staff
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.kv import MemoryKV
from bot.scheduler import Jobs
from dialogs import build_manager
from webhook import create_app
from webhook.simulator import WeChatServer, reply_fields, text_xml

PASSWORD = STAFF_PASSWORD  # the demo roster's in the template (conftest)
ENTERPRISE = "oStoryEnterprise"
ANSWERS = ["我要申请帮办", "5", "武汉光谷示例科技有限公司", "91350100M000100Y43", "光谷示例研发楼", "无",
           "1", "否", "1", "3", "1 3", "陈明", "13800138000", "确认"]


TEMPLATES = {  # purpose → fields, as README's table lists them for operators
    "assignment": ["number", "company", "mode"], "accepted": ["number", "commissioner", "mode"],
    "progress": ["number", "item", "state"], "correction": ["number", "item", "missing", "due"],
    "completed": ["number", "project"], "delivered": ["number", "method", "tracking"],
    "rating": ["number", "project"],
}


pytestmark = pytest.mark.usefixtures("fast_password_hashes")

@pytest.fixture()
def world(database_url, kb, retriever):
    fill_database(database_url, "roster")  # migrated, with the demo roster (password PASSWORD)
    with serve() as api_base:
        control = EmulatorControl(api_base)
        # As a real deployment must: staff rarely write to the account, and the enterprise gets
        # more than the 5 customer-service messages a 48-hour window allows, so templates carry the rest.
        for purpose, fields in TEMPLATES.items():
            control.add_template(f"tpl-{purpose}", fields)
        settings = Settings(wechat_token="story", database_url=database_url, wechat_appid=DEFAULT_APPID,
                            wechat_secret=DEFAULT_SECRET, wechat_api_base=api_base,
                            wechat_templates={p: f"tpl-{p}" for p in TEMPLATES})
        manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
        with transaction(manager.sessions) as db:
            openids = list(db.scalars(sa.select(Staff.wechat_openid).order_by(Staff.id)))
        for openid in [ENTERPRISE, *openids]:
            control.add_user(openid)
        yield create_app(settings, manager=manager), Jobs(settings, sessions=manager.sessions), control


def chat(app, text, i):
    wx = WeChatServer("story")
    cb = wx.callback(text_xml(ENTERPRISE, text, msg_id=70000 + i))
    r = app.test_client().post(cb.path, data=cb.body, content_type="text/xml")
    return reply_fields(r.get_data(as_text=True))["Content"]


def console(app, username):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True))[1]
    assert client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token}).status_code == 303
    return client


def act(client, path, **form):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/cases").get_data(as_text=True))[1]
    r = client.post(path, data={**form, "csrf_token": token}, follow_redirects=True)
    assert r.status_code == 200
    flashes = re.findall(r'<p class="flash flash-(\w+)"', r.get_data(as_text=True))
    assert flashes and all(f == "success" for f in flashes), r.get_data(as_text=True)[-800:]


def received(control, openid):
    return [m for m in control.messages() if m["openid"] == openid]


def text_of(message) -> str:
    """What the phone shows: a customer-service text, or a template's field values."""
    payload = message["payload"]
    if message["kind"] == "custom":
        return payload["text"]["content"]
    return " ".join(str(v.get("value", "")) for v in payload.get("data", {}).values())


def test_apply_accept_progress_correction_complete_deliver_reaches_the_enterprise(world):
    app, jobs, control = world
    control.interact(ENTERPRISE)  # the enterprise has just written: the 48-hour window is open
    replies = [chat(app, text, i) for i, text in enumerate(ANSWERS)]
    number = re.search(r"BD-\d{4}-\d{6}", replies[-1])[0]
    assert "【一次性告知】" in replies[-1]

    with app.extensions["bangban_dialogs"].sessions() as s:
        case = s.scalar(sa.select(Case).where(Case.number == number))
        commissioner = s.get(Staff, case.commissioner_id)
        item_ids = [i for (i,) in s.execute(sa.text("select id from case_items where case_id = :c order by id"),
                                             {"c": case.id})]
    jobs.dispatch_outbox()
    alert = received(control, commissioner.wechat_openid)
    assert len(alert) == 1 and alert[0]["kind"] == "template" and number in text_of(alert[0])

    desk = console(app, commissioner.username)
    act(desk, f"/console/cases/{number}/accept")
    act(desk, f"/console/cases/{number}/items/{item_ids[0]}/state", to="submitted")
    act(desk, f"/console/cases/{number}/items/{item_ids[0]}/correction", missing="消防设计说明缺少签章页",
        due="2099-01-15")
    act(desk, f"/console/cases/{number}/items/{item_ids[0]}/state", to="reviewing")
    for item_id in item_ids:
        for to in (["done"] if item_id == item_ids[0] else ["submitted", "accepted", "done"]):
            act(desk, f"/console/cases/{number}/items/{item_id}/state", to=to)
    act(desk, f"/console/cases/{number}/complete")
    act(desk, f"/console/cases/{number}/deliver", method="邮寄", tracking_number="SF1234567890")

    jobs.dispatch_outbox()
    messages = received(control, ENTERPRISE)
    assert [m["kind"] for m in messages][:5] == ["custom"] * 5  # the window's 5, then templates
    assert {m["kind"] for m in messages[5:]} == {"template"}
    texts = [text_of(m) for m in messages]
    joined = "\n".join(texts)
    assert commissioner.name in texts[0]  # accepted, with the commissioner's name first
    assert "消防设计说明缺少签章页" in joined  # 补正: exactly what is missing
    assert "办结" in joined and "SF1234567890" in joined
    order = [joined.index(marker) for marker in (commissioner.name, "消防设计说明缺少签章页", "办结", "SF1234567890")]
    assert order == sorted(order)
    with app.extensions["bangban_dialogs"].sessions() as s:
        undelivered = s.scalars(sa.select(Notification).where(Notification.state != "sent")).all()
        assert s.scalar(sa.select(Case.state).where(Case.number == number)) == "delivered"
    assert undelivered == []
    # What the enterprise sees when it asks.
    assert "已送达" in chat(app, "我的申请怎么样了", 999)
