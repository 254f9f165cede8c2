"""Staff console (帮代办专员 and 主管) and the JSON API for the approval system.

`init_app(app)` is all create_app needs: it configures the session cookie and CSRF, and registers
the console blueprint (auth.py: login and who may see what; cases.py: the pages and actions) and
the API blueprint (api.py). Case changes themselves live in bot/casework/case_actions.py, shared by both.
Both reach the database and knowledge base through `services()`, what create_app built the app on.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import Blueprint, Flask, current_app, render_template
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import BadRequest

from bot.platform import clock, region_tiers
from bot.platform.config import Settings
from dialogs.services import Services

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")
# CSRF is checked by the console's own guard (auth.py), not app-wide: the WeChat callback is
# signed by WeChat and the API uses bearer tokens, neither carries a browser session.
csrf = CSRFProtect()

SESSION_LIFETIME = timedelta(hours=12)  # one working day; a CSRF token lives as long as its session


def init_app(app: Flask) -> None:
    settings: Settings = app.config["BANGBAN_SETTINGS"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if settings.secret_key == Settings().secret_key and settings.public_url.startswith("https://"):
        log.warning("SECRET_KEY is the development default: console sessions can be forged; set SECRET_KEY")
    csrf.init_app(app)
    app.extensions["bangban_login_throttle"] = throttle.LoginThrottle(
        app.extensions["bangban_services"].kv, per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address)
    app.add_template_filter(china_time, "china_time")
    app.register_blueprint(bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(agreements.public_bp)  # /agreements/<region>/<version>: public, no login


def services() -> Services:
    """What create_app built the app on (dialogs/services.py): database, store, knowledge base."""
    return current_app.extensions["bangban_services"]


def sessions() -> sessionmaker[Session]:
    """The app's database sessions."""
    return services().sessions


def settings() -> Settings:
    return current_app.config["BANGBAN_SETTINGS"]


def _catalogue(kind: str) -> dict:
    """Regions or stages of the knowledge base, for display names (empty if none is loaded)."""
    return getattr(services().kb, kind, {}) or {}


def region_name(region_id: str) -> str:
    """The configured display name (bot.platform.config.REGION_NAMES); a region only the knowledge base
    knows keeps its short name there."""
    if region_id in settings().region_names or region_tiers.known(region_id):
        return settings().region_name(region_id)  # a sub-region (镇/园区) by its config/region_tiers.yaml name
    region = _catalogue("regions").get(region_id)
    return region.short if region else region_id


def stage_name(stage_id: str) -> str:
    stage = _catalogue("stages").get(stage_id)
    return stage.name if stage else stage_id


def china_time(value: datetime | None, fmt: str = clock.STAMP) -> str:
    return clock.stamp(value, fmt)


@bp.errorhandler(400)
def bad_request(err):
    """Odd input (webhook/params.py: a page or date out of range) is told what was wrong; a CSRF
    failure has its own page (auth.py)."""
    told = getattr(err, "description", "")
    message = told if told and told != BadRequest.description else "请求参数不正确，请返回后重试。"
    return render_template("console/error.html", code=400, message=message), 400


from . import (  # noqa: E402,F401 - the modules attach their routes to the blueprints  # noqa: E402,F401 - 挂图作战, exports and escalations (supervisors)
    accounts,  # own password; a supervisor's roster and deactivation
    agreements,  # 委托协议 pages and print, 一企一策 plan (issue 17 items 2, 10)
    api,
    appointments,  # 上门受理 and 窗口预约 (issue 17 item 1)
    archiving,  # 立卷归档: completeness check and the archive (issue 17 item 5)
    auth,
    case_details,  # 提前介入, 修改联系人 (issue 17)
    completion,  # 办结 the enterprise confirms, materials handed back (issue 17)
    cases,
    dashboard,
    escalations,
    handoffs,
    rectifications,  # noqa: E402,F401 - 差评整改 and 回访 (supervisors)
    throttle,
)
