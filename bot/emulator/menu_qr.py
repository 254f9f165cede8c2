"""The custom menu (自定义菜单) and QR codes with a scene (带参数二维码) of the emulated account.

Rules emulated (WeChat's menu and QR code documentation and its global return codes):
- menu/create: 1-3 top buttons (40016), at most 5 sub buttons each (40023), no third level
  (40022); a top button's name at most 16 bytes (40018), a sub button's at most 60 (40025); a
  button with sub buttons needs no type, any other one a known type (40017 / 40024); click and
  the other event types need a key of 1-128 bytes (40019 / 40026), view an http(s) url of at
  most 1024 bytes (40020 / 40027; 40055 / 40054 for a url that is not http(s)). The new menu
  replaces the old one.
- menu/get: the current menu as {"menu": {"button": [...]}}, 46003 when there is none;
  menu/delete removes it.
- qrcode/create: action_name QR_SCENE / QR_STR_SCENE (temporary) or QR_LIMIT_SCENE /
  QR_LIMIT_STR_SCENE (permanent), else 40052 (invalid action name); a temporary code lives
  expire_seconds (60 s when left out, at most 2592000 = 30 days: a longer one is cut to it, as
  the live API answers); scene_id 1..4294967295 for temporary codes and 1..100000 for
  QR_LIMIT_SCENE, scene_str 1..64 characters; a wrong or missing scene is 40053 (invalid
  action info). Answers ticket, expire_seconds (temporary only) and url.
- showqrcode?ticket=: the code as a PNG image while the ticket lives, HTTP 404 otherwise.

Controls: POST /_emulator/scan {"ticket", "openid"} is a WeChat user scanning a code: the
emulator answers with the event WeChat would then push to the account (Event subscribe with
EventKey qrscene_<scene> for someone who does not follow yet, who now does; SCAN with the bare
scene for a follower), or 404 when the code has expired. /_emulator/reset clears this too.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import struct
import threading
import zlib
from dataclasses import dataclass

from flask import Flask, Response, jsonify, request

from bot.emulator import errors
from bot.emulator.state import EmulatorState, parse_body

INVALID_MENU_TYPE = 40015
INVALID_BUTTON_SIZE = 40016
INVALID_BUTTON_TYPE = 40017
INVALID_BUTTON_NAME_SIZE = 40018
INVALID_BUTTON_KEY_SIZE = 40019
INVALID_BUTTON_URL_SIZE = 40020
INVALID_SUB_MENU_LEVEL = 40022
INVALID_SUB_BUTTON_SIZE = 40023
INVALID_SUB_BUTTON_TYPE = 40024
INVALID_SUB_BUTTON_NAME_SIZE = 40025
INVALID_SUB_BUTTON_KEY_SIZE = 40026
INVALID_SUB_BUTTON_URL_SIZE = 40027
INVALID_ACTION_NAME = 40052
INVALID_ACTION_INFO = 40053
INVALID_SUB_BUTTON_URL_DOMAIN = 40054
INVALID_BUTTON_URL_DOMAIN = 40055
MENU_NOT_EXIST = 46003

ERRMSG = {
    INVALID_MENU_TYPE: "invalid menu type",
    INVALID_BUTTON_SIZE: "invalid button size",
    INVALID_BUTTON_TYPE: "invalid button type",
    INVALID_BUTTON_NAME_SIZE: "invalid button name size",
    INVALID_BUTTON_KEY_SIZE: "invalid button key size",
    INVALID_BUTTON_URL_SIZE: "invalid button url size",
    INVALID_SUB_MENU_LEVEL: "invalid sub button level",
    INVALID_SUB_BUTTON_SIZE: "invalid sub button size",
    INVALID_SUB_BUTTON_TYPE: "invalid sub button type",
    INVALID_SUB_BUTTON_NAME_SIZE: "invalid sub button name size",
    INVALID_SUB_BUTTON_KEY_SIZE: "invalid sub button key size",
    INVALID_SUB_BUTTON_URL_SIZE: "invalid sub button url size",
    INVALID_ACTION_NAME: "invalid action name",
    INVALID_ACTION_INFO: "invalid action info",
    INVALID_SUB_BUTTON_URL_DOMAIN: "invalid sub button url domain",
    INVALID_BUTTON_URL_DOMAIN: "invalid button url domain",
    MENU_NOT_EXIST: "menu no exist",
}

TOP_BUTTONS_MAX = 3
SUB_BUTTONS_MAX = 5
TOP_NAME_MAX_BYTES = 16
SUB_NAME_MAX_BYTES = 60
KEY_MAX_BYTES = 128
URL_MAX_BYTES = 1024
KEYED_TYPES = frozenset({"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
                         "pic_weixin", "location_select"})
BUTTON_TYPES = KEYED_TYPES | {"view", "media_id", "view_limited", "article_id", "article_view_limited",
                              "miniprogram"}

TEMPORARY_ACTIONS = ("QR_SCENE", "QR_STR_SCENE")
PERMANENT_ACTIONS = ("QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")
DEFAULT_EXPIRE_SECONDS = 60
MAX_EXPIRE_SECONDS = 2_592_000
PERMANENT_SCENE_ID_MAX = 100_000
TEMPORARY_SCENE_ID_MAX = 2**32 - 1
SCENE_STR_MAX = 64


def _error(code: int, detail: str | None = None) -> errors.ApiError:
    err = errors.ApiError(code, detail)
    err.errmsg = f"{ERRMSG[code]} {detail}" if detail else ERRMSG[code]
    return err


def _bytes(value) -> int:
    return len(value.encode("utf-8")) if isinstance(value, str) else 0


@dataclass
class QrCode:
    ticket: str
    scene: str  # scene_str, or scene_id as text
    permanent: bool
    created_at: float
    expires_at: float | None


class MenuQrState:
    """The menu and minted codes; authenticates through the account's token authority."""

    def __init__(self, account: EmulatorState):
        self.account = account
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.menu: list[dict] | None = None
            self.codes: dict[str, QrCode] = {}
            self._serial = itertools.count(1)

    def _authenticate(self, access_token: str | None) -> None:
        with self.account._lock:
            self.account.tokens.authenticate(access_token, self.account.now())

    # -- menu -------------------------------------------------------------------------------
    def create_menu(self, access_token: str | None, raw: bytes) -> dict:
        self._authenticate(access_token)
        body = parse_body(raw)
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= TOP_BUTTONS_MAX:
            raise _error(INVALID_BUTTON_SIZE)
        for button in buttons:
            if not isinstance(button, dict):
                raise _error(INVALID_MENU_TYPE)
            subs = button.get("sub_button")
            if subs:  # a parent: a name and its children only
                if not isinstance(subs, list) or len(subs) > SUB_BUTTONS_MAX:
                    raise _error(INVALID_SUB_BUTTON_SIZE)
                self._check_name(button, TOP_NAME_MAX_BYTES, INVALID_BUTTON_NAME_SIZE)
                for sub in subs:
                    if not isinstance(sub, dict):
                        raise _error(INVALID_MENU_TYPE)
                    if sub.get("sub_button"):
                        raise _error(INVALID_SUB_MENU_LEVEL)
                    self._check_leaf(sub, SUB_NAME_MAX_BYTES, sub=True)
            else:
                self._check_leaf(button, TOP_NAME_MAX_BYTES, sub=False)
        with self._lock:
            self.menu = [self._stored(b) for b in buttons]
        return {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _check_name(button: dict, limit: int, code: int) -> None:
        name = button.get("name")
        if not isinstance(name, str) or not name or _bytes(name) > limit:
            raise _error(code)

    def _check_leaf(self, button: dict, name_limit: int, sub: bool) -> None:
        kind = button.get("type")
        if kind not in BUTTON_TYPES:
            raise _error(INVALID_SUB_BUTTON_TYPE if sub else INVALID_BUTTON_TYPE)
        self._check_name(button, name_limit, INVALID_SUB_BUTTON_NAME_SIZE if sub else INVALID_BUTTON_NAME_SIZE)
        if kind in KEYED_TYPES:
            key = button.get("key")
            if not isinstance(key, str) or not key or _bytes(key) > KEY_MAX_BYTES:
                raise _error(INVALID_SUB_BUTTON_KEY_SIZE if sub else INVALID_BUTTON_KEY_SIZE)
        if kind in ("view", "miniprogram"):
            url = button.get("url")
            if not isinstance(url, str) or not url or _bytes(url) > URL_MAX_BYTES:
                raise _error(INVALID_SUB_BUTTON_URL_SIZE if sub else INVALID_BUTTON_URL_SIZE)
            if not url.startswith(("http://", "https://")):
                raise _error(INVALID_SUB_BUTTON_URL_DOMAIN if sub else INVALID_BUTTON_URL_DOMAIN)

    @staticmethod
    def _stored(button: dict) -> dict:
        kept = {k: v for k, v in button.items() if k in ("type", "name", "key", "url", "media_id", "appid",
                                                           "pagepath", "article_id")}
        kept["sub_button"] = [MenuQrState._stored(s) for s in button.get("sub_button") or []]
        return kept

    def get_menu(self, access_token: str | None) -> dict:
        self._authenticate(access_token)
        with self._lock:
            if self.menu is None:
                raise _error(MENU_NOT_EXIST)
            return {"menu": {"button": [dict(b) for b in self.menu]}}

    def delete_menu(self, access_token: str | None) -> dict:
        self._authenticate(access_token)
        with self._lock:
            self.menu = None
        return {"errcode": 0, "errmsg": "ok"}

    # -- QR codes ---------------------------------------------------------------------------
    def create_qrcode(self, access_token: str | None, raw: bytes) -> dict:
        self._authenticate(access_token)
        body = parse_body(raw)
        action = body.get("action_name")
        if action not in TEMPORARY_ACTIONS + PERMANENT_ACTIONS:
            raise _error(INVALID_ACTION_NAME)
        permanent = action in PERMANENT_ACTIONS
        info = body.get("action_info")
        scene = info.get("scene") if isinstance(info, dict) else None
        if not isinstance(scene, dict):
            raise _error(INVALID_ACTION_INFO)
        if action.endswith("_STR_SCENE"):
            value = scene.get("scene_str")
            if not isinstance(value, str) or not 1 <= len(value) <= SCENE_STR_MAX:
                raise _error(INVALID_ACTION_INFO, "scene_str")
        else:
            value = scene.get("scene_id")
            limit = PERMANENT_SCENE_ID_MAX if permanent else TEMPORARY_SCENE_ID_MAX
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise _error(INVALID_ACTION_INFO, "scene_id")
            value = str(value)
        expires_in = None
        if not permanent:
            raw_expiry = body.get("expire_seconds", DEFAULT_EXPIRE_SECONDS)
            if isinstance(raw_expiry, bool) or not isinstance(raw_expiry, int) or raw_expiry <= 0:
                raise _error(INVALID_ACTION_INFO, "expire_seconds")
            expires_in = min(raw_expiry, MAX_EXPIRE_SECONDS)
        now = self.account.now()
        with self._lock:
            serial = next(self._serial)
            ticket = base64.b64encode(hashlib.sha256(f"{serial}:{action}:{value}:{now}".encode()).digest()
                                      + struct.pack(">I", serial)).decode()
            self.codes[ticket] = QrCode(ticket, value, permanent, now,
                                        None if permanent else now + expires_in)
        answer = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{serial:08d}"}
        if expires_in is not None:
            answer["expire_seconds"] = expires_in
        return answer

    def live_code(self, ticket: str | None) -> QrCode | None:
        with self._lock:
            code = self.codes.get(ticket or "")
        if code is None or (code.expires_at is not None and self.account.now() >= code.expires_at):
            return None
        return code

    def scan(self, ticket: str, openid: str) -> dict | None:
        code = self.live_code(ticket)
        if code is None:
            return None
        with self.account._lock:
            follower = self.account.followers.get(openid)
            following = follower is not None and follower.following
            if not following:
                self.account.register_user(openid, True)
        if following:
            return {"event": "SCAN", "event_key": code.scene, "ticket": code.ticket}
        return {"event": "subscribe", "event_key": f"qrscene_{code.scene}", "ticket": code.ticket}


def _png(seed: bytes, modules: int = 29, scale: int = 6) -> bytes:
    """A black-and-white PNG drawn from the ticket (it looks like a code; it is not one)."""
    bits = "".join(f"{b:08b}" for b in hashlib.sha512(seed).digest() * 2)
    size = modules * scale
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type None
        for x in range(size):
            i = (y // scale) * modules + (x // scale)
            row.append(0 if bits[i % len(bits)] == "1" else 255)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


def install(app: Flask, account: EmulatorState) -> MenuQrState:
    """Register the menu and QR code endpoints (and their controls) on the emulator app."""
    state = MenuQrState(account)
    app.extensions["wechat_emulator_menu_qr"] = state

    @app.before_request
    def reset_with_the_account():
        if request.path == "/_emulator/reset" and request.method == "POST":
            state.reset()

    @app.post("/cgi-bin/menu/create")
    def menu_create():
        return jsonify(state.create_menu(request.args.get("access_token"), request.get_data()))

    @app.get("/cgi-bin/menu/get")
    def menu_get():
        return jsonify(state.get_menu(request.args.get("access_token")))

    @app.get("/cgi-bin/menu/delete")
    def menu_delete():
        return jsonify(state.delete_menu(request.args.get("access_token")))

    @app.post("/cgi-bin/qrcode/create")
    def qrcode_create():
        return jsonify(state.create_qrcode(request.args.get("access_token"), request.get_data()))

    @app.get("/cgi-bin/showqrcode")
    def showqrcode():
        code = state.live_code(request.args.get("ticket"))
        if code is None:
            return Response("ticket not found or expired", status=404, mimetype="text/plain")
        return Response(_png(code.ticket.encode()), mimetype="image/png")

    @app.post("/_emulator/scan")
    def scan():
        data = request.get_json(silent=True) or {}
        if not isinstance(data, dict) or not data.get("ticket") or not data.get("openid"):
            return jsonify({"error": "ticket and openid are required"}), 400
        event = state.scan(str(data["ticket"]), str(data["openid"]))
        if event is None:
            return jsonify({"error": "no such code, or it has expired"}), 404
        return jsonify(event)

    @app.get("/_emulator/menu")
    def current_menu():
        with state._lock:
            return jsonify({"menu": state.menu})

    return state
