"""What each role's home page offers: the pages it may open, and those still to come.

Only a convenience: the use cases decide what a user may do, whatever links are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from bihuan.core.access import Actor, Permission
from bihuan.vocab import UserRole


@dataclass(frozen=True)
class Link:
    label: str
    href: str | None  # None: a page of a coming release (即将推出)
    hint: str = ""


COMING: dict[UserRole, tuple[tuple[str, str], ...]] = {
    UserRole.DEPARTMENT: (
        ("本部门问题清单", "历年问题清单，可下载"),
        ("本部门整改事项", "期限、剩余工作日、状态与提醒；报送进展与整改佐证"),
    ),
    UserRole.OFFICE: (
        ("整改验收", "验收部门报送的整改事项"),
        ("逾期事项", "按督办层级查看逾期事项"),
    ),
    UserRole.SECTION: (("督办事项验收", "本科室督办的整改事项"),),
}


# The rectification loop's pages (bihuan/web/routes/rectification.py, issued_lists.py); a
# label that COMING also names is live now and no longer "coming".
LOOP: dict[UserRole, tuple[Link, ...]] = {
    UserRole.DEPARTMENT: (
        Link("本部门问题清单", "/problem-lists", "历年问题清单，可下载 HTML/PDF"),
        Link("本部门整改事项", "/items", "期限、剩余工作日、状态与提醒；报送进展与整改佐证"),
    ),
    UserRole.OFFICE: (
        Link("整改验收", "/verification", "验收部门报送的整改事项"),
        Link("逾期事项", "/overdue", "按督办层级查看逾期事项"),
        Link("延期与无法解决申请", "/requests", "审核部门的延期、无法解决申请"),
        Link("整改台账", "/items", "全部整改事项及其进展"),
        Link("问题清单", "/problem-lists", "已下发的问题清单"),
    ),
    UserRole.SECTION: (
        Link("督办事项验收", "/verification", "本科室督办的整改事项"),
        Link("督办事项", "/items", "本科室督办的全部整改事项"),
        Link("逾期事项", "/overdue", "本科室督办的逾期事项"),
    ),
    UserRole.LEADER: (
        Link("整改台账", "/items", "全部整改事项及其进展"),
        Link("逾期事项", "/overdue", "按督办层级查看逾期事项"),
    ),
    UserRole.AUDITOR: (Link("整改台账", "/items", "整改事项及其时间线"),),
    UserRole.ADMIN: (Link("整改台账", "/items", "整改事项及其时间线"),),
}


def links_for(actor: Actor) -> list[Link]:
    links: list[Link] = []
    if actor.can(Permission.READ_CYCLE):
        if actor.role == UserRole.DEPARTMENT and actor.department_code:
            links.append(
                Link("本部门履职台账", f"/departments/{actor.department_code}", "年度指标")
            )
        else:
            links.append(Link("部门与履职台账", "/departments", "各部门及其年度指标"))
    if actor.can(Permission.APPROVE_LISTS):
        links.append(Link("问题清单审核", "/office/problem-lists", "预览并审核各部门问题清单"))
    loop = LOOP.get(actor.role, ()) if actor.can(Permission.READ_CYCLE) else ()
    links += loop
    if actor.can(Permission.READ_CYCLE):
        links.append(Link("红黄绿榜", "/results/board", "年度排名与结果运用"))
    if actor.can(Permission.READ_RESULTS):
        links.append(Link("历年趋势", "/results/trends", "各部门历年得分与名次"))
        links.append(Link("年度报告", "/results/report", "综合评估情况报告"))
    live = {link.label for link in loop}
    links += [
        Link(label, None, hint) for label, hint in COMING.get(actor.role, ()) if label not in live
    ]
    if actor.can(Permission.MANAGE_USERS):
        links.append(Link("账号管理", "/admin/users", "新增、停用、重置密码"))
        links.append(Link("登录会话", "/admin/sessions", "在线会话，可强制下线"))
    if actor.can(Permission.READ_AUDIT):
        links.append(Link("审计日志", "/audit", "所有操作与拒绝记录"))
        links.append(Link("审计日志校验", "/audit/verify", "哈希链完整性"))
    links.append(Link("修改密码", "/account/password"))
    links.append(Link("接口文档", "/api/docs", "REST API（访问令牌）"))
    return links
