"""Games pages: a student's mood check-ins over their sessions, for their therapist."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app import permissions
from app.consent.services import consent_is_active
from app.db_types import utcnow
from app.districts.models import Student
from app.games import services
from app.games.rules.mood_checkin import FACES_BY_VALUE
from app.permissions import authorize, requires
from app.scheduling.services import to_local
from app.tenancy import get_in_district

bp = Blueprint("games", __name__)


@bp.route("/students/<int:student_id>/mood")
@requires(permissions.is_therapist)
def mood_trend(student_id: int):
    now = utcnow()
    student = get_in_district(Student, student_id, current_user.district_id)
    authorize(permissions.can_view_mood_trend(current_user, student, now), not_found=True)
    points = services.mood_trend(student)
    for point in points:  # the session's date at the student's school
        point.local_day = to_local(point.starts_at, student.school.timezone).date()
    return render_template(
        "games/mood_trend.html", student=student, points=points, faces=FACES_BY_VALUE,
        consent_active=consent_is_active(student, "mood_checkins", now),
    )


@bp.app_context_processor
def games_catalogue():
    """`games_catalogue()` in templates: what the games panel needs to draw every activity."""

    def catalogue() -> dict:
        from app.games.registry import GAMES
        from app.games.rules.drawing_board import MAX_WIDTH, PALETTE
        from app.games.rules.memory_match import PICTURES
        from app.games.rules.mood_checkin import FACES

        return {
            "games": [{"name": name, "title": game.title, "description": game.description}
                      for name, game in GAMES.items()],
            "palette": [{"name": name, "hex": hex_} for name, hex_ in PALETTE.items()],
            "max_width": MAX_WIDTH,
            "pictures": PICTURES,
            "faces": list(FACES),
        }

    return {"games_catalogue": catalogue}
