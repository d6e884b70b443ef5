"""Administrators manage schools, staff (invitations, roles, schools served), students and guardian links."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app import permissions
from app.auth.forms import ConfirmForm, NewPasswordForm
from app.auth.models import STAFF_ROLES, User
from app.districts import people, queries
from app.districts import staff as staff_services
from app.districts.models import GuardianLink, School, Student
from app.districts.services import AdminError
from app.districts.views import bp
from app.extensions import db, limiter
from app.notifications.services import send_email
from app.permissions import authorize, public, requires
from app.tenancy import get_in_district
from app.web import client_ip, external_url


def _checked_form() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _ids(name: str) -> list[int]:
    return [int(v) for v in request.form.getlist(name) if v.isdigit()][:200]


# --- schools ----------------------------------------------------------------------------------


@bp.route("/schools/new", methods=["POST"])
@requires(permissions.can_create_school)
def create_school():
    _checked_form()
    try:
        school = people.create_school(current_user, name=request.form.get("name", ""),
                                      timezone=request.form.get("timezone", ""), ip=client_ip())
    except AdminError as exc:
        flash(str(exc), "error")
        return redirect(url_for("districts.schools"))
    flash(f"{school.name} is added.", "success")
    return redirect(url_for("districts.school", school_id=school.id))


@bp.route("/schools/<int:school_id>/edit", methods=["POST"])
@requires(permissions.is_admin)
def edit_school(school_id: int):
    school = get_in_district(School, school_id, current_user.district_id)
    authorize(permissions.can_edit_school(current_user, school), not_found=True)
    _checked_form()
    try:
        changed = people.update_school(current_user, school, name=request.form.get("name", ""),
                                       timezone=request.form.get("timezone", ""), ip=client_ip())
    except AdminError as exc:
        flash(str(exc), "error")
    else:
        flash("Saved." if changed else "Nothing changed.", "success")
    return redirect(url_for("districts.school", school_id=school.id))


# --- staff ------------------------------------------------------------------------------------


def _send_invitation(user: User) -> None:
    token = staff_services.make_invite_token(user, current_app.config["SECRET_KEY"])
    link = external_url("districts.accept_invite", token=token)
    days = current_app.config["STAFF_INVITE_MAX_AGE"].days
    send_email(user.email, "You are invited to Homeroom",
               render_template("districts/email/staff_invite.txt", user=user, inviter=current_user, link=link,
                               days=days, role=staff_services.ROLE_LABELS.get(user.role, user.role)))


@bp.route("/staff/invite", methods=["GET", "POST"])
@requires(permissions.can_invite_staff)
def invite_staff():
    roles = STAFF_ROLES if permissions.is_district_admin(current_user) else ("therapist",)
    schools = queries.visible_schools(current_user)
    if request.method == "POST":
        _checked_form()
        try:
            user = staff_services.invite_staff(
                current_user, name=request.form.get("name", ""), email=request.form.get("email", ""),
                role=request.form.get("role", ""), school_ids=_ids("schools"), ip=client_ip())
        except AdminError as exc:
            flash(str(exc), "error")
            return render_template("districts/staff_invite.html", roles=roles, schools=schools,
                                   labels=staff_services.ROLE_LABELS, form=request.form, confirm_form=ConfirmForm()), 400
        _send_invitation(user)
        flash(f"We emailed an invitation to {user.email}. The link works once, for "
              f"{current_app.config['STAFF_INVITE_MAX_AGE'].days} days.", "success")
        return redirect(url_for("districts.staff_member", user_id=user.id))
    return render_template("districts/staff_invite.html", roles=roles, schools=schools,
                           labels=staff_services.ROLE_LABELS, form=MultiDict(), confirm_form=ConfirmForm())


@bp.route("/staff/<int:user_id>")
@requires(permissions.is_admin)
def staff_member(user_id: int):
    user = get_in_district(User, user_id, current_user.district_id)
    authorize(user.role != "guardian" and (permissions.can_edit_staff(current_user, user) or user.id == current_user.id),
              not_found=True)
    return render_template("districts/staff_member.html", user=user, schools=queries.visible_schools(current_user),
                           roles=STAFF_ROLES, labels=staff_services.ROLE_LABELS, confirm_form=ConfirmForm())


@bp.route("/staff/<int:user_id>/role", methods=["POST"])
@requires(permissions.is_district_admin)
def change_staff_role(user_id: int):
    user = get_in_district(User, user_id, current_user.district_id)
    authorize(permissions.can_change_role(current_user, user), not_found=True)
    _checked_form()
    try:
        changed = staff_services.change_role(current_user, user, request.form.get("role", ""),
                                             school_id=request.form.get("school", type=int), ip=client_ip())
    except AdminError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{user.name} is now: {staff_services.ROLE_LABELS[user.role]}. They were signed out everywhere."
              if changed else "Nothing changed.", "success")
    return redirect(url_for("districts.staff_member", user_id=user.id))


@bp.route("/staff/<int:user_id>/schools", methods=["POST"])
@requires(permissions.is_admin)
def staff_schools(user_id: int):
    user = get_in_district(User, user_id, current_user.district_id)
    authorize(permissions.can_edit_staff(current_user, user), not_found=True)
    _checked_form()
    try:
        staff_services.set_therapist_schools(current_user, user, _ids("schools"), ip=client_ip())
    except AdminError as exc:
        flash(str(exc), "error")
    else:
        flash("Schools saved.", "success")
    if permissions.can_edit_staff(current_user, user):
        return redirect(url_for("districts.staff_member", user_id=user.id))
    return redirect(url_for("districts.staff"))


@bp.route("/staff/<int:user_id>/resend-invitation", methods=["POST"])
@requires(permissions.is_admin)
def resend_invitation(user_id: int):
    user = get_in_district(User, user_id, current_user.district_id)
    authorize(permissions.can_edit_staff(current_user, user), not_found=True)
    _checked_form()
    try:
        staff_services.record_invite_resent(current_user, user, ip=client_ip())
    except AdminError as exc:
        flash(str(exc), "error")
    else:
        _send_invitation(user)
        flash(f"We emailed a new invitation to {user.email}.", "success")
    return redirect(url_for("districts.staff_member", user_id=user.id))


@bp.route("/welcome/<token>", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"], scope="staff-invite")
@public
def accept_invite(token: str):
    user = staff_services.user_for_invite_token(token, current_app.config["SECRET_KEY"],
                                                current_app.config["STAFF_INVITE_MAX_AGE"])
    if user is None:
        return render_template("districts/invite_invalid.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            staff_services.accept_invite(user, form.password.data, ip=client_ip())
        except AdminError as exc:
            form.password.errors.append(str(exc))
        else:
            flash("Your password is set. Please sign in.", "success")
            return redirect(url_for("auth.login"))
    return render_template("districts/accept_invite.html", form=form, user=user)


# --- students and guardian links ------------------------------------------------------------


def _managed_student(student_id: int) -> Student:
    student = get_in_district(Student, student_id, current_user.district_id)
    authorize(permissions.can_edit_student(current_user, student), not_found=True)
    return student


@bp.route("/students/<int:student_id>/edit", methods=["GET", "POST"])
@requires(permissions.is_admin)
def edit_student(student_id: int):
    student = _managed_student(student_id)
    form = request.form if request.method == "POST" else None
    if request.method == "POST":
        _checked_form()
        try:
            changed = people.update_student(
                current_user, student, first_name=form.get("first_name", ""), last_name=form.get("last_name", ""),
                preferred_name=form.get("preferred_name"), grade=form.get("grade", ""),
                school_id=form.get("school", type=int) or -1, preferred_language=form.get("language", ""),
                active=form.get("active") == "y", ip=client_ip())
        except AdminError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash("Saved." if changed else "Nothing changed.", "success")
            return redirect(url_for("districts.student", student_id=student.id))
    return render_template("districts/student_edit.html", student=student, form=form,
                           schools=queries.visible_schools(current_user), grades=people.GRADES,
                           confirm_form=ConfirmForm())


@bp.route("/students/<int:student_id>/guardians", methods=["POST"])
@requires(permissions.is_admin)
def add_guardian_link(student_id: int):
    student = get_in_district(Student, student_id, current_user.district_id)
    authorize(permissions.can_manage_guardian_links(current_user, student), not_found=True)
    _checked_form()
    try:
        link = people.add_guardian_link(
            current_user, student, email=request.form.get("email", ""), name=request.form.get("name"),
            relationship=request.form.get("relationship", ""), legal_authority=request.form.get("legal") == "y",
            restricted=request.form.get("restricted") == "y", ip=client_ip())
    except AdminError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"{link.guardian.name} is linked.", "success")
    return redirect(url_for("districts.student", student_id=student.id))


def _managed_link(link_id: int) -> GuardianLink:
    link = get_in_district(GuardianLink, link_id, current_user.district_id)
    authorize(permissions.can_manage_guardian_links(current_user, link.student), not_found=True)
    return link


@bp.route("/guardian-links/<int:link_id>", methods=["POST"])
@requires(permissions.is_admin)
def edit_guardian_link(link_id: int):
    link = _managed_link(link_id)
    _checked_form()
    try:
        changed = people.update_guardian_link(
            current_user, link, relationship=request.form.get("relationship", ""),
            legal_authority=request.form.get("legal") == "y", restricted=request.form.get("restricted") == "y",
            ip=client_ip())
    except AdminError as exc:
        flash(str(exc), "error")
    else:
        flash("Saved." if changed else "Nothing changed.", "success")
    return redirect(url_for("districts.student", student_id=link.student_id))


@bp.route("/guardian-links/<int:link_id>/remove", methods=["POST"])
@requires(permissions.is_admin)
def remove_guardian_link(link_id: int):
    link = _managed_link(link_id)
    student_id = link.student_id
    _checked_form()
    people.remove_guardian_link(current_user, link, ip=client_ip())
    flash("The guardian is no longer linked to this student.", "success")
    return redirect(url_for("districts.student", student_id=student_id))
