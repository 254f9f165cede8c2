"""The 企业微信 (WeCom) API the staff alerts use: gettoken and message/send of a self-built app.

Rules emulated (WeCom's server API documentation and its global error codes):
- /cgi-bin/gettoken?corpid&corpsecret: 41002 / 41004 for a missing corpid / corpsecret, 40013
  for an unknown corpid, 40001 for a Secret that is none of the corp's applications'. A token
  lives 7200 s and is per application (corp + Secret); asking again while it lives answers the
  same token with the time it has left, after that a new one.
- /cgi-bin/message/send?access_token: 41001 without a token, 40014 for an unknown (or revoked)
  one, 42001 for an expired one; 44002 / 47001 for an empty / non-JSON body; 41011 without an
  agentid, 40056 for an agentid the corp does not have, 301002 when the token belongs to another
  application than the agentid's; msgtype text, markdown or textcard (else 40008); empty content
  44004 (text content is cut to 2048 bytes, as WeCom does); touser is UserIDs joined by "|", and
  only members in the application's visible range receive it: when none does the answer is
  81013 with them in `invaliduser`, when some do it is 0 with the rest in `invaliduser`.
Controls (/_emulator/wecom/...): apps (a corp's application), users (a member in an app's
visible range, or taken out of it), messages (what members received), tokens/revoke.
/_emulator/reset clears this too; the account's clock (and /_emulator/clock/advance) applies.
"""
from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass, field

import requests
from flask import Flask, jsonify, request

from bot.emulator import errors
from bot.emulator.state import EmulatorState, parse_body

DEFAULT_CORPID = "ww0123456789abcdef"
DEFAULT_CORPSECRET = "wecom-secret-0123456789abcdef0123456789abcdef0"
DEFAULT_AGENTID = 1000002

TOKEN_TTL_SECONDS = 7200
TEXT_MAX_BYTES = 2048
MSGTYPES = frozenset({"text", "markdown", "textcard"})

INVALID_SECRET = 40001
INVALID_MESSAGE_TYPE = 40008
INVALID_CORPID = 40013
INVALID_ACCESS_TOKEN = 40014
INVALID_AGENTID = 40056
ACCESS_TOKEN_MISSING = 41001
CORPID_MISSING = 41002
CORPSECRET_MISSING = 41004
AGENTID_MISSING = 41011
ACCESS_TOKEN_EXPIRED = 42001
EMPTY_POST_DATA = 44002
EMPTY_CONTENT = 44004
DATA_FORMAT_ERROR = 47001
ALL_INVALID = 81013
NO_PRIVILEGE_FOR_APP = 301002

ERRMSG = {
    INVALID_SECRET: "invalid credential",
    INVALID_MESSAGE_TYPE: "invalid message type",
    INVALID_CORPID: "invalid corpid",
    INVALID_ACCESS_TOKEN: "invalid access_token",
    INVALID_AGENTID: "invalid agentid",
    ACCESS_TOKEN_MISSING: "access_token missing",
    CORPID_MISSING: "corpid missing",
    CORPSECRET_MISSING: "corpsecret missing",
    AGENTID_MISSING: "agentid missing",
    ACCESS_TOKEN_EXPIRED: "access_token expired",
    EMPTY_POST_DATA: "empty post data",
    EMPTY_CONTENT: "empty content",
    DATA_FORMAT_ERROR: "data format error",
    ALL_INVALID: "user & party & tag all invalid",
    NO_PRIVILEGE_FOR_APP: "no privilege to access/modify contact/party/agent",
}


class WeComError(Exception):
    def __init__(self, errcode: int, **extra):
        self.errcode = errcode
        self.extra = extra
        super().__init__(f"{errcode}: {ERRMSG.get(errcode, 'error')}")

    def body(self) -> dict:
        return {"errcode": self.errcode, "errmsg": ERRMSG.get(self.errcode, "error"), **self.extra}


@dataclass
class WeComToken:
    value: str
    corpid: str
    agentid: int
    expires_at: float
    revoked: bool = False


@dataclass
class WeComMessage:
    msgid: str
    corpid: str
    agentid: int
    touser: str
    msgtype: str
    content: str
    at: float
    payload: dict = field(default_factory=dict)
    truncated: bool = False

    def as_dict(self) -> dict:
        return dict(vars(self))


