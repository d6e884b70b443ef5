"""`flask seed-load --students N`: a realistic, large district for benchmarks and query-count tests.

Shape (per N students): one school per ~500 students (at least 2), a school admin per school, a
therapist per ~60 students (each serving one or two schools), 1-2 guardians per student (some links
restricted or without legal authority), 85% of students on a caseload, a third of them "in services"
with a session every other week since the school year began (attended 75%, no-show 10%,
cancelled 15%), and consent in every state: active, expiring within 30 days, pending, revoked,
declined and missing.

Rows go in with executemany (Core insert(...) with a list of dicts, RETURNING ids where the next
table needs them), in one transaction: never one ORM object per row. Deterministic for a seed.
"""

from __future__ import annotations

import random
import secrets
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, insert, select, text

from app.auth.models import User
from app.auth.services import hash_password
from app.consent.models import SCOPES, ConsentGrant, ConsentInvitation, ConsentRequest, ConsentTemplate
from app.db_types import utcnow
from app.districts import rollups
from app.districts.cli import _FIRST, _GUARDIAN_FIRST, _LAST
from app.districts.dashboards import school_year_start
from app.districts.models import CaseloadAssignment, District, GuardianLink, School, Student, therapist_schools
from app.districts.services import refresh_statistics
from app.extensions import db
from app.scheduling.models import Appointment

LOAD_PASSWORD = "homeroom-load-2026"  # noqa: S105 - printed by seed-load for local benchmarks only
BATCH = 5_000
LOADED_TABLES = ["schools", "users", "therapist_schools", "students", "guardian_links", "caseload_assignments",
                 "appointments", "session_day_totals", "consent_templates", "consent_requests",
                 "consent_invitations", "consent_grants"]
_SCHOOL_KINDS = ("Elementary School", "Middle School", "High School", "K-8 Academy")
_PLACES = ("Oak", "Cedar", "River", "Maple", "Lake", "Hill", "Pine", "Harbor", "Valley", "Summit", "Willow", "Aspen")


@dataclass
class LoadResult:
    district: District
    counts: dict
    seconds: float
    admin_email: str


