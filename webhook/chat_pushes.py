"""The web chat as the visitor's WeChat: the pushes the account sent them, shown as WeChat shows them.

Only when the bot talks to the local WeChat emulator (WECHAT_API_BASE is not api.weixin.qq.com
and an emulator answers there: `bangban demo --serve`, or the README's emulator recipe). Then the
visitor is one of the account's followers: each message they send is an interaction the emulator
records (it opens WeChat's 48-hour window, as writing to a real account does), and what the
emulator accepted for them (customer-service texts, template and subscribe messages) is theirs
to read. Against the real API there is nothing to show: WeChat itself delivers, to the phone.
"""
from __future__ import annotations

import logging
import threading
import time

import requests

from bot.emulator import EmulatorControl
from bot.platform.config import Settings
from bot.push.labels import purpose_name
from bot.push.templates import TEMPLATE_FIELDS, field_label
from bot.push.wechat_api import REAL_API_BASE

log = logging.getLogger(__name__)

RECHECK_S = 30  # how long "no emulator there" is believed before looking again


class EmulatorLink:
    def __init__(self, settings: Settings):
        base = settings.wechat_api_base.rstrip("/")
        self._base = base if base != REAL_API_BASE else None
        self._templates = {tid: key for key, tid in settings.wechat_templates.items()}
        self._subscribe = {}  # subscribe template id -> (template key, {field: data key})
        for key, spec in settings.wechat_subscribe_templates.items():
            tid, fields = (spec, {}) if isinstance(spec, str) else (spec.get("id"), spec.get("fields") or {})
            self._subscribe[tid] = (key, fields)
        self._control: EmulatorControl | None = None
        self._looked_at = float("-inf")
        self._lock = threading.Lock()

    def control(self) -> EmulatorControl | None:
        if self._base is None:
            return None
        with self._lock:
            if self._control is None and time.monotonic() - self._looked_at >= RECHECK_S:
                self._looked_at = time.monotonic()
                self._control = EmulatorControl.find(self._base)
            return self._control

    def _forget(self, err: Exception) -> None:
        log.info("WeChat emulator at %s stopped answering (%s)", self._base, err.__class__.__name__)
        with self._lock:
            self._control, self._looked_at = None, time.monotonic()

    def wrote(self, openid: str) -> None:
        """The visitor sent the account a message (follows it, and a fresh 48-hour window)."""
        control = self.control()
        if control is None:
            return
        try:
            control.interact(openid)
        except (requests.RequestException, ValueError) as err:
            self._forget(err)

    def received(self, openid: str, after: int = 0) -> list[dict] | None:
        """What the account sent the visitor since msgid `after`, oldest first; None without an emulator."""
        control = self.control()
        if control is None:
            return None
        try:
            messages = control.messages(openid=openid, after=after)
        except (requests.RequestException, ValueError) as err:
            self._forget(err)
            return None
        return [self.display(m) for m in messages]

    def display(self, message: dict) -> dict:
        """A sent message as the chat draws it: a text bubble, or a card with a title and fields."""
        payload = message.get("payload") or {}
        shown = {"msgid": message["msgid"], "at": message.get("at")}
        if message.get("kind") == "custom":
            text = (payload.get("text") or {}).get("content") if message.get("msgtype") == "text" else None
            return {**shown, "kind": "text", "text": text or "[一条图文消息]"}
        template_id = message.get("template_id")
        if message.get("kind") == "subscribe":  # its fields (thing1, time2 …) stand for our data keys
            key, names = self._subscribe.get(template_id, (None, {}))
        else:
            key, names = self._templates.get(template_id), {}
        order = [f.key for f in TEMPLATE_FIELDS.get(key or "", ())]

        def rank(field: str) -> int:  # the template's own order, as WeChat lays it out
            data_key = names.get(field, field)
            return order.index(data_key) if data_key in order else len(order)

        lines = []
        for field, entry in sorted((payload.get("data") or {}).items(), key=lambda kv: rank(kv[0])):
            value = entry.get("value") if isinstance(entry, dict) else entry
            if value in (None, ""):
                continue
            label = field_label(key, names.get(field, field))
            lines.append(f"{label}：{value}" if label else str(value))
        return {**shown, "kind": "card", "title": purpose_name(key) if key else "服务通知", "lines": lines}
