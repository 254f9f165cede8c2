"""The WeChat callback as WeChat's servers drive it: signed, optionally encrypted, retried."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import fill_database, fixture_retriever, migrated
from wechatpy.crypto import WeChatCrypto

from bot.models import KbQuery, WechatUser
from bot.platform.config import Settings
from bot.platform.kv import LockTimeout, MemoryKV, RedisKV
from dialogs import build_manager, texts
from knowledge import load
from webhook import create_app
from webhook.simulator import WeChatServer, event_xml, reply_fields, text_xml

FIXTURE_KB = Path(__file__).with_name("kb_fixture")
TOKEN = "test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx2c2769f8efd9abc2"


def make_app(database_url, kv=None, aes=False, kb=None, **overrides):
    settings = Settings(wechat_token=TOKEN, database_url=database_url,
                        wechat_aes_key=AES_KEY if aes else "", wechat_appid=APPID if aes else "", **overrides)
    kb = kb or load(FIXTURE_KB)
    migrated(database_url)
    manager = build_manager(settings, kb=kb, kv=kv or MemoryKV(), retriever=fixture_retriever(kb))
    return create_app(settings, manager=manager), manager


@pytest.fixture()
def app(sqlite_url):
    return make_app(sqlite_url)[0]


@pytest.fixture()
def wx():
    return WeChatServer(TOKEN)


def post(client, cb):
    return client.post(cb.path, data=cb.body, content_type="text/xml")


def count(app, model):
    manager = app.extensions["bangban_dialogs"]
    manager.query_log.flush()  # questions are logged in batches, off the request path
    sessions = manager.sessions
    with sessions() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


# -- server verification (GET) ------------------------------------------------------------

def test_public_signature_vector():
    from webhook.simulator import signature

    assert signature("test", "1410685589", "test") == "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"


def test_signed_get_echoes_echostr(app, wx):
    r = app.test_client().get("/wechat?" + wx.verify_query("hello-wechat"))
    assert r.status_code == 200
    assert r.get_data(as_text=True) == "hello-wechat"


@pytest.mark.parametrize("tamper", ["signature=0000", "no-signature", "stale"])
def test_bad_get_is_refused(app, wx, tamper):
    if tamper == "stale":
        query = wx.verify_query(timestamp=int(time.time()) - 3600)
    else:
        query = wx.verify_query()
        query = "&".join(p for p in query.split("&") if not p.startswith("signature="))
        if tamper != "no-signature":
            query += "&" + tamper
    r = app.test_client().get("/wechat?" + query)
    assert r.status_code == 403
    assert "echo" not in r.get_data(as_text=True)


# -- messages (POST) ----------------------------------------------------------------------

def test_text_message_gets_cited_answer_addressed_back(app, wx):
    r = post(app.test_client(), wx.callback(text_xml("oUserA", "施工许可证需要准备哪些材料？", to="gh_acct")))
    assert r.status_code == 200
    reply = reply_fields(r.get_data(as_text=True))
    assert reply["ToUserName"] == "oUserA"
    assert reply["FromUserName"] == "gh_acct"
    assert reply["MsgType"] == "text"
    assert "施工合同" in reply["Content"]
    assert reply["Content"].rstrip().splitlines()[-1].startswith("来源：《建筑工程施工许可管理办法》")


def test_wrong_signature_is_403_and_changes_nothing(app, wx):
    cb = wx.callback(text_xml("oIntruder", "施工许可证要什么材料"))
    forged = cb.query.replace("signature=", "signature=bad")
    r = app.test_client().post("/wechat?" + forged, data=cb.body, content_type="text/xml")
    assert r.status_code == 403
    assert count(app, WechatUser) == 0
    assert count(app, KbQuery) == 0


def test_replayed_old_request_is_refused(app, wx):
    cb = wx.callback(text_xml("oUserOld", "你好"), timestamp=int(time.time()) - 600)
    assert post(app.test_client(), cb).status_code == 403
    assert count(app, WechatUser) == 0


def test_subscribe_event_gets_welcome(app, wx):
    r = post(app.test_client(), wx.callback(event_xml("oNewFollower", "subscribe")))
    reply = reply_fields(r.get_data(as_text=True))
    assert reply["Content"] == texts.WELCOME
    assert count(app, WechatUser) == 1


def test_unknown_event_and_message_types_are_acknowledged(app, wx):
    c = app.test_client()
    r = post(c, wx.callback(event_xml("oU", "VIEW")))
    assert (r.status_code, r.get_data(as_text=True)) == (200, "success")
    image = text_xml("oU", "x").replace("<MsgType><![CDATA[text]]>", "<MsgType><![CDATA[image]]>")
    r = post(c, wx.callback(image))
    # A photo from someone without a case: what photos are for (tests/test_materials.py)
    from dialogs.texts import materials as material_texts
    assert reply_fields(r.get_data(as_text=True))["Content"] == material_texts.NO_CASE


@pytest.mark.parametrize("body,status", [
    (b"not xml at all", 400),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><xml><Content>&lol;</Content></xml>', 400),
    (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>', 400),
])
def test_hostile_bodies_are_refused(app, wx, body, status):
    cb = wx.callback("<xml/>")
    r = app.test_client().post(cb.path, data=body, content_type="text/xml")
    assert r.status_code == status
    assert count(app, WechatUser) == 0


def test_oversized_body_is_refused(app, wx):
    cb = wx.callback(text_xml("oBig", "很长" * 40000))
    assert post(app.test_client(), cb).status_code == 413
    assert count(app, WechatUser) == 0


def test_retried_message_gets_same_reply_and_no_second_side_effect(app, wx):
    xml = text_xml("oRetry", "施工证要什么材料", msg_id=424242)
    c = app.test_client()
    first = post(c, wx.callback(xml)).get_data(as_text=True)
    second = post(c, wx.callback(xml)).get_data(as_text=True)  # WeChat re-signs each retry
    assert reply_fields(first)["Content"] == reply_fields(second)["Content"]
    assert count(app, KbQuery) == 1


def test_same_msgid_from_two_users_is_two_messages(app, wx):
    c = app.test_client()
    for user in ("oUser1", "oUser2"):
        post(c, wx.callback(text_xml(user, "施工证要什么材料", msg_id=777)))
    assert count(app, KbQuery) == 2


def test_long_answer_is_paged_and_more_returns_the_rest(sqlite_url, wx, tmp_path):
    import shutil

    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb_dir)
    long_answer = "".join(f"第{i}条：申请材料须真实、合法、齐全、有效，并符合规定的申办要求。" for i in range(1, 61))
    (kb_dir / "entries" / "long.yaml").write_text(
        "- id: long.rules\n  title: 材料总体要求\n  question: 材料有什么总体要求\n"
        f"  answer: {long_answer}\n  source: [{{title: 测试文件}}]\n", encoding="utf-8")
    from knowledge import load as load_kb

    kb = load_kb(kb_dir, strict=False)  # the long answer is over the curated limit on purpose
    app, _ = make_app(sqlite_url, kb=kb)
    c = app.test_client()
    pages = [reply_fields(post(c, wx.callback(text_xml("oLong", "材料有什么总体要求"))).get_data(as_text=True))["Content"]]
    while texts.MORE_HINT.strip() in pages[-1]:
        pages.append(reply_fields(post(c, wx.callback(text_xml("oLong", "更多"))).get_data(as_text=True))["Content"])
        assert len(pages) < 10
    assert len(pages) >= 2
    for page in pages:
        assert len(page.encode("utf-8")) <= 2048
    for page in pages[:-1]:
        body = page.replace(texts.MORE_HINT, "")
        assert body.endswith("。"), "pages end at a sentence boundary"
    joined = "".join(p.replace(texts.MORE_HINT, "") for p in pages)
    assert "第1条" in joined and "第60条" in joined
    assert pages[-1].rstrip().endswith("来源：测试文件")
    nothing = reply_fields(post(c, wx.callback(text_xml("oLong", "更多"))).get_data(as_text=True))["Content"]
    assert nothing == texts.NO_MORE


# -- safe mode (AES) ----------------------------------------------------------------------

def test_tencent_sample_vector_decrypts_with_wechatpy():
    crypto = WeChatCrypto("spamtest", AES_KEY, APPID)
    encrypted = ("hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
                 "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsV"
                 "ticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe"
                 "+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo"
                 "5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=")
    xml = f"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    plain = crypto.decrypt_message(xml, "5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669", "1320562132")
    fields = reply_fields(plain)
    assert fields["Content"] == "abcdteT"
    assert fields["FromUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


def test_aes_round_trip(sqlite_url):
    app, _ = make_app(sqlite_url, aes=True)
    wx = WeChatServer(TOKEN, AES_KEY, APPID)
    cb = wx.callback(text_xml("oSecure", "代办要钱吗"))
    assert b"<Content>" not in cb.body  # really encrypted on the wire
    r = post(app.test_client(), cb)
    assert r.status_code == 200
    assert b"<Encrypt>" in r.data and "免费" not in r.get_data(as_text=True)
    reply = reply_fields(wx.read_reply(r.data))
    assert reply["ToUserName"] == "oSecure"
    assert "免费" in reply["Content"]


def test_aes_with_wrong_msg_signature_is_403(sqlite_url):
    app, _ = make_app(sqlite_url, aes=True)
    wx = WeChatServer(TOKEN, AES_KEY, APPID)
    cb = wx.callback(text_xml("oSecure", "你好"))
    tampered = cb.query.replace("msg_signature=", "msg_signature=0")
    r = app.test_client().post("/wechat?" + tampered, data=cb.body, content_type="text/xml")
    assert r.status_code == 403
    assert count(app, WechatUser) == 0


def test_aes_callback_without_configured_key_is_refused(app):
    wx = WeChatServer(TOKEN, AES_KEY, APPID)
    assert post(app.test_client(), wx.callback(text_xml("oX", "你好"))).status_code == 403


def test_plaintext_callbacks_are_refused_once_an_aes_key_is_configured(sqlite_url):
    """With an EncodingAESKey the account is in safe or compat mode, where every callback is
    encrypted: a plaintext one is someone replaying a signature without the key. While the account
    switches modes, WECHAT_ALLOW_PLAINTEXT lets them in."""
    app, _ = make_app(sqlite_url, aes=True)
    wx = WeChatServer(TOKEN, AES_KEY, APPID)
    assert post(app.test_client(), wx.callback(text_xml("oPlain", "你好"), encrypt=False)).status_code == 403
    assert count(app, WechatUser) == 0
    switching, _ = make_app(sqlite_url, aes=True, wechat_allow_plaintext=True)
    r = post(switching.test_client(), wx.callback(text_xml("oPlain", "代办要钱吗"), encrypt=False))
    assert r.status_code == 200 and "免费" in reply_fields(r.get_data(as_text=True))["Content"]


# -- replays: plain mode signs only token, timestamp and nonce ---------------------------

def test_a_logged_signature_cannot_carry_another_body(app, wx):
    """The query of one real callback (as an access log would show it) with any other XML, as
    any other openid, is refused: the (timestamp, nonce) was seen with another body."""
    c = app.test_client()
    seen = wx.callback(text_xml("oVictim", "代办要钱吗"))
    assert post(c, seen).status_code == 200
    for forged in (text_xml("oVictim", "申请代办"), text_xml("oSomeoneElse", "取消"),
                   event_xml("oVictim", "unsubscribe")):
        r = c.post(seen.path, data=forged.encode("utf-8"), content_type="text/xml")
        assert r.status_code == 403
    assert count(app, WechatUser) == 1  # only the victim, from the real callback
    assert count(app, KbQuery) == 1


def test_a_byte_identical_repeat_is_answered_as_the_retry_it_is(app, wx):
    c = app.test_client()
    cb = wx.callback(text_xml("oSame", "代办要钱吗", msg_id=31337))
    first, again = post(c, cb), post(c, cb)
    assert again.status_code == 200
    assert reply_fields(again.get_data(as_text=True))["Content"] == reply_fields(first.get_data(as_text=True))["Content"]
    assert count(app, KbQuery) == 1


def test_the_nonce_is_remembered_by_every_worker_through_redis(sqlite_url, redis_client, wx):
    one, _ = make_app(sqlite_url, kv=RedisKV(redis_client))
    other, _ = make_app(sqlite_url, kv=RedisKV(redis_client))
    seen = wx.callback(text_xml("oVictim", "代办要钱吗"))
    assert post(one.test_client(), seen).status_code == 200
    forged = text_xml("oVictim", "申请代办").encode("utf-8")
    assert other.test_client().post(seen.path, data=forged, content_type="text/xml").status_code == 403
    [key] = redis_client.keys("wx:nonce:*")
    assert 0 < redis_client.ttl(key) <= 2 * Settings().max_timestamp_skew_s  # kept only while the timestamp is fresh


def test_callback_queries_stay_out_of_the_access_logs(sqlite_url, caplog):
    """The development server's request lines (werkzeug) and gunicorn's access format carry the
    path only: a logged query string is a signature anyone could replay."""
    import runpy
    import threading
    import urllib.request
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger
    from werkzeug.serving import make_server

    app, _ = make_app(sqlite_url)
    wx = WeChatServer(TOKEN)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with caplog.at_level("INFO", logger="werkzeug"):
            cb = wx.callback(text_xml("oLogged", "你好"))
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{server.server_port}{cb.path}", data=cb.body, method="POST")).read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("POST /wechat HTTP/1.1" in line for line in lines), lines
    assert not any("signature" in line or "nonce" in line for line in lines), lines

    fmt = runpy.run_path(str(Path(__file__).parents[1] / "gunicorn.conf.py"))["access_log_format"]
    cfg = Config()
    cfg.set("access_log_format", fmt)
    query = cb.query
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": cb.path, "PATH_INFO": "/wechat", "QUERY_STRING": query,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9", "HTTP_REFERER": "-"}
    response = SimpleNamespace(status="200 OK", response_length=120, headers=(), sent=120)
    atoms = Logger(cfg).atoms(response, SimpleNamespace(headers=()), environ, timedelta(milliseconds=12))
    line = fmt % atoms
    assert "POST /wechat HTTP/1.1" in line and "signature" not in line and "nonce" not in line


# -- production parts: the real Redis and PostgreSQL --------------------------------------

def test_full_path_on_postgres_and_redis(postgres_url, redis_client, wx):
    fill_database(postgres_url)
    app, _ = make_app(postgres_url, kv=RedisKV(redis_client))
    c = app.test_client()
    xml = text_xml("oProd", "东湖哪些项目可以申请代办", msg_id=99)
    first = reply_fields(post(c, wx.callback(xml)).get_data(as_text=True))["Content"]
    again = reply_fields(post(c, wx.callback(xml)).get_data(as_text=True))["Content"]
    assert first == again
    assert "经营性房地产" in first
    assert count(app, KbQuery) == 1
    assert redis_client.exists("conv:oProd")  # the first reply is remembered with the conversation


def test_remembered_replies_expire_with_the_retry_window_not_with_the_conversation(sqlite_url, redis_client, wx):
    """A reply may repeat what the user typed (the application summary has their name and phone):
    it is kept for WeChat's retries only, not for the conversation's week."""
    from dialogs.state import REPEAT_WINDOW_S

    app, _ = make_app(sqlite_url, kv=RedisKV(redis_client))
    post(app.test_client(), wx.callback(text_xml("oPrivate", "施工许可证需要准备哪些材料", msg_id=5)))
    assert b"answered" not in redis_client.get("conv:oPrivate")
    assert b"answered" in redis_client.get("conv:oPrivate:answered")
    assert 0 < redis_client.ttl("conv:oPrivate:answered") <= REPEAT_WINDOW_S < redis_client.ttl("conv:oPrivate")


@pytest.mark.parametrize("mode,cost", [("aes", (2, 2)), ("plain", (3, 3))])
def test_a_text_message_costs_redis_two_commands_and_an_event_two(sqlite_url, redis_client, mode, cost):
    """Redis round trips are most of a message's cost beyond WeChat's own crypto (bench/
    webhook_cpu.py): a text message takes the user's lock with its state and remembered replies
    in one script and saves them as it lets go in another; an event, which has no conversation
    turn, is marked and answered by the retry guard. In plain mode each callback costs one more,
    the SET NX that remembers its nonce (safe mode's msg_signature covers the body instead)."""
    sent = []
    send = redis_client.execute_command
    redis_client.execute_command = lambda *args, **kw: sent.append(args[0]) or send(*args, **kw)

    def commands() -> int:
        return len(sent)

    app, _ = make_app(sqlite_url, kv=RedisKV(redis_client), aes=mode == "aes")
    wx = WeChatServer(TOKEN, AES_KEY, APPID) if mode == "aes" else WeChatServer(TOKEN)
    c = app.test_client()
    post(c, wx.callback(text_xml("oCount", "你好", msg_id=1)))  # loads the scripts
    post(c, wx.callback(event_xml("oCount", "CLICK", create_time=1)))
    before = commands()
    post(c, wx.callback(text_xml("oCount", "施工许可证需要准备哪些材料", msg_id=2)))
    after_text = commands()
    post(c, wx.callback(event_xml("oCount", "CLICK", create_time=2)))
    assert (after_text - before, commands() - after_text) == cost


def test_slow_answer_is_acknowledged_at_once_and_sent_later(sqlite_url, wx):
    import threading

    from bot.models import Notification

    settings = Settings(wechat_token=TOKEN, database_url=migrated(sqlite_url), reply_budget_s=0.3)
    kb = load(FIXTURE_KB)
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=fixture_retriever(kb))
    app = create_app(settings, manager=manager)
    release = threading.Event()
    original = manager.handle_text

    def slow(user, text, **kw):
        release.wait(5)
        return original(user, text, **kw)

    manager.handle_text = slow
    xml = text_xml("oSlow", "施工许可证需要准备哪些材料", msg_id=8080)
    c = app.test_client()
    t0 = time.monotonic()
    first = post(c, wx.callback(xml))
    assert first.get_data(as_text=True) == "success" and time.monotonic() - t0 < 2
    retry = post(c, wx.callback(xml))  # WeChat retries: still no second turn, still success
    assert retry.get_data(as_text=True) == "success"
    release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with manager.sessions() as s:
            late = s.scalars(sa.select(Notification).where(Notification.purpose == "late_reply")).all()
        if late:
            break
        time.sleep(0.05)
    assert len(late) == 1 and late[0].recipient_openid == "oSlow" and "施工合同" in late[0].text
    assert count(app, KbQuery) == 1


