from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app import permissions
from app.audit.services import record
from app.auth.forms import ConfirmForm
from app.auth.models import User
from app.auth.services import AccountError, deactivate_user, reactivate_user
from app.districts import queries
from app.districts.models import School, Student
from app.extensions import db
from app.permissions import authorize, requires
from app.tenancy import get_in_district
from app.web import client_ip

bp = Blueprint("districts", __name__)

PAGE_SIZE = 50


def _page() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.route("/schools")
@requires(permissions.is_admin)
def schools():
    return render_template("districts/schools.html", overview=queries.admin_overview(current_user))


@bp.route("/schools/<int:school_id>")
@requires(permissions.is_staff)
def school(school_id: int):
    school = get_in_district(School, school_id, current_user.district_id)
    authorize(permissions.can_view_school(current_user, school), not_found=True)
    return render_template("districts/school.html", school=school)


@bp.route("/staff")
@requires(permissions.can_view_staff_directory)
def staff():
    page = db.paginate(queries.staff_query(current_user), page=_page(), per_page=PAGE_SIZE, error_out=False)
    return render_template("districts/staff.html", page=page, confirm_form=ConfirmForm())


@bp.route("/staff/<int:user_id>/deactivate", methods=["POST"])
@requires(permissions.is_admin)
def deactivate_staff(user_id: int):
    user = get_in_district(User, user_id, current_user.district_id)
    authorize(permissions.can_deactivate_user(current_user, user), not_found=True)
    if ConfirmForm().validate_on_submit():
        try:
            deactivate_user(current_user, user, ip=client_ip())
        except AccountError as exc:
            flash(str(exc), "error")
        else:
            flash(f"{user.name} is deactivated and signed out everywhere.", "success")
    return redirect(url_for("districts.staff"))


@bp.route("/staff/<int:user_id>/reactivate", methods=["POST"])
@requires(permissions.is_admin)
def reactivate_staff(user_id: int):
    user = get_in_district(User, user_id, current_user.district_id)
    authorize(permissions.can_deactivate_user(current_user, user), not_found=True)
    if ConfirmForm().validate_on_submit():
        try:
            reactivate_user(current_user, user, ip=client_ip())
        except AccountError as exc:
            flash(str(exc), "error")
        else:
            flash(f"{user.name} can sign in again.", "success")
    return redirect(url_for("districts.staff"))


@bp.route("/students")
@requires(permissions.can_list_students)
def students():
    school_id = request.args.get("school", type=int)
    search = (request.args.get("q") or "").strip()[:100] or None
    query = queries.students_query(current_user, school_id=school_id, search=search)
    page = db.paginate(query, page=_page(), per_page=PAGE_SIZE, error_out=False)
    return render_template(
        "districts/students.html",
        page=page,
        schools=queries.visible_schools(current_user),
        school_id=school_id,
        search=search or "",
    )


@bp.route("/students/<int:student_id>")
@requires(permissions.is_signed_in)
def student(student_id: int):
    student = get_in_district(Student, student_id, current_user.district_id)
    authorize(permissions.can_view_student(current_user, student), not_found=True)
    record("student.viewed", actor=current_user, target=student, student_id=student.id, ip=client_ip())
    db.session.commit()
    return render_template("districts/student.html", student=student, **queries.student_record(student))
