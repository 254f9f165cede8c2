"""What the chat says about 上门受理 and 窗口预约 (issue 17 item 1; dialogs/appointments.py)."""

# Taken only while the user has an appointment to answer (other uses of these words are questions).
CONFIRM_WORDS = {"确认预约", "预约确认", "确认预约时间", "我确认预约", "同意预约", "确认上门", "确认上门受理",
                 "确认窗口预约", "时间可以", "这个时间可以", "时间没问题", "可以按时", "按时到"}
# Said with no appointment to answer, these still get 「没有待确认的预约」 (they name the appointment).
CONFIRM_NAMES_IT = {"确认预约", "预约确认", "确认预约时间", "我确认预约", "同意预约", "确认上门", "确认上门受理",
                    "确认窗口预约"}
RESCHEDULE_PREFIXES = ("改个时间", "改一下时间", "改下时间", "改时间", "换个时间", "换一个时间", "换时间", "另约时间",
                       "重新约时间", "预约改期", "改期", "改约", "时间不合适", "时间不方便", "那天不方便")
# 「取消预约 我们自己去窗口」: the enterprise calls it off (what follows is its reason).
CANCEL_PREFIXES = ("取消预约", "预约取消", "取消这次预约", "取消上门受理", "取消上门", "取消窗口预约", "不用上门了",
                   "不用上门", "不需要上门了", "不需要上门", "不约了")
CANCEL_TAILS = {"了", "吧", "掉", "一下吧"}  # 「取消预约吧」「不约了」: no reason given
# 「改个时间可以吗」 names no time: the chat asks for one.
POLITE_TAILS = {"可以吗", "可以么", "可以不", "行吗", "行么", "行不行", "好吗", "好不好", "可不可以", "能不能", "吗", "呢", "吧", "一下"}
MINE_WORDS = {"我的预约", "查看预约", "查看我的预约", "我的预约信息", "预约信息", "我的预约呢", "我的上门预约",
              "有没有预约", "我有预约吗", "预约情况", "我的预约情况"}
CANCEL_WORDS = {"取消", "算了", "不改了", "不用改了", "不用了", "没事了"}

CONFIRMED = ("已确认：{number} {kind}\n时间：{when}\n地点：{place}{bring}\n{who}"
             "我们会在前一天再提醒您。时间有变请回复「改个时间」并写明方便的时间。")
CONFIRMED_TOLD = "已告知帮代办专员{name}。"
CONFIRMED_UNTOLD = "专员会在工作台看到您的确认。"
BRING = "\n请准备：{bring}"
NOTHING_TO_CONFIRM = "您目前没有待确认的预约。专员约定上门受理或窗口预约后会通知您；回复「我的预约」可查看已有的预约。"
WHICH = "您有 {n} 个预约待答复：\n{options}\n请在回复中写上案件编号，如「{command} {example}」。"
WHICH_LINE = "{number} {kind} {when}"
ASK_WISH = ("好的，请告诉我们您方便的时间（如「下周二上午」或「12月10日下午3点」），我们转告专员{name}重新安排。"
            "不改了请回复「取消」。")
WISH_CANCELLED = "好的，预约没有改动：{number} {kind} {when}。"
RESCHEDULE_ASKED = ("已转达您希望改期：{number} {kind}（原定{when}）\n您方便的时间：{wish}\n{who}"
                    "专员重新约定后会再通知您。")
RESCHEDULE_TOLD = "已告知帮代办专员{name}，"
RESCHEDULE_UNTOLD = "已记录在服务台账，专员会在工作台看到，"
APPOINTMENT_CANCELLED = "已取消：{number} {kind}（原定{when}）\n{who}如需再约，直接留言或回复「转人工」。"
CANCEL_TOLD = "已告知帮代办专员{name}。"
CANCEL_UNTOLD = "已记录在服务台账，专员会在工作台看到。"
NOTHING_TO_CANCEL = "您目前没有待进行的预约，无需取消。回复「我的预约」可查看预约记录。"
REFUSED = "未能处理：{error}"
NOBODY = "帮代办专员"

MINE_HEAD = "您的预约（{n} 个）："
MINE_LINE = "{number} {kind}：{when}，{place}（{state}）{bring}"
MINE_BRING = "\n  请准备：{bring}"
MINE_NONE = "您目前没有待进行的预约。需要上门受理或窗口预约，可直接留言，或回复「我的申请」查看办理进度。"
MINE_FOOT = "待确认的请回复「确认预约」；不方便请回复「改个时间」并写明方便的时间；不需要了请回复「取消预约」。"
MINE_STATES = {"proposed": "待您确认", "confirmed": "您已确认", "reschedule_requested": "您已请求改期，等专员重新安排"}

# 「我的申请」
PROGRESS_NEXT = "下次预约：{kind} {when}，{place}（{state}）"
