"""What the chat says around consultation: welcome, menu, small talk, answers' caveats and menus,
follow-ups, 转人工, and what it says when part of the system is away."""

WELCOME = (
    "您好，欢迎关注「帮办通」！这里提供工程建设项目审批的免费帮办、代办服务咨询。\n"
    "您可以直接提问，例如：\n"
    "· 施工许可证要准备哪些材料？\n"
    "· 帮办和代办有什么区别？\n"
    "· 东湖高新区哪些项目可以申请代办？\n"
    "回复「菜单」随时查看我能做什么。"
)

MENU = (
    "我可以帮您：\n"
    "1. 政策咨询：审批流程、所需材料、办理时限\n"
    "2. 了解帮办/代办：服务范围、如何申请、双方职责\n"
    "3. 人工服务：回复「转人工」联系帮代办专员\n"
    "直接输入您的问题即可，例如「竣工验收备案要什么材料」。"
)
GREETING = "您好！我是帮办通。\n" + MENU

THANKS = "不客气！还有其他问题随时问我。"
FILLER = "我在呢😊 您可以直接问审批流程、材料、时限，比如「施工许可证要准备哪些材料」；也可以回复「申请帮办」「我的申请」或「菜单」。"
EMPTY = "我没有看到文字内容😊 请直接输入您的问题，例如「施工许可证要准备哪些材料」，或回复「菜单」。"
NON_TEXT = "暂时只能识别文字消息，请把您的问题用文字发给我，或回复「菜单」。"

MORE_HINT = "\n……（内容较长，回复「更多」查看后续）"
NO_MORE = "没有更多内容了。还有其他问题，请直接提问。"

CLARIFY_HEAD = "您想问的是哪一个？请回复数字："
CLARIFY_TAIL = "都不是？请换个说法再问，或回复「转人工」。"
TENTATIVE_TAIL = "不是您要问的？换个说法再问，或回复「转人工」。"
FOLK_HEAD = "「{term}」可能指两个不同的证，您问的是哪一个？请回复数字："
FOLK_TAIL = "（建设用地规划许可证在立项用地规划许可阶段办，建设工程规划许可证在工程建设许可阶段办。）"
ONLY_OTHER_REGION = "{region}的文件没有这方面的规定，下面是{other}的做法，仅供参考："
NO_REGIONAL_RULE = "{region}的文件对此没有单独规定，一般做法如下："
REGION_SILENT_GENERAL = "{region}的文件没有公布这方面的具体规定，下面是国家层面的一般规定，具体以当地公布为准："
REGION_SILENT_OTHERS = "{region}的文件对此没有单独规定，下面是其他地区文件的做法，仅供参考："
SEVERAL_QUESTIONS = "您问了{n}个问题，分别回答如下："
# One of several questions in a message that no topic answers with confidence.
PART_UNSURE = "这个问题我暂时答不准，可以单独换个说法再问，或回复「转人工」由帮代办专员解答。"
ORDINALS = ("一", "二", "三")
QUESTION_COUNTS = {2: "两", 3: "三"}
FIGURE_MISSING = "您问的{what}，收录的文件里没有写明（可回复「转人工」向帮代办专员确认）；相关规定如下："
# A 镇 or 园区 (config/region_tiers.yaml) answered with the documents of the place above it.
LOWER_PLACE = "{place}属{where}，以下按{region}的文件回答："
PLACE_NOT_LISTED = "{region}的文件没有单独公布{place}的{what}，下面是{region}市级的，{place}的请向当地政务服务中心询问："
OTHER_PLACE_BESIDE = "{place}的做法收录的文件里没有（请向当地政务服务中心询问），下面是{region}的："
OTHER_PLACE_GENERAL = "{place}的具体规定我们没有收录，下面是国家层面的一般规定，具体以当地公布为准："
MENU_EXPIRED = "这个编号已经过期了，请直接输入您的问题。"
MENU_OUT_OF_RANGE = "请回复列表中的数字（1-{n}），或直接输入您的问题。"
# One line of a numbered answer (「第二步呢」), with where the rest is and the answer's source.
STEP = "{line}\n（{title}，共{n}项；回复「{title}」看全部）\n{source}"
# After a contact answer: the channels the operator configured (BANGBAN_CONTACTS), one line a region.
CONTACTS_HEAD = "\n\n当地公布的联系方式："
CONTACT_FIELDS = {"window": "窗口", "phone": "电话", "hours": "时间"}
CONTACT_FIELD = "{label}：{value}"
CONTACT_FIELD_SEPARATOR = "；"
CONTACT_LINE = "{region}　{fields}"

