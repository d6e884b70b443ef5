"""Roster import: a OneRoster 1.2 `users.csv` subset with Homeroom `metadata.hr.*` columns.

The format is documented in docs/ROSTER_FORMAT.md, with a sample in docs/samples/roster.csv.
One file holds students and their guardians; the links between them are `agentSourcedIds`
(on either side). Every row is keyed by the roster system's `sourcedId`, so importing the same
file twice changes nothing. An import is all or nothing: `plan()` validates every row and says
what would be created, updated and left alone; `apply()` re-plans and writes it all in one
transaction, or nothing if any row has a problem.

Performance: existing students, guardians and links of the district are read in three queries
and compared in memory; writes are bulk INSERT/UPDATE statements, so 10,000 rows take seconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert, select, update

from app.audit.services import record
from app.auth.models import User
from app.db_types import utcnow
from app.districts.models import GuardianLink, RosterImport, School, Student
from app.extensions import db

MAX_BYTES = 12 * 1024 * 1024
MAX_ROWS = 60_000
STUDENT_ROLES = {"student"}
GUARDIAN_ROLES = {"guardian", "parent", "relative"}
STATUSES = {"active", "tobedeleted", ""}
GRADES = {"PK", "K", "KG", *[str(n) for n in range(1, 13)], *[f"{n:02d}" for n in range(1, 13)]}
REQUIRED_COLUMNS = ("sourcedId", "role", "givenName", "familyName")
KNOWN_COLUMNS = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
    "givenName", "familyName", "middleName", "preferredFirstName", "identifier", "email", "sms", "phone",
    "agentSourcedIds", "grades", "password", "birthDate",
    "metadata.hr.language", "metadata.hr.relationship", "metadata.hr.legalAuthority", "metadata.hr.restricted",
)
TRUE = {"true", "yes", "1", "y"}
FALSE = {"false", "no", "0", "n", ""}


class RosterError(ValueError):
    """The file as a whole cannot be read (encoding, size, header)."""


@dataclass
class RowProblem:
    line: int
    field: str
    reason: str


@dataclass
class Plan:
    problems: list[RowProblem] = field(default_factory=list)
    create_students: list[dict] = field(default_factory=list)
    update_students: list[dict] = field(default_factory=list)
    unchanged_students: int = 0
    create_guardians: list[dict] = field(default_factory=list)
    update_guardians: list[dict] = field(default_factory=list)
    unchanged_guardians: int = 0
    create_links: list[dict] = field(default_factory=list)
    update_links: list[dict] = field(default_factory=list)
    unchanged_links: int = 0
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict:
        return {
            "rows": self.rows,
            "problems": len(self.problems),
            "students": {"create": len(self.create_students), "update": len(self.update_students),
                         "unchanged": self.unchanged_students},
            "guardians": {"create": len(self.create_guardians), "update": len(self.update_guardians),
                          "unchanged": self.unchanged_guardians},
            "links": {"create": len(self.create_links), "update": len(self.update_links),
                      "unchanged": self.unchanged_links},
        }


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise RosterError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB. Split it into smaller files.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError("The file is not UTF-8 text. Save it from your spreadsheet as “CSV UTF-8”.") from None


def _bool(value: str) -> bool | None:
    value = value.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    return None


def _ids(value: str) -> list[str]:
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


def _text(row: dict, name: str, limit: int = 100) -> str:
    return (row.get(name) or "").strip()[:limit]


def _read(text: str) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        return _read_rows(text)
    except csv.Error:  # e.g. one cell over the csv module's 128 KB field limit
        raise RosterError("The file could not be read as CSV. Save it from your spreadsheet as “CSV UTF-8”.") from None


def _read_rows(text: str) -> tuple[list[str], list[tuple[int, dict]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RosterError(f"The first line must name the columns; missing: {', '.join(missing)}.")
    reader.fieldnames = header
    rows = []
    for row in reader:
        if reader.line_num - 1 > MAX_ROWS:
            raise RosterError(f"The file has more than {MAX_ROWS} rows. Split it into smaller files.")
        if None in row:  # more cells than the header has columns
            row["__extra__"] = row.pop(None)
        rows.append((reader.line_num, row))
    return header, rows


def plan(district_id: int, text: str) -> Plan:
    """Validate every row and work out the changes, writing nothing."""
    result = Plan()
    _header, rows = _read(text)
    result.rows = len(rows)

    schools = {s.source_id: s for s in db.session.scalars(
        select(School).where(School.district_id == district_id, School.source_id.is_not(None)))}
    students = {s.source_id: s for s in db.session.scalars(
        select(Student).where(Student.district_id == district_id, Student.source_id.is_not(None)))}
    guardians = {u.source_id: u for u in db.session.scalars(
        select(User).where(User.district_id == district_id, User.source_id.is_not(None)))}
    emails = dict(db.session.execute(select(User.email, User.id)).all())
    links = {(link.guardian_id, link.student_id): link for link in db.session.scalars(
        select(GuardianLink).where(GuardianLink.district_id == district_id))}

    def problem(line: int, name: str, reason: str) -> None:
        result.problems.append(RowProblem(line, name, reason))

    student_rows: dict[str, tuple[int, dict]] = {}
    guardian_rows: dict[str, tuple[int, dict]] = {}
    seen_ids: dict[str, int] = {}
    file_emails: dict[str, int] = {}
    wanted_links: dict[tuple[str, str], int] = {}

    for line, row in rows:
        if "__extra__" in row:
            problem(line, "row", "has more cells than the header has columns (a comma inside a name needs quotes)")
            continue
        sourced_id = _text(row, "sourcedId", 200)
        role = _text(row, "role").lower()
        if not sourced_id:
            problem(line, "sourcedId", "is empty")
            continue
        if len(sourced_id) > 64:
            problem(line, "sourcedId", "is longer than 64 characters")
            continue
        if sourced_id in seen_ids:
            problem(line, "sourcedId", f"“{sourced_id}” appears again (first on line {seen_ids[sourced_id]})")
            continue
        seen_ids[sourced_id] = line
        if _text(row, "status").lower() not in STATUSES:
            problem(line, "status", "must be active, tobedeleted or empty")
        for name in ("givenName", "familyName"):
            if not _text(row, name):
                problem(line, name, "is empty")
            elif len((row.get(name) or "").strip()) > 100:
                problem(line, name, "is longer than 100 characters")
        language = _text(row, "metadata.hr.language").lower() or "en"
        if language not in ("en", "es"):
            problem(line, "metadata.hr.language", "must be en or es")
        if role in STUDENT_ROLES:
            student_rows[sourced_id] = (line, row)
            school = schools.get(_text(row, "orgSourcedIds", 64).split(",")[0].strip())
            if school is None:
                problem(line, "orgSourcedIds", "does not name one of your district's schools (see Schools → ids)")
            grade = _text(row, "grades").upper().split(",")[0].strip()
            if grade not in GRADES:
                problem(line, "grades", "must be PK, K or 1–12")
            try:
                birth = date.fromisoformat(_text(row, "birthDate"))
                if not date(1990, 1, 1) <= birth <= utcnow().date():
                    raise ValueError
            except ValueError:
                problem(line, "birthDate", "must be a date like 2015-09-01")
        elif role in GUARDIAN_ROLES:
            guardian_rows[sourced_id] = (line, row)
            email = _text(row, "email", 254).lower()
            try:
                email = validate_email(email, check_deliverability=False).normalized.lower()
            except EmailNotValidError:
                problem(line, "email", "is not a valid email address")
            else:
                if email in file_emails:
                    problem(line, "email", f"is used again (first on line {file_emails[email]})")
                file_emails[email] = line
                existing = guardians.get(sourced_id)
                owner = emails.get(email)
                if owner is not None and (existing is None or existing.id != owner):
                    problem(line, "email", "already belongs to another Homeroom account")
            for name in ("metadata.hr.legalAuthority", "metadata.hr.restricted"):
                if _bool(row.get(name) or "") is None:
                    problem(line, name, "must be true or false")
        else:
            problem(line, "role", "must be student, guardian, parent or relative")
            continue
        for agent in _ids(row.get("agentSourcedIds") or ""):
            pair = (sourced_id, agent) if role in STUDENT_ROLES else (agent, sourced_id)
            wanted_links.setdefault(pair, line)

    for (student_id, guardian_id), line in wanted_links.items():
        if student_id not in student_rows and student_id not in students:
            problem(line, "agentSourcedIds", f"names “{student_id}”, which is no student in this file or district")
        if guardian_id not in guardian_rows and guardian_id not in guardians:
            problem(line, "agentSourcedIds", f"names “{guardian_id}”, which is no guardian in this file or district")
    if result.problems:
        result.problems.sort(key=lambda p: (p.line, p.field))
        return result

    for sourced_id, (_line, row) in student_rows.items():
        values = {
            "first_name": _text(row, "givenName"),
            "last_name": _text(row, "familyName"),
            "preferred_name": _text(row, "preferredFirstName") or None,
            "grade": _normal_grade(_text(row, "grades").upper().split(",")[0].strip()),
            "date_of_birth": date.fromisoformat(_text(row, "birthDate")),
            "preferred_language": _text(row, "metadata.hr.language").lower() or "en",
            "school_id": schools[_text(row, "orgSourcedIds", 64).split(",")[0].strip()].id,
            "active": _text(row, "status").lower() != "tobedeleted",
        }
        existing = students.get(sourced_id)
        if existing is None:
            result.create_students.append({**values, "source_id": sourced_id, "district_id": district_id})
        elif any(getattr(existing, k) != v for k, v in values.items()):
            result.update_students.append({**values, "id": existing.id})
        else:
            result.unchanged_students += 1

    for sourced_id, (_line, row) in guardian_rows.items():
        values = {
            "name": f"{_text(row, 'givenName')} {_text(row, 'familyName')}",
            "email": validate_email(_text(row, "email", 254), check_deliverability=False).normalized.lower(),
            "preferred_language": _text(row, "metadata.hr.language").lower() or "en",
            "active": _text(row, "status").lower() != "tobedeleted",
        }
        existing = guardians.get(sourced_id)
        if existing is None:
            result.create_guardians.append({**values, "source_id": sourced_id, "district_id": district_id,
                                            "role": "guardian", "password_hash": None})
        elif any(getattr(existing, k) != v for k, v in values.items()):
            result.update_guardians.append({**values, "id": existing.id})
        else:
            result.unchanged_guardians += 1

    for (student_sid, guardian_sid), _line in wanted_links.items():
        g_line, g_row = guardian_rows.get(guardian_sid, (None, None))
        values = {
            "relationship_label": (_text(g_row, "metadata.hr.relationship", 40) if g_row else "") or "guardian",
            "legal_authority": bool(_bool(g_row.get("metadata.hr.legalAuthority") or "")) if g_row else True,
            "restricted": bool(_bool(g_row.get("metadata.hr.restricted") or "")) if g_row else False,
        }
        student = students.get(student_sid)
        guardian = guardians.get(guardian_sid)
        existing = links.get((guardian.id, student.id)) if student and guardian else None
        if existing is None:
            result.create_links.append({**values, "student_sid": student_sid, "guardian_sid": guardian_sid})
        elif g_row is not None and any(getattr(existing, k) != v for k, v in values.items()):
            result.update_links.append({**values, "id": existing.id})
        else:
            result.unchanged_links += 1
    return result


def _normal_grade(grade: str) -> str:
    if grade in ("KG",):
        return "K"
    return grade.lstrip("0") if grade[:1] == "0" else grade


def store_upload(actor: User, filename: str, text: str, plan_: Plan, *, now: datetime | None = None) -> RosterImport:
    """Keep the file (encrypted at rest) so the person can apply exactly what they previewed."""
    now = now or utcnow()
    upload = RosterImport(
        district_id=actor.district_id, uploaded_by_id=actor.id, filename=(filename or "roster.csv")[:200],
        sha256=hashlib.sha256(text.encode()).hexdigest(), content=text, row_count=plan_.rows,
        summary=plan_.summary(), status="previewed", created_at=now,
    )
    db.session.add(upload)
    db.session.commit()
    return upload


#: A large import changes the tables' shape enough for the planner to need new statistics.
ANALYZE_AFTER_ROWS = 1_000


def apply(actor: User, upload: RosterImport, *, ip: str | None = None, now: datetime | None = None) -> Plan:
    """Re-plan the stored file against the database as it is now and write every change in
    one transaction. Nothing is written if any row has a problem."""
    now = now or utcnow()
    if upload.status != "previewed":
        raise RosterError("This upload was already applied. Upload the file again to import it again.")
    result = plan(upload.district_id, upload.content)
    if not result.ok:
        return result
    try:
        if result.create_students:
            db.session.execute(insert(Student), [{**row, "created_at": now} for row in result.create_students])
        if result.update_students:
            db.session.execute(update(Student), result.update_students)
        if result.create_guardians:
            db.session.execute(insert(User), [{**row, "created_at": now} for row in result.create_guardians])
        if result.update_guardians:
            db.session.execute(update(User), result.update_guardians)
        if result.create_links:
            student_ids = dict(db.session.execute(select(Student.source_id, Student.id).where(
                Student.district_id == upload.district_id, Student.source_id.is_not(None))).all())
            guardian_ids = dict(db.session.execute(select(User.source_id, User.id).where(
                User.district_id == upload.district_id, User.source_id.is_not(None))).all())
            db.session.execute(insert(GuardianLink), [
                {"district_id": upload.district_id, "student_id": student_ids[row["student_sid"]],
                 "guardian_id": guardian_ids[row["guardian_sid"]], "relationship_label": row["relationship_label"],
                 "legal_authority": row["legal_authority"], "restricted": row["restricted"], "created_at": now}
                for row in result.create_links
            ])
        if result.update_links:
            db.session.execute(update(GuardianLink), result.update_links)
        upload.status = "applied"
        upload.applied_at = now
        upload.summary = result.summary()
        record("roster.imported", actor=actor, target=upload, ip=ip, now=now, filename=upload.filename,
               **{f"{kind}_{op}": n for kind, ops in result.summary().items() if isinstance(ops, dict)
                  for op, n in ops.items()})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    written = sum(n for ops in result.summary().values() if isinstance(ops, dict)
                  for op, n in ops.items() if op in ("create", "update"))
    if written >= ANALYZE_AFTER_ROWS:
        from app.districts.services import refresh_statistics

        refresh_statistics(["students", "users", "guardian_links"])
    return result
