"""Who may open what: one table of every page and API route, walked for every role.

Adding a page = one line in ROUTES (a route missing from it fails
test_every_route_is_in_the_table). `who` is the set of roles that may use the route; the others
must be refused (403), and refused without a change. `foreign` are URLs of another
department's object and of a guessed one: D01's department user gets the same 404 for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from fastapi import FastAPI
from httpx import Response
from starlette.routing import BaseRoute, Mount

from bihuan.services import identity, web_auth
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from tests.users import app_for
from tests.web.conftest import (
    PASSWORD,
    ROLES,
    YEAR,
    Browser,
    Clock,
    Portal,
    add_user,
    make_token,
)
from tests.web.items import D02, D02_ITEM, GUESSED_SHA, ITEM, SHA_D01, SHA_D02

LIST = f"/problem-lists/{YEAR}/year-end"  # the YEAR year-end problem lists (tests/web/items.py)
VERIFY = frozenset({"office", "section"})
RESPOND = frozenset({"office", "department"})
NOTIFY = frozenset({"admin", "office", "department"})

ALL = frozenset(ROLES)
PUBLIC = frozenset({"public"})  # no sign-in at all
ADMIN = frozenset({"admin"})
AUDIT = frozenset({"admin", "auditor"})
OFFICE = frozenset({"office"})
RESULTS = frozenset({"leader", "office", "admin", "auditor"})  # READ_RESULTS
NOT_SECTION = ALL - {"section"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the route's template, as the app declares it
    url: str  # a concrete URL of it
    who: frozenset[str]
    form: tuple[tuple[str, str], ...] = ()  # a valid form (the test adds the CSRF field)
    foreign: tuple[str, ...] = ()  # D02's object and a guessed one: 404 for D01's user
    own_account: bool = False  # the user's own session or password: every role may
    body: str = ""  # an API POST's JSON body
    hidden: frozenset[str] = frozenset()  # roles answered 404 (every such object is out of scope)

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/v1/")

    @property
    def changes(self) -> bool:
        return self.method == "POST"


ROUTES: tuple[Route, ...] = (
    # everyone
    Route("GET", "/login", "/login", PUBLIC),
    Route("POST", "/login", "/login", PUBLIC),
    Route("GET", "/healthz", "/healthz", PUBLIC),
    Route("GET", "/api/docs", "/api/docs", PUBLIC),
    Route("GET", "/api/openapi.json", "/api/openapi.json", PUBLIC),
    Route("GET", "/account/password", "/account/password", ALL, own_account=True),
    Route(
        "POST",
        "/account/password",
        "/account/password",
        ALL,
        form=(("current", PASSWORD), ("new", "a-new-password-2"), ("repeat", "a-new-password-2")),
        own_account=True,
    ),
    Route("POST", "/logout", "/logout", ALL, own_account=True),
    # every signed-in role
    Route("GET", "/", "/", ALL),
    Route("GET", "/departments", "/departments", ALL),
    Route(
        "GET",
        "/departments/{code}",
        "/departments/D01",
        ALL,
        foreign=("/departments/D02", "/departments/D99", f"/departments/D02?year={YEAR}"),
    ),
    # admin
    Route("GET", "/admin/users", "/admin/users", ADMIN),
    Route(
        "POST",
        "/admin/users",
        "/admin/users",
        ADMIN,
        form=(("login", "newbie"), ("role", "leader"), ("password", "first-password-1")),
    ),
    Route("POST", "/admin/users/{login}/disable", "/admin/users/victim/disable", ADMIN),
    Route("POST", "/admin/users/{login}/enable", "/admin/users/victim/enable", ADMIN),
    Route(
        "POST",
        "/admin/users/{login}/reset-password",
        "/admin/users/victim/reset-password",
        ADMIN,
        form=(("password", "reset-password-1"),),
    ),
    Route("GET", "/admin/sessions", "/admin/sessions", ADMIN),
    Route(
        "POST",
        "/admin/sessions/{session_id}/revoke",
        "/admin/sessions/{victim_session}/revoke",
        ADMIN,
    ),
    # auditor (and admin)
    Route("GET", "/audit", "/audit", AUDIT),
    Route("GET", "/audit/verify", "/audit/verify", AUDIT),
    # the rectification loop: items (their ids and states: tests/web/items.py)
    Route("GET", "/items", "/items", ALL),
    Route(
        "GET",
        "/items/{item_id}",
        f"/items/{ITEM['verify']}",
        ALL,
        foreign=(f"/items/{D02}", "/items/99999"),
    ),
    Route(
        "GET",
        "/items/{item_id}/timeline",
        f"/items/{ITEM['verify']}/timeline",
        ALL,
        foreign=(f"/items/{D02}/timeline", "/items/99999/timeline"),
    ),
    Route(
        "GET",
        "/items/{item_id}/evidence/{file_id}",
        f"/items/{ITEM['verify']}/evidence/{SHA_D01}",
        ALL,
        foreign=(
            f"/items/{D02_ITEM['evidence']}/evidence/{SHA_D02}",
            f"/items/{ITEM['verify']}/evidence/{SHA_D02}",
            f"/items/{ITEM['verify']}/evidence/{GUESSED_SHA}",
            f"/items/{ITEM['verify']}/evidence/guessed",
            f"/items/99999/evidence/{SHA_D01}",
        ),
    ),
    Route(
        "POST",
        "/items/{item_id}/progress",
        f"/items/{ITEM['progress']}/progress",
        RESPOND,
        form=(("version", "1"), ("note", "已召开专题会议部署整改")),
    ),
    Route(
        "POST",
        "/items/{item_id}/report-fixed",
        f"/items/{ITEM['report']}/report-fixed",
        RESPOND,
        form=(("version", "1"), ("note", "已完成整改"), ("references", "发改〔2022〕1号")),
    ),
    Route(
        "POST",
        "/items/{item_id}/request-extension",
        f"/items/{ITEM['askext']}/request-extension",
        RESPOND,
        form=(("version", "1"), ("days", "10"), ("reason", "需等待上级批复")),
    ),
    Route(
        "POST",
        "/items/{item_id}/cannot-solve",
        f"/items/{ITEM['cannot']}/cannot-solve",
        RESPOND,
        form=(("version", "1"), ("explanation", "属省级事权"), ("alternative", "按季度报送")),
    ),
    Route(
        "POST",
        "/items/{item_id}/verify",
        f"/items/{ITEM['verify']}/verify",
        VERIFY,
        form=(("version", "2"), ("decision", "accept"), ("note", "整改到位")),
    ),
    Route(
        "POST",
        "/items/{item_id}/extend",
        f"/items/{ITEM['extend']}/extend",
        OFFICE,
        form=(("version", "2"), ("days", "20"), ("reason", "同意延期")),
    ),
    Route(
        "POST",
        "/items/{item_id}/decline-extension",
        f"/items/{ITEM['decline']}/decline-extension",
        OFFICE,
        form=(("version", "2"), ("note", "理由不充分")),
    ),
    Route(
        "POST",
        "/items/{item_id}/decide-cannot-solve",
        f"/items/{ITEM['decide']}/decide-cannot-solve",
        OFFICE,
        form=(("version", "2"), ("decision", "approve"), ("note", "同意")),
    ),
    Route("GET", "/verification", "/verification", VERIFY),
    Route("GET", "/overdue", "/overdue", ALL),
    Route("GET", "/requests", "/requests", OFFICE),
    Route(
        "GET",
        "/departments/{code}/rectifications",
        "/departments/D01/rectifications",
        ALL,
        foreign=("/departments/D02/rectifications", "/departments/D99/rectifications"),
    ),
    Route("GET", "/problem-lists", "/problem-lists", ALL),
    Route(
        "GET",
        "/problem-lists/{year}/{phase}/{code}",
        f"{LIST}/D01",
        ALL,
        foreign=(f"{LIST}/D02", f"{LIST}/D99", f"/problem-lists/{YEAR}/guessed/D02"),
    ),
    Route(
        "GET",
        "/problem-lists/{year}/{phase}/{code}/html",
        f"{LIST}/D01/html",
        ALL,
        foreign=(
            f"{LIST}/D02/html",
            f"{LIST}/D99/html",
            f"/problem-lists/{YEAR - 1}/year-end/D02/html",
        ),
    ),
    Route(
        "GET",
        "/problem-lists/{year}/{phase}/{code}/pdf",
        f"{LIST}/D01/pdf",
        ALL,
        foreign=(f"{LIST}/D02/pdf", f"{LIST}/D99/pdf"),
    ),
    # the API (bearer tokens)
    Route("GET", "/api/v1/me", "/api/v1/me", ALL),
    Route("GET", "/api/v1/departments", "/api/v1/departments", ALL),
    Route(
        "GET",
        "/api/v1/indicators",
        f"/api/v1/indicators?year={YEAR}",
        ALL,
        foreign=(
            f"/api/v1/indicators?year={YEAR}&department=D02",
            f"/api/v1/indicators?year={YEAR}&department=D99",
        ),
    ),
    Route(
        "GET",
        "/api/v1/rectifications",
        "/api/v1/rectifications",
        ALL,
        foreign=("/api/v1/rectifications?department=D02", "/api/v1/rectifications?department=D99"),
    ),
    Route(
        "GET",
        "/api/v1/rectifications/{item_id}",
        f"/api/v1/rectifications/{ITEM['verify']}",
        ALL,
        foreign=(f"/api/v1/rectifications/{D02}", "/api/v1/rectifications/99999"),
    ),
    Route(
        "POST",
        "/api/v1/rectifications/{item_id}/actions",
        f"/api/v1/rectifications/{ITEM['api']}/actions",
        RESPOND,
        body='{"action": "respond", "expected_version": 1, "reason": "接口报送进展"}',
    ),
    Route(
        "GET",
        "/api/v1/notifications",
        "/api/v1/notifications",
        NOTIFY,
        foreign=("/api/v1/notifications?department=D02", "/api/v1/notifications?department=D99"),
    ),
    # the office: problem-list approval (tests/web/test_office.py)
    Route("GET", "/office/problem-lists", "/office/problem-lists", OFFICE),
    Route(
        "GET",
        "/office/problem-lists/{code}",
        f"/office/problem-lists/D01?year={YEAR}&phase=mid-year",
        OFFICE,
    ),
    Route(
        "GET",
        "/office/problem-lists/{code}/document",
        f"/office/problem-lists/D01/document?year={YEAR}&phase=mid-year",
        OFFICE,
    ),
    Route(
        "POST",
        "/office/problem-lists/approve",
        "/office/problem-lists/approve",
        OFFICE,
        form=(
            ("year", str(YEAR)),
            ("phase", "mid-year"),
            ("department", "D01"),
            ("scope", "selected"),
        ),
    ),
    # results (tests/web/test_results.py)
    Route("GET", "/results/board", f"/results/board?year={YEAR}", ALL),
    Route(
        "GET",
        "/results/trends",
        "/results/trends",
        NOT_SECTION,
        foreign=("/results/trends?department=D02", "/results/trends?department=D99"),
    ),
    Route("GET", "/results/scores", f"/results/scores?year={YEAR}&phase=mid-year", ALL),
    Route(
        "GET",
        "/results/scores/{code}",
        f"/results/scores/D01?year={YEAR}&phase=mid-year",
        NOT_SECTION,
        foreign=(
            f"/results/scores/D02?year={YEAR}&phase=mid-year",
            f"/results/scores/D99?year={YEAR}&phase=mid-year",
        ),
        hidden=frozenset({"section"}),  # a section supervises items, not departments
    ),
    Route("GET", "/results/report", f"/results/report?year={YEAR}", RESULTS),
    Route("GET", "/results/report.pdf", f"/results/report.pdf?year={YEAR}", RESULTS),
    Route(
        "GET",
        "/api/v1/findings",
        f"/api/v1/findings?year={YEAR}",
        ALL,
        foreign=(
            f"/api/v1/findings?year={YEAR}&department=D02",
            f"/api/v1/findings?year={YEAR}&department=D99",
        ),
    ),
    Route("GET", "/api/v1/problem-lists", f"/api/v1/problem-lists?year={YEAR}", ALL),
    Route(
        "POST",
        "/api/v1/problem-lists/approve",
        "/api/v1/problem-lists/approve",
        OFFICE,
        body=f'{{"year": {YEAR}, "phase": "mid-year", "departments": ["D02"]}}',
    ),
    Route("GET", "/api/v1/scores", f"/api/v1/scores?year={YEAR}&phase=mid-year", ALL),
    Route(
        "GET",
        "/api/v1/scores/{department}",
        f"/api/v1/scores/D01?year={YEAR}&phase=mid-year",
        NOT_SECTION,
        foreign=(
            f"/api/v1/scores/D02?year={YEAR}&phase=mid-year",
            f"/api/v1/scores/D99?year={YEAR}&phase=mid-year",
        ),
        hidden=frozenset({"section"}),
    ),
    Route("GET", "/api/v1/board", f"/api/v1/board?year={YEAR}", ALL),
    Route(
        "GET",
        "/api/v1/trends",
        "/api/v1/trends",
        NOT_SECTION,
        foreign=("/api/v1/trends?department=D02", "/api/v1/trends?department=D99"),
    ),
)


def declared(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers (FastAPI ≥ 0.150 keeps them
    as included-router entries instead of copying their routes into the app's list)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from declared(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        elif isinstance(route, Mount):
            yield "MOUNT", prefix + route.path
        else:
            methods = getattr(route, "methods", None) or set()
            yield from ((m, prefix + route.path) for m in methods if m != "HEAD")  # type: ignore[attr-defined]


def test_every_route_is_in_the_table(web_app: FastAPI) -> None:
    found = set(declared(web_app.routes))
    assert ("MOUNT", "/static") in found
    found.discard(("MOUNT", "/static"))
    listed = {(r.method, r.path) for r in ROUTES}
    assert found - listed == set(), "routes missing from the access table"
    assert listed - found == set(), "the access table names routes that do not exist"
    assert len(found) > 15


# ------------------------------------------------------------------ the world the table runs in


@dataclass
class World:
    """The portal with a victim (an office user signed in elsewhere) and a token per role."""

    portal: Portal
    victim_session: int = 0
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.portal.url

    @property
    def clock(self) -> Clock:
        return self.portal.clock

    def browsers(self) -> Browser:
        return self.portal.browser()

    def concrete(self, url: str) -> str:
        return url.replace("{victim_session}", str(self.victim_session))

    def signed_in(self, role: str) -> Browser:
        b = self.browsers()
        r = b.sign_in(ROLES[role])
        assert r.status_code == 303 and r.headers["location"] == "/", r.text
        return b

    def state(self) -> dict[str, object]:
        """What a refused request must leave as it was: users, sessions, tokens."""
        now: datetime = self.clock()
        with UnitOfWork(app_for(self.url), readonly=True) as uow:
            admin = identity.actor_for(uow, "admin")
            return {
                "users": [u.model_dump() for u in identity.list_users(uow, admin)],
                "sessions": [s.model_dump() for s in web_auth.list_sessions(uow, admin, now)],
                "tokens": [t.model_dump() for t in web_auth.list_tokens(uow, admin, now)],
            }


def _world(portal: Portal) -> World:
    add_user(portal.url, "victim", UserRole.OFFICE)
    w = World(portal=portal)
    portal.signed_in("victim")
    with UnitOfWork(app_for(portal.url), readonly=True) as uow:
        admin = identity.actor_for(uow, "admin")
        sessions = web_auth.list_sessions(uow, admin, portal.clock(), login="victim")
    w.victim_session = sessions[0].id
    w.tokens = {
        role: make_token(portal.url, login, portal.clock()) for role, login in ROLES.items()
    }
    return w


@pytest.fixture
def world(portal: Portal) -> World:
    """On SQLite (a copy of the county)."""
    return _world(portal)


@pytest.fixture
def world_both(portal_both: Portal) -> World:
    """On SQLite and PostgreSQL, for the tests where the database matters."""
    return _world(portal_both)


def _api(b: Browser, route: Route, url: str, token: str | None) -> Response:
    headers = {"Content-Type": "application/json"} if route.body else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return b.client.request(route.method, url, headers=headers, content=route.body or None)


def _request(world: World, b: Browser, route: Route, role: str) -> tuple[int, str]:
    url = world.concrete(route.url)
    if route.api:
        r = _api(b, route, url, world.tokens[role])
    elif route.changes:
        r = b.post(url, dict(route.form))
    else:
        r = b.get(url)
    return r.status_code, r.headers.get("location", "")


# ------------------------------------------------------------------ the tests


def test_unsigned_requests_are_sent_to_sign_in_or_get_401(world: World) -> None:
    b = world.browsers()
    wrong = []
    for route in ROUTES:
        url = world.concrete(route.url)
        if route.who == PUBLIC:
            continue
        if route.api:
            r = _api(b, route, url, None)
            bad = r.status_code != 401 or r.json().get("detail") is None
        elif route.changes:
            r = b.post(url, dict(route.form), csrf=False)
            bad = r.status_code != 303 or not r.headers["location"].startswith("/login")
        else:
            r = b.get(url)
            bad = r.status_code != 303 or not r.headers["location"].startswith("/login")
        if bad:
            wrong.append(f"{route.method} {url}: {r.status_code} {r.headers.get('location')}")
    assert not wrong, "\n".join(wrong)


def test_public_routes_answer_without_sign_in(world: World) -> None:
    b = world.browsers()
    for route in ROUTES:
        if route.who == PUBLIC and route.method == "GET":
            assert b.get(route.url).status_code == 200, route.url


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_opens_what_it_may_and_is_refused_the_rest(world: World, role: str) -> None:
    """Allowed: 200 (a page), 303 (a form's redirect). Refused: 403, with nothing changed."""
    b = world.signed_in(role)
    wrong = []
    # the user's own sign-out last: it ends the session the others need
    for route in sorted(ROUTES, key=lambda r: r.path == "/logout"):
        if route.who == PUBLIC or (route.path == "/account/password" and route.changes):
            continue  # the password change has its own test
        before = world.state() if route.changes and role not in route.who else None
        status, location = _request(world, b, route, role)
        expected = (303 if route.changes and not route.api else 200) if role in route.who else 403
        expected = 404 if role in route.hidden else expected
        if status != expected or (status == 303 and location.startswith("/login?next")):
            wrong.append(f"{role} {route.method} {route.url}: {status} (expected {expected})")
        if before is not None and world.state() != before:
            wrong.append(f"{role} {route.method} {route.url}: refused but changed something")
    assert not wrong, "\n".join(wrong)


def test_a_leader_changes_nothing(world_both: World) -> None:
    """Every POST but the leader's own sign-out and password is refused and changes nothing."""
    world = world_both
    b = world.signed_in("leader")
    b.api("/api/v1/me", world.tokens["leader"])  # its first use is recorded: before the check
    before = world.state()
    for route in ROUTES:
        if route.changes and not route.own_account and route.who != PUBLIC:
            if route.api:
                r = _api(b, route, world.concrete(route.url), world.tokens["leader"])
            else:
                r = b.post(world.concrete(route.url), dict(route.form))
            assert r.status_code == 403, (route.url, r.status_code)
    assert world.state() == before


@pytest.mark.reliability
def test_a_department_user_gets_404_for_another_departments_objects(world_both: World) -> None:
    world = world_both
    b = world.signed_in("department")
    answers = {}
    for route in ROUTES:
        for url in route.foreign:
            r = b.api(url, world.tokens["department"]) if route.api else b.get(url)
            assert r.status_code == 404, (url, r.status_code)
            answers.setdefault(route.path, set()).add(r.text)
        if route.foreign:
            status, _ = _request(world, b, route, "department")
            assert status == 200, f"{route.url}: the user's own object"
    # another department's object and one that does not exist look the same
    assert all(len(bodies) == 1 for bodies in answers.values()), answers


def test_a_revoked_or_expired_token_is_refused(world_both: World) -> None:
    world = world_both
    b = world.browsers()
    token = world.tokens["office"]
    ok = b.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json()["login"] == "office"
    with UnitOfWork(app_for(world.url)) as uow:
        office = identity.actor_for(uow, "office")
        mine = web_auth.list_tokens(uow, office, world.clock())
        web_auth.revoke_token(uow, office, mine[0].id, world.clock())
    r = b.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    # expired: the leader's token lived 30 days
    world.clock.advance(days=31)
    r = b.client.get("/api/v1/me", headers={"Authorization": f"Bearer {world.tokens['leader']}"})
    assert r.status_code == 401
    r = b.client.get("/api/v1/me", headers={"Authorization": "Bearer bihuan_guessed"})
    assert r.status_code == 401
    # a session cookie opens no API door
    s = world.signed_in("leader")
    assert s.client.get("/api/v1/me").status_code == 401


def test_an_expired_or_revoked_session_is_refused(world_both: World) -> None:
    world = world_both
    idle = world.signed_in("office")
    assert idle.get("/").status_code == 200
    world.clock.advance(minutes=31)
    r = idle.get("/departments")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/departments"

    # kept busy, a session still ends 12 hours after sign-in
    busy = world.signed_in("office")
    for _ in range(12 * 4 - 1):
        world.clock.advance(minutes=15)
        assert busy.get("/").status_code == 200
    world.clock.advance(minutes=15)
    assert busy.get("/").status_code == 303

    # revoked by an admin (or ended by disabling the user)
    revoked = world.signed_in("leader")
    with UnitOfWork(app_for(world.url)) as uow:
        admin = identity.actor_for(uow, "admin")
        assert web_auth.revoke_user_sessions(uow, admin, "leader", world.clock()) >= 1
    assert revoked.get("/").status_code == 303
    disabled = world.signed_in("auditor")
    with UnitOfWork(app_for(world.url)) as uow:
        admin = identity.actor_for(uow, "admin")
        identity.set_active(uow, "auditor", False, admin, world.clock().date())
        identity.set_active(uow, "auditor", True, admin, world.clock().date())
    assert disabled.get("/").status_code == 303, "re-enabling does not revive old sessions"
