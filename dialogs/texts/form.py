"""The application form (申请帮办/代办): how it opens, resumes, ends, and what happens to it when
the system restarts."""

FORM_START = "好的，我们在线提交{mode}申请，不用跑窗口、不用打电话。共十来个问题，随时回复「取消」退出，回复「修改+项目」更正。"
FORM_EITHER_MODE = "帮办代办"  # {mode} of FORM_START before the user has chosen
FORM_CANCELLED = "已取消本次申请，您填写的信息没有提交。需要时回复「申请帮办」或「申请代办」重新开始。"
FORM_RESUME = "（继续填写申请）"
FORM_QUESTION_UNSURE = "这个问题我暂时答不准。申请提交后可以回复「转人工」请专员解答，也可以现在回复「转人工」。"
FORM_HELP = "正在填写申请：请回答上面的问题。回复「取消」退出，回复「修改+项目」（如「修改联系人」）更正已填内容。"
EDIT_UNKNOWN = "可以修改的项目：服务方式、地区、企业名称、信用代码、项目名称、项目代码、投资类型、重点项目、项目类型、阶段、事项、联系人、联系电话。请回复如「修改联系人」。"

MODE_DIFFERENCE = (
    "帮办：无需委托，专员为您提供政策解答、材料准备指导、跟踪催办和结果送达，由您自己申报。\n"
    "代办：您签署委托协议后，专员代您填报、递交和跑办，全程跟踪直至办结送达。\n"
    "两者都免费（法律法规规定由企业缴纳的费用除外），按自愿原则选择。"
)
AGREEMENT_TERMS = (
    "代办需要您确认《代办委托协议》的要点：\n"
    "1. 自愿委托、无偿代办：除法律法规规定由企业缴纳的费用外，代办免费；\n"
    "2. 企业提供真实、合法、齐全、有效的材料，按审批部门要求及时补正，需要到场时安排人员到场，按规定缴费；\n"
    "3. 代办专员代为填报递交、跟踪催办、统一送达，对商业秘密和材料保密，办结或终止后归还材料；\n"
    "4. 项目不具备办理条件或企业主动要求时可终止代办；\n"
    "5. 审批时限以审批部门为准，代办不能替代审批。\n"
    "同意请回复「同意」；不同意可回复「不同意」改为帮办。"
)
# The consent step when the region's 委托协议 text is configured (bot/casework/agreements.py): its
# summary points and where to read (and print) the whole text. {points}: numbered lines.
AGREEMENT_PROMPT = (
    "代办需要您确认《{title}》（{version}，{effective}起施行）的要点：\n{points}\n"
    "全文（可打印）：{url}\n"
    "同意请回复「同意」；不同意可回复「不同意」改为帮办。"
)
SUMMARY_AGREED_VERSION = "委托协议：已同意《{title}》{version}"
INELIGIBLE = (
    "很抱歉，按《{source}》，{region}的帮办代办服务不含「{excluded}」，本次申请无法提交。\n"
    "您仍可以：1. 在这里咨询审批流程、材料和时限；2. 到当地政务服务中心窗口办理，窗口提供咨询指导。"
)
SUBMITTED = "✅ 申请已提交！编号 {number}（{mode}）。\n{who}\n回复「我的申请」可随时查看进度。"

DB_DOWN_IN_FORM = "申请暂时提交不了（系统正在维护），您填写的内容都还在：请几分钟后再回复刚才的内容（如「确认」）继续。"
FORM_LOST = ("抱歉，系统刚刚重启，您正在填写的申请内容没有保存下来，申请还没有提交。"
             "请回复「申请帮办」或「申请代办」重新开始，给您添麻烦了。")
FORM_PAUSED = ("系统暂时记不住对话，您正在填写的申请先停在这里：申请还没有提交。请过几分钟再回复继续；"
               "如果到时提示需要重新开始，回复「申请帮办」或「申请代办」即可。政策咨询和「我的申请」照常可用。")
FORM_WENT_IN = "您的申请已经提交成功：编号 {number}（{when}）。回复「我的申请」可查看进度。"

# -- the form's questions and answers, one entry a slot (dialogs/actions/application.py SLOTS) -----

