"""The WeChat callback: verify, decrypt, dedupe, hand to the dialog manager, render the reply.

Thin on purpose: everything it knows is WeChat's protocol; what to answer is the dialogs' job.
"""
from __future__ import annotations

import logging
import re
import time
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache

from flask import Blueprint, Response, abort, current_app, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import create_reply
from wechatpy.utils import check_signature

from bot.platform.kv import LockTimeout
from bot.push import receipts
from dialogs import texts

from . import media
from .retry_guard import RecognisedInTurn, ReplyGuard, retry_key

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)

# Entity declarations are how XML bombs and external-entity reads start; WeChat never sends them.
_DTD_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
SUCCESS = "success"
RECOGNISED_IN_TURN = RecognisedInTurn()


def _settings():
    return current_app.config["BANGBAN_SETTINGS"]


def _verify_signature_and_freshness() -> tuple[str, str]:
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    try:
        check_signature(_settings().wechat_token, args.get("signature", ""), timestamp, nonce)
    except InvalidSignatureException:
        abort(403)
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        abort(403)
    if skew > _settings().max_timestamp_skew_s:
        abort(403)  # a replay of an old, validly signed request
    return timestamp, nonce


@bp.get("/wechat")
def verify_server():
    """WeChat's server-address check (开发 → 基本配置): echo `echostr` if the signature holds."""
    _verify_signature_and_freshness()
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


def _crypto() -> WeChatCrypto | None:
    s = _settings()
    if not s.wechat_aes_key:
        return None
    return _crypto_for(s.wechat_token, s.wechat_aes_key, s.wechat_appid)


@lru_cache(maxsize=8)
def _crypto_for(token: str, aes_key: str, appid: str) -> WeChatCrypto:
    return WeChatCrypto(token, aes_key, appid)  # holds only the key material: safe to share across threads


@bp.post("/wechat")
def receive():
    if (request.content_length or 0) > _settings().max_body_bytes:
        abort(413)
    timestamp, nonce = _verify_signature_and_freshness()
    body = request.get_data(cache=False)
    if len(body) > _settings().max_body_bytes:
        abort(413)
    encrypted = request.args.get("encrypt_type", "raw").lower() == "aes"
    if not encrypted:
        if _settings().wechat_aes_key and not _settings().wechat_allow_plaintext:
            abort(403)  # the account encrypts every callback: a plaintext one was not sent by WeChat
        if not current_app.extensions["bangban_nonce_guard"].allows(timestamp, nonce, body):
            abort(403)  # a signature seen before, carrying another body (replay_guard.py)
    crypto = _crypto() if encrypted else None
    if encrypted:
        if crypto is None:
            abort(403)  # safe-mode callback but no EncodingAESKey configured: cannot trust it
        if _DTD_RE.search(body):
            abort(400)
        try:
            body = crypto.decrypt_message(body, request.args.get("msg_signature", ""), timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            abort(403)
        except Exception:  # noqa: BLE001 - malformed ciphertext or envelope
            abort(400)
        body = body.encode("utf-8") if isinstance(body, str) else body
    if _DTD_RE.search(body):
        abort(400)
    try:
        message = parse_message(body)
    except Exception:  # noqa: BLE001 - not XML, not a WeChat message
        abort(400)
    # An empty body parses to None, and every real message names its sender and account.
    if message is None or not message.source or not message.target:
        abort(400)

    reply_xml = _reply_once(message)
    if reply_xml == SUCCESS or not encrypted:
        return Response(reply_xml, mimetype="application/xml" if reply_xml != SUCCESS else "text/plain")
    return Response(crypto.encrypt_message(reply_xml, nonce, timestamp), mimetype="application/xml")


def _reply_once(message) -> str:
    """Answer a message once, however often WeChat delivers it, within WeChat's 5-second wait.

    A text message's repeats are recognised inside its turn, with the user's conversation state
    (dialogs/state.py), which spares two round trips to Redis on the commonest message; events
    and the rest have no conversation turn, so the retry guard marks them in the store."""
    key = retry_key(message)
    guard: ReplyGuard = RECOGNISED_IN_TURN if _typed(message) is not None else current_app.extensions["bangban_retry_guard"]
    if not guard.claim(key):
        return guard.earlier_reply(key) or SUCCESS
    manager = current_app.extensions["bangban_dialogs"]
    budget = current_app.config["BANGBAN_SETTINGS"].reply_budget_s
    future = current_app.extensions["bangban_turns"].submit(_reply_text, manager, message)
    try:
        text = future.result(timeout=budget)
    except LockTimeout:  # the user's previous message is still being answered
        text = texts.BUSY
    except FutureTimeout:
        # Too slow for a passive reply: acknowledge now (so WeChat neither retries nor shows
        # "该公众号暂时无法提供服务") and send the answer as a customer-service message when ready.
        guard.done(key, SUCCESS)
        future.add_done_callback(lambda f: _send_late(manager, message, key, f))
        log.warning("reply over budget (%.1f s): answering asynchronously", budget)
        return SUCCESS
    except Exception:
        guard.release(key)  # let WeChat's retry try again
        raise
    reply_xml = SUCCESS if text is None else create_reply(text, message).render()
    guard.done(key, reply_xml)
    return reply_xml


def _reply_text(manager, message) -> str | None:
    """The text to answer with, or None for a bare `success`."""
    user = message.source
    if (typed := _typed(message)) is not None:  # text, or a voice message WeChat recognised
        return manager.handle_text(user, typed, message_id=_message_id(message)).reply
    if message.type == "event":
        if (message.event or "").lower() == "templatesendjobfinish":  # a push's receipt, not a chat turn
            return receipts.record_event(manager.sessions, message)  # None: a bare `success`
        turn = manager.handle_event(user, (message.event or "").lower(), _event_key(message))
        return turn.reply if turn else None
    if message.type in ("voice", "video", "shortvideo", "location"):  # voice here: not recognised
        return manager.events.media_reply("video" if message.type == "shortvideo" else message.type)
    if media.handles(message):  # photos and files: case material (webhook/media.py)
        return media.reply_for(manager, message)
    if message.type in ("image", "voice", "video", "shortvideo", "location", "link"):
        return texts.NON_TEXT
    return None


def _typed(message) -> str | None:
    """What the user said in words: a text's content, or the Recognition of a voice message
    (WeChat's speech recognition; None without it, and for every other message)."""
    if message.type == "text":
        return message.content or ""
    if message.type == "voice":
        return (getattr(message, "recognition", None) or "").strip() or None
    return None


def _event_key(message) -> str | None:
    """An event's EventKey, the one place it is read: a menu click's key, a view's URL, a QR code's
    scene (wechatpy takes the 「qrscene_」 off a scan-to-follow)."""
    for name in ("key", "scene_id", "url"):
        value = getattr(message, name, None)
        if value:
            return str(value)
    return None


def _message_id(message) -> str:
    """MsgId names a message within its sender's conversation; without one, its CreateTime does."""
    return str(message.id) if getattr(message, "id", None) else f"@{getattr(message, 'create_time', '')}"


def _send_late(manager, message, key: str, future) -> None:
    from bot.platform.db import transaction
    from bot.push import notify

    if isinstance(future.exception(), LockTimeout):
        # 「还在处理上一条」 is worth saying only as the immediate reply: later it would arrive after
        # the very turn it waited for, and a retry that waited behind its own first delivery must
        # not take the real answer's place in the outbox (same key).
        return
    if future.exception() is not None:
        log.error("late reply failed", exc_info=future.exception())
        return
    text = future.result()
    if text:
        with transaction(manager.sessions) as db:
            notify.late_reply(db, message.source, key, text)
