"""What WeChat's servers send us: signed (and, in safe mode, encrypted) callback requests.

Tests, benchmarks and curious developers use it to talk to the real endpoint exactly as WeChat
would, so nothing of ours is mocked.
"""
from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from wechatpy.crypto import WeChatCrypto

_msg_ids = itertools.count(int(time.time() * 1000) % 10**12 * 1000)


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, *extra])).encode("utf-8")).hexdigest()


def text_xml(sender: str, content: str, msg_id: int | None = None, to: str = "gh_bangbantong",
             create_time: int | None = None) -> str:
    msg_id = next(_msg_ids) if msg_id is None else msg_id
    content = content.replace("]]>", "]]]]><![CDATA[>")
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def event_xml(sender: str, event: str, to: str = "gh_bangbantong", create_time: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event></xml>")


@dataclass(frozen=True)
class Callback:
    query: str
    body: bytes

    @property
    def path(self) -> str:
        return f"/wechat?{self.query}"


class WeChatServer:
    """Signs callbacks with the account's token (and encrypts them when given the AES key)."""

    def __init__(self, token: str, aes_key: str = "", appid: str = ""):
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None

    def _base(self, timestamp: int | None) -> dict:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        # Random, as WeChat's are: the webhook remembers each (timestamp, nonce) with its body, so
        # two simulators counting from the same start would look like a replay to it. `secrets`,
        # not `random`: hypothesis reseeds `random` for every example.
        nonce = str(secrets.randbelow(10**10))
        return {"timestamp": ts, "nonce": nonce, "signature": signature(self.token, ts, nonce)}

    def verify_query(self, echostr: str = "echo-123", timestamp: int | None = None) -> str:
        return urlencode({**self._base(timestamp), "echostr": echostr})

    def callback(self, xml: str, timestamp: int | None = None, encrypt: bool | None = None) -> Callback:
        q = self._base(timestamp)
        encrypt = self.crypto is not None if encrypt is None else encrypt
        if not encrypt:
            return Callback(urlencode(q), xml.encode("utf-8"))
        enc_xml = self.crypto.encrypt_message(xml, q["nonce"], q["timestamp"])
        # encrypt_message wraps a reply; an inbound callback carries the same Encrypt element.
        encrypted = parse_message_envelope(enc_xml)
        sig = signature(self.token, q["timestamp"], q["nonce"], encrypted)
        body = f"<xml><ToUserName><![CDATA[gh_bangbantong]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        q.update(encrypt_type="aes", msg_signature=sig)
        return Callback(urlencode(q), body.encode("utf-8"))

    def read_reply(self, body: bytes) -> str:
        """Our reply's XML as WeChat reads it (decrypted in safe mode)."""
        xml = body.decode("utf-8")
        if self.crypto is not None and "<Encrypt>" in xml:
            env = _fields(xml)
            xml = self.crypto.decrypt_message(xml, env["MsgSignature"], env["TimeStamp"], env["Nonce"])
        return xml


def parse_message_envelope(xml: str) -> str:
    return _fields(xml)["Encrypt"]


def _fields(xml: str) -> dict:
    import xmltodict

    return dict(xmltodict.parse(xml)["xml"])


def reply_fields(xml: str) -> dict:
    """ToUserName / FromUserName / MsgType / Content of a plaintext reply."""
    return _fields(xml)


__all__ = ["WeChatServer", "Callback", "text_xml", "event_xml", "signature", "reply_fields"]
