from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

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
    from app.districts.people import US_TIMEZONES

    return render_template("districts/schools.html", overview=queries.admin_overview(current_user),
                           timezones=US_TIMEZONES, confirm_form=ConfirmForm())


@bp.route("/schools/<int:school_id>")
@requires(permissions.is_staff)
def school(school_id: int):
    school = get_in_district(School, school_id, current_user.district_id)
    authorize(permissions.can_view_school(current_user, school), not_found=True)
    from app.districts.people import US_TIMEZONES

    return render_template("districts/school.html", school=school, confirm_form=ConfirmForm(),
                           timezones=US_TIMEZONES if school.timezone in US_TIMEZONES else (school.timezone, *US_TIMEZONES))


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
    therapists = queries.therapists(current_user) if permissions.can_assign_student(current_user, student) else []
    links = db.paginate(queries.guardian_links_query(student), page=request.args.get("links_page", 1, type=int) or 1,
                        per_page=PAGE_SIZE, error_out=False)
    history = db.paginate(queries.assignment_history_query(student),
                          page=request.args.get("history_page", 1, type=int) or 1, per_page=PAGE_SIZE, error_out=False)
    from app.districts.people import RELATIONSHIPS

    return render_template("districts/student.html", student=student, therapists=therapists,
                           confirm_form=ConfirmForm(), links=links.items, links_page=links,
                           assignments=history.items, history_page=history, relationships=RELATIONSHIPS)


# --- roster import ------------------------------------------------------------------------------


@bp.route("/roster", methods=["GET", "POST"])
@requires(permissions.can_import_roster)
def roster():
    from app.districts import roster as roster_import
    from app.districts.models import RosterImport

    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("Choose a CSV file to upload.", "error")
            return redirect(url_for("districts.roster"))
        try:
            text = roster_import.decode(upload.stream.read(roster_import.MAX_BYTES + 1))
            plan = roster_import.plan(current_user.district_id, text)
        except roster_import.RosterError as exc:
            flash(str(exc), "error")
            return redirect(url_for("districts.roster"))
        stored = roster_import.store_upload(current_user, upload.filename, text, plan)
        return redirect(url_for("districts.roster_preview", import_id=stored.id))
    recent = db.session.scalars(
        select(RosterImport).where(RosterImport.district_id == current_user.district_id)
        .order_by(RosterImport.created_at.desc()).limit(20)
    ).all()
    schools = queries.visible_schools(current_user)
    return render_template("districts/roster.html", recent=recent, schools=schools, confirm_form=ConfirmForm())


@bp.route("/roster/<int:import_id>")
@requires(permissions.can_import_roster)
def roster_preview(import_id: int):
    from app.districts import roster as roster_import
    from app.districts.models import RosterImport

    stored = get_in_district(RosterImport, import_id, current_user.district_id)
    plan = roster_import.plan(stored.district_id, stored.content) if stored.status == "previewed" else None
    return render_template("districts/roster_preview.html", stored=stored, plan=plan, confirm_form=ConfirmForm())


