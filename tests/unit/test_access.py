"""The permission table: each role may do exactly what the issue says, in its scope only."""

from __future__ import annotations

import pytest

from bihuan.core.access import ROLE_PERMISSIONS, Actor, Permission, Target, check
from bihuan.vocab import UserRole

P = Permission


def actor(role: UserRole, **kw: object) -> Actor:
    return Actor(user_id=1, login="u", display_name="u", role=role, **kw)  # type: ignore[arg-type]


DEPT = actor(UserRole.DEPARTMENT, jurisdiction_id=1, department_id=10, department_code="D01")
SECTION = actor(UserRole.SECTION, jurisdiction_id=1, section="监督检查科")
OFFICE = actor(UserRole.OFFICE, jurisdiction_id=1)
LEADER = actor(UserRole.LEADER, jurisdiction_id=1)
ADMIN = actor(UserRole.ADMIN)
AUDITOR = actor(UserRole.AUDITOR, jurisdiction_id=1)

OWN_ITEM = Target(jurisdiction_id=1, department_id=10, section="监督检查科", what="item 1")
OTHER_ITEM = Target(jurisdiction_id=1, department_id=11, section="机关职能运行监管办公室")
OTHER_COUNTY = Target(jurisdiction_id=2, department_id=99)

CHANGES = {
    P.MANAGE_USERS,
    P.MANAGE_POLICY,
    P.IMPORT,
    P.RUN_CYCLE,
    P.SUBMIT,
    P.APPROVE_LISTS,
    P.AMEND_FINDINGS,
    P.RESPOND,
    P.DECIDE,
    P.VERIFY,
    P.SEND_NOTIFICATIONS,
}


def test_leader_and_auditor_change_nothing() -> None:
    for who in (LEADER, AUDITOR):
        assert not (ROLE_PERMISSIONS[who.role] & CHANGES)
        for perm in CHANGES:
            assert check(who, perm, OWN_ITEM) is not None


def test_admin_manages_users_but_not_the_cycle() -> None:
    assert check(ADMIN, P.MANAGE_USERS) is None
    for perm in (P.RUN_CYCLE, P.APPROVE_LISTS, P.RESPOND, P.VERIFY, P.IMPORT):
        assert check(ADMIN, perm, OWN_ITEM) is not None


def test_department_acts_on_its_own_items_only() -> None:
    assert check(DEPT, P.RESPOND, OWN_ITEM) is None
    reason = check(DEPT, P.RESPOND, OTHER_ITEM)
    assert reason == "it is not of department D01"
    assert check(DEPT, P.READ_CYCLE, OTHER_ITEM) is not None
    for perm in (P.VERIFY, P.DECIDE, P.APPROVE_LISTS, P.RUN_CYCLE, P.IMPORT):
        assert check(DEPT, perm, OWN_ITEM) is not None


def test_section_verifies_what_it_supervises() -> None:
    assert check(SECTION, P.VERIFY, OWN_ITEM) is None
    assert "not supervised by 监督检查科" in (check(SECTION, P.VERIFY, OTHER_ITEM) or "")
    assert check(SECTION, P.DECIDE, OWN_ITEM) is not None
    assert check(SECTION, P.RESPOND, OWN_ITEM) is not None


def test_jurisdiction_bounds_everyone_scoped_to_one() -> None:
    for who in (OFFICE, LEADER, DEPT, SECTION):
        assert check(who, P.READ_CYCLE, OTHER_COUNTY) == "it belongs to another jurisdiction"
    assert check(ADMIN, P.READ_CYCLE, OTHER_COUNTY) is None  # installation-wide


@pytest.mark.parametrize("role", list(UserRole))
def test_a_disabled_user_may_do_nothing(role: UserRole) -> None:
    who = actor(role, jurisdiction_id=1, department_id=10, section="监督检查科", active=False)
    for perm in Permission:
        assert check(who, perm, OWN_ITEM) == "the account is disabled"


def test_every_permission_has_a_chinese_label() -> None:
    assert all(p.label != p.value for p in Permission)
