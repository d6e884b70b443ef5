"""The home page per role, the language switch and browser libraries installed from npm."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, session, url_for
from flask_login import current_user

from app import permissions
from app.auth.views import safe_next
from app.districts import queries
from app.permissions import public, requires

bp = Blueprint("core", __name__)

# Browser libraries come from npm (package.json); only these files are served from node_modules.
VENDOR_ASSETS = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "socket.io.min.js.map": "socket.io-client/dist/socket.io.min.js.map",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "chart.umd.min.js.map": "chart.js/dist/chart.umd.min.js.map",
}


@bp.route("/")
@public
def index():
    if permissions.is_signed_in(current_user):
        return redirect(url_for("core.home"))
    return render_template("core/welcome.html")


@bp.route("/home")
@requires(permissions.is_signed_in)
def home():
    role = current_user.role
    if role == "therapist":
        return render_template("core/home_therapist.html", caseload=queries.current_caseload(current_user))
    if role == "guardian":
        return render_template("core/home_guardian.html", links=queries.guardian_children(current_user))
    return render_template("core/home_admin.html", overview=queries.admin_overview(current_user))


@bp.route("/language", methods=["POST"])
@public
def set_language():
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        abort(400)
    lang = request.form.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("core.index"))


@bp.route("/vendor/<path:name>")
@public
def vendor_asset(name: str):
    relative = VENDOR_ASSETS.get(name)
    if relative is None:
        abort(404)
    path = Path(current_app.config["NODE_MODULES_DIR"]) / relative
    if not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)
