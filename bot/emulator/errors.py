"""WeChat error codes the emulator returns, with the errmsg text the real API sends.

Codes and messages follow WeChat's global return-code table and error bodies developers have
posted from the live API; the rid/hint suffix the real API appends is left out.
"""
from __future__ import annotations

SYSTEM_BUSY = -1
OK = 0
INVALID_CREDENTIAL = 40001  # token unknown, revoked or superseded beyond the grace period
INVALID_GRANT_TYPE = 40002
INVALID_OPENID = 40003
INVALID_MESSAGE_TYPE = 40008
INVALID_APPID = 40013
INVALID_TEMPLATE_ID = 40037
INVALID_APPSECRET = 40125
ACCESS_TOKEN_MISSING = 41001
APPID_MISSING = 41002
APPSECRET_MISSING = 41004
ACCESS_TOKEN_EXPIRED = 42001
REQUIRE_SUBSCRIBE = 43004  # template message to a user who does not follow the account
USER_REFUSED = 43101  # subscribe message without the user's (remaining) acceptance
EMPTY_POST_DATA = 44002
EMPTY_CONTENT = 44004
CONTENT_TOO_LONG = 45002
DAILY_QUOTA = 45009
MINUTE_QUOTA = 45011
OUT_OF_WINDOW = 45015
OUT_OF_RESPONSE_COUNT = 45047
DATA_FORMAT_ERROR = 47001
ARGUMENT_INVALID = 47003

ERRMSG = {
    SYSTEM_BUSY: "system error",
    OK: "ok",
    INVALID_CREDENTIAL: "invalid credential, access_token is invalid or not latest",
    INVALID_GRANT_TYPE: "invalid grant_type",
    INVALID_OPENID: "invalid openid",
    INVALID_MESSAGE_TYPE: "invalid message type",
    INVALID_APPID: "invalid appid",
    INVALID_TEMPLATE_ID: "invalid template_id",
    INVALID_APPSECRET: "invalid appsecret",
    ACCESS_TOKEN_MISSING: "access_token missing",
    APPID_MISSING: "appid missing",
    APPSECRET_MISSING: "appsecret missing",
    ACCESS_TOKEN_EXPIRED: "access_token expired",
    REQUIRE_SUBSCRIBE: "require subscribe",
    USER_REFUSED: "user refuse to accept the msg",
    EMPTY_POST_DATA: "empty post data",
    EMPTY_CONTENT: "empty content",
    CONTENT_TOO_LONG: "content size out of limit",
    DAILY_QUOTA: "reach max api daily quota limit",
    MINUTE_QUOTA: "api minute-quota reach limit, must slower, retry next minute",
    OUT_OF_WINDOW: "response out of time limit or subscription is canceled",
    OUT_OF_RESPONSE_COUNT: "out of response count limit",
    DATA_FORMAT_ERROR: "data format error",
    ARGUMENT_INVALID: "argument invalid!",
}


class ApiError(Exception):
    """A WeChat-level failure: answered as HTTP 200 with errcode/errmsg, as the real API does."""

    def __init__(self, errcode: int, detail: str | None = None):
        self.errcode = errcode
        base = ERRMSG.get(errcode, "error")
        self.errmsg = f"{base} {detail}" if detail else base
        super().__init__(f"{errcode}: {self.errmsg}")

    def body(self) -> dict:
        return {"errcode": self.errcode, "errmsg": self.errmsg}
