"""The development outbox: registered only when DEV_OUTBOX_PAGE is on (never in production)."""

from flask import Blueprint, abort, render_template

from app.notifications.services import outbox_message, outbox_messages
from app.permissions import public

bp = Blueprint("outbox", __name__, url_prefix="/dev/outbox")


@bp.route("/")
@public
def messages():
    return render_template("notifications/outbox.html", messages=outbox_messages())


@bp.route("/<key>")
@public
def message(key: str):
    found = outbox_message(key)
    if found is None:
        abort(404)
    return render_template("notifications/message.html", message=found)
