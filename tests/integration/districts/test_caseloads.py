import re
from datetime import date, timedelta
from html import unescape

from sqlalchemy import select

from app.districts.models import CaseloadAssignment
from app.extensions import db
from tests.conftest import csrf_from, login


def _link(html: str, rel: str) -> str | None:
    """The students pager's link to the next or previous page (not the therapist table's pager)."""
    if 'aria-label="Student pages"' not in html:
        return None
    pager = html.split('aria-label="Student pages"', 1)[1].split("</nav>", 1)[0]
    match = re.search(rf'href="([^"]+)" rel="{rel}"', pager)
    return unescape(match.group(1)) if match else None


def _ids(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'name="student" value="(\d+)"', html)]


def _walk(client, path: str) -> list[list[int]]:
    """Every page of the student list from `path`, following "Next" links."""
    pages = []
    while path:
        html = client.get(path).get_data(as_text=True)
        pages.append(_ids(html))
        path = _link(html, "next")
    return pages


def _assign(client, student_ids, therapist, back=None):
    page = client.get("/caseloads?show=all").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "student": [str(i) for i in student_ids],
            "therapist": str(therapist.id) if therapist else "none"}
    if back:
        data["back"] = back
    return client.post("/caseloads/assign", data=data)


def test_district_admin_assigns_in_bulk_and_history_is_kept(client, world, make_user):
    newcomer = make_user("therapist", world.district, schools=[world.school_a])
    login(client, world.district_admin)
    response = _assign(client, [world.own_student.id, world.other_student.id], newcomer)
    assert response.status_code == 302
    rows = db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.own_student.id).order_by(CaseloadAssignment.id)).all()
    assert [r.therapist_id for r in rows] == [world.therapist.id, newcomer.id]
    assert rows[0].ends_on == date.today() - timedelta(days=1) and rows[1].ends_on is None
    page = client.get("/caseloads").get_data(as_text=True)
    assert "Other Student" not in page.split("<tbody>")[2]  # no longer unassigned
    sizes = client.get("/caseloads").get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0]
    assert newcomer.name in sizes


def test_reassigning_to_the_same_therapist_changes_nothing(client, world):
    login(client, world.district_admin)
    _assign(client, [world.own_student.id], world.therapist)
    assert len(db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.own_student.id)).all()) == 1


def test_therapist_must_serve_the_students_school(client, world):
    login(client, world.district_admin)
    response = _assign(client, [world.school_b_student.id], world.therapist)
    assert response.status_code == 302
    assert "does not serve the school" in client.get("/caseloads").get_data(as_text=True)
    assert not db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.school_b_student.id,
        CaseloadAssignment.therapist_id == world.therapist.id)).all()


def test_school_admin_is_confined_to_their_school(client, world):
    login(client, world.school_admin)
    _assign(client, [world.school_b_student.id], world.other_therapist)
    rows = db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.school_b_student.id)).all()
    assert [r.therapist_id for r in rows] == [world.other_therapist.id] and rows[0].ends_on is None
    assert "Middle Student" not in client.get("/caseloads?show=all").get_data(as_text=True)


def test_unassign_from_the_student_page(client, world):
    login(client, world.district_admin)
    response = _assign(client, [world.own_student.id], None, back="student")
    assert response.headers["Location"] == f"/students/{world.own_student.id}"
    row = db.session.scalar(select(CaseloadAssignment).where(CaseloadAssignment.student_id == world.own_student.id))
    assert row.ends_on == date.today() - timedelta(days=1)


def test_foreign_students_and_therapists_are_404(client, world):
    login(client, world.district_admin)
    assert _assign(client, [world.own_student.id], world.foreign_therapist).status_code == 404
    _assign(client, [world.foreign_student.id], world.therapist)
    assert db.session.scalar(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.foreign_student.id)).therapist_id == world.foreign_therapist.id


def test_district_admin_sees_only_therapists_serving_the_listed_schools_and_chooses_a_page_size(
        client, world, make_student):
    from tests.conftest import login

    for i in range(30):
        make_student(world.school_a, first_name=f"Extra{i:02d}", last_name="Zed")
    login(client, world.district_admin)
    html = client.get(f"/caseloads?school={world.school_a.id}&per_page=25").get_data(as_text=True)
    choice = html[html.index('id="therapist"'):html.index("</select>", html.index('id="therapist"'))]
    assert f'value="{world.therapist.id}"' in choice and f'value="{world.other_therapist.id}"' not in choice
    assert world.foreign_therapist.name not in html and world.other_therapist.name not in choice
    assert html.count('name="student"') == 25 and 'rel="next"' in html and "per_page=25" in html
    assert f"school={world.school_a.id}" in html[html.index('rel="next"') - 200:html.index('rel="next"')]
    page_two = client.get(_link(html, "next")).get_data(as_text=True)
    assert page_two.count('name="student"') == 31 - 25  # 30 extra + the unassigned world student
    assert client.get("/caseloads?per_page=100000").status_code == 200  # an unknown size falls back to 50


