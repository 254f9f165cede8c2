"""Minting 带参数二维码 through wechatpy (qrcode/create at WECHAT_API_BASE) and recording them
(bot/people/qr_codes.py): a region's permanent poster code and a staff member's one-time binding
code. `bangban wechat qr region`, `bangban staff bind-qr` and the demo call these."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from bot.people import qr_codes
from bot.platform.db import transaction


class MintRefused(Exception):
    """Nothing minted: the message says why (unknown staff member, WeChat's error)."""


@dataclass(frozen=True)
class Minted:
    url: str  # showqrcode?ticket=...: the code's image
    ticket: str
    scene: str  # region:<id>, or bind:… (the token: never print it)
    staff_name: str | None = None
    replaces_binding: bool = False  # the staff member had a WeChat account bound already


def client_for(settings):
    from bot.push.dispatcher import client_for as dispatcher_client

    if not settings.wechat_appid or not settings.wechat_secret:
        raise MintRefused("WECHAT_APPID and WECHAT_SECRET must be set to talk to WeChat")
    return dispatcher_client(settings)


def qr_url(settings, ticket: str) -> str:
    """Where the code's image is: WeChat's showqrcode (wechatpy's get_url), or the emulator's own."""
    from wechatpy.client.api import WeChatQRCode

    from bot.push.wechat_api import REAL_API_BASE

    base = settings.wechat_api_base.rstrip("/")
    if base == REAL_API_BASE:
        return WeChatQRCode.get_url(ticket)
    return f"{base}/cgi-bin/showqrcode?ticket={quote(ticket)}"


def create_qr(settings, scene: str, expire_seconds: int | None = None) -> dict:
    """qrcode/create with a string scene: permanent without expire_seconds, temporary with it."""
    from wechatpy.exceptions import WeChatClientException

    data = {"action_info": {"scene": {"scene_str": scene}}}
    if expire_seconds is None:
        data["action_name"] = "QR_LIMIT_STR_SCENE"
    else:
        data.update(action_name="QR_STR_SCENE", expire_seconds=int(expire_seconds))
    try:
        return client_for(settings).qrcode.create(data)
    except WeChatClientException as err:
        raise MintRefused(f"WeChat refused: {err.errcode} {err.errmsg}") from None


def mint_poster(settings, sessions, region: str) -> Minted:
    scene = qr_codes.region_scene(region)
    answer = create_qr(settings, scene)
    url = qr_url(settings, answer["ticket"])
    with transaction(sessions) as db:
        qr_codes.record_ticket(qr_codes.new_poster(db, region), answer["ticket"], url)
    return Minted(url, answer["ticket"], scene)


def mint_binding(settings, sessions, username: str, ttl_s: int = qr_codes.DEFAULT_BIND_TTL_S) -> Minted:
    """A one-time binding code for `username`, alive `ttl_s` at WeChat and in our record alike."""
    from bot.people import staff

    with transaction(sessions) as db:
        s = staff.by_username(db, username)
        if s is None or not s.active:
            raise MintRefused(f"no active staff member {username}")
        row, scene = qr_codes.new_binding(db, s, ttl_s=ttl_s)
        answer = create_qr(settings, scene, expire_seconds=ttl_s)  # refused: the record is rolled back
        url = qr_url(settings, answer["ticket"])
        qr_codes.record_ticket(row, answer["ticket"], url)
        return Minted(url, answer["ticket"], scene, s.name, bool(s.wechat_openid))
