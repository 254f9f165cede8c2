"""What the chat says when a photo or file arrives (bot/casework/materials.py keeps it; webhook/media.py answers)."""
from __future__ import annotations

KEPT = "已收到，共 {count} 份材料（案件 {number}）。"
KEPT_FOR_CORRECTION = "专员会核对「{items}」的补正材料，有问题会再联系您。"
KEPT_OTHERWISE = "专员会尽快查看；还有材料可以继续发来。"
# A WeChat file message carries no download for the account: the file is registered, not fetched.
KEPT_LISTED = "微信不支持我们直接取回聊天中的文件，专员会与您联系收取原件；也可以把材料拍照发来。"
NO_CASE = ("照片和文件是用来交案件材料的：申请帮办/代办后，专员请您补正或补充材料时，直接在这里发照片或文件即可，"
           "我们会存入您的案件。现在想咨询，请用文字提问；想申请，请回复「申请帮办」。")
FORM_OPEN = "申请还没提交，材料暂时放不进案件：请先把申请填完提交，之后再把照片或文件发来，我们会存入您的案件。"
REFUSED_TYPE = "抱歉，这类文件暂时不能作为材料保存（可以发 {types} 格式）。请转换格式后重发，或拍照发来。"
REFUSED_SIZE = "抱歉，这个文件超过 {mb} MB，暂时不能保存。请压缩或分成几份重发，也可以直接交给专员。"
NOT_SAVED = "抱歉，这份材料暂时没能收下，请稍后再发一次。"


def kept(count: int, number: str, correction_items: tuple[str, ...], listed: bool) -> str:
    text = KEPT.format(count=count, number=number)
    if listed:
        return text + KEPT_LISTED
    if correction_items:
        return text + KEPT_FOR_CORRECTION.format(items="」「".join(correction_items))
    return text + KEPT_OTHERWISE
