"""The Official Account's custom menu (自定义菜单), read from config/menu.yaml and checked on load.

WeChat's rules, checked here so a bad file is refused with a clear message before WeChat would
refuse it with an error code: at most 3 top buttons, each with at most 5 sub buttons; a top
button's name at most 16 bytes, a sub button's at most 60; keys 1-128 bytes; a view url at most
1024 bytes. On top of those, ours: keys are unique; a click says what it stands for (`says`: the
words the bot reads as if typed) or names a prompt (`prompt`, dialogs/texts/wechat.py); a view
opens one of this app's pages (`path`, at PUBLIC_URL + path).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .texts import wechat as wechat_texts

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "config" / "menu.yaml"
TOP_BUTTONS_MAX = 3
SUB_BUTTONS_MAX = 5
TOP_NAME_MAX_BYTES = 16
SUB_NAME_MAX_BYTES = 60
KEY_MAX_BYTES = 128
URL_MAX_BYTES = 1024
# The app's pages a menu may open (webhook/chat.py, webhook/console/): the web chat and the console.
PAGES = ("/chat", "/console/")


class MenuError(ValueError):
    """config/menu.yaml breaks a rule: the message says which button and what to change."""


@dataclass(frozen=True)
class Click:
    key: str
    says: str | None = None  # read as if the user had typed it
    prompt: str | None = None  # a name in texts.wechat.MENU_PROMPTS


@dataclass
class Menu:
    buttons: list[dict]  # as in the file, checked
    clicks: dict[str, Click] = field(default_factory=dict)

    def for_wechat(self, public_url: str) -> dict:
        """The body of menu/create, with each view path made a full URL on `public_url`."""
        base = public_url.rstrip("/")

        def leaf(b: dict) -> dict:
            if b["type"] == "view":
                return {"type": "view", "name": b["name"], "url": base + b["path"]}
            return {"type": "click", "name": b["name"], "key": b["key"]}

        out = []
        for b in self.buttons:
            if b.get("sub_button"):
                out.append({"name": b["name"], "sub_button": [leaf(s) for s in b["sub_button"]]})
            else:
                out.append(leaf(b))
        body = {"button": out}
        for b in out:
            for s in b.get("sub_button", [b]):
                if "url" in s and len(s["url"].encode("utf-8")) > URL_MAX_BYTES:
                    raise MenuError(f"'{s['name']}'的网址超过 {URL_MAX_BYTES} 字节：{s['url'][:60]}…")
        return body


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_leaf(b, where: str, name_limit: int, clicks: dict[str, Click]) -> None:
    if not isinstance(b, dict):
        raise MenuError(f"{where}：每个按钮应是一组 name/type/... 设置")
    name = b.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MenuError(f"{where}：缺少按钮名称 name")
    if _size(name) > name_limit:
        raise MenuError(f"{where}'{name}'：名称 {_size(name)} 字节，微信限 {name_limit} 字节")
    kind = b.get("type")
    if kind == "click":
        key = b.get("key")
        if not isinstance(key, str) or not key:
            raise MenuError(f"{where}'{name}'：click 按钮需要 key")
        if _size(key) > KEY_MAX_BYTES:
            raise MenuError(f"{where}'{name}'：key {_size(key)} 字节，微信限 {KEY_MAX_BYTES} 字节")
        if key in clicks:
            raise MenuError(f"{where}'{name}'：key {key} 与另一个按钮重复")
        says, prompt = b.get("says"), b.get("prompt")
        if bool(says) == bool(prompt):
            raise MenuError(f"{where}'{name}'：click 按钮要写 says（点了等于发这句话）或 prompt（回一句提示），二选一")
        if prompt and prompt not in wechat_texts.MENU_PROMPTS:
            raise MenuError(f"{where}'{name}'：没有叫 {prompt} 的提示（可用：{'、'.join(wechat_texts.MENU_PROMPTS)}）")
        if says is not None and (not isinstance(says, str) or not says.strip()):
            raise MenuError(f"{where}'{name}'：says 应是一句话")
        clicks[key] = Click(key, says.strip() if says else None, prompt or None)
    elif kind == "view":
        path = b.get("path")
        if not isinstance(path, str) or path.rstrip("/") not in {p.rstrip("/") for p in PAGES}:
            raise MenuError(f"{where}'{name}'：view 按钮的 path 应是本系统的页面之一（{'、'.join(PAGES)}），不是 {path!r}")
    else:
        raise MenuError(f"{where}'{name}'：type 应是 click 或 view，不是 {kind!r}")


def parse(data) -> Menu:
    if not isinstance(data, dict) or not isinstance(data.get("button"), list):
        raise MenuError("菜单文件应以 button: 开头，下面列出一级菜单")
    buttons = data["button"]
    if not 1 <= len(buttons) <= TOP_BUTTONS_MAX:
        raise MenuError(f"一级菜单有 {len(buttons)} 个，微信要求 1 到 {TOP_BUTTONS_MAX} 个")
    clicks: dict[str, Click] = {}
    for i, b in enumerate(buttons, 1):
        where = f"第 {i} 个一级菜单"
        if isinstance(b, dict) and "sub_button" in b:
            name, subs = b.get("name"), b["sub_button"]
            if not isinstance(name, str) or not name.strip():
                raise MenuError(f"{where}：缺少名称 name")
            if _size(name) > TOP_NAME_MAX_BYTES:
                raise MenuError(f"{where}'{name}'：名称 {_size(name)} 字节，微信限 {TOP_NAME_MAX_BYTES} 字节（4 个汉字）")
            if not isinstance(subs, list) or not 1 <= len(subs) <= SUB_BUTTONS_MAX:
                raise MenuError(f"{where}'{name}'：子菜单应有 1 到 {SUB_BUTTONS_MAX} 个")
            for j, s in enumerate(subs, 1):
                if isinstance(s, dict) and "sub_button" in s:
                    raise MenuError(f"{where}'{name}'第 {j} 个子菜单：微信菜单只有两级")
                _check_leaf(s, f"{where}'{name}'第 {j} 个子菜单", SUB_NAME_MAX_BYTES, clicks)
        else:
            _check_leaf(b, where, TOP_NAME_MAX_BYTES, clicks)
    return Menu(buttons, clicks)


def load(path: str | Path = DEFAULT_PATH) -> Menu:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MenuError(f"找不到菜单文件 {path}") from None
    except yaml.YAMLError as err:
        raise MenuError(f"{path} 不是合法的 YAML：{err}") from None
    return parse(data)
