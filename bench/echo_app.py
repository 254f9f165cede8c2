"""Baseline for bench/webhook_load.py: the least a WeChat endpoint can do with wechatpy and Flask —
check the signature, decrypt, parse, echo the text back encrypted. Same gunicorn settings as the
real app, so the ratio between the two is the cost of everything 帮办通 adds."""
from __future__ import annotations

import os

from flask import Flask, Response, abort, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import create_reply
from wechatpy.utils import check_signature

TOKEN = os.environ["WECHAT_TOKEN"]
crypto = WeChatCrypto(TOKEN, os.environ["WECHAT_ENCODING_AES_KEY"], os.environ["WECHAT_APPID"])
app = Flask(__name__)


def incoming():
    """This request's message, signature checked and decrypted (403 if it does not verify)."""
    args = request.args
    try:
        check_signature(TOKEN, args["signature"], args["timestamp"], args["nonce"])
        xml = crypto.decrypt_message(request.get_data(), args["msg_signature"], args["timestamp"], args["nonce"])
    except (KeyError, InvalidSignatureException):
        abort(403)
    return parse_message(xml)


def reply(text: str, message) -> Response:
    args = request.args
    return Response(crypto.encrypt_message(create_reply(text, message).render(), args["nonce"], args["timestamp"]),
                    mimetype="application/xml")


@app.post("/wechat")
def echo():
    message = incoming()
    return reply(getattr(message, "content", None) or "success", message)
