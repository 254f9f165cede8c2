"""After applying: progress and 补正, 催办, 一次性告知, and 受理 sent by a commissioner in WeChat."""

# 查进度: the case's head line, its commissioner, one line an item, then what else there is.
PROGRESS_HEAD = "{number}（{mode}）：{state}"
PROGRESS_COMMISSIONER = "帮代办专员：{name}"
PROGRESS_SERVICE_OPTION = "服务选项：{option}"
PROGRESS_UNASSIGNED = "分派中"
PROGRESS_ITEM = "· {item}：{state}{due}"
PROGRESS_DUE = "，预计{date}"
PROGRESS_OVERDUE = "（已超期，专员正在催办）"
PROGRESS_AGREEMENT = "委托协议：《{title}》{version}，{when}确认；全文 {url}"
# 一企一策 plan against progress (bot/casework/plans.py), after an item's line and for the project.
PROGRESS_PLAN = "，计划{planned}"
PROGRESS_PLAN_DONE = "，计划{planned}、实际{actual}办结"
PROGRESS_PLAN_LATE = "（滞后{n}个工作日）"
PROGRESS_PLAN_PROJECT = "{name}：{finish}前全部办结，{state}"  # {name}: the region's plan_name
PROGRESS_PLAN_ON_TRACK = "目前按计划推进"
PROGRESS_PLAN_BEHIND = "{late}个事项滞后，最多{n}个工作日，专员正在协调"
PROGRESS_TERMINATED = "终止原因：{reason}"
# 立卷归档 (issue 17 item 5, bot/casework/archiving.py): the record is closed and read-only.
PROGRESS_ARCHIVED = "本案已于{when}立卷归档（归档编号 {number}），服务记录已封存，不能再变更；如有疑问请回复「转人工」。"
ARCHIVED_REFUSED = "{number}已立卷归档，不能再变更（如催办、修改联系人、修改评价）。如有疑问请回复「转人工」。"
PROGRESS_OTHERS = "您还有{n}个其他申请，发送编号（如 {number}）可查看。"
CORRECTION_LINE = "——需补正：{missing}，请在{due}前提交{late}"
CORRECTION_LATE = "（已过期限，请尽快提交）"
CORRECTION_WHO = "帮代办专员"  # {name} of CORRECTION_HOW while no commissioner is assigned
CORRECTION_HOW = {
    "代办": "补正材料备齐后交给帮代办专员{name}（可约定上门收取或送到帮代办窗口），由专员代您递交；有疑问回复「转人工」。",
    "帮办": "补正材料备齐后，按审批部门的要求在工程建设项目审批管理系统或窗口补交，专员{name}会跟进；有疑问回复「转人工」。",
}
NO_CASE = "您还没有提交过帮办代办申请。回复「申请帮办」或「申请代办」即可在线申请。"
URGE_SENT = "已把您的催办转告帮代办专员{name}（{when}），专员会尽快跟进并回复您。"
URGE_TO_SUPERVISOR = "您的申请还在分派专员，已把催办转告本地区帮代办主管（{when}），会尽快安排专员跟进。"
URGE_RECORDED = "已记录您的催办（{when}）。您的申请正在分派专员，分派后会优先处理；着急可回复「转人工」。"
URGE_ALREADY = "今天已经为您催办过{number}了（{when}），专员正在跟进，请耐心等待；紧急情况可回复「转人工」。"
URGE_NOTHING = "{number}目前没有在办的事项需要催办。"
# The commissioner cannot get the urge in WeChat (no WeChat bound, the Official Account unfollowed,
# outside the 48-hour window with no template): it is on the case's ledger, not "转告".
URGE_UNREACHED = ("已记录您的催办（{when}），帮代办专员{name}暂时收不到微信提醒，会在工作台的服务记录中看到；"
                  "着急可回复「转人工」。")
NOTICE_ALL_DONE = "{number}的事项都已办结，不需要再准备材料了。"

# 「受理 BD-…」 sent by a commissioner in WeChat.
NOT_STAFF = "这条指令只供帮代办专员使用。"
ACCEPT_NOT_FOUND = "没有找到分派给您的案件 {number}，请核对编号。"
ACCEPT_FAILED = "{number} 未能受理：{error}"
ACCEPTED = "已受理 {number}（{company}·{project}）。{told}"
ACCEPT_TOLD = "已通知企业联系人{name}。"  # when the push can reach them (bot.push.reach.notice says otherwise why not)

# 一次性告知 (dialogs/notice.py): every item ahead, with materials, department and expected dates.
NOTICE_HEAD = "【一次性告知】{number}以下事项请一次准备齐全："
NOTICE_ITEM = "{n}. {item}（{department}；{limit}{due}）"
NOTICE_LIMIT = "承诺时限约{days}个工作日"
NOTICE_LIMIT_LOCAL = "时限以当地承诺为准"
NOTICE_DUE = "，预计{date}前办结"
NOTICE_MATERIALS = "   材料：{materials}"
NOTICE_LIST_SEPARATOR = "、"
NOTICE_FINISH = "按工作日推算，以上事项预计{finish:%Y年%m月%d日}前全部办结（已扣除法定节假日）。"
NOTICE_BEYOND_CALENDAR = "（部分日期超出已公布的节假日安排，仅按周末推算。）"
NOTICE_AHEAD = "后续阶段还将涉及：{items}{more}。"
NOTICE_AHEAD_MORE = "等"
NOTICE_FOOT = "以上材料为一般性清单，具体以审批部门办事指南为准；随时回复「我还要准备什么」可再次查看。"
