"""The emulated Official Account: followers, templates, quotas and the rules for sending.

One re-entrant lock guards everything, so Flask's threaded server and test threads can call in
at once; handlers are short and never sleep while holding it.

Rules emulated:
- customer-service messages (message/custom/send): only within 48 h of the user's last message
  to the account (45015 otherwise, also for a user who unfollowed), at most 5 per window
  (45047); a new user message opens a fresh window. 40003 for an unknown openid, 40008 for an
  unsupported msgtype, 44004 / 45002 for empty / oversized text.
- template messages (message/template/send): template_id must be registered (40037); data must be
  an object of {"value": ...} entries (47001) that fills every registered field (47003); the
  user must follow the account (43004); a daily quota per account (default 100000) and,
  optionally, per template (45009). A repeated client_msg_id for the same openid within 10 min
  sends nothing new and answers with the first msgid. WeChat finishes the delivery afterwards
  and tells the account in a TEMPLATESENDJOBFINISH event: "success", or "failed:user block" for
  a user who set the account's template messages to 拒收 (set_template_outcome), or "failed:
  system failed"; each accepted template message leaves its job in template_jobs
  (bot/emulator/template_jobs.py serves them as the event WeChat would post).
- subscribe messages (message/subscribe/bizsend): registered template (40037), field value rules
  (47003, see fields.py), and the user must have accepted it (43101): a one-time acceptance is
  used up by one message, a long-term one is not.
"""
from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field

from bot.emulator import errors
from bot.emulator.clock import OffsetClock, beijing_day
from bot.emulator.faults import FaultInjector
from bot.emulator.fields import field_problem, field_type
from bot.emulator.tokens import TokenAuthority

DEFAULT_APPID = "wx0123456789abcdef"
DEFAULT_SECRET = "0123456789abcdef0123456789abcdef"

SERVICE_WINDOW_SECONDS = 48 * 3600
MESSAGES_PER_WINDOW = 5
# Customer-service text: WeChat shows 2048 bytes of a text message; the emulator refuses more.
CUSTOM_TEXT_MAX_BYTES = 2048
DEFAULT_TEMPLATE_DAILY_QUOTA = 100_000
CLIENT_MSG_ID_TTL_SECONDS = 600
CUSTOM_MSGTYPES = frozenset({
    "text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle",
    "msgmenu", "wxcard", "miniprogrampage",
})


@dataclass
class Follower:
    openid: str
    following: bool = True
    last_interaction_at: float | None = None
    sent_in_window: int = 0


@dataclass
class Subscription:
    remaining: int = 0
    long_term: bool = False


@dataclass
class SentMessage:
    kind: str  # "custom" | "template" | "subscribe"
    appid: str
    openid: str
    msgid: int
    at: float
    payload: dict
    template_id: str | None = None
    msgtype: str | None = None
    client_msg_id: str | None = None

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class Quotas:
    template_daily: int = DEFAULT_TEMPLATE_DAILY_QUOTA
    per_template_daily: dict[str, int] = field(default_factory=dict)


def parse_body(raw: bytes) -> dict:
    """WeChat reads the POST body as JSON whatever the Content-Type says."""
    if not raw or not raw.strip():
        raise errors.ApiError(errors.EMPTY_POST_DATA)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise errors.ApiError(errors.DATA_FORMAT_ERROR) from None
    if not isinstance(body, dict):
        raise errors.ApiError(errors.DATA_FORMAT_ERROR)
    return body


