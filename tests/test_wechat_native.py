"""The Official Account as people use it (issue 16, items 1, 3 and 4): voice, video and location
messages, the custom menu and its clicks, QR codes with a scene (a region's poster, a staff
member's one-time binding code). Through the signed webhook, `bangban` against the served
emulator, and the outbox dispatcher delivering to the account a scan bound."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from test_webhook import TOKEN, make_app, post

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import Notification, Staff, WechatQrCode, WechatUser, utcnow
from bot.people import staff, users
from bot.platform.db import transaction
from bot.push import dispatcher
from bot.push.wechat_api import make_client
from dialogs import menu, texts
from dialogs.texts import wechat as wechat_texts
from webhook.cli import main as bangban
from webhook.simulator import WeChatServer, reply_fields, text_xml

PUBLIC_URL = "https://bangban.example.gov.cn"
_ids = iter(range(7_000_000_000, 8_000_000_000))


def _xml(sender: str, msg_type: str, fields: str, msg_id: int | None = None) -> str:
    msg = f"<MsgId>{msg_id or next(_ids)}</MsgId>" if msg_type != "event" else ""
    return (f"<xml><ToUserName><![CDATA[gh_bangbantong]]></ToUserName><FromUserName><![CDATA[{sender}]]>"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"{fields}{msg}</xml>")


def voice_xml(sender: str, recognition: str | None, msg_id: int | None = None) -> str:
    rec = "" if recognition is None else f"<Recognition><![CDATA[{recognition}]]></Recognition>"
    return _xml(sender, "voice", f"<MediaId><![CDATA[media-1]]></MediaId><Format><![CDATA[amr]]></Format>{rec}", msg_id)


def event_xml(sender: str, event: str, key: str | None = None, ticket: str | None = None) -> str:
    extra = (f"<EventKey><![CDATA[{key}]]></EventKey>" if key is not None else "") + \
            (f"<Ticket><![CDATA[{ticket}]]></Ticket>" if ticket else "")
    # Events of one sender within one second are told apart by CreateTime: make each one distinct.
    return _xml(sender, "event", f"<Event><![CDATA[{event}]]></Event>{extra}").replace(
        f"<CreateTime>{int(time.time())}</CreateTime>", f"<CreateTime>{next(_ids)}</CreateTime>")


@pytest.fixture()
def wx():
    return WeChatServer(TOKEN)


@pytest.fixture()
def site(sqlite_url):
    app, manager = make_app(sqlite_url)
    return app, manager, app.test_client()


def say(client, wx, xml: str) -> str:
    r = post(client, wx.callback(xml))
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    return "" if body == "success" else reply_fields(wx.read_reply(r.get_data()))["Content"]


# -- voice, video, location ---------------------------------------------------------------------

@pytest.mark.parametrize("words", ["代办收费吗", "申请代办", "我的申请"])
def test_a_recognised_voice_is_answered_as_the_same_text(site, wx, words):
    _, _, client = site
    typed = say(client, wx, text_xml("oTyped", words))
    spoken = say(client, wx, voice_xml("oSpoken", words))
    assert spoken == typed and spoken != wechat_texts.VOICE_UNRECOGNISED and spoken != texts.NON_TEXT


def test_a_voice_answer_in_the_form_fills_it_and_a_retry_gets_the_same_reply(site, wx):
    _, manager, client = site
    assert "地区" in say(client, wx, voice_xml("oVoiceForm", "申请代办"))
    first = say(client, wx, voice_xml("oVoiceForm", "取消。", msg_id=4242))
    again = say(client, wx, voice_xml("oVoiceForm", "取消。", msg_id=4242))  # WeChat's retry
    assert first == again and "取消" in first
    with manager.store.session("oVoiceForm") as state:
        assert "form" not in state


def test_a_voice_without_recognition_asks_to_type_or_say_it_again(site, wx):
    _, _, client = site
    assert say(client, wx, voice_xml("oMumble", None)) == wechat_texts.VOICE_UNRECOGNISED
    assert say(client, wx, voice_xml("oMumble", "   ")) == wechat_texts.VOICE_UNRECOGNISED


@pytest.mark.parametrize("kind", ["video", "shortvideo"])
def test_a_video_gets_a_useful_reply(site, wx, kind):
    _, _, client = site
    reply = say(client, wx, _xml("oVideo", kind, "<MediaId><![CDATA[v1]]></MediaId><ThumbMediaId><![CDATA[t1]]></ThumbMediaId>"))
    assert reply == wechat_texts.VIDEO


def test_a_location_lists_the_regions_served_and_asks_for_one(site, wx):
    _, manager, client = site
    reply = say(client, wx, _xml("oWhere", "location", "<Location_X>29.57</Location_X><Location_Y>106.57</Location_Y>"
                                 "<Scale>15</Scale><Label><![CDATA[重庆市江北区观音桥]]></Label>"))
    assert all(r.name in reply for r in manager.kb.regions.values())
    assert "回复" in reply and reply != texts.NON_TEXT
    with transaction(manager.sessions) as db:
        assert users.region_of(db, "oWhere") is None  # a location is not taken for a region


# -- the menu file ------------------------------------------------------------------------------

def test_the_shipped_menu_is_valid_and_opens_only_pages_that_exist(site):
    _, _, client = site
    m = menu.load()
    body = m.for_wechat(PUBLIC_URL)
    assert [b["name"] for b in body["button"]] == ["政策咨询", "申请帮代办", "我的申请"]
    assert m.clicks["APPLY_DAIBAN"].says == "申请代办" and m.clicks["MY_CASES"].says == "我的申请"
    views = [s["url"] for b in body["button"] for s in b["sub_button"] if s["type"] == "view"]
    assert views
    for url in views:
        assert url.startswith(PUBLIC_URL)
        assert client.get(url[len(PUBLIC_URL):]).status_code in (200, 302)


def _one(**sub) -> dict:
    return {"button": [{"name": "咨询", "sub_button": [{"type": "click", "name": "问", "key": "K", "says": "你好", **sub}]}]}


@pytest.mark.parametrize("data, says", [
    ({"button": [{"type": "click", "name": f"b{i}", "key": f"K{i}", "says": "你好"} for i in range(4)]}, "1 到 3"),
    ({"button": [{"name": "咨询", "sub_button": [{"type": "click", "name": f"s{i}", "key": f"K{i}", "says": "好"}
                                                  for i in range(6)]}]}, "1 到 5"),
    ({"button": [{"name": "政策咨询服务", "sub_button": [{"type": "click", "name": "a", "key": "K", "says": "好"}]}]}, "16 字节"),
    (_one(name="很" * 21), "60 字节"),
    (_one(key="K" * 129), "128 字节"),
    (_one(says=None), "says"),
    (_one(says=None, prompt="nope"), "没有叫 nope 的提示"),
    ({"button": [{"type": "click", "name": "a", "key": "K", "says": "好"},
                 {"type": "click", "name": "b", "key": "K", "says": "好"}]}, "重复"),
    ({"button": [{"type": "view", "name": "网页", "path": "/nowhere"}]}, "本系统的页面"),
    ({"button": [{"type": "scancode_push", "name": "扫码", "key": "K"}]}, "type 应是 click 或 view"),
    ({"menu": []}, "button:"),
])
def test_a_menu_breaking_a_rule_is_refused_with_what_to_change(data, says):
    with pytest.raises(menu.MenuError, match=says):
        menu.parse(data)


def test_a_view_url_longer_than_wechat_takes_is_refused():
    m = menu.parse({"button": [{"type": "view", "name": "网页", "path": "/chat"}]})
    with pytest.raises(menu.MenuError, match="1024"):
        m.for_wechat("https://example.gov.cn/" + "x" * 1020)


# -- menu clicks through the webhook ------------------------------------------------------------

@pytest.mark.parametrize("key, words", [("APPLY_DAIBAN", "申请代办"), ("MY_CASES", "我的申请"),
                                        ("ASK_FEE", "帮办代办收费吗"), ("HUMAN", "转人工")])
def test_a_click_does_what_typing_its_command_does(site, wx, key, words):
    _, _, client = site
    typed = say(client, wx, text_xml("oKeyboard", words))
    clicked = say(client, wx, event_xml("oMenu", "CLICK", key))
    assert clicked == typed and clicked


def test_a_click_on_apply_opens_the_form_and_the_next_message_answers_it(site, wx):
    _, manager, client = site
    say(client, wx, event_xml("oMenuForm", "CLICK", "APPLY_DAIBAN"))
    with manager.store.session("oMenuForm") as state:
        assert "form" in state


def test_a_prompt_click_and_an_old_key_get_a_reply_and_a_view_gets_none(site, wx):
    _, _, client = site
    assert say(client, wx, event_xml("oMenu2", "CLICK", "ASK_QUESTION")) == wechat_texts.MENU_PROMPTS["ask"]
    assert say(client, wx, event_xml("oMenu2", "CLICK", "V1001_GONE")) == texts.MENU
    assert say(client, wx, event_xml("oMenu2", "VIEW", f"{PUBLIC_URL}/chat")) == ""


def test_a_menu_file_broken_after_the_push_answers_clicks_with_the_menu_text(site, wx, tmp_path):
    from dialogs.events import Events

    _, manager, client = site
    bad = tmp_path / "menu.yaml"
    bad.write_text("button: [oops\n", encoding="utf-8")
    manager.events = Events(manager, menu_path=bad)
    assert say(client, wx, event_xml("oMenu3", "CLICK", "APPLY_DAIBAN")) == texts.MENU


# -- the emulator's menu and QR code rules ------------------------------------------------------

@pytest.fixture()
def emulator():
    with serve() as base_url:
        yield base_url, EmulatorControl(base_url), make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)


def _api(client, path: str, body: dict | None = None) -> dict:
    """WeChat's answer to one call through wechatpy (which raises for a non-zero errcode)."""
    from wechatpy.exceptions import WeChatClientException

    try:
        return client.post(path, data=body) if body is not None else client.get(path)
    except WeChatClientException as err:
        return {"errcode": err.errcode, "errmsg": err.errmsg}


