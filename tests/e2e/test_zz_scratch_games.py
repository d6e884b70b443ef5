from playwright.sync_api import expect
from tests.e2e.test_games import _start, both_in_room, student_page  # noqa
from tests.e2e.helpers import assert_accessible


def test_scratch(both_in_room):
    therapist, student = both_in_room
    for i, (title, first) in enumerate([("Tic-Tac-Toe", "Student"), ("Connect Four", "Student"), ("Memory Match", "Student"),
                                        ("Drawing Board", "Student"), ("Feelings Cards", "Student"), ("Mood Check-in", "Student")]):
        _start(therapist, title, first)
        for p in (therapist, student):
            expect(p.locator("#games-board-title")).to_have_text(title)
        if title == "Connect Four":
            student.get_by_role("button", name="Column 4", exact=False).click()
        if title == "Memory Match":
            student.get_by_role("button", name="Card 1:").click()
            student.get_by_role("button", name="Card 2:").click()
        if title == "Feelings Cards":
            student.get_by_role("button", name="Draw a card").click()
        if title == "Mood Check-in":
            student.get_by_role("button", name="Happy").first.click()
        therapist.wait_for_timeout(500)
        therapist.locator("#games").screenshot(path=f"/tmp/games-{i}-therapist.png")
        student.locator("#games").screenshot(path=f"/tmp/games-{i}-student.png")
        try:
            assert_accessible(student)
        except AssertionError as e:
            print("AXE student", title, e)
        try:
            assert_accessible(therapist)
        except AssertionError as e:
            print("AXE therapist", title, e)
