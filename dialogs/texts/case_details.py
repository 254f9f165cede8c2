"""After submitting: changing the 联系人 or 联系电话 of a case (「修改联系人」), and a 提前介入
invitation the enterprise accepts or declines (issue 17, items 8 and 9)."""

# -- 修改联系人 / 联系电话 -------------------------------------------------------------------------
CONTACT_WHICH = "您有{n}个在办申请，要修改哪一个的联系方式？请回复序号或案件编号：\n{options}"
CONTACT_WHICH_LINE = "{i}. {number} {project}（联系人：{name}）"
CONTACT_WHICH_AGAIN = "请回复列表中的序号（1-{n}）或案件编号；不改了请回复「取消」。"
CONTACT_NOT_YOURS = "没有找到您名下在办的{number}，请核对编号；不改了请回复「取消」。"
CONTACT_ASK = {
    "contact": "{number} 现在的联系人是{name}（{phone}）。请回复新的联系人姓名，可同时写上电话，如「王芳 13912345678」：",
    "phone": "{number} 现在的联系电话是{phone}。请回复新的联系电话（手机或带区号的座机）：",
}
CONTACT_BAD_NAME = "联系人姓名应为2-20个字、不含数字，如「王芳 13912345678」。联系方式没有修改；不改了请回复「取消」。"
CONTACT_BAD_PHONE = "{error} 联系方式没有修改；不改了请回复「取消」。"
CONTACT_SAME = "新的联系方式与原来的相同，无需修改。"
CONTACT_CONFIRM = "请确认修改 {number}：\n{change}\n回复「确认」修改，回复「取消」放弃。"
CONTACT_CONFIRM_AGAIN = "请回复「确认」修改，或回复「取消」放弃（联系方式尚未修改）。"
CONTACT_DONE = "已修改 {number}：\n{change}\n{who}"
CONTACT_DONE_TOLD = "已告知帮代办专员{name}。"
CONTACT_DONE_UNTOLD = "专员会在工作台看到这次修改。"
CONTACT_CANCELLED = "好的，联系方式没有修改。"
CONTACT_ABANDONED = "（修改联系方式已取消，原联系方式不变。）"
CONTACT_REFUSED = "没能修改：{error}"
CONTACT_ONLY = ("已提交的申请在对话中可以修改联系人和联系电话（回复「修改联系人」或「修改联系电话」）；"
                "其他信息请联系您的帮代办专员，或回复「转人工」。")
CONTACT_NO_PHONE = "未留"

# -- 提前介入 invitation ------------------------------------------------------------------------
INVITATION = ("【提前介入邀请】{number}\n帮代办专员{name}已为贵单位的项目「{project}」提前开通免费{mode}服务{option}。\n"
              "回复「确认」接受服务，回复「不需要」谢绝。")
INVITATION_AGREEMENT = "代办需要委托协议：回复「确认」即表示同意《{title}》（{version}），全文（可打印）：{url}"
INVITATION_OPTION = "（{option}）"
INVITATION_NOBODY = "（分派中）"
INVITATION_ACCEPTED = "已确认！{number}现在是您的申请，帮代办专员{name}会与您联系。可随时回复「我的申请」查看进度。"
INVITATION_DECLINED = "好的，已谢绝{number}的提前介入服务。以后需要时，随时回复「申请帮办」。"
INVITATION_GONE = "这份邀请已处理，无需再回复。"