GOOD = {"type": "click", "name": "申请代办", "key": "APPLY_DAIBAN"}


@pytest.mark.parametrize("body, errcode", [
    ({"button": []}, 40016),
    ({"button": [GOOD] * 4}, 40016),
    ({"button": [{**GOOD, "name": "一二三四五六"}]}, 40018),  # 18 bytes at the top
    ({"button": [{**GOOD, "key": "K" * 129}]}, 40019),
    ({"button": [{**GOOD, "type": "nope"}]}, 40017),
    ({"button": [{"name": "我的", "sub_button": [GOOD] * 6}]}, 40023),
    ({"button": [{"name": "我的", "sub_button": [{**GOOD, "name": "很" * 21}]}]}, 40025),
    ({"button": [{"name": "我的", "sub_button": [{**GOOD, "key": "K" * 129}]}]}, 40026),
    ({"button": [{"name": "我的", "sub_button": [{"type": "view", "name": "网页",
                                                  "url": "https://a.cn/" + "x" * 1012}]}]}, 40027),
    ({"button": [{"name": "我的", "sub_button": [{"type": "view", "name": "网页", "url": "ftp://a.cn/"}]}]}, 40054),
    ({"button": [{"name": "我的", "sub_button": [{"name": "深", "sub_button": [GOOD]}]}]}, 40022),
])
def test_the_emulator_refuses_a_menu_as_wechat_does(emulator, body, errcode):
    _, _, client = emulator
    assert _api(client, "menu/create", body)["errcode"] == errcode
    ok = {"button": [{"name": "我的", "sub_button": [{"type": "view", "name": "网页", "url": "https://a.cn/" + "x" * 1011}]}]}
    assert _api(client, "menu/create", ok) == {"errcode": 0, "errmsg": "ok"}  # 1024 bytes exactly: accepted