UNSURE = (
    "抱歉，这个问题我暂时答不准，不想给您错误的信息。\n"
    "您可以换个说法再问（比如说明是哪个审批事项、哪个地区），或回复「转人工」由帮代办专员为您解答。"
)
HANDOFF_ASK = "好的，请把您的问题发给我，我转给帮代办专员，专员会在这里答复您。"
HANDOFF_OPENED = (
    "已把您的问题「{question}」转给{who}（编号 H{id}）。专员会在工作时间答复，答复会发到这个公众号；"
    "着急的话也可以到当地政务服务中心帮代办窗口咨询。您可以继续问我其他问题。"
)
# 转人工 from someone with no case and no known region: whose people should answer (属地服务).
HANDOFF_WHICH_REGION = "好的，马上为您转人工。帮代办按属地服务，请问您的项目在哪个地区？请回复数字："
HANDOFF_REGION_AGAIN = "抱歉，没有认出您说的地区。请回复数字："
HANDOFF_REGION_GUESS = "您说的是「{region}」吗？是的话请回复「是」，不是请回复数字："
HANDOFF_REGION_TAIL = "不在以上地区？回复「其他」，由帮代办主管为您答复。回复「取消」则不转人工。"
HANDOFF_REGION_CANCELLED = "好的，这次先不转人工。有问题随时问我，需要时再回复「转人工」。"
# Who the question went to ({who} of HANDOFF_OPENED).
HANDOFF_TO_CASE_COMMISSIONER = "负责{number}的帮代办专员{name}"
HANDOFF_TO_COMMISSIONER = "帮代办专员{name}"
HANDOFF_TO_REGION = "{region}的帮代办专员"
HANDOFF_TO_SUPERVISOR = "帮代办主管"
# What the person answering reads (the console's 转人工 card), written by the chat: where a
# project none of ours is, and what someone filling in the form asks with a bare 「转人工」.
HANDOFF_PLACE_NOTE = "（项目在{place}）{question}"
HANDOFF_FROM_FORM = "填写申请时需要人工帮助（正在填写：{slot}）"

ASK_REGION_HEAD = "这个问题各地规定不同。请问您的项目在哪个地区？请回复数字："
ASK_REGION_TAIL = "不在以上地区？回复「其他」，我给您一般性的说明。"
REGION_SET = "好的，已记下您的项目在{region}。"
REGION_NOTED_TAIL = "之后的问题都按{region}的文件回答。您可以直接提问，比如「代办怎么申请」「施工许可要哪些材料」「代办收费吗」。"

DB_DOWN = ("系统正在维护，在线申请、进度查询和转人工暂时用不了，请几分钟后再试；已提交的申请不受影响。"
           "政策、材料方面的问题可以照常问我。")
STATE_UNAVAILABLE = "在线申请暂时不可用，请几分钟后再试；政策、材料咨询和「我的申请」查询可以照常使用。"
BUSY = "您的上一条消息还在处理中，请稍等几秒再发。"

NOTHING_TO_CANCEL = "好的。还有什么可以帮您？直接提问，或回复「菜单」。"
EDIT_OUTSIDE_FORM = "目前没有正在填写的申请。已提交的申请如需更改信息，请联系您的帮代办专员，或回复「转人工」。"
