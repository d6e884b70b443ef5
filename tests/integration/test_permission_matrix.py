"""The permission matrix: every route x every role x own / same-district / foreign objects.

Every endpoint in app.url_map must appear in ROUTES, so a new route cannot escape review.
Expected answers: 200/302/400 as listed, 403 for a role the rule refuses, 404 for an object the
actor may not know exists (always for another district). Bodies never leak another district's
data, and a guardian never sees another family's child.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from tests.conftest import get_csrf, login

ROLES = ("anonymous", "guardian", "therapist", "school_admin", "district_admin")
SIGNED_IN = ROLES[1:]
ADMINS = ("school_admin", "district_admin")
STAFF = ("therapist", "school_admin", "district_admin")


def expect(default: int | tuple, **per_role) -> dict:
    """Expected status per role; anonymous users are sent to the login page unless stated."""
    table = {role: default for role in ROLES}
    table["anonymous"] = 302
    table.update(per_role)
    return table


def only(roles, ok, refused=403, **extra) -> dict:
    table = expect(refused, **{r: ok for r in roles})
    table.update(extra)
    return table


@dataclass
class Route:
    method: str
    url: Callable  # (world, variant) -> path
    expected: dict  # role -> status, or role -> tuple of statuses (one per variant)
    variants: tuple = (None,)
    data: dict = field(default_factory=dict)


STUDENT_VARIANTS = ("own_student", "other_student", "school_b_student", "foreign_student")
SCHOOL_VARIANTS = ("school_a", "school_b", "foreign_school")
STAFF_VARIANTS = ("therapist", "other_therapist", "foreign_therapist")


def _id(attr_path: str, fmt: str):
    return lambda w, v: fmt.format(id=getattr(w, v).id)


ROUTES: dict[str, Route] = {
    "core.index": Route("GET", lambda w, v: "/", expect(302, anonymous=200)),
    "core.home": Route("GET", lambda w, v: "/home", expect(200)),
    "core.set_language": Route("POST", lambda w, v: "/language", expect(302), data={"lang": "es"}),
    "core.vendor_asset": Route("GET", lambda w, v: "/vendor/socket.io.min.js", expect(200, anonymous=200)),
    "auth.login": Route("GET", lambda w, v: "/login", expect(302, anonymous=200)),
    "auth.verify_totp": Route("GET", lambda w, v: "/login/verify", expect(302)),
    "auth.mfa_setup": Route("GET", lambda w, v: "/login/mfa-setup", expect(302)),
    "auth.logout": Route("POST", lambda w, v: "/logout", expect(302)),
    "auth.forgot_password": Route("GET", lambda w, v: "/password/forgot", expect(200, anonymous=200)),
    "auth.reset_password": Route("GET", lambda w, v: "/password/reset/not-a-token", expect(400, anonymous=400)),
    "auth.account": Route("GET", lambda w, v: "/account", expect(200)),
    "auth.change_password": Route("POST", lambda w, v: "/account/password", expect(302)),
    "auth.revoke_other_sessions": Route("POST", lambda w, v: "/account/sessions/revoke-others", expect(302)),
    "auth.enrol_totp": Route("GET", lambda w, v: "/account/totp", only(STAFF, 200)),
    "auth.remove_totp": Route("POST", lambda w, v: "/account/totp/remove", only(STAFF, 302)),
    "audit.events": Route("GET", lambda w, v: "/audit/", only(["district_admin"], 200)),
    "audit.export": Route("GET", lambda w, v: "/audit/export.csv", only(["district_admin"], 200)),
    "outbox.messages": Route("GET", lambda w, v: "/dev/outbox/", expect(200, anonymous=200)),
    "outbox.message": Route("GET", lambda w, v: "/dev/outbox/no-such-message", expect(404, anonymous=404)),
    "districts.schools": Route("GET", lambda w, v: "/schools", only(ADMINS, 200)),
    "districts.school": Route(
        "GET", _id("", "/schools/{id}"),
        only(STAFF, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404),
             therapist=(200, 404, 404)),
        variants=SCHOOL_VARIANTS,
    ),
    "districts.staff": Route("GET", lambda w, v: "/staff", only(ADMINS, 200)),
    "districts.deactivate_staff": Route(
        "POST", _id("", "/staff/{id}/deactivate"),
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)),
        variants=STAFF_VARIANTS,
    ),
    "districts.reactivate_staff": Route(
        "POST", _id("", "/staff/{id}/reactivate"),
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)),
        variants=STAFF_VARIANTS,
    ),
    "districts.students": Route("GET", lambda w, v: "/students", only(ADMINS, 200)),
    "districts.student": Route(
        "GET", _id("", "/students/{id}"),
        expect(None, district_admin=(200, 200, 200, 404), school_admin=(200, 200, 404, 404),
               therapist=(200, 404, 404, 404), guardian=(200, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
}


def _cases():
    for endpoint, route in ROUTES.items():
        for role in ROLES:
            for index, variant in enumerate(route.variants):
                expected = route.expected[role]
                if isinstance(expected, tuple):
                    expected = expected[index]
                yield pytest.param(endpoint, role, variant, expected,
                                   id=f"{endpoint}-{role}" + (f"-{variant}" if variant else ""))


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    missing = endpoints - set(ROUTES)
    assert not missing, f"add these endpoints to the permission matrix: {sorted(missing)}"
    stale = set(ROUTES) - endpoints
    assert not stale, f"these matrix entries have no route: {sorted(stale)}"


def test_every_view_declares_a_permission_rule(app):
    for endpoint, view in app.view_functions.items():
        if endpoint == "static":
            continue
        assert getattr(view, "permission_rule", None), f"{endpoint} has neither @requires nor @public"


LEAKS_FOR_DISTRICT_A = ("Foreign Student", "Beta District", "Beta Elementary", "t@beta.example")


@pytest.mark.parametrize("endpoint,role,variant,expected", list(_cases()))
def test_matrix(app, client, world, endpoint, role, variant, expected):
    route = ROUTES[endpoint]
    if role != "anonymous":
        response = login(client, getattr(world, role))
        assert response.status_code == 302, f"could not sign in as {role}"
    path = route.url(world, variant)
    if route.method == "GET":
        response = client.get(path)
    else:
        token = get_csrf(client, "/home" if role != "anonymous" else "/login")
        response = client.post(path, data={**route.data, "csrf_token": token})
    assert response.status_code == expected, f"{role} {route.method} {path}: {response.status_code} != {expected}"
    if expected == 302 and role == "anonymous" and endpoint not in ("core.set_language", "auth.logout"):
        assert "/login" in response.headers["Location"]
    body = response.get_data(as_text=True)
    response.close()
    for leak in LEAKS_FOR_DISTRICT_A:
        assert leak not in body, f"{role} saw {leak!r} at {path}"
    if role == "guardian":
        assert "Other Student" not in body and "Middle Student" not in body
