"""好差评 in the chat: what the enterprise reads while rating a service. Short, plain, and always
saying what to reply next."""

SCALE = "5 非常满意\n4 满意\n3 基本满意\n2 不满意\n1 非常不满意"

ASK_LEVEL = ("请为{number}（{project}）的{mode}服务评价，回复数字或文字：\n" + SCALE +
             "\n也可以一句话说完，如「5 服务很周到」。")
ASK_LEVEL_AGAIN = "没看懂您的评价😅 请回复 1-5 的数字或对应文字：\n" + SCALE + "\n不想评价了请回复「取消」。"
GIVE_UP = "先不评价也没关系，想评价时随时回复「评价」。"

ASK_CASE = "您有{n}个服务可以评价，请回复序号选择：\n{lines}"
CASE_LINE = "{i}. {number} {project}（{state}）"
ASK_CASE_AGAIN = "请回复 1-{n} 的序号选择要评价的服务，或回复「取消」。"

RECORDED = "已记录：{number} 评价「{level}」。"
CHANGED = "已修改：{number} 的评价改为「{level}」。"
ASK_DIMENSIONS = ("（可选）再分别给效率、态度、廉洁打个分（1-5），如「效率5 态度4 廉洁5」，"
                  "或按顺序回复三个数字「5 4 5」；不想评请回复「跳过」。")
ASK_DIMENSIONS_AGAIN = ("请按「效率5 态度4 廉洁5」的样子回复（效率＝办事快慢，态度＝服务态度，"
                        "廉洁＝有无吃拿卡要），或回复「跳过」。")
ASK_COMMENT = "还有什么想对我们说的吗？（可选）直接回复您的意见；没有请回复「没有」。"

THANKS = "感谢您的评价！评价结果将纳入帮代办专员考核，我们会继续改进服务。"
THANKS_GOOD = "感谢您的评价和认可！评价结果将纳入帮代办专员考核。"
SORRY = ("很抱歉这次服务没有让您满意。您的评价已转{who}{name}，将在{due}前与您联系回访、"
         "了解情况并整改，整改结果会告诉您。")
SORRY_WHO = "{region}帮代办主管"
SORRY_NOBODY = "当地帮代办主管"
CORRECT_HINT = "{deadline}前如需修改，可回复「评价」重新选择。"

NOTHING_TO_RATE = ("您目前没有待评价的帮代办服务（服务送达或终止后即可评价）。"
                   "如有意见或投诉，可回复「转人工」留言，我们会认真处理。")
ALREADY_RATED = "{number}已评价为「{summary}」，感谢！如需修改，请在{deadline}前回复新的等级（1-5）：\n" + SCALE
CANCELLED = "好的，已退出评价。想评价时随时回复「评价」。"
UNCHANGED = "好的，评价保持不变。"
