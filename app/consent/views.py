from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app import permissions
from app.auth.forms import ConfirmForm, NewPasswordForm
from app.auth.services import AccountError, start_session
from app.consent import notify, queries, services
from app.consent.forms import SCOPE_LABELS, RequestConsentForm, RevokeConsentForm, SignConsentForm, TemplateForm
from app.consent.models import ConsentInvitation, ConsentRequest, ConsentSignature, ConsentTemplate
from app.consent.pdf import consent_pdf
from app.db_types import utcnow
from app.districts import queries as district_queries
from app.districts.models import School, Student
from app.extensions import db, limiter
from app.permissions import authorize, public, requires
from app.tenancy import get_in_district
from app.web import client_ip

bp = Blueprint("consent", __name__, url_prefix="/consent")


@bp.app_template_global()
def consent_student_section(student):
    """Rendered inside the student record page (districts) without districts importing consent."""
    now = utcnow()
    return {
        "requests": queries.requests_for_student(student.id),
        "status": queries.consent_statuses([student.id], now)[student.id],
        "can_request": permissions.can_request_consent(current_user, student, now),
        "scope_labels": SCOPE_LABELS,
        "labels": services.STATUS_LABELS,
    }


def _request_in_district(request_id: int) -> ConsentRequest:
    return get_in_district(ConsentRequest, request_id, current_user.district_id)


# --- staff ------------------------------------------------------------------------------------


@bp.route("/students/<int:student_id>/request", methods=["GET", "POST"])
@requires(permissions.is_staff)
def new_request(student_id: int):
    student = get_in_district(Student, student_id, current_user.district_id)
    authorize(permissions.can_request_consent(current_user, student), not_found=True)
    template = services.latest_template(student.district_id)
    form = RequestConsentForm()
    if request.method == "GET":
        form.policy.data = student.school.district.consent_policy
        form.expires_on.data = student.school.district.school_year_end
        form.scopes.data = list(template.scopes) if template else []
    if form.validate_on_submit():
        try:
            created = services.request_consent(
                current_user, student, scopes=form.scopes.data, expires_on=form.expires_on.data,
                policy=form.policy.data, ip=client_ip(),
            )
        except services.ConsentError as exc:
            flash(str(exc), "error")
        else:
            for invitation in created.invitations:
                notify.send_invitation(invitation)
            names = ", ".join(i.guardian.name for i in created.invitations)
            flash(f"Consent requested. We emailed {names}.", "success")
            return redirect(url_for("consent.request_detail", request_id=created.request.id))
    return render_template("consent/request_new.html", form=form, student=student, template=template,
                           guardians=services.legal_guardians(student))


@bp.route("/requests/<int:request_id>")
@requires(permissions.is_signed_in)
def request_detail(request_id: int):
    consent_request = _request_in_district(request_id)
    authorize(permissions.can_view_consent(current_user, consent_request.student), not_found=True)
    if permissions.is_guardian(current_user):
        return redirect(url_for("consent.sign", request_id=request_id))
    return render_template("consent/request_detail.html", consent_request=consent_request,
                           labels=services.STATUS_LABELS, scope_labels=SCOPE_LABELS, confirm_form=ConfirmForm())


@bp.route("/invitations/<int:invitation_id>/resend", methods=["POST"])
@requires(permissions.is_staff)
def resend(invitation_id: int):
    invitation = db.session.get(ConsentInvitation, invitation_id)
    if invitation is None:
        return render_template("errors/error.html", status=404, title="We could not find that page",
                               message="It may have moved, or you may not have access to it."), 404
    consent_request = _request_in_district(invitation.request_id)
    authorize(permissions.can_request_consent(current_user, consent_request.student), not_found=True)
    if ConfirmForm().validate_on_submit():
        try:
            services.resend_invitation(current_user, invitation, ip=client_ip())
        except services.ConsentError as exc:
            flash(str(exc), "error")
        else:
            notify.send_invitation(invitation)
            flash(f"We sent {invitation.guardian.name} a new link. Earlier links no longer work.", "success")
    return redirect(url_for("consent.request_detail", request_id=consent_request.id))


def _filtered(students, statuses, chosen):
    if chosen not in queries.FILTERS:
        return students
    return [s for s in students if chosen in statuses[s.id].filters]


