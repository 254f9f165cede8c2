"""The demo's WeChat-native moments (issue 16): a voice question answered, the custom menu pushed
and clicked, a region's poster scanned, a commissioner bound by scanning a binding code.

`show_wechat_native(app, settings)` does what WeChat and its users do, against the local emulator
at settings.wechat_api_base: signed callbacks to the bot's own /wechat endpoint (a voice message
with WeChat's Recognition, a CLICK, the scan events the emulator says WeChat would push), the
menu and codes minted through wechatpy. It returns one line per moment for the demo to print.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from .simulator import WeChatServer, reply_fields

DEMO_COMMISSIONER = "donghu-2"  # of bot.people.staff.DEMO_ROSTER
DEMO_PHONE = "oDemo_phone_donghu_2"  # the WeChat account that scans their binding code
DEMO_VISITOR = "oDemo_voice_visitor"
DEMO_POSTER_VISITOR = "oDemo_poster_visitor"


def _xml(sender: str, body: str, stamp: int) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_bangbantong]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{stamp}</CreateTime>{body}</xml>")


def _event(event: str, key: str, ticket: str = "") -> str:
    return (f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
            f"<EventKey><![CDATA[{key}]]></EventKey>" + (f"<Ticket><![CDATA[{ticket}]]></Ticket>" if ticket else ""))


def show_wechat_native(app, settings) -> list[str]:
    from bot.emulator import EmulatorControl
    from dialogs import menu

    from .wechat_codes import MintRefused, client_for, mint_binding, mint_poster

    wx = WeChatServer(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    client = app.test_client()
    stamps = iter(range(int(time.time()), int(time.time()) + 100))

    def send(sender: str, body: str) -> str:
        cb = wx.callback(_xml(sender, body, next(stamps)))
        r = client.post(cb.path, data=cb.body, content_type="text/xml")
        xml = wx.read_reply(r.data) if r.status_code == 200 else ""
        return (reply_fields(xml).get("Content") or "") if xml.startswith("<xml") else ""

    def first(reply: str) -> str:
        return reply.splitlines()[0] if reply else "(no reply)"

    lines = []
    heard = send(DEMO_VISITOR, "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[demo-voice]]></MediaId>"
                 f"<Format><![CDATA[amr]]></Format><Recognition><![CDATA[代办要收费吗？]]></Recognition>"
                 f"<MsgId>{next(stamps) * 1000 + 1}</MsgId>")
    lines.append(f"voice 「代办要收费吗？」 answered: 「{first(heard)}」")
    try:
        client_for(settings).menu.create(menu.load().for_wechat(settings.public_url))
        lines.append(f"custom menu pushed; a click on 我的申请 → 「{first(send(DEMO_VISITOR, _event('CLICK', 'MY_CASES')))}」")
    except Exception as err:  # noqa: BLE001 - a demo line, not a failure of the demo
        lines.append(f"custom menu not pushed: {err}")
    control = EmulatorControl(settings.wechat_api_base)
    try:
        poster = mint_poster(settings, app.extensions["bangban_dialogs"].sessions, "jiangbei")
        scan = control.scan(_ticket(poster.url), DEMO_POSTER_VISITOR)
        reply = send(DEMO_POSTER_VISITOR, _event(scan["event"], scan["event_key"], scan["ticket"]))
        said = next((line for line in reply.splitlines() if "地区" in line), first(reply))
        lines.append(f"江北 poster code {poster.url} scanned by a newcomer: 「{said}」")
        code = mint_binding(settings, app.extensions["bangban_dialogs"].sessions, DEMO_COMMISSIONER)
        control.add_user(DEMO_PHONE)
        scan = control.scan(_ticket(code.url), DEMO_PHONE)
        reply = send(DEMO_PHONE, _event(scan["event"], scan["event_key"], scan["ticket"]))
        lines.append(f"commissioner {DEMO_COMMISSIONER} bound by QR ({code.url}): 「{first(reply)}」")
    except MintRefused as err:
        lines.append(f"no QR code: {err}")
    return lines


def _ticket(url: str) -> str:
    return parse_qs(urlsplit(url).query)["ticket"][0]
