"""Read-only queries for district pages. Each page's query count is fixed, whatever the size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from app.auth.models import User
from app.db_types import utcnow
from app.districts.models import CaseloadAssignment, GuardianLink, School, Student
from app.extensions import db


def _open_on(day: date):
    return (CaseloadAssignment.starts_on <= day) & (
        CaseloadAssignment.ends_on.is_(None) | (CaseloadAssignment.ends_on >= day)
    )


def current_caseload(therapist: User, day: date | None = None) -> list[Student]:
    day = day or utcnow().date()
    return list(
        db.session.scalars(
            select(Student)
            .join(CaseloadAssignment, CaseloadAssignment.student_id == Student.id)
            .where(CaseloadAssignment.therapist_id == therapist.id, _open_on(day))
            .options(joinedload(Student.school))
            .order_by(Student.last_name, Student.first_name)
        ).unique()
    )


def guardian_children(guardian: User) -> list[GuardianLink]:
    return list(
        db.session.scalars(
            select(GuardianLink)
            .where(GuardianLink.guardian_id == guardian.id)
            .options(joinedload(GuardianLink.student).joinedload(Student.school))
            .order_by(GuardianLink.id)
        )
    )


def visible_schools(actor: User) -> list[School]:
    query = select(School).where(School.district_id == actor.district_id).order_by(School.name)
    if actor.role == "school_admin":
        query = query.where(School.id == actor.school_id)
    elif actor.role != "district_admin":
        return []
    return list(db.session.scalars(query))


@dataclass
class AdminOverview:
    schools: list[School]
    students_by_school: dict[int, int]
    staff_by_role: dict[str, int]
    unassigned_students: int


def admin_overview(actor: User) -> AdminOverview:
    schools = visible_schools(actor)
    school_ids = [s.id for s in schools]
    today = utcnow().date()
    students_by_school = dict(
        db.session.execute(
            select(Student.school_id, func.count())
            .where(Student.school_id.in_(school_ids), Student.active.is_(True))
            .group_by(Student.school_id)
        ).all()
    )
    staff_query = select(User.role, func.count()).where(
        User.district_id == actor.district_id, User.active.is_(True), User.role != "guardian"
    )
    if actor.role == "school_admin":
        staff_query = staff_query.where(User.id.in_(staff_in_school_ids(actor.school_id)))
    staff_by_role = dict(db.session.execute(staff_query.group_by(User.role)).all())
    assigned = select(CaseloadAssignment.student_id).where(_open_on(today))
    unassigned = db.session.scalar(
        select(func.count()).select_from(Student).where(
            Student.school_id.in_(school_ids), Student.active.is_(True), Student.id.not_in(assigned)
        )
    )
    return AdminOverview(schools, students_by_school, staff_by_role, unassigned or 0)


def staff_in_school_ids(school_id: int):
    """A subquery of staff ids who work at one school (its admins and the therapists serving it)."""
    from app.districts.models import therapist_schools

    return select(User.id).where(
        or_(
            User.school_id == school_id,
            User.id.in_(select(therapist_schools.c.therapist_id).where(therapist_schools.c.school_id == school_id)),
        )
    )


def staff_query(actor: User):
    query = (
        select(User)
        .where(User.district_id == actor.district_id, User.role != "guardian")
        .options(selectinload(User.schools), joinedload(User.school))
        .order_by(User.name)
    )
    if actor.role == "school_admin":
        query = query.where(User.id.in_(staff_in_school_ids(actor.school_id)))
    return query


def students_query(actor: User, *, school_id: int | None = None, search: str | None = None):
    query = (
        select(Student)
        .options(joinedload(Student.school))
        .order_by(Student.last_name, Student.first_name, Student.id)
    )
    return _visible_students(query, actor, school_id=school_id, search=search)


def _visible_students(query, actor: User, *, school_id: int | None, search: str | None):
    """`query` limited to the actor's students, one school's, and names containing `search`."""
    query = query.where(Student.district_id == actor.district_id)
    if actor.role == "school_admin":
        query = query.where(Student.school_id == actor.school_id)
    if school_id:
        query = query.where(Student.school_id == school_id)
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Student.first_name).like(pattern),
                func.lower(Student.last_name).like(pattern),
                func.lower(Student.preferred_name).like(pattern),
            )
        )
    return query


def caseload_students_query(actor: User, *, school_id: int | None = None, search: str | None = None,
                            unassigned_only: bool = True, day: date | None = None):
    """Students for the caseloads page, grouped by school, then by name.

    Ordered by school (in the order the schools were added, which ix_students_district_school_name
    walks without sorting) so that a page holds the students of one or two schools, whose
    therapists are the only ones who can take them. Unassigned = no caseload assignment open on `day`, as a
    NOT EXISTS probe of the covering ix_caseload_student_dates (not a NOT IN over every assignment).
    """
    query = (select(Student).join(School, School.id == Student.school_id).options(contains_eager(Student.school))
             .order_by(Student.school_id, Student.last_name, Student.first_name, Student.id))
    query = _visible_students(query, actor, school_id=school_id, search=search)
    if unassigned_only:
        on_caseload = select(CaseloadAssignment.id).where(CaseloadAssignment.student_id == Student.id,
                                                          _open_on(day or utcnow().date())).exists()
        query = query.where(~on_caseload)
    return query


CASELOAD_ORDER = (Student.school_id, Student.last_name, Student.first_name, Student.id)


@dataclass
class KeysetPage:
    """One page of an ordered list, found from a row's key instead of an offset and a total count."""

    items: list
    has_prev: bool
    has_next: bool

    @property
    def first_id(self) -> int | None:
        return self.items[0].id if self.items else None

    @property
    def last_id(self) -> int | None:
        return self.items[-1].id if self.items else None