@bp.route("/caseload")
@requires(permissions.is_therapist)
def caseload():
    students = district_queries.current_caseload(current_user)
    statuses = queries.consent_statuses([s.id for s in students], utcnow())
    chosen = request.args.get("filter", "")
    return render_template("consent/overview.html", title="Consent for your caseload", school=None,
                           students=_filtered(students, statuses, chosen), statuses=statuses, chosen=chosen,
                           total=len(students), scope_labels=SCOPE_LABELS)


@bp.route("/schools/<int:school_id>")
@requires(permissions.is_admin)
def school_overview(school_id: int):
    school = get_in_district(School, school_id, current_user.district_id)
    authorize(permissions.can_view_school(current_user, school), not_found=True)
    students = list(db.session.scalars(
        select(Student).where(Student.school_id == school.id, Student.active.is_(True))
        .order_by(Student.last_name, Student.first_name)
    ))
    statuses = queries.consent_statuses([s.id for s in students], utcnow())
    chosen = request.args.get("filter", "")
    return render_template("consent/overview.html", title=f"Consent at {school.name}", school=school,
                           students=_filtered(students, statuses, chosen), statuses=statuses, chosen=chosen,
                           total=len(students), scope_labels=SCOPE_LABELS)


@bp.route("/forms", methods=["GET", "POST"])
@requires(permissions.can_manage_consent_forms)
def forms():
    versions = db.session.scalars(
        select(ConsentTemplate).where(ConsentTemplate.district_id == current_user.district_id)
        .order_by(ConsentTemplate.version.desc())
    ).all()
    form = TemplateForm()
    if request.method == "GET" and versions:
        latest = versions[0]
        form.title_en.data, form.title_es.data = latest.title_en, latest.title_es
        form.body_en.data, form.body_es.data = latest.body_en, latest.body_es
        form.scopes.data = list(latest.scopes)
    if form.validate_on_submit():
        try:
            template = services.publish_template(
                current_user, title_en=form.title_en.data, title_es=form.title_es.data, body_en=form.body_en.data,
                body_es=form.body_es.data, scopes=form.scopes.data, ip=client_ip(),
            )
        except services.ConsentError as exc:
            flash(str(exc), "error")
        else:
            flash(f"Version {template.version} is published. New requests use it; signed forms keep their text.",
                  "success")
            return redirect(url_for("consent.forms"))
    return render_template("consent/forms.html", form=form, versions=versions, scope_labels=SCOPE_LABELS)


@bp.route("/forms/<int:template_id>")
@requires(permissions.can_manage_consent_forms)
def form_version(template_id: int):
    template = get_in_district(ConsentTemplate, template_id, current_user.district_id)
    return render_template("consent/form_version.html", template=template, scope_labels=SCOPE_LABELS)


# --- guardians --------------------------------------------------------------------------------


@bp.route("/")
@requires(permissions.is_guardian)
def portal():
    now = utcnow()
    links = district_queries.guardian_children(current_user)
    visible = [link for link in links if not link.restricted]
    children = []
    for link in visible:
        requests_ = queries.requests_for_student(link.student_id)
        children.append({
            "link": link,
            "student": link.student,
            "active": [r for r in requests_ if r.status == "active"],
            "history": [r for r in requests_ if r.status != "active"],
        })
    return render_template(
        "consent/portal.html", children=children, pending=queries.pending_invitations(current_user.id, now),
        restricted=[link for link in links if link.restricted], labels=services.STATUS_LABELS,
        scope_labels=SCOPE_LABELS, revoke_form=RevokeConsentForm(),
        get_locale=get_locale,  # the pending cards show each form's title in the reader's language
    )


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes", methods=["POST"], scope="consent-invite")
@public
def invitation(token: str):
    """The emailed link. Sets up the account of a guardian who has none, else asks them to sign in."""
    invitation = services.invitation_from_token(token, current_app.config["SECRET_KEY"])
    if invitation is None:
        return render_template("consent/link_invalid.html"), 400
    guardian = invitation.guardian
    sign_url = url_for("consent.sign", request_id=invitation.request_id)
    if permissions.is_signed_in(current_user):
        if current_user.id == guardian.id:
            return redirect(sign_url)
        return render_template("consent/wrong_account.html", invitation=invitation, confirm_form=ConfirmForm()), 403
    if not guardian.active:
        return render_template("consent/link_invalid.html"), 400
    if guardian.password_hash:
        session["login_next"] = sign_url
        flash(_("Please sign in to read and answer the consent form."), "info")
        return redirect(url_for("auth.login", next=sign_url))
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_up_guardian_account(invitation, form.password.data, ip=client_ip())
        except (services.ConsentError, AccountError) as exc:
            form.password.errors.append(str(exc))
        else:
            session.clear()
            start_session(guardian, ip=client_ip(), user_agent=request.user_agent.string)
            login_user(guardian)
            session.permanent = True
            return redirect(sign_url)
    return render_template("consent/set_password.html", form=form, invitation=invitation)


