"""What the app answers outside its blueprints' own routes: the error pages of a URL nobody
serves (404) or a method a route does not take (405), and the site icon.

Werkzeug's defaults are English HTML. Here the answer is in Chinese and in the form the client
reads: JSON under /api/ (the approval system) or to a client that asks for JSON, the console's
own error page under /console, and a short page elsewhere. Browsers ask every site for
/favicon.ico: it is a real icon, so that request is no 404 in the log.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, make_response, render_template, request, send_file
from werkzeug.exceptions import HTTPException

ICON = Path(__file__).with_name("favicon.ico")
ICON_MAX_AGE_S = 7 * 24 * 3600
MESSAGES = {
    404: ("not_found", "没有找到您要访问的页面，请检查地址是否正确。"),
    405: ("method_not_allowed", "该地址不支持这种访问方式，请从页面上的链接或按钮进入。"),
}


def init_app(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    for code in MESSAGES:
        app.register_error_handler(code, error_page)


def favicon():
    return send_file(ICON, mimetype="image/x-icon", max_age=ICON_MAX_AGE_S)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_page(err: HTTPException):
    from .console import api

    code = err.code or 500
    name, message = MESSAGES[code]
    if request.path.startswith(f"{api.bp.url_prefix}/"):
        response = (api.not_found if code == 404 else api.not_allowed)(err)  # the API's own words
    elif request.path == "/console" or request.path.startswith("/console/"):
        response = make_response(render_template("console/error.html", code=code, message=message), code)
    elif _wants_json():
        response = make_response(jsonify(error=name, message=message), code)
    else:
        response = make_response(render_template("error.html", code=code, message=message), code)
    if code == 405 and getattr(err, "valid_methods", None):
        response.headers["Allow"] = ", ".join(err.valid_methods)  # what Werkzeug's own page says
    return response
