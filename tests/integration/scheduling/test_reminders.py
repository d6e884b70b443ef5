"""`flask schedule send-reminders` and `send-teacher-notices`: who gets what, when, and never twice."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.notifications.services import clear_outbox, outbox_messages
from app.scheduling import booking, contacts, reminders
from app.scheduling.cli import send_reminders
from app.scheduling.models import SentNotice
from tests.integration.scheduling.conftest import NOW, t

# Thursday 22 October 2026, 10:00 in Los Angeles: the day after the session booked for Wednesday
# is far; the one on Friday 23 October at 10:00 is within 24 hours.
THURSDAY_10 = datetime(2026, 10, 22, 17, 0, tzinfo=UTC)


@pytest.fixture
def friday_session(world, book):
    return book(first_date=date(2026, 10, 23), start_time=t("10:00")).appointments[0]


def _opt_in(guardian, enabled=True):
    contacts.set_reminder_preference(guardian, enabled, now=NOW)


def _mail_to(address):
    return [m for m in outbox_messages() if m.to == address]


def test_opted_in_guardians_get_one_reminder_24_hours_ahead(app, world, friday_session, make_user, link_guardian):
    restricted = make_user("guardian", world.district)
    link_guardian(restricted, world.own_student, restricted=True)
    not_opted = make_user("guardian", world.district)
    link_guardian(not_opted, world.own_student)
    _opt_in(world.guardian)
    _opt_in(restricted)
    runner = app.test_cli_runner()
    early = runner.invoke(args=["schedule", "send-reminders", "--now", "2026-10-22T16:59:00+00:00"])
    assert early.exit_code == 0 and "Sent 0 guardian reminder(s)" in early.output  # 24 h + 1 min ahead
    first = runner.invoke(args=["schedule", "send-reminders", "--now", THURSDAY_10.isoformat()])
    assert "Sent 1 guardian reminder(s)" in first.output, first.output
    second = runner.invoke(args=["schedule", "send-reminders", "--now", (THURSDAY_10 + timedelta(hours=1)).isoformat()])
    assert "Sent 0 guardian reminder(s)" in second.output
    [mail] = _mail_to(world.guardian.email)
    assert mail.subject == "Reminder: Own Student has a session soon"
    assert "Friday, October 23, 2026, from 10:00 am to 10:30 am" in mail.text
    assert "in person at Alpha Elementary" in mail.text
    assert not _mail_to(restricted.email) and not _mail_to(not_opted.email)


def test_a_moved_session_is_reminded_again_and_a_cancelled_one_not(app, world, friday_session, book):
    _opt_in(world.guardian)
    with app.test_request_context():
        assert send_reminders(THURSDAY_10)["guardian_reminders"] == 1
        booking.reschedule(world.therapist, friday_session, new_date=date(2026, 10, 23), start_time=t("09:00"),
                           reason="Assembly", now=THURSDAY_10)
        assert send_reminders(THURSDAY_10)["guardian_reminders"] == 1  # new time, new reminder
        other = book(first_date=date(2026, 10, 23), start_time=t("08:00")).appointments[0]
        booking.cancel(world.therapist, other, party="school", reason="Assembly", now=THURSDAY_10)
        assert send_reminders(THURSDAY_10)["guardian_reminders"] == 0
        _opt_in(world.guardian, enabled=False)
        book(first_date=date(2026, 10, 23), start_time=t("08:30"))
        assert send_reminders(THURSDAY_10)["guardian_reminders"] == 0


def test_two_runs_at_once_send_each_reminder_once(app, world, friday_session):
    _opt_in(world.guardian)
    barrier = threading.Barrier(2, timeout=20)
    counts = []

    def run():
        with app.test_request_context():
            due = reminders.due_guardian_reminders(THURSDAY_10, timedelta(hours=24))
            barrier.wait()  # both runs have found the reminder due before either sends it
            sent = 0
            for appointment, guardian in due:
                if reminders.claim("guardian_24h", reminders._ref(appointment), f"user:{guardian.id}",
                                   appointment.district_id, THURSDAY_10):
                    sent += 1
            counts.append(sent)
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(counts) == [0, 1]
    assert db.session.scalar(select(func.count()).select_from(SentNotice)) == 1


def test_therapist_gets_the_day_s_agenda_once_from_six_in_the_morning(app, world, book):
    book(first_date=date(2026, 10, 23), start_time=t("10:00"))
    book(first_date=date(2026, 10, 23), start_time=t("13:00"), student=world.other_student)
    book(first_date=date(2026, 10, 26), start_time=t("10:00"))  # Monday: not in Friday's agenda
    with app.test_request_context():
        assert send_reminders(datetime(2026, 10, 23, 12, 59, tzinfo=UTC))["agendas"] == 0  # 5:59 am local
        assert send_reminders(datetime(2026, 10, 23, 13, 0, tzinfo=UTC))["agendas"] == 1
        assert send_reminders(datetime(2026, 10, 23, 20, 0, tzinfo=UTC))["agendas"] == 0
    [mail] = _mail_to(world.therapist.email)
    assert mail.subject == "Your Homeroom sessions for Friday 23 October"
    assert "10:00 am–10:30 am  OS  in person" in mail.text and "1:00 pm–1:30 pm  OS  in person" in mail.text
    assert "Own Student" not in mail.text and "Other Student" not in mail.text  # initials only
    assert mail.text.count("  OS  ") == 2  # Monday's session is not in Friday's agenda


def test_teacher_hears_of_a_pull_out_the_school_day_before(app, world, book):
    contacts.set_teacher_contact(world.therapist, world.own_student, period_name="Period 3",
                                 email="Teacher.Three@alpha.example", now=NOW)
    contacts.set_teacher_contact(world.therapist, world.own_student, period_name="Period 5",
                                 email="five@alpha.example", now=NOW)
    # Monday 26 October, booked by time across the end of Period 2 and into Period 3 (9:52-10:40).
    session = book(first_date=date(2026, 10, 26), start_time=t("09:40"), duration_minutes=30).appointments[0]
    runner = app.test_cli_runner()
    thursday = runner.invoke(args=["schedule", "send-teacher-notices", "--now", "2026-10-22T17:00:00Z"])
    assert "Sent 0 teacher notice(s)" in thursday.output
    friday = runner.invoke(args=["schedule", "send-teacher-notices", "--now", "2026-10-23T17:00:00Z"])
    assert "Sent 1 teacher notice(s)" in friday.output, friday.output
    saturday = runner.invoke(args=["schedule", "send-teacher-notices", "--now", "2026-10-24T17:00:00Z"])
    assert "Sent 0 teacher notice(s)" in saturday.output  # already told on Friday
    [mail] = outbox_messages()
    assert mail.to == "teacher.three@alpha.example"
    assert mail.subject == "Own Student will be out of class on Monday, October 26, 2026"
    assert "Time out of class: 9:40 am" in mail.text and "Time back: 10:10 am" in mail.text
    assert "(Period 3)" in mail.text
    for clinical in ("therap", "counsel", "video", "consent", "mental", world.therapist.name):
        assert clinical.lower() not in mail.text.lower()
    assert session.status == "scheduled"


def test_teacher_notice_skips_the_holiday_before_a_session(app, world, book):
    contacts.set_teacher_contact(world.therapist, world.own_student, period_name="Period 1", email="one@alpha.example",
                                 now=NOW)
    # Thursday 12 November (after Veterans Day, Wednesday 11): the school day before is Tuesday 10.
    book(first_date=date(2026, 11, 12), period_name="Period 1")
    with app.test_request_context():
        assert reminders.send_teacher_notices(datetime(2026, 11, 10, 18, 0, tzinfo=UTC)) == 1
        assert reminders.send_teacher_notices(datetime(2026, 11, 11, 18, 0, tzinfo=UTC)) == 0
    clear_outbox()