def caseload_students_page(actor: User, *, per_page: int, after: int | None = None, before: int | None = None,
                           school_id: int | None = None, search: str | None = None, unassigned_only: bool = True,
                           day: date | None = None) -> KeysetPage:
    """The page of caseload_students_query after (or before) the student `after` (`before`).

    Keyset pagination: the cursor's key (school, last name, first name, id) starts a walk of
    ix_students_district_school_name, so a page costs the same on the first page and the last, and
    no view counts every student of the district. The cursor is a student id (no names in URLs or
    logs), looked up among the students the actor may see; any other id means the first page. Three to five
    queries whatever the size: the cursor, the page (one row more than shown), and a probe for a row
    on the other side; a page after the cursor that has become empty shows the page ending with it.
    """
    def query():
        return caseload_students_query(actor, school_id=school_id, search=search, unassigned_only=unassigned_only,
                                       day=day)

    cursor_id = after if after is not None else before
    key = None
    if cursor_id is not None:
        key = db.session.execute(_visible_students(select(*CASELOAD_ORDER).where(Student.id == cursor_id), actor,
                                                   school_id=None, search=None)).first()
    position = tuple_(*CASELOAD_ORDER)
    if key is None:
        rows = list(db.session.scalars(query().limit(per_page + 1)))
        return KeysetPage(rows[:per_page], False, len(rows) > per_page)
    if after is not None:
        rows = list(db.session.scalars(query().where(position > tuple_(*key)).limit(per_page + 1)))
        if rows:
            edge = tuple(getattr(rows[0], c.key) for c in CASELOAD_ORDER)
            return KeysetPage(rows[:per_page], _any(query().where(position < tuple_(*edge))), len(rows) > per_page)
        # Nothing after the cursor any more (e.g. the last page's students were all assigned): the page
        # that ends with it.
    backwards = query().order_by(None).order_by(*(c.desc() for c in CASELOAD_ORDER))
    bound = position <= tuple_(*key) if after is not None else position < tuple_(*key)
    rows = list(db.session.scalars(backwards.where(bound).limit(per_page + 1)))
    if len(rows) <= per_page:  # back at the start: show a full first page
        first = list(db.session.scalars(query().limit(per_page + 1)))
        return KeysetPage(first[:per_page], False, len(first) > per_page)
    items = rows[:per_page][::-1]
    has_next = after is None and _any(
        query().where(position > tuple_(*(getattr(items[-1], c.key) for c in CASELOAD_ORDER))))
    return KeysetPage(items, True, has_next)


