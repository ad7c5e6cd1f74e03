"""The one vocabulary of the domain: str enums with their Chinese labels, imported by all layers.

Pure Python (no SQLAlchemy, no Prefect): the models store these values as plain strings, the core
computes with them, and documents, listings and the portal show their Chinese labels
(``Severity.HIGH.label == "严重"``). Labels belong to their enum, so two enums may share a value
("section" is an escalation level and a user role) without sharing a label.
"""

from __future__ import annotations

from enum import StrEnum

_LABELS: dict[type, dict[str, str]] = {}


class LabelledEnum(StrEnum):
    """A str enum whose members carry the Chinese label used in documents and listings."""

    @property
    def label(self) -> str:
        return _LABELS.get(type(self), {}).get(self.value, self.value)

    @classmethod
    def parse(cls, value: str) -> LabelledEnum:
        """A member from its value or its Chinese label (how offices write it in workbooks)."""
        text = str(value).strip()
        for member in cls:
            if text == member.value or text == member.label:
                return member
        raise ValueError(f"{text!r} is not one of {', '.join(m.value for m in cls)}")


def _labels(cls: type[LabelledEnum], mapping: dict[str, str]) -> None:
    missing = [m.value for m in cls if m.value not in mapping]
    if missing:  # a programmer's mistake: every member has a label
        raise RuntimeError(f"{cls.__name__}: no Chinese label for {missing}")
    _LABELS[cls] = dict(mapping)


def label(value: object, enum: type[LabelledEnum] | None = None) -> str:
    """The Chinese label of an enum member or of a bare value (the value itself when unknown).

    With `enum`, the value is looked up in that enum only; otherwise in every enum, first
    registered first (for templates that only hold the stored string).
    """
    if isinstance(value, LabelledEnum):
        return value.label
    text = "" if value is None else str(value)
    if enum is not None:
        return _LABELS.get(enum, {}).get(text, text)
    for mapping in _LABELS.values():
        if text in mapping:
            return mapping[text]
    return text


# ------------------------------------------------------------------ organisation and ledger


class Category(LabelledEnum):
    ECONOMIC = "economic"
    NON_ECONOMIC = "non_economic"


class PhaseKind(LabelledEnum):
    MID_YEAR = "mid-year"
    YEAR_END = "year-end"


class IndicatorKind(LabelledEnum):
    QUALITATIVE = "qualitative"
    QUANTITATIVE = "quantitative"


class Direction(LabelledEnum):
    HIGHER_BETTER = "higher"
    LOWER_BETTER = "lower"


class QualitativeLevel(LabelledEnum):
    NOT_FORMULATED = "not_formulated"
    FORMULATED = "formulated"
    IMPLEMENTED = "implemented"


class Method(LabelledEnum):
    MATERIAL = "material"
    DATA_COLLECTION = "data_collection"
    ON_SITE = "on_site"
    INTERVIEW = "interview"
    SUGGESTION = "suggestion"


class StaffingCheckKind(LabelledEnum):
    PARTY_MANAGEMENT = "party_management"
    APPROVED_MATTERS = "approved_matters"
    SETUP_COMPLIANCE = "setup_compliance"
    REAL_NAME = "real_name"
    OFF_ESTABLISHMENT = "off_establishment"


class StaffingProblem(LabelledEnum):
    OVERLAPPING_DUTIES = "overlapping_duties"
    SECTION_NOT_OPERATING = "section_not_operating"
    HIRING_OUTSIDE_PLAN = "hiring_outside_plan"
    LATE_REGISTRATION = "late_registration"
    PARTY_MANAGEMENT_WEAK = "party_management_weak"
    OTHER = "other"


class SubmissionStatus(LabelledEnum):
    REQUESTED = "requested"
    SUBMITTED = "submitted"
    MISSING = "missing"


class LinkRole(LabelledEnum):
    LEAD = "lead"
    COOPERATING = "cooperating"