def test_menu_get_without_a_menu_is_46003(emulator):
    _, _, client = emulator
    assert _api(client, "menu/get")["errcode"] == 46003
    assert client.menu.get() is None  # how wechatpy reports it


@pytest.mark.parametrize("body, errcode", [
    ({"action_name": "QR_FOREVER", "action_info": {"scene": {"scene_id": 1}}}, 40052),
    ({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100001}}}, 40053),
    ({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 0}}}, 40053),
    ({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "s" * 65}}}, 40053),
    ({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": ""}}, "expire_seconds": 60}, 40053),
    ({"action_name": "QR_STR_SCENE", "action_info": {}}, 40053),
])
def test_the_emulator_refuses_a_qr_code_as_wechat_does(emulator, body, errcode):
    _, _, client = emulator
    assert _api(client, "qrcode/create", body)["errcode"] == errcode


def test_a_temporary_code_lives_at_most_30_days_and_its_image_until_then(emulator):
    base_url, control, client = emulator
    answer = _api(client, "qrcode/create", {"action_name": "QR_STR_SCENE", "expire_seconds": 3_000_000,
                                            "action_info": {"scene": {"scene_str": "bind:x"}}})
    assert answer["expire_seconds"] == 2_592_000
    image = requests.get(f"{base_url}/cgi-bin/showqrcode", params={"ticket": answer["ticket"]})
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    control.advance_clock(2_592_001)
    assert requests.get(f"{base_url}/cgi-bin/showqrcode", params={"ticket": answer["ticket"]}).status_code == 404
    with pytest.raises(requests.HTTPError):
        control.scan(answer["ticket"], "oLate")


