"""WeChat Official Account API client for 帮办通, built on wechatpy's WeChatClient.

What wechatpy 1.8.18 already does, and is used as is: the API wrappers (message.send_text,
message.send_subscribe_message, ...), JSON encoding, raising WeChatClientException for a
non-zero errcode, and RedisStorage for keeping the token in Redis.

What this module adds, because wechatpy leaves it out (wechatpy #334/#684/#737):
- api_base: every call (and the token fetch, whose URL wechatpy hard-codes) goes to api_base,
  the local emulator in tests and the demo, https://api.weixin.qq.com in production.
- one token for all workers: the token lives in Redis (or in a process-wide memory store) and
  only ONE worker fetches a new one, under a lock; the others wait, then re-read the token the
  holder stored (double-checked). Each /cgi-bin/token call invalidates the previous token after
  5 minutes, so uncoordinated refreshing workers knock each other's tokens out.
- token errors: on 40001/40014/42001 wechatpy's auto_retry refetches WITHOUT a lock and retries
  recursively with no bound. It is switched off here; instead the client refreshes once (skipping
  the fetch if another worker already replaced the stale token) and retries the call once.
- outcomes: classify(errcode) sorts every answer into ok / retry / fallback / permanent, and the
  send_* functions return a SendResult the notification dispatcher can act on.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, ContextManager

import requests
from optionaldict import optionaldict
from redis.exceptions import RedisError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage
from wechatpy.session.redisstorage import RedisStorage

logger = logging.getLogger(__name__)

REAL_API_BASE = "https://api.weixin.qq.com"
HTTP_TIMEOUT_SECONDS = 10
# Tokens are cached this much shorter than WeChat's expires_in, so no worker presents a token in
# its last minutes (a call in flight would then fail with 42001).
TOKEN_EXPIRY_MARGIN_SECONDS = 300
# The refresh lock frees itself if its holder dies; longer than one token fetch can take.
REFRESH_LOCK_TIMEOUT_SECONDS = 3 * HTTP_TIMEOUT_SECONDS
# How long a worker waits for another worker's refresh before giving up (retryable).
REFRESH_LOCK_WAIT_SECONDS = REFRESH_LOCK_TIMEOUT_SECONDS + 5

# ---------------------------------------------------------------------------------------------
# Outcome classification: the one table the dispatcher relies on.
# ---------------------------------------------------------------------------------------------
OK = "ok"
RETRY = "retry"  # transient: back off and try the same message again later
FALLBACK = "fallback"  # this channel is closed for this user: send a template/subscribe message
PERMANENT = "permanent"  # retrying cannot help: fix the data or configuration

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})

ERRCODE_CATEGORY: dict[int, str] = {
    0: OK,
    -1: RETRY,  # system busy
    45009: RETRY,  # daily API / template quota used up: back off (until the next day)
    45011: RETRY,  # minute quota / too frequent
    # Token errors reach the caller only after the one refresh-and-retry failed too.
    40001: RETRY,
    40014: RETRY,
    42001: RETRY,
    45015: FALLBACK,  # outside the 48 h customer-service window (or the user unfollowed)
    45047: FALLBACK,  # the window's 5 customer-service messages are used up
    43101: FALLBACK,  # the user has not accepted (or used up) this subscribe message
    40002: PERMANENT,  # invalid grant_type
    40003: PERMANENT,  # invalid openid
    40008: PERMANENT,  # invalid message type
    40013: PERMANENT,  # invalid appid
    40037: PERMANENT,  # invalid template_id
    40125: PERMANENT,  # invalid appsecret
    41001: PERMANENT,  # access_token missing
    43004: PERMANENT,  # the user does not follow the account
    44002: PERMANENT,  # empty post data
    44004: PERMANENT,  # empty text content
    45002: PERMANENT,  # content too long
    47001: PERMANENT,  # data format error
    47003: PERMANENT,  # argument invalid (template data / subscribe field rules)
}


def classify(errcode: int | None) -> str:
    """'ok' | 'retry' | 'fallback' | 'permanent' for a WeChat errcode.

    None means WeChat never answered with an errcode (network error, timeout, HTTP 5xx): retry.
    Codes not in the table are permanent, so an unknown failure can never loop forever.
    """
    if errcode is None:
        return RETRY
    return ERRCODE_CATEGORY.get(int(errcode), PERMANENT)


def classify_http_status(status: int | None) -> str:
    """A failure without an errcode: no answer or 5xx is transient, a 4xx is our mistake."""
    if status is None or status >= 500:
        return RETRY
    return PERMANENT


@dataclass(frozen=True)
class SendResult:
    category: str
    errcode: int | None
    errmsg: str
    msgid: int | None = None

    @property
    def ok(self) -> bool:
        return self.category == OK


class TokenUnavailable(WeChatClientException):
    """Another worker held the refresh lock too long; no usable token yet (retryable)."""

    def __init__(self, message: str):
        super().__init__(errcode=None, errmsg=message)


# ---------------------------------------------------------------------------------------------
# Token storage and the refresh lock
# ---------------------------------------------------------------------------------------------
class ExpiringMemoryStorage(SessionStorage):
    """In-process token store honouring TTLs (wechatpy's MemoryStorage ignores them)."""

    def __init__(self):
        self._data: dict[str, tuple[object, float | None]] = {}
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return default
            value, expires_at = item
            if expires_at is not None and time.monotonic() >= expires_at:
                del self._data[key]
                return default
            return value

    def set(self, key, value, ttl=None):
        if value is None:
            return
        expires_at = None if ttl is None else time.monotonic() + ttl
        with self._lock:
            self._data[key] = (value, expires_at)

    def delete(self, key):
        with self._lock:
            self._data.pop(key, None)


# Without Redis, every client of the same account in this process shares one store and lock.
_process_stores: dict[tuple[str, str], tuple[ExpiringMemoryStorage, threading.Lock]] = {}
_process_stores_lock = threading.Lock()


def _process_token_store(api_base: str, appid: str):
    with _process_stores_lock:
        key = (api_base, appid)
        if key not in _process_stores:
            _process_stores[key] = (ExpiringMemoryStorage(), threading.Lock())
        return _process_stores[key]


@contextmanager
def _thread_refresh_lock(lock: threading.Lock):
    if not lock.acquire(timeout=REFRESH_LOCK_WAIT_SECONDS):
        raise TokenUnavailable("timed out waiting for another thread's token refresh")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _redis_refresh_lock(redis_client, name: str):
    # timeout: the lock expires by itself if its holder dies mid-refresh.
    lock = redis_client.lock(name, timeout=REFRESH_LOCK_TIMEOUT_SECONDS,
                             blocking_timeout=REFRESH_LOCK_WAIT_SECONDS)
    if not lock.acquire():
        raise TokenUnavailable("timed out waiting for another worker's token refresh")
    try:
        yield
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - expired while held; the token is stored anyway
            logger.warning("token refresh lock %s expired before release", name)


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------
class SharedTokenWeChatClient(WeChatClient):
    def __init__(self, appid: str, secret: str, api_base: str, session: SessionStorage,
                 refresh_lock: Callable[[], ContextManager], timeout: float = HTTP_TIMEOUT_SECONDS):
        # auto_retry=False: wechatpy's own retry refetches without a lock and recurses unbounded.
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.api_base = api_base.rstrip("/")
        self.API_BASE_URL = f"{self.api_base}/cgi-bin/"
        self._refresh_lock = refresh_lock

    # -- token -------------------------------------------------------------------------------
    @property
    def access_token(self) -> str:
        token = self.session.get(self.access_token_key)
        if token:
            return token
        return self.refresh_access_token(stale=None)

    def refresh_access_token(self, stale: str | None) -> str:
        """A token newer than `stale`; fetches only if no other worker already stored one."""
        try:
            with self._refresh_lock():
                current = self.session.get(self.access_token_key)
                if current and current != stale:
                    return current  # someone refreshed while we waited for the lock
                if current:
                    # WeChat rejected it: drop it so no worker presents it again if the fetch fails.
                    self.session.delete(self.access_token_key)
                self.fetch_access_token()
                return self.session.get(self.access_token_key)
        except TokenUnavailable:
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return current
            raise

    def fetch_access_token(self) -> dict:
        """GET {api_base}/cgi-bin/token and store it for all workers.

        Not wechatpy's _fetch_access_token: that one hard-codes no timeout (a hung request would
        hold the refresh lock) and caches the token for its full lifetime.
        """
        result = fetch_and_keep_token(self, "/cgi-bin/token", {"grant_type": "client_credential", "appid": self.appid,
                                                               "secret": self.secret})
        logger.info("fetched a new access_token for %s", self.appid)
        return result

    # -- requests ----------------------------------------------------------------------------
    def _to_api_base(self, url: str) -> str:
        # Some wechatpy API classes pin https://api.weixin.qq.com/... as their own base URL.
        if url.startswith(REAL_API_BASE):
            return self.api_base + url[len(REAL_API_BASE):]
        return url

    def _request(self, method, url_or_endpoint, **kwargs):
        url_or_endpoint = self._to_api_base(url_or_endpoint)
        if "api_base_url" in kwargs:
            kwargs["api_base_url"] = self._to_api_base(kwargs["api_base_url"])
        params = kwargs.pop("params", None)
        params = {} if params is None else params
        if not isinstance(params, dict) or "access_token" in params:
            # The caller manages the token itself: pass through untouched.
            return super()._request(method, url_or_endpoint, params=params, **kwargs)

        token = self.access_token
        try:
            return super()._request(method, url_or_endpoint,
                                    params={**params, "access_token": token}, **kwargs)
        except WeChatClientException as err:
            if err.errcode not in TOKEN_ERRCODES:
                raise
            logger.info("access_token rejected (%s); refreshing once and retrying", err.errcode)
        fresh = self.refresh_access_token(stale=token)
        for part in (kwargs.get("files") or {}).values():
            # an upload's file was read to its end by the first try: the retry sends it whole
            # (it sent nothing, and WeChat answered 41005 media data missing)
            stream = part[1] if isinstance(part, tuple) else part
            if hasattr(stream, "seek"):
                stream.seek(0)
        return super()._request(method, url_or_endpoint,
                                params={**params, "access_token": fresh}, **kwargs)


def make_client(appid: str, secret: str, api_base: str = REAL_API_BASE, redis=None,
                timeout: float = HTTP_TIMEOUT_SECONDS) -> SharedTokenWeChatClient:
    """A wechatpy client talking to api_base whose token is shared and refreshed by one worker.

    redis: a redis.Redis client or URL to share the token across processes; None keeps it in
    this process (shared by every client for the same api_base and appid).
    """
    api_base = api_base.rstrip("/")
    if redis is None:
        storage, lock = _process_token_store(api_base, appid)
        return SharedTokenWeChatClient(appid, secret, api_base, storage,
                                       lambda: _thread_refresh_lock(lock), timeout=timeout)
    if isinstance(redis, str):
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(redis)
    prefix = f"bangban:wechat:{appid}"
    lock_name = f"{prefix}:token-refresh-lock"
    return SharedTokenWeChatClient(appid, secret, api_base, RedisStorage(redis, prefix=prefix),
                                   lambda: _redis_refresh_lock(redis, lock_name), timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Thin send functions: never raise for a WeChat or network failure, return a SendResult.
# ---------------------------------------------------------------------------------------------
def _deliver(call: Callable[[], object]) -> SendResult:
    try:
        result = call()
    except WeChatClientException as err:
        if err.errcode is None:
            status = getattr(err.response, "status_code", None)
            detail = err.errmsg or (f"HTTP {status}" if status else "no response")
            return SendResult(classify_http_status(status), None, str(detail))
        return SendResult(classify(err.errcode), int(err.errcode), str(err.errmsg))
    except requests.RequestException as err:
        return SendResult(RETRY, None, f"network error: {err.__class__.__name__}: {err}")
    except RedisError as err:  # the shared token store is down: nothing was sent, try later
        return SendResult(RETRY, None, f"token store error: {err.__class__.__name__}: {err}")
    if not isinstance(result, dict):
        return SendResult(RETRY, None, "response was not JSON")
    return SendResult(OK, 0, result.get("errmsg", "ok"), result.get("msgid"))


def _value_entries(data: dict) -> dict:
    """{"thing1": "text"} -> {"thing1": {"value": "text"}}; entries already in shape are kept."""
    return {key: value if isinstance(value, dict) else {"value": value}
            for key, value in data.items()}


def send_text(client: WeChatClient, openid: str, text: str) -> SendResult:
    """Customer-service text: only inside the user's 48 h window (else 'fallback')."""
    return _deliver(lambda: client.message.send_text(openid, text))


def send_template(client: WeChatClient, openid: str, template_id: str, data: dict,
                  url: str | None = None, client_msg_id: str | None = None,
                  mini_program: dict | None = None) -> SendResult:
    """Template message. client_msg_id is WeChat's idempotency key (same openid + id within
    10 minutes sends one message); wechatpy's send_template cannot pass it, hence the raw post.
    """
    payload = optionaldict(
        touser=openid,
        template_id=template_id,
        url=url,
        miniprogram=mini_program,
        client_msg_id=client_msg_id,
        data=_value_entries(data),
    )
    return _deliver(lambda: client.post("message/template/send", data=dict(payload)))


def send_subscribe(client: WeChatClient, openid: str, template_id: str, data: dict,
                   page: str | None = None, miniprogram: dict | None = None) -> SendResult:
    """Subscribe message (message/subscribe/bizsend); 43101 'fallback' without acceptance."""
    return _deliver(lambda: client.message.send_subscribe_message(
        openid, template_id, _value_entries(data), miniprogram=miniprogram, page=page))


def fetch_and_keep_token(client, path: str, params: dict) -> dict:
    """GET a token endpoint of `client.api_base` (the Official Account's /cgi-bin/token, WeCom's
    /cgi-bin/gettoken: the same answer shape), raise WeChat's error as wechatpy does, and keep the
    token in the shared store a little less long than it lives, for every worker."""
    res = client._http.get(f"{client.api_base}{path}", params=params, timeout=client.timeout)
    try:
        res.raise_for_status()
    except requests.RequestException as err:
        raise WeChatClientException(errcode=None, errmsg=None, client=client,
                                    request=err.request, response=err.response)
    result = res.json()
    if result.get("errcode"):
        raise WeChatClientException(result["errcode"], result.get("errmsg"), client=client,
                                    request=res.request, response=res)
    ttl = max(int(result.get("expires_in", 7200)) - TOKEN_EXPIRY_MARGIN_SECONDS, 1)
    client.session.set(client.access_token_key, result["access_token"], ttl)
    return result