class PublicLevel(LabelledEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


# ------------------------------------------------------------------ scoring


class Component(LabelledEnum):
    """The four parts of a department's total (总分构成)."""

    LEDGER = "ledger"
    STAFFING = "staffing"
    CENTRAL_TASKS = "central_tasks"
    SATISFACTION = "satisfaction"


class SatisfactionPart(LabelledEnum):
    """The three evaluations (三评)."""

    TOWN = "town"
    PEER = "peer"
    PUBLIC = "public"


class DrawExclusion(LabelledEnum):
    """Why an inspector may not be sent to a department (回避)."""

    FORMER_DEPARTMENT = "former_department"
    CONTRACTING_TEAM = "contracting_team"


# ------------------------------------------------------------------ the closed loop


class Severity(LabelledEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingCategory(LabelledEnum):
    INDICATOR = "indicator"
    MISSING_SUBMISSION = "missing_submission"
    STAFFING = "staffing"
    SATISFACTION = "satisfaction"
    HOTLINE = "hotline"
    CENTRAL_TASK = "central_task"
    CARRIED_OVER = "carried_over"


class FindingStatus(LabelledEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    DROPPED = "dropped"
    WITHDRAWN = "withdrawn"  # withdrawn after issue (撤销问题)


class ProblemListStatus(LabelledEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"


class RectificationStatus(LabelledEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    REPORTED_FIXED = "reported_fixed"
    VERIFIED_CLOSED = "verified_closed"
    REOPENED = "reopened"
    CANNOT_SOLVE_REQUESTED = "cannot_solve_requested"
    CANNOT_SOLVE = "cannot_solve"
    WITHDRAWN = "withdrawn"  # its finding withdrawn after issue (撤销问题)


class RectificationAction(LabelledEnum):
    """Moves of the rectification state machine (bihuan/core/rectification.py)."""

    START = "start"
    REPORT_FIXED = "report_fixed"
    VERIFY_ACCEPT = "verify_accept"
    VERIFY_REJECT = "verify_reject"
    REQUEST_CANNOT_SOLVE = "request_cannot_solve"
    APPROVE_CANNOT_SOLVE = "approve_cannot_solve"
    DENY_CANNOT_SOLVE = "deny_cannot_solve"
    EXTEND = "extend"
    REOPEN = "reopen"
    REQUEST_EXTENSION = "request_extension"
    DECLINE_EXTENSION = "decline_extension"
    # corrections of the finding after issue (更正), the office's alone; not in the table
    AMEND = "amend"
    WITHDRAW = "withdraw"


class Capacity(LabelledEnum):
    """In which capacity a move on an item is made: by the department or by the office."""

    DEPARTMENT = "department"
    COORDINATOR = "coordinator"


class EscalationLevel(LabelledEnum):
    CONTACT = "contact"
    HEAD = "head"
    SECTION = "section"
    LEADERSHIP = "leadership"


class RecheckOutcome(LabelledEnum):
    """The next-year re-check's decision on one of last year's items (次年复查)."""

    STAYS_CLOSED = "stays_closed"
    CARRIED = "carried"
    RECURRING = "recurring"
    STAYS_CANNOT_SOLVE = "stays_cannot_solve"


class NotificationStatus(LabelledEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    # A reminder marker folded into the recipient's daily digest: a record, never sent itself.
    DIGESTED = "digested"


class NotificationKind(LabelledEnum):
    PROBLEM_LIST = "problem_list"
    REMINDER = "reminder"
    DIGEST = "digest"
    RECTIFICATION_NOTICE = "rectification_notice"
    HEAD_TALK = "head_talk"
    CORRECTION = "correction"
    OFFICE_ALERT = "office_alert"


# ------------------------------------------------------------------ results


class Colour(LabelledEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class ConsequenceKind(LabelledEnum):
    STAFFING_PRIORITY = "staffing_priority"
    STAFFING_FREEZE = "staffing_freeze"
    HEAD_TALK = "head_talk"
    ASSESSMENT_POINTS = "assessment_points"


class TieRule(LabelledEnum):
    """Which rule separated two departments with the same annual score (并列名次规则)."""

    YEAR_END_SCORE = "year_end_score"
    LEDGER_SCORE = "ledger_score"
    OPEN_ITEMS = "open_items"
    CODE = "code"


# ------------------------------------------------------------------ identity (账号与权限)


class UserRole(LabelledEnum):
    """Who a signed-in user is; what each may do is in bihuan/services/authz.py."""

    ADMIN = "admin"
    OFFICE = "office"
    SECTION = "section"
    DEPARTMENT = "department"
    LEADER = "leader"
    AUDITOR = "auditor"


_labels(Category, {"economic": "经济部门", "non_economic": "非经济部门"})
_labels(PhaseKind, {"mid-year": "年中", "year-end": "年底"})
_labels(IndicatorKind, {"qualitative": "定性", "quantitative": "定量"})
_labels(Direction, {"higher": "越高越好", "lower": "越低越好"})
_labels(
    QualitativeLevel,
    {"not_formulated": "未制定", "formulated": "已制定未落实", "implemented": "已制定并落实"},
)
_labels(
    Method,
    {
        "material": "材料报送",
        "data_collection": "数据采集",
        "on_site": "察访核验",
        "interview": "座谈交流",
        "suggestion": "征集建议",
    },
)
_labels(
    StaffingCheckKind,
    {
        "party_management": "党管机构编制原则落实情况",
        "approved_matters": "机构编制事项落实情况",
        "setup_compliance": "机构设置合规情况",
        "real_name": "实名制管理情况",
        "off_establishment": "编外人员管理情况",
    },
)
_labels(
    StaffingProblem,
    {
        "overlapping_duties": "科室职责交叉",
        "section_not_operating": "已批复科室未实际运行",
        "hiring_outside_plan": "用编进人计划执行不严格",
        "late_registration": "入编出编不及时",
        "party_management_weak": "党管机构编制落实不到位",
        "other": "其他问题",
    },
)
_labels(SubmissionStatus, {"requested": "待报送", "submitted": "已报送", "missing": "未报送"})
_labels(LinkRole, {"lead": "牵头部门", "cooperating": "配合单位"})
_labels(
    PublicLevel,
    {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"},
)
_labels(
    Component,
    {
        "ledger": "主责主业履职成效",
        "staffing": "机构编制执行情况",
        "central_tasks": "中心工作(链条式评估)",
        "satisfaction": "三评满意度",
    },
)
_labels(SatisfactionPart, {"town": "镇街道评县直", "peer": "部门互评", "public": "群众评价"})
_labels(
    DrawExclusion,
    {"former_department": "本人原工作部门", "contracting_team": "本组包干联系部门"},
)
_labels(Severity, {"high": "严重", "medium": "一般", "low": "轻微"})
_labels(
    FindingCategory,
    {
        "indicator": "履职指标未达标",
        "missing_submission": "材料未按时报送",
        "staffing": "机构编制执行问题",
        "satisfaction": "满意度偏低",
        "hotline": "12345热线办理超时",
        "central_task": "中心工作链条短板",
        "carried_over": "上年度问题未整改到位",
    },
)
_labels(
    FindingStatus,
    {"proposed": "待审核", "approved": "已审核", "dropped": "已剔除", "withdrawn": "已撤销"},
)
_labels(ProblemListStatus, {"draft": "草稿", "approved": "已审核", "sent": "已发送"})
_labels(
    RectificationStatus,
    {
        "open": "待整改",
        "in_progress": "整改中",
        "reported_fixed": "已报整改完成",
        "verified_closed": "已验收销号",
        "reopened": "重新整改",
        "cannot_solve_requested": "申请无法解决",
        "cannot_solve": "无法解决(已作政策解释)",
        "withdrawn": "已撤销",
    },
)
_labels(
    RectificationAction,
    {
        "start": "开始整改",
        "report_fixed": "报告整改完成",
        "verify_accept": "验收销号",
        "verify_reject": "验收不通过",
        "request_cannot_solve": "申请无法解决",
        "approve_cannot_solve": "同意无法解决",
        "deny_cannot_solve": "不同意无法解决",
        "extend": "延期",
        "reopen": "重新整改",
        "request_extension": "申请延期",
        "decline_extension": "不同意延期",
        "amend": "修改问题",
        "withdraw": "撤销问题",
    },
)
_labels(Capacity, {"department": "部门", "coordinator": "编办"})
_labels(
    EscalationLevel,
    {
        "contact": "部门联络人",
        "head": "部门主要负责人",
        "section": "督促科室",
        "leadership": "编办领导",
    },
)
_labels(
    RecheckOutcome,
    {
        "stays_closed": "维持销号",
        "carried": "延续整改",
        "recurring": "问题复发、重新整改",
        "stays_cannot_solve": "维持无法解决（已作政策解释）",
    },
)
_labels(
    NotificationStatus,
    {
        "pending": "待发送",
        "sent": "已发送",
        "failed": "发送失败",
        "dead": "已停止重试",
        "digested": "已并入每日汇总",
    },
)
_labels(
    NotificationKind,
    {
        "problem_list": "问题清单",
        "reminder": "整改提醒",
        "digest": "每日汇总",
        "rectification_notice": "整改事项通知",
        "head_talk": "约谈通知",
        "correction": "更正通知",
        "office_alert": "系统提示",
    },
)
_labels(Colour, {"green": "绿牌", "yellow": "黄牌", "red": "红牌"})
_labels(
    ConsequenceKind,
    {
        "staffing_priority": "优先考虑机构编制事项",
        "staffing_freeze": "次年原则上不考虑机构编制事项",
        "head_talk": "约谈部门主要负责人",
        "assessment_points": "综合绩效考核计分",
    },
)
_labels(
    TieRule,
    {
        "year_end_score": "年底评估得分",
        "ledger_score": "主责主业履职成效得分",
        "open_items": "未完成整改事项数",
        "code": "部门编码",
    },
)
_labels(
    UserRole,
    {
        "admin": "系统管理员",
        "office": "编办",
        "section": "督促科室",
        "department": "部门联络人",
        "leader": "县委编委领导",
        "auditor": "审计",
    },
)
