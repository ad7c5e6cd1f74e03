"""Forms and responses: CSRF on every unsafe request, inert user text, headers and cookies."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bihuan.services import audit, identity
from bihuan.services.uow import UnitOfWork
from bihuan.web.app import create_app
from bihuan.web.security import CONTENT_SECURITY_POLICY
from tests.users import app_for
from tests.web.conftest import Portal, field
from tests.web.test_access import ROUTES, World, _world

HOSTILE = "<script>alert(1)</script>{{7*7}}"


@pytest.fixture
def world(portal: Portal) -> World:
    return _world(portal)


def test_every_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    world: World,
) -> None:
    """Signed in as the admin, who may do every one of them, with the right form otherwise."""
    admin = world.signed_in("admin")
    other = world.signed_in("office")  # a token of another session is no good either
    before = world.state()
    posts = [r for r in ROUTES if r.changes and r.who != frozenset({"public"}) and not r.api]
    assert len(posts) >= 7
    for route in posts:
        url = world.concrete(route.url)
        for token in (None, "", "x" * 64, other.csrf()):
            data = dict(route.form)
            if token is not None:
                data["csrf_token"] = token
            r = admin.client.post(url, data=data, follow_redirects=False)
            assert r.status_code == 403, (url, token, r.status_code)
            assert "表单已失效" in r.text
    assert world.state() == before
    assert admin.get("/").status_code == 200, "the admin is still signed in"


def test_the_sign_in_form_needs_its_own_token(portal: Portal) -> None:
    b = portal.browser()
    page = b.client.get("/login")
    token = field(page.text, "csrf_token")
    assert "bihuan_login" in b.client.cookies
    data = {"login": "office", "password": "test-password-1", "next": "/"}
    for bad in ("", "forged"):
        r = b.client.post("/login", data={**data, "csrf_token": bad}, follow_redirects=False)
        assert r.status_code == 403
    fresh = portal.browser()  # no form cookie: a request forged from another site
    r = fresh.client.post("/login", data={**data, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 403
    r = b.client.post("/login", data={**data, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and "bihuan_session" in b.client.cookies


@pytest.mark.reliability
def test_hostile_text_renders_inert(world: World) -> None:
    admin = world.signed_in("admin")
    r = admin.post(
        "/admin/users",
        {
            "login": "mallory",
            "display_name": HOSTILE,
            "role": "department",
            "department": "D01",
            "password": "first-password-1",
        },
    )
    assert r.status_code == 303, r.text
    # a failed sign-in under a hostile login name lands in the audit log
    world.browsers().sign_in(HOSTILE, "whatever-1")
    pages = [admin.get("/admin/users").text, admin.get("/audit").text]
    mallory = world.browsers()
    mallory.sign_in("mallory", "first-password-1")
    pages.append(mallory.get("/account/password").text)  # the header names the user
    for html in pages:
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "{{7*7}}" in html and ">49<" not in html


def _assert_headers(r: object, *, static: bool = False) -> None:
    headers = r.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert ("cache-control" not in headers) if static else headers["cache-control"] == "no-store"
    assert "server" not in headers or "uvicorn" not in headers["server"]


def test_security_headers_on_every_kind_of_response(world: World) -> None:
    b = world.signed_in("leader")
    for url in ("/", "/departments", "/login", "/nowhere", "/admin/users", "/api/docs"):
        _assert_headers(b.get(url))
    _assert_headers(b.client.get("/api/v1/me"))  # 401 JSON
    _assert_headers(b.api("/api/v1/me", world.tokens["leader"]))
    _assert_headers(b.post("/logout"))  # a redirect
    _assert_headers(b.get("/static/portal.css"), static=True)


def test_no_inline_script_or_style_in_any_page(world: World) -> None:
    b = world.signed_in("admin")
    for url in ("/", "/departments", "/departments/D01", "/admin/users", "/admin/sessions"):
        html = b.get(url).text
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
    docs = world.browsers().get("/api/docs").text
    scripts = re.findall(r"<script[^>]*>", docs)
    assert scripts and all("src=" in s for s in scripts)
    assert "cdn" not in docs.lower()


def test_cookies_are_httponly_lax_and_secure_over_https(county: str, clock: object) -> None:
    def cookie_of(client: TestClient, headers: dict[str, str] | None = None) -> str:
        form = client.get("/login", headers=headers)
        r = client.post(
            "/login",
            data={
                "login": "office",
                "password": "test-password-1",
                "csrf_token": field(form.text, "csrf_token"),
            },
            headers=headers,
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return next(c for c in r.headers.get_list("set-cookie") if "bihuan_session=" in c)

    app = create_app(app_for(county), clock=clock)  # type: ignore[arg-type]
    with TestClient(app) as plain:
        cookie = cookie_of(plain)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie and "Max-Age" not in cookie
    with TestClient(app, base_url="https://testserver") as tls:
        assert "Secure" in cookie_of(tls)
        assert "strict-transport-security" in tls.get("/login").headers
    # behind a proxy: the sign-in form's cookie shows what the portal believes
    proxied = {"X-Forwarded-Proto": "https"}

    def form_cookie(client: TestClient) -> str:
        return client.get("/login", headers=proxied).headers["set-cookie"]

    with TestClient(app) as untrusted:  # a proxy header from anyone is not believed
        assert "Secure" not in form_cookie(untrusted)
    behind = Portal(county, clock, trust_proxy=True).app  # type: ignore[arg-type]
    with TestClient(behind) as via_proxy:
        assert "Secure" in form_cookie(via_proxy)
        assert "strict-transport-security" in via_proxy.get("/login", headers=proxied).headers


def test_sign_in_and_out_are_audited_with_the_address(world: World) -> None:
    b = world.browsers()
    assert b.sign_in("leader", "wrong-password").status_code == 401
    b.sign_in("leader")
    b.post("/logout")
    with UnitOfWork(app_for(world.url), readonly=True) as uow:
        admin = identity.actor_for(uow, "admin")
        entries = audit.read_log(uow, admin, key="leader").entries
        leader = identity.actor_for(uow, "leader")
    actions = [e.action for e in reversed(entries)]
    assert actions[-3:] == ["sign_in_failed", "signed_in", "signed_out"]
    for e in entries[:3]:
        assert e.details["via"] == "web" and e.details["address"] == "testclient"
        assert e.user_id == leader.user_id
