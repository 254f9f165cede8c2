"""What WeChat sends besides text: menu clicks, QR code scans (with their scene), video and location.

A menu click is answered as what it stands for (config/menu.yaml, dialogs/menu.py): its `says`
goes through `DialogManager.handle_text` exactly as if typed, so 「申请代办」 from the menu and
from the keyboard are one path. A scan reads its scene (bot/people/qr_codes.py): a region's
poster presets the region and offers to apply; a staff binding code binds the scanning account
to that staff member, once. The webhook reads the event key off the message; nothing here knows
WeChat's XML.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.people import qr_codes, users
from bot.platform.db import transaction
from bot.platform.kv import StoreUnavailable
from bot.vocabulary import QrKind

from . import menu as menu_config
from . import texts
from .texts import wechat as wechat_texts
from .turn import Turn

if TYPE_CHECKING:
    from .manager import DialogManager

log = logging.getLogger(__name__)
SCAN_EVENTS = ("scan", "subscribe_scan")


class Events:
    def __init__(self, manager: DialogManager, menu_path=None):
        self.manager = manager
        self._menu_path = menu_path
        self._menu: menu_config.Menu | None = None

    @property
    def menu(self) -> menu_config.Menu:
        """config/menu.yaml as it was at the first click (a changed menu is read on restart, as it
        is pushed with `bangban wechat menu push`). A file broken since the push answers every
        click with the chat's menu text, and says why in the log, rather than failing the callback."""
        if self._menu is None:
            try:
                self._menu = menu_config.load(self._menu_path or menu_config.DEFAULT_PATH)
            except menu_config.MenuError:
                log.exception("the menu file cannot be read: clicks get the chat's menu text")
                self._menu = menu_config.Menu([], {})
        return self._menu

    def handle(self, user: str, event: str, key: str | None) -> Turn | None:
        """`event` lower-cased as wechatpy names it (click, view, scan, subscribe_scan ...)."""
        if event == "click":
            click = self.menu.clicks.get(key or "")
            if click is None:  # a key from an older menu still on someone's phone
                log.info("menu click with an unknown key %r", key)
                return Turn(texts.MENU, "click")
            if click.says:
                return self.manager.handle_text(user, click.says)
            return Turn(wechat_texts.MENU_PROMPTS[click.prompt], "click")
        if event in SCAN_EVENTS:
            reply, intent = self._scanned(user, key)
            if event == "subscribe_scan":
                reply = texts.WELCOME + "\n\n" + reply
            return Turn(self.manager.place_names.for_user(reply), intent)
        return None  # view (WeChat opens the page itself), location reports, ...

    def _scanned(self, user: str, key: str | None) -> tuple[str, str]:
        scene = qr_codes.parse_scene(key)
        if scene is None:
            return wechat_texts.SCAN_UNKNOWN, "scan"
        if scene.kind == QrKind.REGION:
            return self._region_scanned(user, scene.value), "scan_region"
        with transaction(self.manager.sessions) as db:
            result = qr_codes.redeem_binding(db, scene.value, user)
        region = self.manager.kb.regions.get(result.region or "")
        region_name = region.name if region else (result.region or "")
        replies = {
            qr_codes.Scanned.BOUND: wechat_texts.STAFF_BOUND,
            qr_codes.Scanned.ALREADY: wechat_texts.STAFF_ALREADY_BOUND,
            qr_codes.Scanned.EXPIRED: wechat_texts.STAFF_BIND_EXPIRED,
            qr_codes.Scanned.USED: wechat_texts.STAFF_BIND_USED,
            qr_codes.Scanned.UNKNOWN: wechat_texts.SCAN_UNKNOWN,
        }
        return replies[result.outcome].format(name=result.staff_name, region=region_name), f"scan_{result.outcome}"

    def _region_scanned(self, user: str, region: str) -> str:
        if region not in self.manager.kb.regions:
            return wechat_texts.REGION_SCAN_UNKNOWN
        with transaction(self.manager.sessions) as db:
            users.touch(db, user)
            users.set_region(db, user, region)
        try:  # the conversation reads the region from its state between profile refreshes
            with self.manager.store.session(user) as state:
                state["region"] = region
        except StoreUnavailable:
            log.warning("conversation store unavailable: the scanned region is in the database only")
        return wechat_texts.REGION_SCANNED.format(region=self.manager.kb.regions[region].name)

    # -- messages that are not text -----------------------------------------------------------
    def media_reply(self, kind: str) -> str:
        """The reply to a video or a location (voice goes through handle_text, or is asked again)."""
        if kind == "voice":
            return wechat_texts.VOICE_UNRECOGNISED
        if kind == "location":
            names = [r.name for r in self.manager.kb.regions.values()]
            reply = wechat_texts.LOCATION.format(regions="、".join(names), example=names[0] if names else "江北区")
            return self.manager.place_names.for_user(reply)
        return wechat_texts.VIDEO
