"""What the chat says about 办结 the enterprise confirms and materials handed back (issue 17,
items 3 and 4; dialogs/completion.py)."""

CONFIRM_WORDS = {"确认办结", "同意办结", "确认已办结", "办结确认", "确认办结了", "我确认办结"}
OBJECT_PREFIXES = ("有问题", "有异议", "不同意办结", "办结有问题", "对办结有异议")
RECEIVED_WORDS = {"已收到材料", "收到材料", "材料已收到", "材料收到了", "已收到资料", "资料已收到", "收到资料",
                  "确认收到材料", "已经收到材料", "材料已经收到"}

CONFIRMED = ("已确认办结：{number}。感谢您的确认！专员将统一送达结果文件（上门、邮寄或电子证照），"
             "送达时会再通知您。")
NOTHING_TO_CONFIRM = "您目前没有待确认办结的申请。需要查看办理进度，请回复「我的申请」。"
WHICH = ("您有 {n} 件申请等待确认办结：\n{options}\n请回复「确认办结 案件编号」或「有问题 案件编号 原因」。")
WHICH_LINE = "{number} {project}"
ASK_REASON = ("请写明办结存在的问题（如「施工许可证还没拿到」），我们会转告专员{name}处理。"
              "不想提了请回复「取消」。")
REASON_CANCELLED = "好的，未提交异议。案件{number}仍在等待您确认办结：回复「确认办结」或「有问题」加原因。"
OBJECTED = ("已收到您对办结的异议：{number}\n问题：{reason}\n{who}案件不会办结，处理好后专员会再请您确认。")
OBJECTED_TOLD = "已转告专员{name}，"
OBJECTED_UNTOLD = "已记录在服务台账，专员会在工作台看到，"
REFUSED = "未能处理：{error}"
NOBODY = "帮代办专员"

WHICH_RECEIVED = "您有 {n} 件申请交还了材料：\n{options}\n请回复「已收到材料 案件编号」。"
RECEIVED = "已确认收到案件{number}交还的材料：{materials}。感谢您的配合！"
NOTHING_RECEIVED = "目前没有交还给您、待确认的材料。材料交还后专员会通知您；有疑问可直接留言。"

# 「我的申请」
PROGRESS_WAITING = ("专员报告全部事项已办结，请您确认：回复「确认办结」，或回复「有问题」并写明原因；"
                    "{deadline}前未答复的视为确认办结。")
PROGRESS_HANDBACK = "交还材料：{materials}（{method}，{date}，签收人 {signed_by}）{confirmed}"
PROGRESS_HANDBACK_CONFIRMED = "，您已确认收到"
PROGRESS_HANDBACK_UNCONFIRMED = "。收到后请回复「已收到材料」"