class WeComState:
    def __init__(self, account: EmulatorState):
        self.account = account  # its clock is this emulator's clock
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.apps: dict[str, dict[int, str]] = {DEFAULT_CORPID: {DEFAULT_AGENTID: DEFAULT_CORPSECRET}}
            self.visible: dict[tuple[str, int], set[str]] = {}
            self._tokens: dict[str, WeComToken] = {}
            self._current: dict[tuple[str, int], WeComToken] = {}
            self.sent: list[WeComMessage] = []
            self.token_fetches = 0
            self._msgids = itertools.count(1)

    def now(self) -> float:
        return self.account.now()

    # -- controls ----------------------------------------------------------------------------
    def register_app(self, corpid: str, agentid: int, secret: str) -> None:
        with self._lock:
            self.apps.setdefault(corpid, {})[int(agentid)] = secret

    def set_user(self, userid: str, visible: bool = True, corpid: str = DEFAULT_CORPID,
                 agentid: int = DEFAULT_AGENTID) -> dict:
        with self._lock:
            members = self.visible.setdefault((corpid, int(agentid)), set())
            (members.add if visible else members.discard)(userid)
            return {"userid": userid, "visible": visible, "corpid": corpid, "agentid": int(agentid)}

    def revoke_tokens(self) -> int:
        with self._lock:
            live = [t for t in self._tokens.values() if not t.revoked]
            for token in live:
                token.revoked = True
            self._current.clear()
            return len(live)

    def messages(self, touser: str | None = None) -> list[dict]:
        with self._lock:
            return [m.as_dict() for m in self.sent if touser is None or m.touser == touser]

    # -- gettoken ----------------------------------------------------------------------------
    def gettoken(self, corpid: str | None, corpsecret: str | None) -> dict:
        with self._lock:
            self.token_fetches += 1
            if not corpid:
                raise WeComError(CORPID_MISSING)
            if not corpsecret:
                raise WeComError(CORPSECRET_MISSING)
            corp = self.apps.get(corpid)
            if corp is None:
                raise WeComError(INVALID_CORPID)
            agentid = next((a for a, s in corp.items() if s == corpsecret), None)
            if agentid is None:
                raise WeComError(INVALID_SECRET)
            now = self.now()
            current = self._current.get((corpid, agentid))
            if current is not None and not current.revoked and now < current.expires_at:
                return {"errcode": 0, "errmsg": "ok", "access_token": current.value,
                        "expires_in": int(current.expires_at - now)}
            token = WeComToken(f"emu_wecom_{secrets.token_urlsafe(24)}", corpid, agentid, now + TOKEN_TTL_SECONDS)
            self._tokens[token.value] = token
            self._current[(corpid, agentid)] = token
            return {"errcode": 0, "errmsg": "ok", "access_token": token.value, "expires_in": TOKEN_TTL_SECONDS}

    def _authenticate(self, value: str | None) -> WeComToken:
        if not value:
            raise WeComError(ACCESS_TOKEN_MISSING)
        token = self._tokens.get(value)
        if token is None or token.revoked:
            raise WeComError(INVALID_ACCESS_TOKEN)
        if self.now() >= token.expires_at:
            raise WeComError(ACCESS_TOKEN_EXPIRED)
        return token

    # -- message/send ------------------------------------------------------------------------
    def send(self, access_token: str | None, raw_body: bytes) -> dict:
        with self._lock:
            token = self._authenticate(access_token)
            try:
                body = parse_body(raw_body)
            except errors.ApiError as err:
                raise WeComError(EMPTY_POST_DATA if err.errcode == errors.EMPTY_POST_DATA else DATA_FORMAT_ERROR)
            agentid = body.get("agentid")
            if agentid in (None, ""):
                raise WeComError(AGENTID_MISSING)
            try:
                agentid = int(agentid)
            except (TypeError, ValueError):
                raise WeComError(INVALID_AGENTID) from None
            if agentid not in self.apps.get(token.corpid, {}):
                raise WeComError(INVALID_AGENTID)
            if agentid != token.agentid:
                raise WeComError(NO_PRIVILEGE_FOR_APP)
            msgtype = body.get("msgtype")
            if msgtype not in MSGTYPES or not isinstance(body.get(msgtype), dict):
                raise WeComError(INVALID_MESSAGE_TYPE)
            content, truncated = self._content(msgtype, body[msgtype])
            wanted = [u for u in str(body.get("touser") or "").split("|") if u]
            members = self.visible.get((token.corpid, agentid), set())
            valid = [u for u in wanted if u in members]
            invalid = "|".join(u for u in wanted if u not in members)
            if not valid:
                raise WeComError(ALL_INVALID, invaliduser=invalid)
            msgid = f"emu_wecom_msg_{next(self._msgids)}"
            for userid in valid:
                self.sent.append(WeComMessage(msgid, token.corpid, agentid, userid, msgtype, content, self.now(),
                                              payload=body, truncated=truncated))
            return {"errcode": 0, "errmsg": "ok", "invaliduser": invalid, "msgid": msgid}

    @staticmethod
    def _content(msgtype: str, part: dict) -> tuple[str, bool]:
        if msgtype == "textcard":
            title, description = part.get("title"), part.get("description")
            if not title or not description or not part.get("url"):
                raise WeComError(EMPTY_CONTENT)
            return f"{title}\n{description}", False
        content = part.get("content")
        if not isinstance(content, str) or not content.strip():
            raise WeComError(EMPTY_CONTENT)
        raw = content.encode("utf-8")
        if len(raw) <= TEXT_MAX_BYTES:
            return content, False
        return raw[:TEXT_MAX_BYTES].decode("utf-8", errors="ignore"), True