# The question for each slot. {options}: the numbered choices; {summary}: SUMMARY of the answers.
QUESTIONS = {
    "service_mode": ("请选择服务方式：\n1. 帮办（专员指导您准备材料、跟踪催办，您自己申报）\n"
                     "2. 代办（签委托协议，专员代您申报、跑办）\n不确定可回复「区别」。"),
    # regions in tiers (issue 17 item 6): a 县区、镇 or 园区 typed here routes the case to its commissioners
    "region": "项目在哪个地区？（帮代办按属地提供）请回复数字，也可以直接写项目所在的县区、镇或园区：\n{options}",
    "service_option": "本地可按需选择服务时段和范围，请回复数字：\n{options}",
    "company_name": "请输入项目单位（企业）全称，与营业执照一致：",
    "credit_code": "请输入企业的18位统一社会信用代码（营业执照上可以找到）：",
    "project_name": "请输入项目名称：",
    "project_code": ("项目已在投资项目在线审批监管平台赋码的，请输入项目代码（如 2020-420118-47-03-012345）；"
                     "还没有请回复「无」。"),
    "investment_type": "项目的投资类型是？\n{options}",
    "key_project": "是否为市、区（县）确定的重点项目或招商引资项目？回复「是」或「否」。",
    "project_kind": "项目属于哪一类？\n{options}",
    "stage": "项目目前处在哪个审批阶段？\n{options}",
    "items": "需要帮您办理哪些事项？可多选，如「1 3」，或回复「全部」：\n{options}",
    "contact_name": "请留下项目经办人（联系人）姓名：",
    "contact_phone": "联系电话（手机或座机，专员会与您联系）；不方便留可以回复「跳过」。",
    "agreement": AGREEMENT_TERMS,
    "confirmed": "{summary}\n\n信息无误请回复「确认」提交；需要修改请回复「修改+项目」，如「修改联系人」。",
}

# What an answer the slot cannot take gets. {n}: how many choices there are; {error}: what
# bot/identifiers.py found wrong with a credit code, project code or phone number.
INVALID = {
    "service_mode": "请回复 1（帮办）或 2（代办）。",
    "region": "目前支持以下地区，请回复数字 1-{n}。不在其中的，请咨询当地政务服务中心。",
    "service_option": "请回复数字 1-{n} 选择服务选项（如「3」选全程帮办代办）。",
    "company_name": "请填写企业的完整名称（4-60个字，与营业执照一致），例如「武汉某某科技有限公司」。",
    "credit_code": "{error}",
    "project_name": "项目名称请控制在2-100个字。",
    "project_code": "{error} 如果还没有项目代码，请回复「无」。",
    "investment_type": "请回复 1（社会投资）或 2（政府投资）。",
    "key_project": "请回复「是」或「否」。",
    "project_kind": "请回复数字 1-{n} 选择项目类型。",
    "stage": "请回复数字 1-{n} 选择阶段。",
    "items": "请回复列表中的数字（1-{n}），多个用空格隔开，或回复「全部」。",
    "contact_name": "请填写联系人姓名（2-20个字，不含数字），例如「陈经理」或「陈明」。",
    "contact_phone": "{error} 不方便留可以回复「跳过」。",
    "agreement": "请回复「同意」确认委托协议，或回复「不同意」改为帮办。",
    "confirmed": "请回复「确认」提交，或回复「修改+项目」（如「修改联系人」），不想申请了回复「取消」。",
}
AGREEMENT_DECLINED = "好的，不签委托协议也可以选择帮办：专员指导您准备材料并全程跟踪。已为您改为帮办。"

# The answers read back before 「确认」 (QUESTIONS["confirmed"]); a slot not answered shows BLANK.
SUMMARY = "\n".join([
    "请核对您的{mode}申请：",
    "地区：{region}",
    "单位：{company}",
    "信用代码：{credit_code}",
    "项目：{project}",
    "项目代码：{project_code}",
    "投资类型：{investment_type}；重点项目：{key_project}",
    "项目类型：{project_kind}",
    "阶段：{stage}",
    "事项：{items}",
    "联系人：{contact_name}  电话：{contact_phone}",
])
SUMMARY_AGREED = "委托协议：已同意"
SUMMARY_SERVICE_OPTION = "服务选项：{option}"
SUMMARY_BLANK = "-"
SUMMARY_NO_PROJECT_CODE = "暂无"
SUMMARY_NO_PHONE = "未留"
SUMMARY_KEY_PROJECT = {True: "是", False: "否"}
SUMMARY_ITEM_SEPARATOR = "、"

# {who} of SUBMITTED: the commissioner the case went to, or that one is being found.
SUBMITTED_WHO = "帮代办专员{name}将与{contact}联系（一般1个工作日内）。"
SUBMITTED_UNASSIGNED = "我们正在为您分派帮代办专员，分派后会通知您。"
# Under the region question when the conversation was about one region (「东湖代办怎么申请」, then
# 「我要申请代办」): said, not assumed; a consultant may ask about one place and apply for another.
REGION_HINT = "您刚才问的是{region}：项目在那里，回复「{n}」即可。"
REGION_HINT_PLACE = "您刚才问的是{place}（{region}）：项目在那里，回复「{place}」即可，由当地的专员受理。"
INELIGIBLE_SOURCE = "当地实施方案"  # {source} of INELIGIBLE when the region names no document
