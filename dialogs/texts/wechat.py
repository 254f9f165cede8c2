"""What the chat says to what only WeChat sends: voice without recognised text, video, a location,
menu clicks that ask for a question, and scanned QR codes (a region's poster, a staff binding code).

Read as `texts.wechat.X` (`from dialogs.texts import wechat`); not star-exported, so its names
cannot clash with chat's."""

VOICE_UNRECOGNISED = "抱歉，这条语音没有听清。请再说一遍，或直接打字发给我，例如「施工许可要什么材料」。"
VIDEO = "收到您的视频。视频内容我暂时看不了：有问题请用文字或语音告诉我，办理材料请在办理中按专员要求提交。回复「菜单」查看我能做什么。"
LOCATION = ("收到您的位置。我不能根据定位判断所在辖区；目前提供帮办代办服务的地区有：{regions}。\n"
            "请直接回复您项目所在的地区名称（例如「{example}」），我按当地的规定为您解答。")

# Menu clicks that answer with a prompt (config/menu.yaml `prompt:`), by name.
MENU_PROMPTS = {
    "ask": "请直接输入您的问题，例如「施工许可证要准备哪些材料」「代办要签什么协议」。文字、语音都可以。",
}

REGION_SCANNED = ("已为您设定地区：{region}。之后的问题我都按{region}的规定解答。\n"
                  "需要专员帮您办？回复「申请帮办」（您自己办，专员全程指导）或「申请代办」（委托专员代您办）。")
REGION_SCAN_UNKNOWN = "这个二维码对应的地区暂未开通帮办代办服务。请直接回复您项目所在的地区名称，或回复「菜单」。"
SCAN_UNKNOWN = "这个二维码已失效或不是本公众号的服务码。有问题可以直接提问，或回复「菜单」。"

STAFF_BOUND = "绑定成功：{name}（{region}），这个微信号今后会收到分派、催办、超期和转人工提醒。"
STAFF_ALREADY_BOUND = "这个微信号已绑定为 {name}（{region}），无需再扫。"
STAFF_BIND_EXPIRED = "这个绑定二维码已过期。请找管理员重新生成（bangban staff bind-qr），生成后尽快扫码。"
STAFF_BIND_USED = "这个绑定二维码已经使用过了，不能再用。如需改绑微信号，请找管理员重新生成。"