@bp.route("/roster/<int:import_id>/apply", methods=["POST"])
@requires(permissions.can_import_roster)
def roster_apply(import_id: int):
    from app.districts import roster as roster_import
    from app.districts.models import RosterImport

    stored = get_in_district(RosterImport, import_id, current_user.district_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        result = roster_import.apply(current_user, stored, ip=client_ip())
    except roster_import.RosterError as exc:
        flash(str(exc), "error")
        return redirect(url_for("districts.roster_preview", import_id=stored.id))
    if not result.ok:
        flash("Nothing was imported: the file has problems. Fix them and upload it again.", "error")
        return redirect(url_for("districts.roster_preview", import_id=stored.id))
    s = result.summary()
    flash(f"Imported: {s['students']['create']} students created, {s['students']['update']} updated; "
          f"{s['guardians']['create']} guardians created, {s['guardians']['update']} updated; "
          f"{s['links']['create']} links created.", "success")
    return redirect(url_for("districts.roster"))


# --- caseloads ----------------------------------------------------------------------------------


PER_PAGE_CHOICES = (25, 50, 100)


def _per_page() -> int:
    value = request.args.get("per_page", PAGE_SIZE, type=int)
    return value if value in PER_PAGE_CHOICES else PAGE_SIZE


#: The caseloads page's own query arguments: kept across its pages and after an assignment.
CASELOAD_ARGS = ("school", "q", "show", "per_page", "therapists_page")


def _caseload_args(source) -> dict:
    """The caseloads page's arguments from `source` (request.args, or the form's copy of them), parsed
    and bounded as the page reads them; unknown keys are dropped (the result builds a local URL)."""
    args = {}
    for key in CASELOAD_ARGS:
        value = (source.get(key) or "").strip()
        if key == "q":
            value = value[:100]
        elif key == "show":
            value = "all" if value == "all" else ""
        elif not value.isdigit():
            value = ""
        if value:
            args[key] = value
    return args


@bp.route("/caseloads")
@requires(permissions.can_manage_caseloads)
def caseloads():
    args = _caseload_args(request.args)
    school_id = int(args["school"]) if "school" in args else None
    per_page = _per_page()
    sizes_page = db.paginate(queries.therapists_query(current_user), page=request.args.get("therapists_page", 1, type=int) or 1,
                             per_page=per_page, error_out=False)
    sizes = queries.caseload_counts(sizes_page.items)
    page = queries.caseload_students_page(
        current_user, per_page=per_page, after=request.args.get("after", type=int),
        before=request.args.get("before", type=int), school_id=school_id, search=args.get("q"),
        unassigned_only=args.get("show") != "all")
    current = queries.current_therapist_names([s.id for s in page.items])
    # Only therapists who serve a school of the students listed can take them (assign_caseload
    # checks it): the choice stays short however many therapists the district has.
    therapists = queries.therapists_serving(current_user, {s.school_id for s in page.items})
    return render_template("districts/caseloads.html", sizes=sizes, sizes_page=sizes_page, page=page, current=current,
                           schools=queries.visible_schools(current_user), school_id=school_id,
                           therapists=therapists, show=args.get("show", ""), per_page=per_page, args=args,
                           per_page_choices=PER_PAGE_CHOICES, confirm_form=ConfirmForm())


@bp.route("/caseloads/assign", methods=["POST"])
@requires(permissions.can_manage_caseloads)
def assign_caseloads():
    from app.districts.services import AdminError, assign_caseload

    if not ConfirmForm().validate_on_submit():
        abort(400)
    ids = [int(v) for v in request.form.getlist("student") if v.isdigit()][:500]
    therapist_value = request.form.get("therapist", "")
    therapist = None
    if therapist_value != "none":
        therapist = get_in_district(User, int(therapist_value), current_user.district_id) \
            if therapist_value.isdigit() else None
        if therapist is None:
            flash("Choose a therapist, or “No therapist” to unassign.", "error")
            return redirect(_back_to_caseloads())
    students = db.session.scalars(select(Student).where(
        Student.id.in_(ids), Student.district_id == current_user.district_id)).all()
    allowed = [s for s in students if permissions.can_assign_student(current_user, s)]
    if not allowed or len(allowed) != len(ids):
        flash("Choose at least one student you manage.", "error")
    else:
        try:
            result = assign_caseload(current_user, allowed, therapist, ip=client_ip())
        except AdminError as exc:
            flash(str(exc), "error")
        else:
            who = therapist.name if therapist else "no therapist"
            flash(f"{result['changed']} student(s) now with {who}; {result['unchanged']} already were.", "success")
    if request.form.get("back") == "student" and len(ids) == 1:
        return redirect(url_for("districts.student", student_id=ids[0]))
    return redirect(_back_to_caseloads())


def _back_to_caseloads() -> str:
    """The caseloads view the form was sent from (its filters and page), built from its parsed arguments."""
    view = _caseload_args(request.form)
    for key in ("after", "before"):
        value = request.form.get(key, "")
        if value.isdigit():
            view[key] = value
            break
    return url_for("districts.caseloads", **view)


# Routes of the other district pages register on this blueprint (split to keep modules small).
from app.districts import dashboard_views, people_views  # noqa: E402,F401