class EmulatorState:
    def __init__(self, clock: OffsetClock, appid: str = DEFAULT_APPID,
                 secret: str = DEFAULT_SECRET):
        self.clock = clock
        self.faults = FaultInjector()
        self._lock = threading.RLock()
        self._default_app = (appid, secret)
        self._init()

    def _init(self) -> None:
        self.tokens = TokenAuthority()
        self.tokens.apps[self._default_app[0]] = self._default_app[1]
        self.followers: dict[str, Follower] = {}
        self.templates: dict[str, list[str]] = {}  # template_id -> required data keys
        self.subscribe_templates: dict[str, dict[str, str]] = {}  # template_id -> key -> type
        self.subscriptions: dict[tuple[str, str], Subscription] = {}
        self.quotas = Quotas()
        self.template_sent_per_day: dict[tuple[int, str | None], int] = {}
        self.client_msg_ids: dict[tuple[str, str], tuple[int, float]] = {}
        self.sent: list[SentMessage] = []
        self._msgids = itertools.count(2_000_000_001)
        self.template_outcomes: dict[str, str] = {}  # openid -> the job status their messages end in
        self.template_jobs: list[dict] = []  # {msgid, openid, status, at}: one per template message sent

    def now(self) -> float:
        return self.clock.now()

    # -- test control ------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.clock.reset()
            self._init()

    def register_app(self, appid: str, secret: str) -> None:
        with self._lock:
            self.tokens.apps[appid] = secret

    def register_user(self, openid: str, following: bool = True) -> Follower:
        with self._lock:
            user = self.followers.setdefault(openid, Follower(openid))
            user.following = bool(following)
            return user

    def record_interaction(self, openid: str, at: float | None = None) -> Follower:
        """The user sent the account a message: a fresh 48 h window with a fresh count."""
        with self._lock:
            user = self.followers.setdefault(openid, Follower(openid))
            user.last_interaction_at = self.now() if at is None else float(at)
            user.sent_in_window = 0
            return user

    def register_template(self, template_id: str, fields: list[str]) -> None:
        with self._lock:
            self.templates[template_id] = list(fields)

    def register_subscribe_template(self, template_id: str, fields) -> None:
        """fields: {"thing1": "thing", ...} or just keys, whose prefix names the type."""
        if isinstance(fields, dict):
            typed = {str(k): str(v) for k, v in fields.items()}
        else:
            typed = {str(k): field_type(str(k)) for k in fields}
        with self._lock:
            self.subscribe_templates[template_id] = typed

    def accept_subscription(self, openid: str, template_id: str, count: int = 1,
                            long_term: bool = False) -> Subscription:
        with self._lock:
            sub = self.subscriptions.setdefault((openid, template_id), Subscription())
            sub.remaining += int(count)
            sub.long_term = sub.long_term or bool(long_term)
            return sub

    def set_quotas(self, template_daily: int | None = None,
                   per_template: dict[str, int] | None = None) -> Quotas:
        with self._lock:
            if template_daily is not None:
                self.quotas.template_daily = int(template_daily)
            for template_id, limit in (per_template or {}).items():
                self.quotas.per_template_daily[template_id] = int(limit)
            return self.quotas

    def revoke_all_tokens(self) -> int:
        with self._lock:
            return self.tokens.revoke_all(self.now())

    def sent_messages(self, openid: str | None = None, after: int | None = None) -> list[dict]:
        """Every message accepted, oldest first; or one user's, or those after a msgid."""
        with self._lock:
            return [m.as_dict() for m in self.sent
                    if (openid is None or m.openid == openid) and (after is None or m.msgid > after)]

    def stats(self) -> dict:
        with self._lock:
            return {
                "token_fetches": self.tokens.token_fetches,
                "stable_token_fetches": self.tokens.stable_token_fetches,
                "messages_sent": len(self.sent),
                "now": self.now(),
            }

    # -- tokens ------------------------------------------------------------------------------
    def fetch_token(self, grant_type, appid, secret) -> dict:
        with self._lock:
            return self.tokens.fetch_token(grant_type, appid, secret, self.now())

    def fetch_stable_token(self, body: dict) -> dict:
        with self._lock:
            return self.tokens.fetch_stable_token(
                body.get("grant_type"), body.get("appid"), body.get("secret"),
                bool(body.get("force_refresh", False)), self.now(),
            )

    # -- sending -----------------------------------------------------------------------------
    def _follower(self, openid) -> Follower:
        user = self.followers.get(openid) if isinstance(openid, str) else None
        if user is None:
            raise errors.ApiError(errors.INVALID_OPENID)
        return user

    def _record(self, **fields) -> SentMessage:
        message = SentMessage(msgid=next(self._msgids), at=self.now(), **fields)
        self.sent.append(message)
        return message

    def send_custom(self, access_token: str | None, raw_body: bytes) -> dict:
        with self._lock:
            now = self.now()
            token = self.tokens.authenticate(access_token, now)
            body = parse_body(raw_body)
            user = self._follower(body.get("touser"))
            msgtype = body.get("msgtype")
            if msgtype not in CUSTOM_MSGTYPES or not isinstance(body.get(msgtype), dict):
                raise errors.ApiError(errors.INVALID_MESSAGE_TYPE)
            if msgtype == "text":
                content = body["text"].get("content")
                if not isinstance(content, str) or not content:
                    raise errors.ApiError(errors.EMPTY_CONTENT)
                if len(content.encode("utf-8")) > CUSTOM_TEXT_MAX_BYTES:
                    raise errors.ApiError(errors.CONTENT_TOO_LONG)
            opened = user.last_interaction_at
            if not user.following or opened is None or now - opened > SERVICE_WINDOW_SECONDS:
                raise errors.ApiError(errors.OUT_OF_WINDOW)
            if user.sent_in_window >= MESSAGES_PER_WINDOW:
                raise errors.ApiError(errors.OUT_OF_RESPONSE_COUNT)
            user.sent_in_window += 1
            self._record(kind="custom", appid=token.appid, openid=user.openid,
                         payload=body, msgtype=msgtype)
            return {"errcode": 0, "errmsg": "ok"}

    def send_template(self, access_token: str | None, raw_body: bytes) -> dict:
        with self._lock:
            now = self.now()
            token = self.tokens.authenticate(access_token, now)
            body = parse_body(raw_body)
            user = self._follower(body.get("touser"))
            template_id = body.get("template_id")
            if template_id not in self.templates:
                raise errors.ApiError(errors.INVALID_TEMPLATE_ID)
            data = body.get("data")
            if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                raise errors.ApiError(errors.DATA_FORMAT_ERROR)
            for key in self.templates[template_id]:
                value = data.get(key, {}).get("value")
                if not isinstance(value, str) or not value.strip():
                    raise errors.ApiError(errors.ARGUMENT_INVALID, f"data.{key}.value is empty")
            if not user.following:
                raise errors.ApiError(errors.REQUIRE_SUBSCRIBE)
            client_msg_id = body.get("client_msg_id")
            if client_msg_id:
                earlier = self.client_msg_ids.get((user.openid, client_msg_id))
                if earlier is not None and now - earlier[1] < CLIENT_MSG_ID_TTL_SECONDS:
                    return {"errcode": 0, "errmsg": "ok", "msgid": earlier[0]}
            self._charge_template_quota(template_id, now)
            message = self._record(kind="template", appid=token.appid, openid=user.openid,
                                   payload=body, template_id=template_id,
                                   client_msg_id=client_msg_id)
            if client_msg_id:
                self.client_msg_ids[(user.openid, client_msg_id)] = (message.msgid, now)
            self.template_jobs.append({"msgid": message.msgid, "openid": user.openid, "at": now,
                                       "status": self.template_outcomes.get(user.openid, "success")})
            return {"errcode": 0, "errmsg": "ok", "msgid": message.msgid}

    def set_template_outcome(self, openid: str, status: str) -> None:
        """How this user's template messages will end: "success", "failed:user block" (the user
        blocked the account's template messages) or "failed: system failed"."""
        with self._lock:
            self.template_outcomes[openid] = status

    def finished_template_jobs(self, after: int | None = None) -> list[dict]:
        with self._lock:
            return [dict(j) for j in self.template_jobs if after is None or j["msgid"] > after]

    def _charge_template_quota(self, template_id: str, now: float) -> None:
        day = beijing_day(now)
        account_key, template_key = (day, None), (day, template_id)
        if self.template_sent_per_day.get(account_key, 0) >= self.quotas.template_daily:
            raise errors.ApiError(errors.DAILY_QUOTA)
        per_template = self.quotas.per_template_daily.get(template_id)
        if per_template is not None and self.template_sent_per_day.get(template_key, 0) >= per_template:
            raise errors.ApiError(errors.DAILY_QUOTA)
        for key in (account_key, template_key):
            self.template_sent_per_day[key] = self.template_sent_per_day.get(key, 0) + 1

    def send_subscribe(self, access_token: str | None, raw_body: bytes) -> dict:
        with self._lock:
            token = self.tokens.authenticate(access_token, self.now())
            body = parse_body(raw_body)
            user = self._follower(body.get("touser"))
            template_id = body.get("template_id")
            fields = self.subscribe_templates.get(template_id)
            if fields is None:
                raise errors.ApiError(errors.INVALID_TEMPLATE_ID)
            data = body.get("data")
            if not isinstance(data, dict):
                raise errors.ApiError(errors.ARGUMENT_INVALID, "data is empty")
            for key, kind in fields.items():
                problem = field_problem(key, kind, data.get(key))
                if problem:
                    raise errors.ApiError(errors.ARGUMENT_INVALID, problem)
            sub = self.subscriptions.get((user.openid, template_id))
            if sub is None or (not sub.long_term and sub.remaining <= 0):
                raise errors.ApiError(errors.USER_REFUSED)
            if not sub.long_term:
                sub.remaining -= 1
            message = self._record(kind="subscribe", appid=token.appid, openid=user.openid,
                                   payload=body, template_id=template_id)
            return {"errcode": 0, "errmsg": "ok", "msgid": message.msgid}