def _sign_language() -> str:
    lang = str(get_locale() or "en")
    return lang if lang in current_app.config["LANGUAGES"] else "en"


@bp.route("/requests/<int:request_id>/sign", methods=["GET", "POST"])
@requires(permissions.is_guardian)
def sign(request_id: int):
    consent_request = _request_in_district(request_id)
    authorize(permissions.can_sign_consent(current_user, consent_request), not_found=True)
    lang = _sign_language()
    mine = next((s for s in consent_request.signatures if s.guardian_id == current_user.id), None)
    form = SignConsentForm()
    choices = {scope: request.form.get(f"scope_{scope}") == "allow" for scope in consent_request.scopes}
    if mine is None and form.validate_on_submit():
        try:
            mine = services.decide(
                consent_request, current_user, decision=form.decision.data, choices=choices,
                typed_name=form.typed_name.data, confirmed_legal_guardian=form.confirm.data, language=lang,
                drawn_signature=form.drawn_signature.data or None, decline_reason=form.decline_reason.data,
                ip=client_ip(), user_agent=request.user_agent.string,
            )
        except services.ConsentError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Thank you. Your answer is saved. You can change your mind at any time on this page."), "success")
            return redirect(url_for("consent.sign", request_id=request_id))
    return render_template(
        "consent/sign.html", consent_request=consent_request, template=consent_request.template, lang=lang,
        text=services.form_text(consent_request.template, lang), form=form, mine=mine, choices=choices,
        scope_labels=SCOPE_LABELS, labels=services.STATUS_LABELS, revoke_form=RevokeConsentForm(),
        can_revoke=permissions.can_revoke_consent(current_user, consent_request),
    )


@bp.route("/requests/<int:request_id>/revoke", methods=["POST"])
@requires(permissions.is_guardian)
def revoke(request_id: int):
    consent_request = _request_in_district(request_id)
    authorize(permissions.can_revoke_consent(current_user, consent_request), not_found=True)
    form = RevokeConsentForm()
    if form.validate_on_submit():
        try:
            revoked = services.revoke(consent_request, current_user, form.scopes.data, ip=client_ip())
        except services.ConsentError as exc:
            flash(str(exc), "error")
        else:
            with force_locale("en"):
                notify.notify_therapists_of_revocation(consent_request, revoked)
            flash(_("Done. Consent is withdrawn now for: %(what)s.",
                    what=", ".join(str(SCOPE_LABELS[s]) for s in revoked)), "success")
    else:
        flash(_("Choose what to withdraw."), "error")
    return redirect(request.form.get("back") == "portal" and url_for("consent.portal")
                    or url_for("consent.sign", request_id=request_id))


@bp.route("/signatures/<int:signature_id>.pdf")
@requires(permissions.is_signed_in)
def signature_pdf(signature_id: int):
    signature = db.session.get(ConsentSignature, signature_id)
    consent_request = _request_in_district(signature.request_id if signature else -1)
    authorize(permissions.can_download_consent_copy(current_user, consent_request), not_found=True)
    from app.audit.services import record

    record("consent.copy_downloaded", actor=current_user, target=consent_request,
           student_id=consent_request.student_id, ip=client_ip(), signature_id=signature.id)
    db.session.commit()
    filename = f"homeroom-consent-{consent_request.id}-{signature.id}.pdf"
    return Response(consent_pdf(signature), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/invite/<token>/switch", methods=["POST"])
@public
def switch_account(token: str):
    """Signed in as someone else when opening an invitation: sign out and follow the link again."""
    if ConfirmForm().validate_on_submit() and permissions.is_signed_in(current_user):
        from app.auth.services import end_session

        end_session(current_user, ip=client_ip())
        logout_user()
        session.clear()
    return redirect(url_for("consent.invitation", token=token))

