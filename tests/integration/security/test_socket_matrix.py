"""The Socket.IO authorization matrix: every namespace x every event x every role x three rooms.

Rooms (each open, video and games consent active, an admitted student, a second student waiting
and a tic-tac-toe game running with the student to play):
  own_room          world's therapist and world's own student (school A);
  same_school_room  another therapist's room, for another student of school A;
  foreign_room      a room of the other district.
Roles: anonymous, guardian, school_admin, district_admin, therapist (world's: the own room is
theirs, the same-school room is another therapist's), student (own room's admitted grant),
waiting_student (own room's grant, not let in yet), other_room_student (the same-school room's
admitted grant: the own room is another student's to them).

For each (role, room, namespace) the connect is refused with the expected reason code, or it is
accepted and every event of the namespace is sent (valid payloads) and answered as EXPECTED says:
"ok" (an ack with ok: true) or an `error` event with that code (and the same code in the ack).
Meanwhile every participant of every room that is not the actor's own (their therapist, admitted
student and waiting student, on every namespace) is connected and must receive nothing at all: 0
unexpected successes and 0 leaked fields. A namespace registered on the server or an event in a
namespace's EVENTS that the matrix does not list fails test_every_socket_event_is_in_the_matrix.

The routes are in tests/integration/test_permission_matrix.py; handshakes (Origin, refused
connects before any handler, forged rooms, floods) in test_socket_handshake.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask_socketio import ConnectionRefusedError

from app.db_types import utcnow
from app.extensions import db, socketio
from app.sockets import GuardedNamespace
from tests.conftest import login
from tests.integration.sessions.conftest import IsolatedSocket, live_room, student_client  # noqa: F401 - fixtures

ORIGIN = "http://localhost"  # TestConfig.SOCKETIO_ALLOWED_ORIGINS
VARIANTS = ("own_room", "same_school_room", "foreign_room")
# /call last: its `end` ends the room. Within a namespace the probes run in the order listed.
NAMESPACES = ("/waiting", "/games", "/call")
ROLES = ("anonymous", "guardian", "school_admin", "district_admin", "therapist", "student", "waiting_student",
         "other_room_student")
#: The room whose participant the role is (its peers there are not bystanders).
HOME = {"therapist": "own_room", "student": "own_room", "waiting_student": "own_room",
        "other_room_student": "same_school_room"}


# --- the world ------------------------------------------------------------------------------------


@dataclass
class RoomCast:
    id: int
    therapist: object  # the User
    student: object  # Flask client holding the admitted grant
    waiting: object  # Flask client holding a grant not yet admitted (assent given)

    @property
    def waiting_grant_id(self) -> int:
        return self.waiting.grant.id


@pytest.fixture
def cast(app, world, live_room, student_client, make_student, assign):  # noqa: F811 - the imported fixtures
    """The three rooms, by variant."""
    from app.games import services as games

    neighbour = make_student(world.school_a, first_name="Neighbour", last_name="Child")
    assign(world.other_therapist, neighbour)
    rooms = {}
    people = {"own_room": (world.own_student, world.therapist),
              "same_school_room": (neighbour, world.other_therapist),
              "foreign_room": (world.foreign_student, world.foreign_therapist)}
    for variant, (student, therapist) in people.items():
        room = live_room(world, student=student, therapist=therapist)
        admitted = student_client(room)  # the room goes live
        waiting = student_client(room, admitted=False)  # after the admission, so both grants stay valid
        games.start_game(therapist, room, "tic_tac_toe", "student", utcnow())
        rooms[variant] = RoomCast(room.id, therapist, admitted, waiting)
    return rooms


@pytest.fixture
def refusals(monkeypatch):
    """Spy on connect refusals: the {code, message} each refused connect was answered with."""
    seen: list[dict] = []
    original = GuardedNamespace.on_connect

    def on_connect(self, auth=None):
        try:
            return original(self, auth)
        except ConnectionRefusedError as refused:
            seen.append(refused.error_args.get("data") or {"code": None, "message": refused.error_args})
            raise

    monkeypatch.setattr(GuardedNamespace, "on_connect", on_connect)
    return seen


class Sockets:
    """Opens isolated Socket.IO test clients and closes them all at the end."""

    def __init__(self, app, refusals: list[dict]):
        self.app = app
        self.refusals = refusals
        self.made: list[tuple[IsolatedSocket, str]] = []

    def connect(self, client, namespace: str, room_id, *, origin: str | None = ORIGIN, auth=None) -> IsolatedSocket:
        headers = {"Origin": origin} if origin is not None else {}
        auth = {"room": room_id} if auth is None else auth
        sock = IsolatedSocket(lambda: socketio.test_client(self.app, namespace=namespace, flask_test_client=client,
                                                           auth=auth, headers=headers))
        self.made.append((sock, namespace))
        return sock

    def last_refusal(self) -> str | None:
        return self.refusals[-1]["code"] if self.refusals else None

    def close(self):
        for sock, namespace in self.made:
            if sock.is_connected(namespace):
                sock.disconnect(namespace)


@pytest.fixture
def sockets(app, refusals):
    made = Sockets(app, refusals)
    yield made
    made.close()


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def actor_client(app, world, cast, role: str):
    if role == "anonymous":
        return app.test_client()
    if role == "student":
        return cast["own_room"].student
    if role == "waiting_student":
        return cast["own_room"].waiting
    if role == "other_room_student":
        return cast["same_school_room"].student
    return signed_in(app, getattr(world, role))


def connect_bystanders(app, sockets: Sockets, cast, skip: str | None) -> dict[str, list[IsolatedSocket]]:
    """Every participant of every room but `skip`, on every namespace they may use, by room."""
    out: dict[str, list] = {}
    for variant, room in cast.items():
        if variant == skip:
            continue
        therapist = signed_in(app, room.therapist)
        socks = [sockets.connect(therapist, "/call", room.id), sockets.connect(therapist, "/games", room.id),
                 sockets.connect(room.student, "/call", room.id), sockets.connect(room.student, "/games", room.id),
                 sockets.connect(room.waiting, "/waiting", room.id)]
        namespaces = ("/call", "/games", "/call", "/games", "/waiting")
        for sock, namespace in zip(socks, namespaces, strict=True):
            assert sock.is_connected(namespace), f"bystander of {variant} on {namespace} could not connect"
        for sock in socks:
            sock.queue[:] = []  # what connecting told them (joined, game, student_waiting ...)
        out[variant] = socks
    return out


# --- the probes and the expected answers -----------------------------------------------------------


@dataclass
class Ctx:
    """What a probe's payload may depend on: the target room, the others, the actor's last game."""

    cast: dict
    variant: str
    game: dict | None = None

    @property
    def room(self) -> RoomCast:
        return self.cast[self.variant]

    def other_room(self) -> RoomCast:
        return self.cast["same_school_room" if self.variant == "own_room" else "own_room"]


_move_ids = (f"matrix-move-{n:06d}" for n in itertools.count(1))


def _move(ctx: Ctx) -> dict:
    game = ctx.game or {}
    board = (game.get("state") or {}).get("board") or [None] * 9
    cell = next((i for i, mark in enumerate(board) if mark is None), 0)
    return {"version": int(game.get("version") or 0), "move_id": next(_move_ids), "move": {"cell": cell}}


OFFER = {"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}

#: namespace -> [(probe name, event, payload(ctx))], in the order sent.
PROBES: dict[str, list[tuple[str, str, Callable[[Ctx], object]]]] = {
    "/waiting": [("hello", "hello", lambda c: None)],
    "/games": [
        ("sync", "sync", lambda c: None),
        ("start", "start", lambda c: {"game": "tic_tac_toe", "first_player": "therapist"}),
        ("move", "move", _move),
        ("lock", "lock", lambda c: {"locked": True}),
        ("pause", "pause", lambda c: {"paused": True}),
        ("reset", "reset", lambda c: {"first_player": "student"}),
        ("end", "end", lambda c: None),
    ],
    "/call": [
        ("signal", "signal", lambda c: OFFER),
        ("chat", "chat", lambda c: {"text": "hello there"}),
        ("media_state", "media_state", lambda c: {"muted": True, "camera_off": False}),
        ("ice_servers", "ice_servers", lambda c: None),
        ("admit:other_room", "admit", lambda c: {"grant_id": c.other_room().waiting_grant_id}),
        ("admit", "admit", lambda c: {"grant_id": c.room.waiting_grant_id}),
        ("end", "end", lambda c: None),
    ],
}


def refused(code: str) -> dict:
    return dict.fromkeys(NAMESPACES, code)


THERAPIST_OWN = {
    "/waiting": "forbidden",
    "/games": {"sync": "ok", "start": "ok", "move": "ok", "lock": "ok", "pause": "ok", "reset": "ok", "end": "ok"},
    "/call": {"signal": "ok", "chat": "ok", "media_state": "ok", "ice_servers": "ok",
              "admit:other_room": "not_found", "admit": "ok", "end": "ok"},
}
STUDENT_OWN = {
    "/waiting": {"hello": "ok"},
    # The game was started with the student to play; every control is the therapist's.
    "/games": {"sync": "ok", "start": "therapist_only", "move": "ok", "lock": "therapist_only",
               "pause": "therapist_only", "reset": "therapist_only", "end": "therapist_only"},
    "/call": {"signal": "ok", "chat": "ok", "media_state": "ok", "ice_servers": "ok",
              "admit:other_room": "forbidden", "admit": "forbidden", "end": "forbidden"},
}
WAITING_OWN = {"/waiting": {"hello": "ok"}, "/games": "forbidden", "/call": "not_admitted"}
# Same district, no role in the room: refused, saying so; another district: the room does not exist.
OUTSIDER = {"own_room": refused("forbidden"), "same_school_room": refused("forbidden"),
            "foreign_room": refused("not_found")}
# No identity for this room at all (anonymous, or a grant of another room): it does not exist.
UNKNOWN = refused("not_found")

#: role -> room variant -> namespace -> refusal code at connect, or {probe: "ok" | error code}.
EXPECTED: dict[str, dict[str, dict]] = {
    "anonymous": dict.fromkeys(VARIANTS, UNKNOWN),
    "guardian": OUTSIDER,
    "school_admin": OUTSIDER,
    "district_admin": OUTSIDER,
    "therapist": {"own_room": THERAPIST_OWN, "same_school_room": refused("forbidden"),
                  "foreign_room": refused("not_found")},
    "student": {"own_room": STUDENT_OWN, "same_school_room": UNKNOWN, "foreign_room": UNKNOWN},
    "waiting_student": {"own_room": WAITING_OWN, "same_school_room": UNKNOWN, "foreign_room": UNKNOWN},
    "other_room_student": {"own_room": UNKNOWN, "same_school_room": STUDENT_OWN, "foreign_room": UNKNOWN},
}


def cells() -> list[tuple[str, str, str, str]]:
    """Every (role, room, namespace, probe) the matrix answers for (a refused connect answers
    for each of its namespace's probes)."""
    return [(role, variant, namespace, probe) for role in ROLES for variant in VARIANTS for namespace in NAMESPACES
            for probe, _event, _payload in PROBES[namespace]]


# --- completeness ------------------------------------------------------------------------------------


def test_every_socket_event_is_in_the_matrix(app):
    handlers = socketio.server.namespace_handlers
    assert set(handlers) == set(NAMESPACES), (
        f"namespaces registered {sorted(handlers)} but the matrix lists {sorted(NAMESPACES)}")
    for namespace, handler in handlers.items():
        declared = set(handler.EVENTS)
        probed = {event for _probe, event, _payload in PROBES[namespace]}
        assert declared == probed, f"{namespace}: EVENTS {sorted(declared)} but the matrix probes {sorted(probed)}"
        # A handler method outside EVENTS is never reachable (refused as unknown): it must not exist either.
        handlers_defined = {name[3:] for name in dir(handler) if name.startswith("on_")} - {"connect", "disconnect"}
        assert handlers_defined <= declared, f"{namespace}: on_* handlers outside EVENTS: {handlers_defined - declared}"
    probes = {ns: {probe for probe, _e, _p in PROBES[ns]} for ns in NAMESPACES}
    for role in ROLES:
        assert set(EXPECTED[role]) == set(VARIANTS), role
        for variant in VARIANTS:
            for namespace in NAMESPACES:
                answer = EXPECTED[role][variant][namespace]
                if isinstance(answer, dict):
                    assert set(answer) == probes[namespace], (role, variant, namespace)
                else:
                    assert isinstance(answer, str) and answer != "ok", (role, variant, namespace)
    assert len(cells()) == len(ROLES) * len(VARIANTS) * sum(len(p) for p in PROBES.values())


# --- the matrix -------------------------------------------------------------------------------------


def _ack_problems(where: str, event: str, expected: str, ack, received: list[dict]) -> list[str]:
    errors = [m["args"][0] for m in received if m["name"] == "error"]
    if expected == "ok":
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            return [f"{where}: expected ok, got ack {ack!r} errors {errors!r}"]
        if errors:
            return [f"{where}: ok but also error events {errors!r}"]
        return []
    problems = []
    if not (isinstance(ack, dict) and ack.get("ok") is False and ack.get("code") == expected):
        problems.append(f"{where}: expected {expected}, got ack {ack!r}")
    if len(errors) != 1 or errors[0].get("code") != expected or errors[0].get("event") != event:
        problems.append(f"{where}: expected one error event {expected}, got {errors!r}")
    elif set(errors[0]) != {"code", "message", "event"}:
        problems.append(f"{where}: the error event carries more than code/message/event: {errors[0]!r}")
    others = [m["name"] for m in received if m["name"] != "error"]
    if others:  # a refused event tells the actor nothing else
        problems.append(f"{where}: refused, yet sent {others}")
    return problems


def _leaks(bystanders: dict[str, list[IsolatedSocket]], where: str) -> list[str]:
    problems = []
    for variant, socks in bystanders.items():
        for sock in socks:
            if sock.queue:
                got = json.dumps(sock.queue, default=str)[:300]
                problems.append(f"{where}: a participant of {variant} received {got}")
                sock.queue[:] = []
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_socket_matrix(app, world, cast, sockets, role):
    """One role against every room, namespace and event (one database; bystanders in every room
    that is not the role's own)."""
    client = actor_client(app, world, cast, role)
    bystanders = connect_bystanders(app, sockets, cast, skip=HOME.get(role))
    problems: list[str] = []
    for variant in VARIANTS:
        room = cast[variant]
        for namespace in NAMESPACES:
            expected = EXPECTED[role][variant][namespace]
            where = f"{role} -> {variant} {namespace}"
            before = len(sockets.refusals)
            sock = sockets.connect(client, namespace, room.id)
            received = sock.events(namespace)
            if isinstance(expected, str):
                if sock.is_connected(namespace):
                    problems.append(f"{where}: connected, expected refusal {expected}")
                    sock.disconnect(namespace)
                elif len(sockets.refusals) != before + 1 or sockets.last_refusal() != expected:
                    problems.append(f"{where}: refused with {sockets.refusals[before:]}, expected {expected}")
                if received:
                    problems.append(f"{where}: a refused socket received {json.dumps(received, default=str)[:300]}")
                problems += _leaks(bystanders, f"{where} connect")
                continue
            if not sock.is_connected(namespace):
                problems.append(f"{where}: refused ({sockets.refusals[before:]}), expected to connect")
                continue
            games = [m["args"][0] for m in received if m["name"] == "game"]
            ctx = Ctx(cast, variant, games[-1] if games else None)
            problems += _leaks(bystanders, f"{where} connect")
            for probe, event, payload in PROBES[namespace]:
                ack = sock.emit(event, payload(ctx), namespace=namespace, callback=True)
                got = sock.events(namespace)
                games = [m["args"][0] for m in got if m["name"] == "game"]
                ctx.game = games[-1] if games else ctx.game
                problems += _ack_problems(f"{where} {probe}", event, expected[probe], ack, got)
                problems += _leaks(bystanders, f"{where} {probe}")
            if sock.is_connected(namespace):
                sock.disconnect(namespace)
            problems += _leaks(bystanders, f"{where} disconnect")
    # The bystanders were there all along: nobody disconnected them.
    for variant, socks in bystanders.items():
        for sock, namespace in zip(socks, ("/call", "/games", "/call", "/games", "/waiting"), strict=True):
            if not sock.is_connected(namespace):
                problems.append(f"{role}: a participant of {variant} on {namespace} was disconnected")
    db.session.rollback()
    assert not problems, "\n".join(problems)
