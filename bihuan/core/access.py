"""Who may do what (账号与权限): roles, permissions and scopes as one pure table.

Every use case asks `check(actor, permission, target)` before it reads or changes anything; the
answer is a reason string when refused (None when allowed), so the service layer can raise one
error naming the user, the action and why, and record the refusal. Nothing here touches the
database: the target carries the few facts a decision needs (its jurisdiction, department and
supervising section).

Roles (bihuan.vocab.UserRole):

- admin (系统管理员): manages users and policy; reads everything, changes no cycle data;
- office (编办): imports, runs the cycle, approves problem lists, verifies and decides items;
- section (督促科室): sees and verifies the items it supervises;
- department (部门联络人): sees and answers only its own department's lists and items;
- leader (县委编委领导): reads boards, scores and reports; changes nothing;
- auditor (审计): reads the audit log (and what it refers to); changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bihuan.vocab import LabelledEnum, UserRole


class Permission(LabelledEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_POLICY = "manage_policy"
    IMPORT = "import"
    RUN_CYCLE = "run_cycle"
    SUBMIT = "submit"
    APPROVE_LISTS = "approve_lists"
    AMEND_FINDINGS = "amend_findings"
    RESPOND = "respond"
    DECIDE = "decide"
    VERIFY = "verify"
    SEND_NOTIFICATIONS = "send_notifications"
    READ_CYCLE = "read_cycle"
    READ_RESULTS = "read_results"
    READ_NOTIFICATIONS = "read_notifications"
    READ_AUDIT = "read_audit"


P = Permission
R = UserRole

ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    R.ADMIN: frozenset(
        {
            P.MANAGE_USERS,
            P.MANAGE_POLICY,
            P.READ_CYCLE,
            P.READ_RESULTS,
            P.READ_NOTIFICATIONS,
            P.READ_AUDIT,
        }
    ),
    R.OFFICE: frozenset(
        {
            P.IMPORT,
            P.RUN_CYCLE,
            P.SUBMIT,
            P.APPROVE_LISTS,
            P.AMEND_FINDINGS,
            P.RESPOND,
            P.DECIDE,
            P.VERIFY,
            P.SEND_NOTIFICATIONS,
            P.READ_CYCLE,
            P.READ_RESULTS,
            P.READ_NOTIFICATIONS,
        }
    ),
    R.SECTION: frozenset({P.VERIFY, P.READ_CYCLE}),
    R.DEPARTMENT: frozenset({P.SUBMIT, P.RESPOND, P.READ_CYCLE, P.READ_NOTIFICATIONS}),
    R.LEADER: frozenset({P.READ_CYCLE, P.READ_RESULTS}),
    R.AUDITOR: frozenset({P.READ_AUDIT, P.READ_CYCLE, P.READ_RESULTS}),
}


@dataclass(frozen=True)
class Actor:
    """The signed-in user a use case runs for (loaded from the database by the service layer)."""

    user_id: int
    login: str
    display_name: str
    role: UserRole
    jurisdiction_id: int | None = None  # None: every jurisdiction of the installation
    jurisdiction_code: str | None = None
    department_id: int | None = None
    department_code: str | None = None
    section: str = ""  # the supervising section (督促科室) of a `section` user
    active: bool = True

    def can(self, permission: Permission) -> bool:
        return self.active and permission in ROLE_PERMISSIONS[self.role]

    @property
    def describe(self) -> str:
        """How the user is named in messages: login, role and scope."""
        scope = (
            f" of {self.department_code}"
            if self.department_code
            else f" of {self.section}"
            if self.section
            else ""
        )
        return f"user {self.login} ({self.role.value}{scope})"

    @property
    def sees_everything_in_scope(self) -> bool:
        """Office, leader, admin and auditor see every department of their jurisdiction(s)."""
        return self.role not in (R.DEPARTMENT, R.SECTION)


@dataclass(frozen=True)
class Target:
    """What an action is about: the facts the scope rules need (None = not department-bound)."""

    jurisdiction_id: int | None = None
    department_id: int | None = None
    section: str | None = None  # the item's supervising section, for section users
    what: str = ""  # e.g. "item 17 of D02", for the refusal message
    # a listing over the jurisdiction that the use case filters to what the actor may see
    # (visible_department / visible_section): the department and section rules do not apply
    listing: bool = False


def check(actor: Actor, permission: Permission, target: Target | None = None) -> str | None:
    """None when `actor` may do `permission` on `target`; otherwise the reason, in English."""
    if not actor.active:
        return "the account is disabled"
    if permission not in ROLE_PERMISSIONS[actor.role]:
        return f"the {actor.role.value} role ({actor.role.label}) may not {permission.value}"
    if target is None:
        return None
    if (
        actor.jurisdiction_id is not None
        and target.jurisdiction_id is not None
        and target.jurisdiction_id != actor.jurisdiction_id
    ):
        return "it belongs to another jurisdiction"
    what = target.what or "it"
    if target.listing:
        return None
    if actor.role == R.DEPARTMENT and (
        target.department_id is None or target.department_id != actor.department_id
    ):
        return f"{what} is not of department {actor.department_code}"
    if actor.role == R.SECTION and (target.section is None or target.section != actor.section):
        return f"{what} is not supervised by {actor.section}"
    return None


def listing(jurisdiction_id: int | None) -> Target:
    """The target of a listing of a jurisdiction (filtered by the use case, see Target)."""
    return Target(jurisdiction_id=jurisdiction_id, listing=True)


def visible_department(actor: Actor) -> int | None:
    """The one department a listing is restricted to for this actor, or None (no restriction
    by department; a section user is restricted by section instead)."""
    return actor.department_id if actor.role == R.DEPARTMENT else None


def visible_section(actor: Actor) -> str | None:
    return actor.section if actor.role == R.SECTION else None


_PERMISSION_LABELS = {
    "manage_users": "管理账号",
    "manage_policy": "管理政策配置",
    "import": "导入数据",
    "run_cycle": "运行评估流程",
    "submit": "报送指标",
    "approve_lists": "审核问题清单",
    "amend_findings": "更正或撤回问题",
    "respond": "答复整改事项",
    "decide": "决定整改事项",
    "verify": "验收整改事项",
    "send_notifications": "发送通知",
    "read_cycle": "查看评估与整改",
    "read_results": "查看结果与报告",
    "read_notifications": "查看通知",
    "read_audit": "查看审计日志",
}


def _register_labels() -> None:
    from bihuan.vocab import _labels

    _labels(Permission, _PERMISSION_LABELS)


_register_labels()
