"""The demo's Official Account inside the local WeChat emulator: who follows it, which templates
it has, and the settings that point the bot at it.

A fresh emulator is an empty account: it knows no user (every push answers 40003) and no template
(40037), so a demo database sent through it fails row after row. A real account has both: its
followers are the people who wrote to it, and 公众号后台 holds the templates mapped in
WECHAT_TEMPLATE_IDS. `register` gives the emulator the same: every user the bot has met (with the
last time they wrote, so the emulator's 48-hour windows are the bot's), every staff member with a
WeChat bound, and one template per template key with the fields its pushes always fill; and its
企业微信 application (bot/emulator/wecom.py) has every staff member with a WeCom UserID in its
visible range.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl
from bot.emulator.wecom import DEFAULT_AGENTID, DEFAULT_CORPID, DEFAULT_CORPSECRET, WeComControl
from bot.models import Staff, WechatUser
from bot.platform.clock import as_utc
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.push.templates import TEMPLATE_FIELDS, required_keys

TEMPLATE_PREFIX = "demo-"


def template_ids() -> dict[str, str]:
    """WECHAT_TEMPLATE_IDS for the demo account: template key -> its id in the emulator."""
    return {key: TEMPLATE_PREFIX + key for key in TEMPLATE_FIELDS}


def settings_for(settings: Settings, api_base: str) -> Settings:
    """`settings` pointed at the emulator's built-in account, the demo's templates and the
    emulator's WeCom application."""
    return settings.with_(wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base=api_base,
                          wechat_templates={**template_ids(), **settings.wechat_templates},
                          wecom_corpid=DEFAULT_CORPID, wecom_secret=DEFAULT_CORPSECRET,
                          wecom_agentid=str(DEFAULT_AGENTID), wecom_api_base=api_base)


@dataclass(frozen=True)
class Registered:
    followers: int
    templates: int


def register(control: EmulatorControl, sessions: sessionmaker[Session]) -> Registered:
    """Make the emulator's account the demo's: its followers and its templates (re-runnable)."""
    with transaction(sessions) as db:
        users = db.execute(sa.select(WechatUser.openid, WechatUser.subscribed, WechatUser.last_message_at)).all()
        staff = db.scalars(sa.select(Staff.wechat_openid).where(
            Staff.active.is_(True), Staff.wechat_openid.is_not(None))).all()
        wecom_users = db.scalars(sa.select(Staff.wecom_userid).where(
            Staff.active.is_(True), Staff.wecom_userid.is_not(None))).all()
    for openid, subscribed, last_message_at in users:
        control.add_user(openid, following=bool(subscribed))
        if last_message_at is not None:
            control.interact(openid, at=as_utc(last_message_at).timestamp())
    for openid in set(staff) - {u.openid for u in users}:
        control.add_user(openid)
    wecom = WeComControl(control.base_url)
    for userid in wecom_users:
        wecom.add_user(userid)
    for key, template_id in template_ids().items():
        control.add_template(template_id, required_keys(key))
    return Registered(followers=len({u.openid for u in users} | set(staff)), templates=len(TEMPLATE_FIELDS))


if __name__ == "__main__":  # python -m bot.emulator.demo_wechat: the demo's WECHAT_TEMPLATE_IDS, for a shell
    import json

    print(json.dumps(template_ids(), separators=(",", ":")))
