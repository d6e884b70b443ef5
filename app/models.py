"""Import every domain's models so SQLAlchemy metadata (and Alembic) sees all tables."""

from app.audit.models import AuditEvent  # noqa: F401
from app.auth.models import User, UserSession  # noqa: F401
from app.consent.models import (  # noqa: F401
    ConsentGrant,
    ConsentInvitation,
    ConsentReminder,
    ConsentRequest,
    ConsentSignature,
    ConsentTemplate,
)
from app.districts.models import (  # noqa: F401
    CaseloadAssignment,
    District,
    GuardianLink,
    RosterImport,
    School,
    Student,
)
from app.districts.rollups import SessionDayTotal  # noqa: F401
from app.districts.snapshots import DashboardSnapshot  # noqa: F401
from app.games.models import GameSession, MoodCheckin  # noqa: F401
from app.scheduling.models import (  # noqa: F401
    Appointment,
    AppointmentSeries,
    Availability,
    BellPeriod,
    BellSchedule,
    CalendarDay,
    CalendarFeed,
    GuardianReminderPreference,
    SentNotice,
    SlotClaim,
    TeacherContact,
    TimeOff,
)
from app.sessions.models import LiveRoom, RoomSocket, StudentGrant  # noqa: F401
from app.sessions.notes import SessionNote  # noqa: F401