def _reserve_ids(table, n: int) -> list[int]:
    """n new primary keys for `table`, in one query: from its sequence on PostgreSQL; after the
    current maximum on SQLite (one writer at a time, inside this transaction)."""
    if n == 0:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return list(db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": n}))
    start = db.session.scalar(select(func.coalesce(func.max(table.c.id), 0))) + 1
    return list(range(start, start + n))


def _insert(model, rows: list[dict], *, returning: bool = False) -> list[int]:
    """executemany in batches; with returning=True, the new ids in the order of `rows`.

    Ids are reserved up front rather than read back with RETURNING: psycopg's pipelined
    executemany of one small statement is several times faster than multi-row VALUES statements.
    """
    table = model.__table__ if hasattr(model, "__table__") else model
    ids: list[int] = []
    if returning:
        ids = _reserve_ids(table, len(rows))
        for row, new_id in zip(rows, ids, strict=True):
            row["id"] = new_id
    for i in range(0, len(rows), BATCH):
        chunk = rows[i:i + BATCH]
        if chunk:
            db.session.execute(insert(table), chunk)
    return ids


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def generate(students: int, *, name: str | None = None, seed: int = 2026, now: datetime | None = None,
             password_hash: str | None = None) -> LoadResult:
    """Create one district of `students` students with everything around them; one transaction."""
    started = clock.perf_counter()
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    now = now or utcnow()
    today = now.date()
    year_end = date(today.year if today.month < 7 else today.year + 1, 6, 12)
    district = District(name=name or f"Load District {secrets.token_hex(3)} ({students} students)",
                        school_year_end=year_end, consent_policy="any", created_at=now)
    db.session.add(district)
    db.session.flush()
    did, tag = district.id, f"d{district.id}"
    pw = password_hash or hash_password(LOAD_PASSWORD)

    n_schools = max(2, round(students / 500))
    school_rows = [{"district_id": did, "name": f"{_PLACES[i % len(_PLACES)]} {_SCHOOL_KINDS[i % 4]} {i + 1}",
                    "source_id": f"{tag}-org-{i + 1}", "timezone": "America/Los_Angeles", "created_at": now}
                   for i in range(n_schools)]
    school_ids = _insert(School, school_rows, returning=True)

    def user(email, full_name, role, school_id=None, language="en"):
        return {"email": email, "name": full_name, "password_hash": pw, "role": role, "district_id": did,
                "school_id": school_id, "active": True, "preferred_language": language, "created_at": now}

    admin_email = f"admin.{tag}@load.example"
    staff_rows = [user(admin_email, "Load District Admin", "district_admin")]
    staff_rows += [user(f"principal{i + 1}.{tag}@load.example", f"Principal {_LAST[i % 30]} {i + 1}", "school_admin",
                        school_id=sid) for i, sid in enumerate(school_ids)]
    n_therapists = max(2, round(students / 60))
    staff_rows += [user(f"therapist{i + 1}.{tag}@load.example", f"{_FIRST[i % 30]} {_LAST[(i * 7) % 30]} {i + 1}",
                        "therapist") for i in range(n_therapists)]
    staff_ids = _insert(User, staff_rows, returning=True)
    admin_id, therapist_ids = staff_ids[0], staff_ids[1 + n_schools:]
    # Therapist i serves school i mod S; every fourth also the next one.
    serves: dict[int, list[int]] = {sid: [] for sid in school_ids}
    ts_rows = []
    for i, tid in enumerate(therapist_ids):
        mine = [school_ids[i % n_schools]] + ([school_ids[(i + 1) % n_schools]] if i % 4 == 0 else [])
        for sid in mine:
            serves[sid].append(tid)
            ts_rows.append({"therapist_id": tid, "school_id": sid})
    _insert(therapist_schools, ts_rows)

    birth_year = today.year - 6
    student_rows, student_school = [], []
    for i in range(students):
        sid = school_ids[i % n_schools]
        grade = rng.choice(("K", "1", "2", "3", "4", "5", "6", "7", "8"))
        age = 5 if grade == "K" else int(grade) + 5
        student_rows.append({
            "district_id": did, "school_id": sid, "source_id": f"{tag}-s-{i + 1}",
            "first_name": rng.choice(_FIRST), "last_name": rng.choice(_LAST),
            "preferred_name": None, "grade": grade,
            "date_of_birth": date(birth_year - age + 6, 1 + i % 12, 1 + i % 28),
            "preferred_language": "es" if rng.random() < 0.25 else "en", "active": rng.random() > 0.02,
            "created_at": now,
        })
        student_school.append(sid)
    student_ids = _insert(Student, student_rows, returning=True)

    guardian_rows, link_plan = [], []
    for i, stid in enumerate(student_ids):
        last = student_rows[i]["last_name"]
        spanish = student_rows[i]["preferred_language"] == "es"
        guardian_rows.append(user(f"g{i + 1}a.{tag}@family.example", f"{rng.choice(_GUARDIAN_FIRST)} {last}",
                                  "guardian", language="es" if spanish else "en"))
        link_plan.append((stid, "parent", True, False))
        if rng.random() < 0.3:
            restricted = rng.random() < 0.1
            guardian_rows.append(user(f"g{i + 1}b.{tag}@family.example", f"{rng.choice(_GUARDIAN_FIRST)} {last}",
                                      "guardian"))
            link_plan.append((stid, "other" if restricted else "parent", not restricted, restricted))
    guardian_ids = _insert(User, guardian_rows, returning=True)
    primary_guardian = {}
    link_rows = []
    for gid, (stid, relationship, legal, restricted) in zip(guardian_ids, link_plan, strict=True):
        primary_guardian.setdefault(stid, gid)
        link_rows.append({"district_id": did, "guardian_id": gid, "student_id": stid, "relationship": relationship,
                          "legal_authority": legal, "restricted": restricted, "created_at": now})
    _insert(GuardianLink, link_rows)

    start = school_year_start(district, today)
    caseload_rows, in_services = [], []
    for i, stid in enumerate(student_ids):
        if rng.random() >= 0.85 or not serves[student_school[i]]:
            continue
        tid = rng.choice(serves[student_school[i]])
        caseload_rows.append({"district_id": did, "therapist_id": tid, "student_id": stid, "starts_on": start,
                              "ends_on": None, "assigned_by_id": admin_id, "created_at": now})
        if rng.random() < 0.4:
            in_services.append((stid, tid, student_school[i]))
    _insert(CaseloadAssignment, caseload_rows)

    appointment_rows = []
    first_monday = start + timedelta(days=(7 - start.weekday()) % 7)
    for k, (stid, tid, sid) in enumerate(in_services):
        weekday, hour = k % 5, 15 + (k // 5) % 6  # 8:00-13:00 in Los Angeles
        day = first_monday + timedelta(days=weekday + 7 * (k % 2))
        while day < today:
            begins = _at(day, hour)
            roll = rng.random()
            row = {"district_id": did, "school_id": sid, "therapist_id": tid, "student_id": stid, "series_id": None,
                   "starts_at": begins, "ends_at": begins + timedelta(minutes=30), "local_date": day,
                   "period_name": None, "modality": "telehealth" if k % 3 else "in_person", "created_by_id": tid,
                   "created_at": now, "updated_at": now, "status": "completed", "attendance": "attended",
                   "minutes_delivered": rng.choice((25, 30, 30, 30)), "attendance_recorded_at": begins,
                   "cancelled_at": None, "cancelled_by_party": None}
            if roll >= 0.75:
                row["minutes_delivered"] = 0
                if roll < 0.85:
                    row["attendance"] = "no_show"
                else:
                    party = rng.choice(("student", "guardian", "therapist", "school"))
                    row.update(status="cancelled", attendance=f"cancelled_{party}", cancelled_by_party=party,
                               cancelled_at=begins - timedelta(days=1))
            appointment_rows.append(row)
            day += timedelta(days=14)
    _insert(Appointment, appointment_rows)

    template_id = _insert(ConsentTemplate, [{
        "district_id": did, "version": 1, "title_en": "Consent for counseling", "title_es": "Consentimiento",
        "body_en": "Load-test consent form.", "body_es": "Formulario de prueba de carga.", "scopes": list(SCOPES),
        "created_by_id": admin_id, "published_at": now}], returning=True)[0]
    request_rows, states = [], []
    for stid in student_ids:
        roll = rng.random()
        state = ("active" if roll < 0.55 else "expiring" if roll < 0.60 else "pending" if roll < 0.75
                 else "revoked" if roll < 0.80 else "declined" if roll < 0.83 else None)
        if state is None:
            continue
        expires_on = today + timedelta(days=15) if state == "expiring" else year_end
        status = {"expiring": "active", "pending": "requested"}.get(state, state)
        request_rows.append({
            "district_id": did, "student_id": stid, "template_id": template_id, "scopes": list(SCOPES),
            "policy": "any", "expires_on": expires_on, "expires_at": _at(expires_on, 7) + timedelta(days=1),
            "status": status, "requested_by_id": admin_id, "created_at": now - timedelta(days=40),
            "decided_at": None if state == "pending" else now - timedelta(days=35),
            "closed_at": now - timedelta(days=5) if state in ("revoked", "declined") else None, "version_id": 1})
        states.append((stid, state))
    request_ids = _insert(ConsentRequest, request_rows, returning=True)
    grant_rows, invitation_rows = [], []
    for request_id, (stid, state), req in zip(request_ids, states, request_rows, strict=True):
        if state == "pending":
            invitation_rows.append({"request_id": request_id, "guardian_id": primary_guardian[stid],
                                    "email": "", "sent_at": now - timedelta(days=40),
                                    "link_expires_at": req["expires_at"], "link_nonce": secrets.token_hex(8)})
        if state in ("active", "expiring", "revoked"):
            for scope in SCOPES:
                grant_rows.append({"district_id": did, "request_id": request_id, "student_id": stid, "scope": scope,
                                   "granted_at": now - timedelta(days=35), "expires_at": req["expires_at"],
                                   "revoked_at": now - timedelta(days=5) if state == "revoked" else None,
                                   "revoked_by_id": primary_guardian[stid] if state == "revoked" else None})
    emails = dict(zip(guardian_ids, (g["email"] for g in guardian_rows), strict=True))
    for row in invitation_rows:
        row["email"] = emails[row["guardian_id"]]
    _insert(ConsentInvitation, invitation_rows)
    _insert(ConsentGrant, grant_rows)
    rollups.rebuild(did)  # the bulk inserts above bypass the ORM listener that keeps the totals
    db.session.commit()
    refresh_statistics(LOADED_TABLES)
    counts = {"schools": n_schools, "therapists": n_therapists, "school_admins": n_schools,
              "students": students, "guardians": len(guardian_ids), "guardian_links": len(link_rows),
              "caseload_assignments": len(caseload_rows), "appointments": len(appointment_rows),
              "consent_requests": len(request_rows), "consent_grants": len(grant_rows)}
    return LoadResult(district, counts, clock.perf_counter() - started, admin_email)
