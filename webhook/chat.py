"""The web chat page (/chat): the same conversation as the Official Account, in a browser.

Thin like the WeChat callback: a visitor is a random id kept in the signed session cookie
("web-…", so it never collides with a WeChat openid), each message goes through the very same
DialogManager.handle_text, and the page renders the reply as text. The POST is CSRF-protected
(token in the page, sent back as the X-CSRFToken header), capped at the length WeChat lets a
text message have, and lightly rate-limited in the shared store, per visitor and per client
address (a script that drops its cookie is a new visitor every time, at the same address). The
page may not be framed and loads nothing but its own script and style (Content-Security-Policy).
With the local WeChat emulator the page is the visitor's WeChat too: it shows the pushes the
account sends them (webhook/chat_pushes.py).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import time

from flask import Blueprint, current_app, jsonify, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, generate_csrf

from bot.platform.kv import LockTimeout, StoreUnavailable
from bot.platform.text_safety import xml_safe
from dialogs import texts
from dialogs.paging import WECHAT_TEXT_LIMIT

from .chat_pushes import EmulatorLink
from .console import csrf
from .params import int_arg, json_body

log = logging.getLogger(__name__)

bp = Blueprint("chat", __name__, url_prefix="/chat", template_folder="templates",
               static_folder="chat_static", static_url_path="/static")

VISITOR_KEY = "chat_visitor"
VISITOR_PREFIX = "web-"
# What WeChat accepts in one text message (bytes of UTF-8), the most the callback ever receives.
MAX_TEXT_BYTES = WECHAT_TEXT_LIMIT
MAX_CHARS = 600  # the input box's limit: 600 Chinese characters stay under MAX_TEXT_BYTES
RATE_LIMIT = 30  # messages per visitor per window
RATE_LIMIT_PER_ADDRESS = 120  # per client address: an office behind one NAT address shares it
RATE_WINDOW_S = 60
QUICK_REPLIES = ("菜单", "申请帮办", "我的申请", "转人工")

TOO_LONG = "您的消息太长了😅 请精简到 600 字以内再发，或分几条发送。"
TOO_FAST = "您发得太快了，请稍等片刻再发。"
SESSION_EXPIRED = "页面已过期，请刷新页面后再发送。"


def _visitor() -> str:
    visitor = session.get(VISITOR_KEY)
    if not isinstance(visitor, str) or not visitor.startswith(VISITOR_PREFIX):
        visitor = VISITOR_PREFIX + secrets.token_hex(12)
        session[VISITOR_KEY] = visitor
        session.permanent = True
    return visitor


def _over_rate(who: str, limit: int) -> bool:
    """A fixed window per visitor or address in the app's store (Redis when configured: shared by
    workers), hashed so the store holds neither in clear. Light on purpose: a lost count under a
    race only lets one more message through."""
    kv = current_app.extensions["bangban_services"].kv
    bucket = int(time.time() // RATE_WINDOW_S)
    key = "chat-rate:" + hashlib.sha256(who.encode()).hexdigest()[:24] + f":{bucket}"
    try:
        count = int(kv.get(key) or 0)
        if count >= limit:
            return True
        kv.set(key, str(count + 1), ttl=RATE_WINDOW_S * 2)
    except StoreUnavailable:
        return False  # no store, no limit: answering matters more
    return False


@bp.after_request
def harden(response):
    # Only this page's own script and style, no framing (clickjacking), no guessing of types.
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _emulator() -> EmulatorLink:
    """The visitor's WeChat when the bot talks to the local emulator (see chat_pushes)."""
    link = current_app.extensions.get("bangban_chat_emulator")
    if link is None:
        link = current_app.extensions.setdefault(
            "bangban_chat_emulator", EmulatorLink(current_app.config["BANGBAN_SETTINGS"]))
    return link


@bp.get("")
def page():
    _visitor()
    pushes = url_for("chat.pushes") if _emulator().control() is not None else ""
    return render_template("chat/index.html", csrf_token=generate_csrf(), quick_replies=QUICK_REPLIES,
                           max_chars=MAX_CHARS, pushes_api=pushes)


@bp.get("/api/pushes")
def pushes():
    """What the account sent this visitor since ?after=<msgid>: customer-service texts and
    template messages, as their WeChat would show them (only with the local emulator)."""
    after = max(0, int_arg(request.args, "after", 0) or 0)
    received = _emulator().received(_visitor(), after)
    if received is None:
        return jsonify(available=False, pushes=[])
    return jsonify(available=True, pushes=received)


@bp.post("/api/messages")
def messages():
    try:
        csrf.protect()
    except CSRFError:
        return jsonify(error="csrf", reply=SESSION_EXPIRED), 400
    payload = json_body()
    if not isinstance(payload, dict):
        return jsonify(error="bad_request", reply=texts.EMPTY), 400
    text = payload.get("text")
    # What a WeChat message could carry: XML holds no control characters or lone surrogates.
    text = xml_safe(text) if isinstance(text, str) else ""
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        return jsonify(error="too_long", reply=TOO_LONG, intent="too_long"), 413
    visitor = _visitor()
    if not text.strip():
        return jsonify(reply=texts.EMPTY, intent="empty")
    if _over_rate(visitor, RATE_LIMIT) or _over_rate(f"address:{request.remote_addr}", RATE_LIMIT_PER_ADDRESS):
        return jsonify(error="rate_limited", reply=TOO_FAST, intent="rate_limited"), 429
    manager = current_app.extensions["bangban_dialogs"]
    _emulator().wrote(visitor)  # as writing to the account does: a follower with an open window
    try:
        turn = manager.handle_text(visitor, text)
    except LockTimeout:
        return jsonify(reply=texts.BUSY, intent="busy")
    return jsonify(reply=turn.reply, intent=turn.intent)