# -- bangban against the emulator ---------------------------------------------------------------

@pytest.fixture()
def cli_env(emulator, sqlite_url, monkeypatch):
    base_url, control, client = emulator
    for name, value in {"DATABASE_URL": sqlite_url, "WECHAT_APPID": DEFAULT_APPID, "WECHAT_SECRET": DEFAULT_SECRET,
                        "WECHAT_API_BASE": base_url, "PUBLIC_URL": PUBLIC_URL}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return base_url, control, client


def test_menu_push_then_show_through_wechatpy(cli_env, capsys):
    base_url, _, _ = cli_env
    assert bangban(["wechat", "menu", "show"]) == 0
    assert "no menu" in capsys.readouterr().out
    assert bangban(["wechat", "menu", "push"]) == 0
    pushed = capsys.readouterr()
    assert "menu pushed: 3 buttons" in pushed.out and "PUBLIC_URL" not in pushed.err
    held = requests.get(f"{base_url}/_emulator/menu").json()["menu"]
    assert [b["name"] for b in held] == ["政策咨询", "申请帮代办", "我的申请"]
    apply = next(s for b in held for s in b["sub_button"] if s.get("key") == "APPLY_DAIBAN")
    assert apply == {"type": "click", "name": "申请代办", "key": "APPLY_DAIBAN", "sub_button": []}
    assert any(s.get("url") == f"{PUBLIC_URL}/chat" for b in held for s in b["sub_button"])
    assert bangban(["wechat", "menu", "show"]) == 0
    shown = capsys.readouterr().out
    assert "申请代办  click APPLY_DAIBAN" in shown and f"view {PUBLIC_URL}/chat" in shown
    requests.post(f"{base_url}/_emulator/reset")
    assert requests.get(f"{base_url}/_emulator/menu").json()["menu"] is None  # a reset clears the menu too


def test_a_menu_pushed_with_a_loopback_public_url_says_phones_cannot_open_it(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "http://127.0.0.1:8000")
    assert bangban(["wechat", "menu", "push"]) == 0
    assert "PUBLIC_URL" in capsys.readouterr().err


def test_a_bad_menu_file_is_not_pushed(cli_env, capsys, tmp_path):
    base_url, _, _ = cli_env
    bad = tmp_path / "menu.yaml"
    bad.write_text("button:\n  - {type: click, name: 一二三四五六, key: K, says: 你好}\n", encoding="utf-8")
    assert bangban(["wechat", "menu", "push", "--file", str(bad)]) == 1
    assert "16 字节" in capsys.readouterr().err
    assert requests.get(f"{base_url}/_emulator/menu").json()["menu"] is None


def _url_of(out: str) -> str:
    return next(line for line in out.splitlines() if "showqrcode?ticket=" in line).strip()


def _ticket(url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(url).query)["ticket"][0]


def _scan(client, wx, control, ticket: str, openid: str) -> str:
    """The user scans the code in WeChat; WeChat pushes the event to our webhook."""
    event = control.scan(ticket, openid)
    return say(client, wx, event_xml(openid, event["event"], event["event_key"], event["ticket"]))


def test_a_region_poster_presets_the_region_and_offers_to_apply(cli_env, capsys, sqlite_url, wx):
    base_url, control, _ = cli_env
    assert bangban(["wechat", "qr", "region", "江北"]) == 0
    url = _url_of(capsys.readouterr().out)
    assert url.startswith(f"{base_url}/cgi-bin/showqrcode?ticket=")
    assert requests.get(url).headers["Content-Type"] == "image/png"
    app, manager = make_app(sqlite_url)
    client = app.test_client()
    newcomer = _scan(client, wx, control, _ticket(url), "oPoster")  # not following yet: subscribe + scene
    assert newcomer.startswith(texts.WELCOME) and "江北" in newcomer and "申请代办" in newcomer
    follower = _scan(client, wx, control, _ticket(url), "oPoster")  # a follower now: SCAN
    assert not follower.startswith(texts.WELCOME) and "江北" in follower
    with transaction(manager.sessions) as db:
        assert users.region_of(db, "oPoster") == "jiangbei"
        assert db.scalar(sa.select(WechatUser.subscribed).where(WechatUser.openid == "oPoster")) is True
        poster = db.scalars(sa.select(WechatQrCode)).one()
        assert (poster.kind, poster.region, poster.expires_at, poster.url) == ("region", "jiangbei", None, url)
    asked = say(client, wx, text_xml("oPoster", "申请代办"))
    assert "企业" in asked and "地区" not in asked  # the form knows the region already: it asks the company first
    stranger = say(client, wx, text_xml("oNoPoster", "申请代办"))
    assert "地区" in stranger  # someone who scanned nothing is asked the region first