def test_district_admin_reaches_every_student_forwards_and_back_without_a_total_count(client, world, make_student):
    from app.districts.models import Student

    for i in range(40):
        make_student(world.school_a if i % 2 else world.school_b, first_name=f"Pupil{i:02d}", last_name=f"Name{i % 7}")
    login(client, world.district_admin)
    pages = _walk(client, "/caseloads?show=all&per_page=25")
    everyone = set(db.session.scalars(select(Student.id).where(Student.district_id == world.district.id)))
    seen = [i for page in pages for i in page]
    assert len(seen) == len(set(seen)) == len(everyone) == 43 and set(seen) == everyone
    assert [len(p) for p in pages] == [25, 18]
    assert world.foreign_student.id not in seen
    # "Previous" from the last page gives back the same pages, in order.
    last = client.get("/caseloads?show=all&per_page=25&after=" + str(pages[0][-1])).get_data(as_text=True)
    assert _link(last, "next") is None
    first = client.get(_link(last, "prev")).get_data(as_text=True)
    assert _ids(first) == pages[0] and _link(first, "prev") is None and "First page" not in first
    # Unassigned only: exactly the students without an open assignment, each once.
    unassigned = [i for page in _walk(client, "/caseloads?per_page=25") for i in page]
    assert sorted(unassigned) == sorted(everyone - {world.own_student.id, world.school_b_student.id})


def test_list_follows_assignment_and_unassignment_and_comes_back_to_the_same_view(client, world, make_student):
    extra = [make_student(world.school_a, first_name=f"Kid{i:02d}", last_name="Zed") for i in range(30)]
    login(client, world.district_admin)
    view = f"/caseloads?school={world.school_a.id}&per_page=25"
    first = client.get(view).get_data(as_text=True)
    second_path = _link(first, "next")
    second = client.get(second_path).get_data(as_text=True)
    picked = _ids(second)[:3]
    response = client.post("/caseloads/assign", data={
        "csrf_token": csrf_from(second), "student": [str(i) for i in picked], "therapist": str(world.therapist.id),
        "school": str(world.school_a.id), "per_page": "25", "after": second_path.split("after=")[1].split("&")[0],
        "next": "https://evil.example/"})
    location = response.headers["Location"]
    assert response.status_code == 302 and location.startswith("/caseloads?") and "evil" not in location
    assert f"school={world.school_a.id}" in location and "per_page=25" in location and "after=" in location
    again = client.get(location).get_data(as_text=True)
    assert not set(picked) & set(_ids(again)) and "now with" in again
    unassigned = {i for page in _walk(client, view) for i in page}
    assert not set(picked) & unassigned and len(unassigned) == 31 - 3
    client.post("/caseloads/assign", data={"csrf_token": csrf_from(again), "student": [str(picked[0])],
                                           "therapist": "none"})
    assert picked[0] in {i for page in _walk(client, view) for i in page}
    assert extra[0].id in _ids(first)


def test_cursor_outside_what_the_admin_may_see_starts_from_the_first_page(app, client, world):
    login(client, world.school_admin)
    first = _ids(client.get("/caseloads?show=all").get_data(as_text=True))
    for cursor in (world.foreign_student.id, world.school_b_student.id, 10**9):
        for direction in ("after", "before"):
            html = client.get(f"/caseloads?show=all&{direction}={cursor}").get_data(as_text=True)
            assert _ids(html) == first, (cursor, direction)
            assert "Foreign Student" not in html and "Middle" not in html
    foreign = app.test_client()
    login(foreign, world.foreign_admin)
    html = foreign.get(f"/caseloads?show=all&after={world.other_student.id}").get_data(as_text=True)
    assert _ids(html) == [world.foreign_student.id]


def test_assigning_every_student_of_the_last_page_comes_back_to_the_page_before(client, world, make_student):
    for i in range(29):
        make_student(world.school_a, first_name=f"Kid{i:02d}", last_name="Zed")
    login(client, world.district_admin)
    view = f"/caseloads?school={world.school_a.id}&per_page=25"
    first = client.get(view).get_data(as_text=True)
    last_path = _link(first, "next")
    last = client.get(last_path).get_data(as_text=True)
    first_ids, last_ids = _ids(first), _ids(last)
    assert len(first_ids) == 25 and len(last_ids) == 5 and _link(last, "next") is None
    response = client.post("/caseloads/assign", data={
        "csrf_token": csrf_from(last), "student": [str(i) for i in last_ids], "therapist": str(world.therapist.id),
        "school": str(world.school_a.id), "per_page": "25", "after": str(first_ids[-1])})
    back = client.get(response.headers["Location"]).get_data(as_text=True)
    assert _ids(back) == first_ids  # the page ending with the cursor, not an empty page
    assert _link(back, "next") is None and _link(back, "prev") is None