def test_a_retry_stuck_behind_its_slow_first_delivery_never_replaces_the_late_answer(sqlite_url, wx):
    """The first delivery runs long (inside the user's lock) and is answered later; WeChat's retry
    waits for the lock, gives up with 「还在处理」 — which must not be sent later in the answer's place
    (both late sends share the message's outbox key, and the first one in wins)."""
    import threading

    from bot.models import Notification

    settings = Settings(wechat_token=TOKEN, database_url=migrated(sqlite_url), reply_budget_s=0.2)
    kb = load(FIXTURE_KB)
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=fixture_retriever(kb))
    manager.store.lock_wait_s = 0.4
    app = create_app(settings, manager=manager)
    release, original = threading.Event(), manager._turn

    def slow_turn(*args):
        release.wait(5)
        return original(*args)

    manager._turn = slow_turn
    gave_up, handle_text = threading.Event(), manager.handle_text

    def watched_handle_text(*args, **kw):
        try:
            return handle_text(*args, **kw)
        except LockTimeout:
            gave_up.set()
            raise

    manager.handle_text = watched_handle_text
    xml = text_xml("oStuck", "施工许可证需要准备哪些材料", msg_id=9090)
    c = app.test_client()
    assert post(c, wx.callback(xml)).get_data(as_text=True) == "success"  # first delivery: over budget
    assert post(c, wx.callback(xml)).get_data(as_text=True) == "success"  # the retry, stuck behind it

    def late_replies():
        with manager.sessions() as s:
            return s.scalars(sa.select(Notification).where(Notification.purpose == "late_reply")).all()

    assert gave_up.wait(5)  # the retry's turn could not get the lock and said 「还在处理」
    time.sleep(0.3)  # let its late-reply callback run
    assert late_replies() == []  # ... which was not queued
    release.set()
    deadline = time.monotonic() + 5
    while not (late := late_replies()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(late) == 1 and "施工合同" in late[0].text and texts.BUSY not in late[0].text


def test_readiness_reports_database_and_store(sqlite_url):
    app, _ = make_app(sqlite_url)
    r = app.test_client().get("/readyz")
    assert r.status_code == 200 and r.get_json()["checks"] == {"database": "ok", "store": "ok"}
    app2, manager2 = make_app(sqlite_url, kv=RedisKV.from_url("redis://127.0.0.1:1/0"))
    r2 = app2.test_client().get("/readyz")
    assert r2.status_code == 200 and r2.get_json()["checks"]["store"].startswith("unavailable")
    manager2.sessions.kw["bind"].dispose()
    manager2.sessions.configure(bind=sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    r3 = app2.test_client().get("/readyz")
    assert r3.status_code == 503 and r3.get_json()["checks"]["database"].startswith("unavailable")