def test_an_unknown_region_mints_nothing(cli_env, capsys):
    assert bangban(["wechat", "qr", "region", "火星"]) == 1
    assert "no region" in capsys.readouterr().err


@pytest.fixture()
def commissioner(cli_env, sqlite_url):
    make_app(sqlite_url)  # migrated
    from bot.platform.db import open_database

    with transaction(open_database(sqlite_url)) as db:
        staff.create_staff(db, username="zhou", name="周专员", role="commissioner", region="donghu", password=None)
    return open_database(sqlite_url)


def _staff(sessions, username="zhou") -> Staff:
    with transaction(sessions) as db:
        s = staff.by_username(db, username)
        db.expunge(s)
        return s


def test_a_binding_code_binds_the_scanning_account_once(cli_env, commissioner, capsys, sqlite_url, wx):
    _, control, _ = cli_env
    assert bangban(["staff", "bind-qr", "zhou", "--minutes", "10"]) == 0
    url = _url_of(capsys.readouterr().out)
    app, manager = make_app(sqlite_url)
    client = app.test_client()
    control.add_user("oZhouPhone")
    reply = _scan(client, wx, control, _ticket(url), "oZhouPhone")
    assert reply == wechat_texts.STAFF_BOUND.format(name="周专员", region=manager.kb.regions["donghu"].name)
    assert _staff(commissioner).wechat_openid == "oZhouPhone"
    again = _scan(client, wx, control, _ticket(url), "oZhouPhone")
    assert again == wechat_texts.STAFF_ALREADY_BOUND.format(name="周专员", region=manager.kb.regions["donghu"].name)
    stranger = _scan(client, wx, control, _ticket(url), "oSomeoneElse")
    assert stranger.endswith(wechat_texts.STAFF_BIND_USED)  # a newcomer: welcome, then that
    assert _staff(commissioner).wechat_openid == "oZhouPhone"
    with transaction(commissioner) as db:
        row = db.scalars(sa.select(WechatQrCode)).one()
        assert row.kind == "staff_bind" and row.used_by == "oZhouPhone"
        assert _ticket(url) not in (row.token_hash or "")  # the token is kept hashed only


def test_an_expired_or_forged_binding_code_binds_nobody(cli_env, commissioner, capsys, sqlite_url, wx):
    _, control, _ = cli_env
    assert bangban(["staff", "bind-qr", "zhou"]) == 0
    url = _url_of(capsys.readouterr().out)
    with transaction(commissioner) as db:  # half an hour later: our record has expired
        db.scalars(sa.select(WechatQrCode)).one().expires_at = utcnow() - timedelta(seconds=1)
    app, _ = make_app(sqlite_url)
    client = app.test_client()
    control.add_user("oLatePhone")
    assert _scan(client, wx, control, _ticket(url), "oLatePhone") == wechat_texts.STAFF_BIND_EXPIRED
    forged = say(client, wx, event_xml("oForger", "SCAN", "bind:not-a-token-anyone-was-given"))
    assert forged == wechat_texts.SCAN_UNKNOWN
    assert _staff(commissioner).wechat_openid is None


def test_bind_qr_for_nobody_or_a_bad_expiry_mints_nothing(cli_env, commissioner, capsys):
    assert bangban(["staff", "bind-qr", "nobody"]) == 1
    assert bangban(["staff", "bind-qr", "zhou", "--minutes", "0.5"]) == 2
    with transaction(commissioner) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(WechatQrCode)) == 0


