"""`flask seed-demo`: an idempotent demo district for trying Homeroom locally."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from sqlalchemy import select

from app.auth.models import User
from app.auth.services import hash_password
from app.db_types import utcnow
from app.districts.models import CaseloadAssignment, District, GuardianLink, School, Student
from app.extensions import db

DEMO_PASSWORD = "homeroom-demo-2026"  # noqa: S105 - printed by seed-demo for local demos only
DEMO_DISTRICT = "Riverbend Unified School District"

_FIRST = ["Ava", "Liam", "Sofia", "Noah", "Mia", "Mateo", "Isabella", "Elijah", "Camila", "Lucas",
          "Amara", "Kai", "Zoe", "Diego", "Leah", "Owen", "Nora", "Jayden", "Luna", "Ezra",
          "Aaliyah", "Santiago", "Hana", "Miles", "Valentina", "Theo", "Priya", "Rowan", "Ximena", "Caleb"]
_LAST = ["Garcia", "Nguyen", "Johnson", "Martinez", "Kim", "Okafor", "Hernandez", "Patel", "Brown", "Lopez",
         "Chen", "Williams", "Rivera", "Davis", "Ali", "Thompson", "Flores", "Wilson", "Singh", "Moore",
         "Reyes", "Jackson", "Tanaka", "White", "Torres", "Harris", "Cruz", "Clark", "Morales", "Lewis"]
_SPANISH_SPEAKING = {"Maria", "Ana", "Carlos", "Luis", "Rosa", "Jorge"}
_GUARDIAN_FIRST = ["Maria", "James", "Linh", "Robert", "Ana", "David", "Grace", "Carlos", "Fatima", "Michael",
                   "Jasmine", "Luis", "Emily", "Ahmed", "Rosa", "Daniel", "Mei", "Jorge", "Sarah", "Kevin"]


def _school_year_end(today: date) -> date:
    year = today.year if today.month < 7 else today.year + 1
    return date(year, 6, 12)


def _get_or_create_user(email: str, **fields) -> tuple[User, bool]:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user, False
    user = User(email=email, password_hash=hash_password(DEMO_PASSWORD), **fields)
    db.session.add(user)
    db.session.flush()
    return user, True


def seed_demo() -> dict:
    """Create the demo district once; running it again changes nothing. Returns the logins."""
    today = utcnow().date()
    district = db.session.scalar(select(District).where(District.name == DEMO_DISTRICT))
    if district is None:
        district = District(name=DEMO_DISTRICT, school_year_end=_school_year_end(today), consent_policy="any")
        db.session.add(district)
        db.session.flush()

    schools = {}
    for name, source_id in (("Riverbend Elementary School", "riverbend-es"), ("Cedar Hill Middle School", "cedarhill-ms")):
        school = db.session.scalar(select(School).where(School.district_id == district.id, School.name == name))
        if school is None:
            school = School(district_id=district.id, name=name, timezone="America/Los_Angeles", source_id=source_id)
            db.session.add(school)
            db.session.flush()
        schools[name] = school
    elementary, middle = schools.values()

    admin, _ = _get_or_create_user("admin@riverbend.example", name="Dana Whitfield", role="district_admin",
                                   district_id=district.id)
    principal, _ = _get_or_create_user("principal@riverbend.example", name="Marcus Lee", role="school_admin",
                                       district_id=district.id, school_id=elementary.id)
    therapists = []
    for email, name, serves in [
        ("priya.raman@riverbend.example", "Priya Raman", [elementary]),
        ("jordan.ellis@riverbend.example", "Jordan Ellis", [middle]),
        ("sam.okafor@riverbend.example", "Sam Okafor", [elementary, middle]),
    ]:
        therapist, created = _get_or_create_user(email, name=name, role="therapist", district_id=district.id)
        if created:
            therapist.schools = serves
        therapists.append(therapist)

    guardians = []
    for i, first in enumerate(_GUARDIAN_FIRST):
        email = f"{first.lower()}.{_LAST[i].lower()}@family.example"
        guardian, _ = _get_or_create_user(
            email, name=f"{first} {_LAST[i]}", role="guardian", district_id=district.id,
            preferred_language="es" if first in _SPANISH_SPEAKING else "en",
        )
        guardians.append(guardian)

    for i in range(30):
        source_id = f"demo-s-{i + 1:03d}"
        student = db.session.scalar(
            select(Student).where(Student.district_id == district.id, Student.source_id == source_id)
        )
        if student is not None:
            continue
        in_elementary = i < 18
        grade = str(1 + i % 5) if in_elementary else str(6 + i % 3)
        age = int(grade) + 6
        student = Student(
            district_id=district.id,
            school_id=(elementary if in_elementary else middle).id,
            source_id=source_id,
            first_name=_FIRST[i],
            last_name=_LAST[i % 20],
            preferred_name="Izzy" if _FIRST[i] == "Isabella" else None,
            grade=grade,
            date_of_birth=date(today.year - age, 1 + i % 12, 1 + (i * 7) % 28),
            preferred_language="es" if i % 4 == 0 else "en",
        )
        db.session.add(student)
        db.session.flush()
        # Students 0-19 share a family name with guardian i; a few have a second guardian,
        # and one second link is restricted (a non-custodial parent under a court order).
        primary = guardians[i % 20]
        db.session.add(GuardianLink(district_id=district.id, guardian_id=primary.id, student_id=student.id,
                                    relationship_label="parent", legal_authority=True))
        if i % 6 == 0:
            second = guardians[(i + 7) % 20]
            db.session.add(GuardianLink(district_id=district.id, guardian_id=second.id, student_id=student.id,
                                        relationship_label="parent" if i != 12 else "other",
                                        legal_authority=i != 12, restricted=i == 12))
        if in_elementary:
            therapist = therapists[0] if i % 3 else therapists[2]
        else:
            therapist = therapists[1] if i % 3 else therapists[2]
        if i not in (17, 29):  # two students are left unassigned on purpose
            db.session.add(CaseloadAssignment(district_id=district.id, therapist_id=therapist.id,
                                              student_id=student.id, starts_on=date(today.year - 1, 8, 20),
                                              assigned_by_id=admin.id))
    db.session.commit()
    _seed_consent_form(district, admin)
    _seed_schedule(district, admin, [elementary, middle], therapists)
    return {
        "District admin": admin.email,
        "School admin (Riverbend Elementary)": principal.email,
        "Therapist (Riverbend Elementary)": therapists[0].email,
        "Therapist (Cedar Hill Middle)": therapists[1].email,
        "Therapist (both schools)": therapists[2].email,
        "Guardian": guardians[1].email,
        "Guardian (Spanish)": guardians[0].email,
    }


DEMO_FORM = {
    "title_en": "Consent for school-based counseling by video",
    "body_en": (
        "Your child's school offers counseling with a school counselor or therapist. Sessions can happen "
        "by video through Homeroom, from school or from home, during the school day.\n\n"
        "What happens in a session: your child talks with the counselor about how things are going. "
        "The counselor may use simple games or a drawing board to help your child feel comfortable, and "
        "may ask your child to pick a feeling face at the start and end (a mood check-in).\n\n"
        "Privacy: sessions are not recorded. What your child says stays confidential, except when the law "
        "requires the counselor to act to keep your child or someone else safe. The counselor's notes are "
        "kept private and encrypted.\n\n"
        "Your choices: you can allow some parts and not others. You can withdraw your consent at any time "
        "in Homeroom; it takes effect immediately, even during a session. This consent ends at the end of "
        "the school year unless you withdraw it earlier."
    ),
    "title_es": "Consentimiento para consejería escolar por video",
    "body_es": (
        "La escuela de su hijo o hija ofrece consejería con un consejero o terapeuta escolar. Las sesiones "
        "pueden ser por video a través de Homeroom, desde la escuela o desde la casa, durante el día escolar.\n\n"
        "Qué pasa en una sesión: su hijo o hija habla con el consejero sobre cómo le va. El consejero puede "
        "usar juegos sencillos o una pizarra de dibujo para que se sienta cómodo, y puede pedirle que elija "
        "una cara de sentimiento al principio y al final (registro del estado de ánimo).\n\n"
        "Privacidad: las sesiones no se graban. Lo que su hijo o hija dice es confidencial, excepto cuando la "
        "ley exige que el consejero actúe para proteger a su hijo o a otra persona. Las notas del consejero "
        "se guardan en privado y cifradas.\n\n"
        "Sus opciones: puede permitir algunas partes y otras no. Puede retirar su consentimiento en cualquier "
        "momento en Homeroom; el cambio es inmediato, incluso durante una sesión. Este consentimiento termina "
        "al final del año escolar, a menos que lo retire antes."
    ),
}


def _seed_consent_form(district: District, admin: User) -> None:
    from app.consent.models import SCOPES
    from app.consent.services import latest_template, publish_template

    if latest_template(district.id) is None:
        publish_template(admin, scopes=list(SCOPES), **DEMO_FORM)


def _seed_schedule(district: District, admin: User, schools: list[School], therapists: list[User]) -> None:
    from app.scheduling.demo import seed_schedule_demo

    seed_schedule_demo(district, admin, schools, therapists, now=utcnow())


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo district (idempotent) and print its logins."""
        logins = seed_demo()
        click.echo("\nHomeroom demo district is ready. Every demo account's password is:")
        click.echo(f"    {DEMO_PASSWORD}\n")
        width = max(len(k) for k in logins)
        for label, email in logins.items():
            click.echo(f"  {label.ljust(width)}  {email}")
        click.echo("\nMail sent by the app is readable at http://127.0.0.1:5000/dev/outbox/\n")

    @app.cli.command("seed-load")
    @click.option("--students", type=click.IntRange(1, 500_000), default=1_000, show_default=True,
                  help="How many students the generated district has.")
    @click.option("--seed", type=int, default=2026, show_default=True, help="Random seed (same seed, same district).")
    def seed_load_command(students: int, seed: int):
        """Generate a large, realistic district for benchmarks (a new district each run)."""
        from app.districts.loadgen import LOAD_PASSWORD, generate

        result = generate(students, seed=seed)
        click.echo(f"Created {result.district.name} in {result.seconds:.1f} s:")
        for key, value in result.counts.items():
            click.echo(f"  {key.replace('_', ' ')}: {value}")
        click.echo(f"District admin: {result.admin_email}  password: {LOAD_PASSWORD}")

    @app.cli.command("rebuild-dashboard-totals")
    @click.option("--district", "district_id", type=int, default=None, help="One district's id (default: all).")
    def rebuild_dashboard_totals_command(district_id: int | None):
        """Repair: recompute the dashboards' per-day session totals from the appointments."""
        from app.districts import rollups

        rows = rollups.rebuild(district_id)
        db.session.commit()
        click.echo(f"Rebuilt {rows} per-day session total rows.")
