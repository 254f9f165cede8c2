"""A local stand-in for api.weixin.qq.com that enforces WeChat's real rules and error codes.

    from bot.emulator import create_app, serve, EmulatorControl
    with serve() as base_url:               # e.g. http://127.0.0.1:54321
        control = EmulatorControl(base_url)
        control.add_user("openid-1"); control.interact("openid-1")
        client = bot.wechat_api.make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
"""
from .app import create_app, emulator_state
from .clock import OffsetClock
from .control import EmulatorControl
from .server import serve
from .state import DEFAULT_APPID, DEFAULT_SECRET

__all__ = [
    "DEFAULT_APPID", "DEFAULT_SECRET", "EmulatorControl", "OffsetClock", "create_app",
    "emulator_state", "serve",
]