def test_the_bound_account_gets_the_next_assignment_alert(cli_env, commissioner, capsys, sqlite_url, wx):
    from datetime import datetime, timezone

    from conftest import CAL, PERMIT

    from bot.casework import cases

    _, control, _ = cli_env
    control.add_template("tpl-assignment", [])

    def submit(openid):
        with transaction(commissioner) as db:
            case = cases.submit(db, cases.Application(
                mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
                credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region="donghu",
                investment_type="社会投资", stage="3", contact_name="陈经理", items=(PERMIT,),
                agreement_consented_at=datetime.now(timezone.utc)), CAL)
            return case.number

    before = submit("oEntBefore")  # zhou has no WeChat yet: the console is where he sees it
    with transaction(commissioner) as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.recipient_kind == "staff")) == 0
    assert bangban(["staff", "bind-qr", "zhou"]) == 0
    url = _url_of(capsys.readouterr().out)
    app, _ = make_app(sqlite_url)
    control.add_user("oZhouPhone")
    _scan(app.test_client(), wx, control, _ticket(url), "oZhouPhone")
    after = submit("oEntAfter")
    from bot.platform.config import load_settings

    settings = load_settings().with_(wechat_templates={"assignment": "tpl-assignment"})
    dispatcher.dispatch_once(commissioner, dispatcher.client_for(settings), settings)
    got = control.messages(openid="oZhouPhone")
    assert len(got) == 1 and after in str(got[0]["payload"]) and before not in str(got[0]["payload"])


def test_the_demo_shows_a_voice_answer_the_menu_a_poster_and_a_binding(emulator, sqlite_url):
    from conftest import fixture_retriever, migrated

    from bot.platform.config import Settings
    from bot.platform.kv import MemoryKV
    from dialogs import build_manager
    from knowledge import load
    from test_webhook import FIXTURE_KB
    from webhook import create_app
    from webhook.wechat_demo import DEMO_COMMISSIONER, DEMO_PHONE, show_wechat_native

    base_url, _, _ = emulator
    settings = Settings(wechat_token=TOKEN, database_url=sqlite_url, wechat_appid=DEFAULT_APPID,
                        wechat_secret=DEFAULT_SECRET, wechat_api_base=base_url, public_url=PUBLIC_URL)
    kb = load(FIXTURE_KB)
    migrated(sqlite_url)
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=fixture_retriever(kb))
    with transaction(manager.sessions) as db:
        staff.seed_demo_roster(db, password="demo-password-1")
    lines = show_wechat_native(create_app(settings, manager=manager), settings)
    print("\n".join(lines))
    assert len(lines) == 4, lines
    assert lines[0].startswith("voice") and "(no reply)" not in lines[0]
    assert "menu pushed" in lines[1] and "江北" in lines[2] and "绑定成功" in lines[3]
    assert _staff(manager.sessions, DEMO_COMMISSIONER).wechat_openid == DEMO_PHONE


def test_a_retried_scan_binds_once_and_gets_the_same_reply(cli_env, commissioner, capsys, sqlite_url, wx):
    _, control, _ = cli_env
    assert bangban(["staff", "bind-qr", "zhou"]) == 0
    ticket = _ticket(_url_of(capsys.readouterr().out))
    app, manager = make_app(sqlite_url)
    client = app.test_client()
    control.add_user("oRetryPhone")
    event = control.scan(ticket, "oRetryPhone")
    xml = event_xml("oRetryPhone", event["event"], event["event_key"], event["ticket"])
    first, second = say(client, wx, xml), say(client, wx, xml)  # WeChat delivers it again: same CreateTime
    assert first == second == wechat_texts.STAFF_BOUND.format(name="周专员", region=manager.kb.regions["donghu"].name)
    with transaction(commissioner) as db:
        assert db.scalars(sa.select(WechatQrCode)).one().used_by == "oRetryPhone"


@pytest.mark.postgres
def test_two_phones_scanning_one_binding_code_at_once_bind_one(postgres_url):
    import threading

    from conftest import fill_database

    from bot.people import qr_codes
    from bot.platform.db import make_engine, make_sessionmaker

    fill_database(postgres_url)
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as db:
        s = staff.create_staff(db, username="zhou", name="周专员", role="commissioner", region="donghu", password=None)
        _, scene = qr_codes.new_binding(db, s)
    token = qr_codes.parse_scene(scene).value
    barrier, outcomes = threading.Barrier(4), []

    def scan(openid):
        barrier.wait()
        with transaction(sessions) as db:
            outcomes.append(qr_codes.redeem_binding(db, token, openid).outcome)

    threads = [threading.Thread(target=scan, args=(f"oPhone{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == sorted([qr_codes.Scanned.BOUND] + [qr_codes.Scanned.USED] * 3)
    assert _staff(sessions).wechat_openid.startswith("oPhone")
    engine.dispose()