def _any(query) -> bool:
    return db.session.scalar(select(query.with_only_columns(Student.id).limit(1).exists())) or False


def therapists_serving(actor: User, school_ids: set[int]) -> list[User]:
    """Active therapists of the actor's district who serve one of `school_ids` (one query)."""
    from app.districts.models import therapist_schools

    if not school_ids:
        return []
    query = therapists_query(actor).where(User.id.in_(
        select(therapist_schools.c.therapist_id).where(therapist_schools.c.school_id.in_(sorted(school_ids)))))
    return list(db.session.scalars(query))


def guardian_links_query(student: Student):
    return (select(GuardianLink).where(GuardianLink.student_id == student.id)
            .options(joinedload(GuardianLink.guardian)).order_by(GuardianLink.id))


def assignment_history_query(student: Student):
    return (select(CaseloadAssignment).where(CaseloadAssignment.student_id == student.id)
            .options(joinedload(CaseloadAssignment.therapist), joinedload(CaseloadAssignment.assigned_by))
            .order_by(CaseloadAssignment.starts_on.desc(), CaseloadAssignment.id.desc()))


def student_record(student: Student) -> dict:
    links = list(
        db.session.scalars(
            select(GuardianLink).where(GuardianLink.student_id == student.id).options(joinedload(GuardianLink.guardian))
        )
    )
    assignments = list(
        db.session.scalars(
            select(CaseloadAssignment)
            .where(CaseloadAssignment.student_id == student.id)
            .options(joinedload(CaseloadAssignment.therapist))
            .order_by(CaseloadAssignment.starts_on.desc(), CaseloadAssignment.id.desc())
        )
    )
    return {"links": links, "assignments": assignments}


def current_therapists(student_id: int, day: date | None = None) -> list[User]:
    day = day or utcnow().date()
    return list(
        db.session.scalars(
            select(User)
            .join(CaseloadAssignment, CaseloadAssignment.therapist_id == User.id)
            .where(CaseloadAssignment.student_id == student_id, _open_on(day), User.active.is_(True))
            .order_by(User.name)
        ).unique()
    )


def assigned_student_ids(day: date | None = None):
    """A subquery of students on some caseload on `day`."""
    return select(CaseloadAssignment.student_id).where(_open_on(day or utcnow().date()))


def therapists_query(actor: User):
    query = (select(User).where(User.district_id == actor.district_id, User.role == "therapist",
                                User.active.is_(True)).options(selectinload(User.schools)).order_by(User.name, User.id))
    if actor.role == "school_admin":
        query = query.where(User.id.in_(staff_in_school_ids(actor.school_id)))
    return query


def therapists(actor: User) -> list[User]:
    return list(db.session.scalars(therapists_query(actor)))


def caseload_counts(people: list[User], day: date | None = None) -> list[tuple[User, int]]:
    """Each of these therapists with their caseload size on `day` (one query)."""
    counts = dict(db.session.execute(
        select(CaseloadAssignment.therapist_id, func.count())
        .where(CaseloadAssignment.therapist_id.in_([p.id for p in people]), _open_on(day or utcnow().date()))
        .group_by(CaseloadAssignment.therapist_id)
    ).all()) if people else {}
    return [(p, counts.get(p.id, 0)) for p in people]


def caseload_sizes(actor: User, day: date | None = None) -> list[tuple[User, int]]:
    """Each visible therapist with the number of students on their caseload today (two queries)."""
    people = therapists(actor)
    counts = dict(db.session.execute(
        select(CaseloadAssignment.therapist_id, func.count())
        .where(CaseloadAssignment.therapist_id.in_([p.id for p in people]), _open_on(day or utcnow().date()))
        .group_by(CaseloadAssignment.therapist_id)
    ).all())
    return [(p, counts.get(p.id, 0)) for p in people]


def current_therapist_names(student_ids: list[int], day: date | None = None) -> dict[int, str]:
    if not student_ids:
        return {}
    rows = db.session.execute(
        select(CaseloadAssignment.student_id, User.name)
        .join(User, User.id == CaseloadAssignment.therapist_id)
        .where(CaseloadAssignment.student_id.in_(student_ids), _open_on(day or utcnow().date()))
    ).all()
    return dict(rows)
