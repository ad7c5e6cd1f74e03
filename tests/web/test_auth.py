"""Sign-in: throttling per account and per address, the first-login password change, redirects."""

from __future__ import annotations

from bihuan.services import audit, identity, web_auth
from bihuan.services.uow import UnitOfWork
from tests.users import app_for
from tests.web.conftest import PASSWORD, Portal, add_user


def _audit_actions(url: str, key: str) -> list[str]:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        admin = identity.actor_for(uow, "admin")
        return [e.action for e in reversed(audit.read_log(uow, admin, key=key).entries)]


def test_five_failures_lock_the_account_for_fifteen_minutes(portal_both: Portal) -> None:
    portal = portal_both
    b = portal.browser()
    for _ in range(5):
        assert b.sign_in("leader", "wrong-password").status_code == 401
    r = b.sign_in("leader")  # the right password, but locked
    assert r.status_code == 429 and "已暂时锁定" in r.text
    # the count lives in the database: another worker (another app) refuses too
    other = Portal(portal.url, portal.clock)
    assert other.browser().sign_in("leader").status_code == 429
    # other accounts from the same address are not affected
    assert b.sign_in("auditor").status_code == 303
    portal.clock.advance(minutes=14)
    assert portal.browser().sign_in("leader").status_code == 429
    portal.clock.advance(minutes=1, seconds=1)
    assert portal.browser().sign_in("leader").status_code == 303
    actions = _audit_actions(portal.url, "leader")
    assert actions.count("sign_in_failed") == 5
    assert actions.count("sign_in_throttled") == 3
    assert actions[-1] == "signed_in"
    other.close()


def test_a_success_clears_the_accounts_failures(portal: Portal) -> None:
    b = portal.browser()
    for _ in range(4):
        b.sign_in("leader", "wrong-password")
    assert b.sign_in("leader").status_code == 303
    for _ in range(4):
        b.sign_in("leader", "wrong-password")
    assert portal.browser().sign_in("leader").status_code == 303


def test_twenty_failures_from_one_address_lock_that_address(portal: Portal) -> None:
    behind = Portal(portal.url, portal.clock, trust_proxy=True)  # nginx in front
    b = behind.browser()
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    b.client.headers.update(attacker)
    for i in range(20):  # one or two tries per login: no account reaches its own limit
        assert b.sign_in(f"guess{i % 10}", "wrong-password").status_code == 401
    assert b.sign_in("leader").status_code == 429
    # a client that claims another address through a proxy it does not pass is not believed:
    # its X-Forwarded-For is replaced by nginx; here, another address is another client
    ok = behind.browser()
    ok.client.headers.update({"X-Forwarded-For": "198.51.100.7"})
    assert ok.sign_in("leader").status_code == 303
    # the last address of the header is the one the trusted proxy saw
    spoof = behind.browser()
    spoof.client.headers.update({"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert spoof.sign_in("leader").status_code == 429
    behind.close()


def test_first_login_leads_to_the_password_form_until_changed(portal_both: Portal) -> None:
    portal = portal_both
    add_user(portal.url, "newbie", identity.UserRole.DEPARTMENT, department="D01", must_change=True)
    other = portal.browser()
    assert other.sign_in("newbie").headers["location"] == "/account/password"
    b = portal.browser()
    r = b.sign_in("newbie", next_url="/departments/D01")
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    for url in ("/", "/departments", "/departments/D01", "/admin/users", "/audit"):
        r = b.get(url)
        assert r.status_code == 303 and r.headers["location"] == "/account/password", url
    form = b.get("/account/password")
    assert form.status_code == 200 and "首次登录" in form.text
    bad = [
        (
            {"current": "wrong-password", "new": "my-own-secret-9", "repeat": "my-own-secret-9"},
            "当前密码不正确",
        ),
        ({"current": PASSWORD, "new": "my-own-secret-9", "repeat": "my-own-secret-8"}, "不一致"),
        ({"current": PASSWORD, "new": "short", "repeat": "short"}, "8 characters"),
        ({"current": PASSWORD, "new": PASSWORD, "repeat": PASSWORD}, "must differ"),
    ]
    for data, message in bad:
        r = b.post("/account/password", data)
        assert r.status_code == 400 and message in r.text, message
        assert b.get("/").headers["location"] == "/account/password"
    r = b.post(
        "/account/password",
        {"current": PASSWORD, "new": "my-own-secret-9", "repeat": "my-own-secret-9"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/?done=password"
    home = b.get("/?done=password")
    assert home.status_code == 200 and "密码已修改" in home.text
    assert b.get("/departments/D01").status_code == 200
    # the other session of the user ended; the old password no longer works, the new one does
    assert other.get("/").headers["location"].startswith("/login")
    assert portal.browser().sign_in("newbie").status_code == 401
    assert portal.browser().sign_in("newbie", "my-own-secret-9").headers["location"] == "/"
    assert "password_changed" in _audit_actions(portal.url, "newbie")


def test_an_admin_reset_asks_for_a_new_password_again(portal: Portal) -> None:
    leader = portal.signed_in("leader")
    admin = portal.signed_in("admin")
    r = admin.post("/admin/users/leader/reset-password", {"password": "temporary-pw-1"})
    assert r.status_code == 303
    assert "已重置 leader 的密码" in admin.get(r.headers["location"]).text
    assert leader.get("/").headers["location"].startswith("/login"), "sessions ended"
    again = portal.browser()
    assert again.sign_in("leader", "temporary-pw-1").headers["location"] == "/account/password"


def test_sign_in_returns_to_the_page_asked_for_and_never_off_site(portal: Portal) -> None:
    b = portal.browser()
    r = b.get("/departments?x=1")
    assert r.headers["location"] == "/login?next=/departments%3Fx%3D1"
    login = b.get(r.headers["location"])
    assert 'name="next" value="/departments?x=1"' in login.text
    assert (
        b.sign_in("office", next_url="/departments?x=1").headers["location"] == "/departments?x=1"
    )
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        c = portal.browser()
        assert c.sign_in("office", next_url=target).headers["location"] == "/"
    # signed in already: the form sends one on
    assert b.get("/login").headers["location"] == "/"


def test_sign_out_ends_the_session(portal: Portal) -> None:
    b = portal.signed_in("office")
    cookie = b.client.cookies["bihuan_session"]
    r = b.post("/logout")
    assert r.status_code == 303 and r.headers["location"] == "/login?bye=1"
    assert "退出" in b.get("/login?bye=1").text
    # the old cookie is dead even if a copy of it was kept
    c = portal.browser()
    c.client.cookies.set("bihuan_session", cookie)
    assert c.get("/").status_code == 303
    with UnitOfWork(app_for(portal.url), readonly=True) as uow:
        admin = identity.actor_for(uow, "admin")
        assert web_auth.list_sessions(uow, admin, portal.clock(), login="office") == []
