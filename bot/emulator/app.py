"""Flask app emulating the parts of api.weixin.qq.com 帮办通 uses, plus /_emulator/ controls.

WeChat answers business errors with HTTP 200 and {"errcode", "errmsg"}; so does the emulator.
Only an injected "http500" fault produces a non-200 answer.
"""
from __future__ import annotations

import time

from flask import Flask, jsonify, request

from bot.emulator import errors, media, menu_qr
from bot.emulator import template_jobs, wecom
from bot.emulator.clock import as_offset_clock
from bot.emulator.state import DEFAULT_APPID, DEFAULT_SECRET, EmulatorState, parse_body

EXTENSION_KEY = "wechat_emulator"
CONTROL_PREFIX = "/_emulator/"


def emulator_state(app: Flask) -> EmulatorState:
    return app.extensions[EXTENSION_KEY]


def create_app(clock=None, appid: str = DEFAULT_APPID, secret: str = DEFAULT_SECRET) -> Flask:
    """clock: None (real time), an OffsetClock, or a callable returning epoch seconds."""
    app = Flask(__name__)
    state = EmulatorState(as_offset_clock(clock), appid=appid, secret=secret)
    app.extensions[EXTENSION_KEY] = state
    _install_faults(app, state)
    _install_wechat_api(app, state)
    menu_qr.install(app, state)  # custom menu and QR codes with a scene
    media.install(app, state)  # temporary media: media/upload and media/get
    wecom.install(app, state)  # 企业微信: gettoken and message/send for staff alerts
    template_jobs.install(app, state)  # TEMPLATESENDJOBFINISH events of template messages
    _install_controls(app, state)
    return app


def _install_faults(app: Flask, state: EmulatorState) -> None:
    @app.before_request
    def inject_fault():
        if request.path.startswith(CONTROL_PREFIX):
            return None
        fault = state.faults.take(request.path)
        if fault is None:
            return None
        if fault.kind == "delay":
            time.sleep(fault.delay_seconds)  # real time on purpose: it exercises client timeouts
            return None
        if fault.kind == "http500":
            return "Internal Server Error", 500
        errcode = errors.SYSTEM_BUSY if fault.kind == "busy" else int(fault.errcode)
        return jsonify(errors.ApiError(errcode).body())

    @app.errorhandler(errors.ApiError)
    def api_error(err: errors.ApiError):
        return jsonify(err.body())


def _install_wechat_api(app: Flask, state: EmulatorState) -> None:
    @app.get("/cgi-bin/token")
    def token():
        args = request.args
        return jsonify(state.fetch_token(args.get("grant_type"), args.get("appid"),
                                         args.get("secret")))

    @app.post("/cgi-bin/stable_token")
    def stable_token():
        return jsonify(state.fetch_stable_token(parse_body(request.get_data())))

    @app.post("/cgi-bin/message/custom/send")
    def custom_send():
        return jsonify(state.send_custom(request.args.get("access_token"), request.get_data()))

    @app.post("/cgi-bin/message/template/send")
    def template_send():
        return jsonify(state.send_template(request.args.get("access_token"), request.get_data()))

    @app.post("/cgi-bin/message/subscribe/bizsend")
    def subscribe_send():
        return jsonify(state.send_subscribe(request.args.get("access_token"), request.get_data()))


class _BadControlRequest(Exception):
    pass


def _install_controls(app: Flask, state: EmulatorState) -> None:
    def body() -> dict:
        data = request.get_json(silent=True)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise _BadControlRequest("expected a JSON object")
        return data

    def required(data: dict, name: str):
        if data.get(name) in (None, ""):
            raise _BadControlRequest(f"{name} is required")
        return data[name]

    @app.errorhandler(_BadControlRequest)
    def bad_control(err):
        return jsonify({"error": str(err)}), 400

    @app.errorhandler(ValueError)
    def bad_value(err):
        return jsonify({"error": str(err)}), 400

    @app.post("/_emulator/reset")
    def reset():
        state.reset()
        return jsonify({"ok": True})

    @app.post("/_emulator/apps")
    def apps():
        data = body()
        state.register_app(required(data, "appid"), required(data, "secret"))
        return jsonify({"ok": True})

    @app.post("/_emulator/users")
    def users():
        data = body()
        user = state.register_user(required(data, "openid"), data.get("following", True))
        return jsonify(vars(user))

    @app.post("/_emulator/interactions")
    def interactions():
        data = body()
        user = state.record_interaction(required(data, "openid"), data.get("at"))
        return jsonify(vars(user))

    @app.post("/_emulator/templates")
    def templates():
        data = body()
        state.register_template(required(data, "template_id"), data.get("fields") or [])
        return jsonify({"ok": True})

    @app.post("/_emulator/subscribe_templates")
    def subscribe_templates():
        data = body()
        state.register_subscribe_template(required(data, "template_id"), required(data, "fields"))
        return jsonify({"ok": True})

    @app.post("/_emulator/subscriptions")
    def subscriptions():
        data = body()
        sub = state.accept_subscription(required(data, "openid"), required(data, "template_id"),
                                        count=data.get("count", 1),
                                        long_term=data.get("long_term", False))
        return jsonify(vars(sub))

    @app.post("/_emulator/quotas")
    def quotas():
        # {"template_daily": N} for the account, {"per_template": {template_id: N}} per template
        data = body()
        result = state.set_quotas(data.get("template_daily"), data.get("per_template"))
        return jsonify(vars(result))

    @app.post("/_emulator/faults")
    def faults():
        data = body()
        fault = state.faults.add(required(data, "path"), required(data, "kind"),
                                 count=int(data.get("count", 1)),
                                 delay_seconds=float(data.get("delay_seconds", 0)),
                                 errcode=data.get("errcode"))
        return jsonify(vars(fault))

    @app.get("/_emulator/faults")
    def pending_faults():
        return jsonify(state.faults.pending())

    @app.get("/_emulator/messages")
    def messages():
        # ?openid= what that user's WeChat shows; ?after=<msgid> only what came since (polling)
        after = request.args.get("after", "")
        if after and not after.isdigit():
            raise _BadControlRequest("after must be a message id")
        return jsonify(state.sent_messages(openid=request.args.get("openid") or None,
                                           after=int(after) if after else None))

    @app.post("/_emulator/clock/advance")
    def advance_clock():
        now = state.clock.advance(float(required(body(), "seconds")))
        return jsonify({"now": now})

    @app.get("/_emulator/clock")
    def clock():
        return jsonify({"now": state.now()})

    @app.post("/_emulator/tokens/revoke")
    def revoke_tokens():
        return jsonify({"revoked": state.revoke_all_tokens()})

    @app.get("/_emulator/stats")
    def stats():
        return jsonify(state.stats())
