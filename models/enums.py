"""Domain vocabularies as str enums, each with its Chinese label (for documents and templates)."""

from __future__ import annotations

from models.base import LabelledEnum, labels


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


class EscalationLevel(LabelledEnum):
    CONTACT = "contact"
    HEAD = "head"
    SECTION = "section"
    LEADERSHIP = "leadership"


class NotificationStatus(LabelledEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    # A reminder marker folded into the recipient's daily digest: a record, never sent itself.
    DIGESTED = "digested"


class Colour(LabelledEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class ConsequenceKind(LabelledEnum):
    STAFFING_PRIORITY = "staffing_priority"
    STAFFING_FREEZE = "staffing_freeze"
    HEAD_TALK = "head_talk"
    ASSESSMENT_POINTS = "assessment_points"


labels(
    {
        "economic": "经济部门",
        "non_economic": "非经济部门",
        "mid-year": "年中",
        "year-end": "年底",
        "qualitative": "定性",
        "quantitative": "定量",
        "higher": "越高越好",
        "lower": "越低越好",
        "not_formulated": "未制定",
        "formulated": "已制定未落实",
        "implemented": "已制定并落实",
        "material": "材料报送",
        "data_collection": "数据采集",
        "on_site": "察访核验",
        "interview": "座谈交流",
        "suggestion": "征集建议",
        "party_management": "党管机构编制原则落实情况",
        "approved_matters": "机构编制事项落实情况",
        "setup_compliance": "机构设置合规情况",
        "real_name": "实名制管理情况",
        "off_establishment": "编外人员管理情况",
        "overlapping_duties": "科室职责交叉",
        "section_not_operating": "已批复科室未实际运行",
        "hiring_outside_plan": "用编进人计划执行不严格",
        "late_registration": "入编出编不及时",
        "party_management_weak": "党管机构编制落实不到位",
        "other": "其他问题",
        "requested": "待报送",
        "submitted": "已报送",
        "missing": "未报送",
        "lead": "牵头部门",
        "cooperating": "配合单位",
        "satisfied": "满意",
        "basically_satisfied": "基本满意",
        "unsatisfied": "不满意",
        "high": "严重",
        "medium": "一般",
        "low": "轻微",
        "indicator": "履职指标未达标",
        "missing_submission": "材料未按时报送",
        "staffing": "机构编制执行问题",
        "satisfaction": "满意度偏低",
        "hotline": "12345热线办理超时",
        "central_task": "中心工作链条短板",
        "carried_over": "上年度问题未整改到位",
        "proposed": "待审核",
        "approved": "已审核",
        "dropped": "已剔除",
        "draft": "草稿",
        "sent": "已发送",
        "open": "待整改",
        "in_progress": "整改中",
        "reported_fixed": "已报整改完成",
        "verified_closed": "已验收销号",
        "reopened": "重新整改",
        "cannot_solve_requested": "申请无法解决",
        "cannot_solve": "无法解决(已作政策解释)",
        "contact": "部门联络人",
        "head": "部门主要负责人",
        "section": "督促科室",
        "leadership": "编办领导",
        "pending": "待发送",
        "failed": "发送失败",
        "dead": "已停止重试",
        "digested": "已并入每日汇总",
        "green": "绿牌",
        "yellow": "黄牌",
        "red": "红牌",
        "staffing_priority": "优先考虑机构编制事项",
        "staffing_freeze": "次年原则上不考虑机构编制事项",
        "head_talk": "约谈部门主要负责人",
        "assessment_points": "综合绩效考核计分",
    }
)