def install(app: Flask, account: EmulatorState) -> WeComState:
    """Register WeCom's gettoken and message/send (and their controls) on the emulator app."""
    state = WeComState(account)
    app.extensions["wechat_emulator_wecom"] = state

    @app.before_request
    def reset_with_the_account():
        if request.path == "/_emulator/reset" and request.method == "POST":
            state.reset()

    @app.errorhandler(WeComError)
    def wecom_error(err: WeComError):
        return jsonify(err.body())

    @app.get("/cgi-bin/gettoken")
    def gettoken():
        return jsonify(state.gettoken(request.args.get("corpid"), request.args.get("corpsecret")))

    @app.post("/cgi-bin/message/send")
    def message_send():
        return jsonify(state.send(request.args.get("access_token"), request.get_data()))

    def body() -> dict:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.post("/_emulator/wecom/apps")
    def wecom_apps():
        data = body()
        if not data.get("corpid") or not data.get("secret") or not str(data.get("agentid", "")).isdigit():
            return jsonify({"error": "corpid, agentid (digits) and secret are required"}), 400
        state.register_app(data["corpid"], int(data["agentid"]), data["secret"])
        return jsonify({"ok": True})

    @app.post("/_emulator/wecom/users")
    def wecom_users():
        data = body()
        if not data.get("userid"):
            return jsonify({"error": "userid is required"}), 400
        return jsonify(state.set_user(data["userid"], bool(data.get("visible", True)),
                                      data.get("corpid") or DEFAULT_CORPID, int(data.get("agentid") or DEFAULT_AGENTID)))

    @app.get("/_emulator/wecom/messages")
    def wecom_messages():
        return jsonify(state.messages(request.args.get("touser") or None))

    @app.post("/_emulator/wecom/tokens/revoke")
    def wecom_revoke():
        return jsonify({"revoked": state.revoke_tokens()})

    @app.get("/_emulator/wecom/stats")
    def wecom_stats():
        return jsonify({"token_fetches": state.token_fetches, "messages_sent": len(state.sent)})

    return state


class WeComControl:
    """The /_emulator/wecom/ controls over HTTP (tests, the demo)."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()

    def _post(self, path: str, payload: dict | None = None):
        res = self._http.post(f"{self.base_url}/_emulator/wecom/{path}", json=payload or {}, timeout=self.timeout)
        res.raise_for_status()
        return res.json()

    def _get(self, path: str, params: dict | None = None):
        res = self._http.get(f"{self.base_url}/_emulator/wecom/{path}", params=params, timeout=self.timeout)
        res.raise_for_status()
        return res.json()

    def register_app(self, corpid: str, agentid: int, secret: str):
        return self._post("apps", {"corpid": corpid, "agentid": agentid, "secret": secret})

    def add_user(self, userid: str, visible: bool = True, corpid: str = DEFAULT_CORPID,
                 agentid: int = DEFAULT_AGENTID):
        return self._post("users", {"userid": userid, "visible": visible, "corpid": corpid, "agentid": agentid})

    def messages(self, touser: str | None = None) -> list[dict]:
        return self._get("messages", {"touser": touser} if touser else None)

    def revoke_tokens(self) -> int:
        return self._post("tokens/revoke")["revoked"]

    def stats(self) -> dict:
        return self._get("stats")
