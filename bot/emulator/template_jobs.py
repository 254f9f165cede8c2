"""TEMPLATESENDJOBFINISH: the event WeChat posts to the account once a template message's
delivery has finished (bot/emulator/state.py keeps one job per template message sent).

Controls:
- POST /_emulator/template_outcomes {"openid", "status"}: how that user's template messages end:
  "success", "failed:user block" (the user set the account's template messages to 拒收; the send
  itself still answers ok with a msgid, as WeChat's does) or "failed: system failed";
- GET /_emulator/template_jobs?after=<msgid>: the finished jobs, each with the event's XML as
  WeChat would post it to the account's callback URL (`xml`), for a test or the demo to deliver
  through the webhook (webhook/simulator.py signs it).
/_emulator/reset clears both, with the account.
"""
from __future__ import annotations

from flask import Flask, jsonify, request

from bot.emulator.state import EmulatorState

STATUSES = ("success", "failed:user block", "failed: system failed")
ACCOUNT_ORIGINAL_ID = "gh_bangbantong"  # the account's 原始ID, ToUserName of what it is sent


def event_xml(openid: str, msgid: int, status: str, create_time: int,
              to: str = ACCOUNT_ORIGINAL_ID) -> str:
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
            f"<Status><![CDATA[{status}]]></Status></xml>")


def install(app: Flask, state: EmulatorState) -> None:
    @app.post("/_emulator/template_outcomes")
    def template_outcomes():
        data = request.get_json(silent=True) or {}
        if not isinstance(data, dict) or not data.get("openid") or data.get("status") not in STATUSES:
            return jsonify({"error": f"openid and a status of {STATUSES} are required"}), 400
        state.set_template_outcome(data["openid"], data["status"])
        return jsonify({"ok": True})

    @app.get("/_emulator/template_jobs")
    def template_jobs():
        after = request.args.get("after", "")
        if after and not after.isdigit():
            return jsonify({"error": "after must be a message id"}), 400
        jobs = state.finished_template_jobs(int(after) if after else None)
        return jsonify([{**j, "xml": event_xml(j["openid"], j["msgid"], j["status"], int(j["at"]))} for j in jobs])
