"""A local stand-in for api.weixin.qq.com that enforces WeChat's real rules and error codes.

    from bot.emulator import create_app, serve, EmulatorControl
    with serve() as base_url:               # e.g. http://127.0.0.1:54321
        control = EmulatorControl(base_url)
        control.add_user("openid-1"); control.interact("openid-1")
        client = bot.push.wechat_api.make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
"""
from bot.emulator.app import create_app, emulator_state
from bot.emulator.clock import OffsetClock
from bot.emulator.control import EmulatorControl
from bot.emulator.server import serve
from bot.emulator.state import DEFAULT_APPID, DEFAULT_SECRET

__all__ = [
    "DEFAULT_APPID", "DEFAULT_SECRET", "EmulatorControl", "OffsetClock", "create_app",
    "emulator_state", "serve",
]
