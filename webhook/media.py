"""Image and file messages from the WeChat callback (webhook/wechat.py hands them here): kept as
material of the sender's open case (bot/casework/materials.py) in this request's transaction,
before the reply, and answered in the words of dialogs/texts/materials.py.

wechatpy 1.8.18 parses MsgType image as ImageMessage (MediaId, PicUrl); it has no file message
and returns an UnknownMessage for MsgType file, whose fields (Title, Description, FileKey,
FileMd5, FileTotalLen, MsgId: no MediaId) are read from the parsed XML here.
"""
from __future__ import annotations

from bot.casework import materials
from bot.platform.db import transaction
from dialogs.texts import materials as texts


def handles(message) -> bool:
    return message.type == "image" or _raw(message).get("MsgType", "").lower() == "file"


def _raw(message) -> dict:
    return getattr(message, "_data", None) or {}


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def reply_for(manager, message) -> str:
    raw = _raw(message)
    msg_id = raw.get("MsgId") or f"@{raw.get('CreateTime', '')}"
    if message.type == "image":
        fields = dict(kind="image", media_id=(raw.get("MediaId") or "").strip() or None)
    else:
        fields = dict(kind="file", media_id=(raw.get("MediaId") or "").strip() or None,
                      file_name=(raw.get("Title") or "").strip() or None, size=_int(raw.get("FileTotalLen")),
                      md5=(raw.get("FileMd5") or "").strip() or None)
    with transaction(manager.sessions) as db:
        receipt = materials.receive(db, manager.settings, openid=message.source,
                                    message_key=f"{message.source}:{msg_id}", **fields)
    if receipt.outcome == "kept":
        return texts.kept(receipt.count, receipt.case_number, receipt.correction_items, receipt.listed)
    if receipt.outcome == "refused_type":
        return texts.REFUSED_TYPE.format(types="/".join(t.upper() for t in receipt.allowed))
    if receipt.outcome == "refused_size":
        return texts.REFUSED_SIZE.format(mb=receipt.limit_mb)
    if receipt.outcome == "form_open":
        return texts.FORM_OPEN
    return texts.NO_CASE
