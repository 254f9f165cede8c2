"""企业微信 (WeCom) application messages to staff, built on wechatpy's enterprise WeChatClient.

Government staff often work in 企业微信 rather than in the Official Account: a staff member with
a WeCom UserID (Staff.wecom_userid) gets assignment, 催办, overdue (SLA) and 转人工 alerts as a
message from the deployment's self-built WeCom application (WECOM_CORPID / WECOM_SECRET /
WECOM_AGENTID). It is one more channel of the outbox dispatcher (bot/push/dispatcher.py), so the
outbox, the retries and the dead letters are the same as for the Official Account.

WeCom precedes the Official Account: for a colleague with both, WeCom is tried first and the
Official Account only when WeCom answers that this person cannot be reached through the app
(81013: not in the app's visible range or no such UserID, or the same reported in
`invaliduser`), never after a transient failure, so an alert is not delivered twice.

The token is kept like the Official Account's (bot/push/wechat_api.py): in Redis (or one memory
store per process), fetched by one worker under a lock, refreshed once on 40014/42001. WeCom's
/cgi-bin/gettoken is per corp and application Secret, and answers the same token while it lives.
"""
from __future__ import annotations

import hashlib
import logging
from functools import lru_cache

from wechatpy.enterprise.client import api as work_api
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from bot.push import wechat_api
from bot.push.wechat_api import FALLBACK, OK, PERMANENT, RETRY, SendResult

logger = logging.getLogger(__name__)

REAL_API_BASE = "https://qyapi.weixin.qq.com"
# Text message content: at most 2048 bytes (UTF-8); WeChat would cut it itself, we cut it on a
# character boundary with an ellipsis.
TEXT_MAX_BYTES = 2048
NOT_REACHABLE = 81013  # user & party & tag all invalid: not in the app's visible range

WECOM_ERRCODE_CATEGORY: dict[int, str] = {
    0: OK,
    -1: RETRY,  # system busy
    40014: RETRY,  # invalid access_token (after the one refresh-and-retry)
    42001: RETRY,  # access_token expired (likewise)
    45009: RETRY,  # API call frequency limit
    45033: RETRY,  # too many concurrent calls
    NOT_REACHABLE: FALLBACK,  # this person cannot be reached through the app: try the Official Account
    60111: FALLBACK,  # userid not found
    82001: FALLBACK,  # all touser & toparty & totag invalid (older answer of the same)
    40001: PERMANENT,  # invalid secret (gettoken)
    40013: PERMANENT,  # invalid corpid
    40056: PERMANENT,  # invalid agentid
    301002: PERMANENT,  # the Secret's application is not the AgentId's
    44004: PERMANENT,  # empty text content
    40008: PERMANENT,  # invalid message type
    60020: PERMANENT,  # server IP not in the app's trusted IPs
}


def classify(errcode: int | None) -> str:
    if errcode is None:
        return RETRY
    return WECOM_ERRCODE_CATEGORY.get(int(errcode), PERMANENT)


class SharedTokenWeComClient(wechat_api.SharedTokenWeChatClient):
    """The Official Account client's token sharing and base-URL handling, with WeCom's API
    (wechatpy.enterprise's message API) and WeCom's token endpoint."""

    message = work_api.WeChatMessage()

    def __init__(self, corpid: str, secret: str, agentid: str, api_base: str, session, refresh_lock,
                 timeout: float = wechat_api.HTTP_TIMEOUT_SECONDS):
        super().__init__(corpid, secret, api_base, session, refresh_lock, timeout=timeout)
        self.corp_id = corpid
        self.agentid = int(agentid) if str(agentid).isdigit() else agentid

    @property
    def access_token_key(self) -> str:
        return f"wecom_{self.corp_id}_{_secret_ref(self.secret)}_access_token"

    def fetch_access_token(self) -> dict:
        """GET {api_base}/cgi-bin/gettoken?corpid&corpsecret and store it for all workers."""
        result = wechat_api.fetch_and_keep_token(self, "/cgi-bin/gettoken",
                                                 {"corpid": self.corp_id, "corpsecret": self.secret})
        logger.info("fetched a new WeCom access_token for %s", self.corp_id)
        return result


def _secret_ref(secret: str) -> str:
    """Names the application in token keys without writing its Secret anywhere."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


def make_client(corpid: str, secret: str, agentid: str, api_base: str = REAL_API_BASE, redis=None,
                timeout: float = wechat_api.HTTP_TIMEOUT_SECONDS) -> SharedTokenWeComClient:
    """A WeCom client whose token is shared (Redis, or this process) and refreshed by one worker."""
    api_base = api_base.rstrip("/")
    ref = f"wecom:{corpid}:{_secret_ref(secret)}"
    if redis is None:
        storage, lock = wechat_api._process_token_store(api_base, ref)
        return SharedTokenWeComClient(corpid, secret, agentid, api_base, storage,
                                      lambda: wechat_api._thread_refresh_lock(lock), timeout=timeout)
    if isinstance(redis, str):
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(redis)
    prefix = f"bangban:{ref}"
    lock_name = f"{prefix}:token-refresh-lock"
    return SharedTokenWeComClient(corpid, secret, agentid, api_base, RedisStorage(redis, prefix=prefix),
                                  lambda: wechat_api._redis_refresh_lock(redis, lock_name), timeout=timeout)


@lru_cache(maxsize=8)
def _cached_client(corpid: str, secret: str, agentid: str, api_base: str, redis_url: str):
    return make_client(corpid, secret, agentid, api_base, redis=redis_url or None)


def client_for(settings) -> SharedTokenWeComClient:
    """The dispatcher's WeCom client for these settings (one per configuration and process)."""
    return _cached_client(settings.wecom_corpid, settings.wecom_secret, str(settings.wecom_agentid),
                          settings.wecom_api_base, settings.redis_url or "")


def cut_bytes(text: str, limit: int = TEXT_MAX_BYTES) -> str:
    """`text` in at most `limit` UTF-8 bytes, cut on a character with 「…」 when it is longer."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len("…".encode("utf-8"))
    out = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return out + "…"


def send_text(client: SharedTokenWeComClient, userid: str, text: str, url: str | None = None) -> SendResult:
    """An application text message to one UserID (never raises for WeCom or the network).

    WeCom answers errcode 0 when some recipients were invalid and lists them in `invaliduser`;
    with one recipient that means it was not delivered: reported as 81013 like the all-invalid answer."""
    content = f"{text}\n详情：{url}" if url else text
    content = cut_bytes(content)

    def call():
        result = client.message.send_text(client.agentid, userid, content)
        invalid = (result or {}).get("invaliduser") if isinstance(result, dict) else None
        if invalid and userid in str(invalid).split("|"):
            raise WeChatClientException(NOT_REACHABLE, f"invaliduser {invalid}")
        return result

    result = wechat_api._deliver(call)
    if result.errcode is None:
        return result
    return SendResult(classify(result.errcode), result.errcode, result.errmsg, result.msgid)


_USERID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-@.")


def userid_problem(userid: str) -> str | None:
    """Why `userid` cannot be a WeCom UserID (1-64 bytes of letters, digits and _-@.), or None."""
    if not userid:
        return "企业微信账号不能为空"
    if len(userid.encode("utf-8")) > 64:
        return "企业微信账号最长 64 个字符"
    if not set(userid) <= _USERID_CHARS:
        return "企业微信账号只能由字母、数字和 _ - @ . 组成（在企业微信管理后台「通讯录」成员详情里的「账号」）"
    return None
