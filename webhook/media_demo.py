"""The demo's photo for a 补正 (issue 16: `bangban demo --with-emulator` shows one attached).

`attach_demo_photo(app, settings)` does what an enterprise does: a photo, uploaded to the local
WeChat emulator as WeChat keeps what a user sends, arrives as a signed image callback at the
bot's own /wechat endpoint from the applicant of an open case waiting for 补正; the scheduler's
job then downloads it into the store. It returns one line saying what happened, for the demo
to print (webhook/cli/demo.py calls it inside its emulator block).
"""
from __future__ import annotations

import io
import struct
import time
import zlib

import sqlalchemy as sa

from bot.models import Case, CaseItem
from bot.vocabulary import OPEN_STATES, ItemState

from .simulator import WeChatServer, reply_fields


def demo_png() -> bytes:
    """A small real PNG (a 2×2 grey square): what the demo 「拍照」 sends."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80\x80\x80" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _image_xml(sender: str, media_id: str) -> str:
    now = int(time.time())
    return (f"<xml><ToUserName><![CDATA[gh_bangbantong]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/demo]]></PicUrl><MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<MsgId>{now * 1000 + 7}</MsgId></xml>")


def attach_demo_photo(app, settings) -> str:
    """Send one photo for an open 补正 through the webhook and download it (see the module)."""
    from bot.push import wechat_api
    from bot.scheduler import Jobs

    sessions = app.extensions["bangban_dialogs"].sessions
    with sessions() as db:
        found = db.execute(sa.select(Case.number, Case.applicant_openid, CaseItem.name)
                           .join(CaseItem, CaseItem.case_id == Case.id)
                           .where(Case.state.in_(OPEN_STATES), CaseItem.state == ItemState.CORRECTION)
                           .order_by(Case.id).limit(1)).first()
    if found is None:
        return "no open 补正 to attach a photo to"
    number, openid, item = found
    client = wechat_api.make_client(settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base)
    media_id = client.media.upload("image", ("补正材料.png", io.BytesIO(demo_png())))["media_id"]
    cb = WeChatServer(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid).callback(
        _image_xml(openid, media_id))
    r = app.test_client().post(cb.path, data=cb.body, content_type="text/xml")
    xml = WeChatServer(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid).read_reply(r.data)
    reply = reply_fields(xml).get("Content", "") if r.status_code == 200 and xml.startswith("<xml") else ""
    counts = Jobs(settings, sessions=sessions).case_materials()
    return (f"a photo for 补正 of {number} ({item}): the chat answered 「{reply.splitlines()[0] if reply else '?'}」; "
            f"downloaded {counts.stored}, failed {counts.failed} (console: {settings.public_url}/console/cases/{number})")
