"""The documented workbook format: sheets, their columns (Chinese header, English key), notes.

One .xlsx with these sheets (named by the Chinese title or the English key), or a folder of CSV
files named `<key>.csv` or `<中文表名>.csv` with the same columns. The order of SHEETS is the
order of loading: later sheets refer to codes defined by earlier ones (or already in the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from models.enums import (
    Category,
    Direction,
    IndicatorKind,
    LinkRole,
    Method,
    PhaseKind,
    PublicLevel,
    QualitativeLevel,
    StaffingCheckKind,
    StaffingProblem,
)


class ColType(StrEnum):
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    BOOL = "bool"
    ENUM = "enum"


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    kind: ColType = ColType.TEXT
    required: bool = True
    note: str = ""
    enum: type[StrEnum] | None = None
    max_len: int = 300
    min: float | None = None
    max: float | None = None
    # A code (department, section, indicator, town, team, commissioner, task, case …): read
    # through cells.normalise_code, and checked against look-alikes of the codes already known.
    code: bool = False

    @property
    def header(self) -> str:
        return self.zh


@dataclass(frozen=True)
class Sheet:
    key: str
    zh: str
    note: str
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    yearly: bool = True
    phase_scoped: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def _code(key: str, zh: str, note: str, required: bool = True, max_len: int = 32) -> Column:
    # the database keeps codes in VARCHAR(32) (indicator codes and case numbers in 64)
    return Column(key, zh, ColType.TEXT, required, note, max_len=max_len, code=True)


def _rating(key: str, zh: str) -> Column:
    return Column(key, zh, ColType.FLOAT, True, f"{zh}, 1–5 分", min=1, max=5)


PHASE = Column("phase", "阶段", ColType.ENUM, True, "年中 或 年底 (mid-year / year-end)", PhaseKind)
DEPT = _code("department", "部门代码", "部门表中已有的部门代码")

SHEETS: tuple[Sheet, ...] = (
    Sheet(
        "teams",
        "评估小组",
        "监管评估小组 (assessment teams); each contracts a set of departments (包干联系)",
        (
            _code("code", "小组代码", "唯一代码, e.g. T1"),
            Column("name", "小组名称", note="e.g. 经济部门监管评估小组", max_len=100),
            Column("category", "负责类别", ColType.ENUM, True, "经济部门 或 非经济部门", Category),
        ),
        ("code",),
        yearly=False,
    ),
    Sheet(
        "departments",
        "部门",
        "县直部门单位 (county departments)",
        (
            _code("code", "部门代码", "唯一代码, e.g. D01"),
            Column("name", "部门名称", max_len=100),
            Column("category", "类别", ColType.ENUM, True, "经济部门 或 非经济部门", Category),
            _code("team", "评估小组代码", "包干联系的评估小组代码", required=False),
            Column("head_name", "主要负责人", required=False, max_len=50),
            Column("contact_name", "联络人", required=False, max_len=50),
            Column("contact_phone", "联系电话", required=False, max_len=50),
            Column("contact_email", "电子邮箱", required=False, max_len=200),
            Column(
                "notify_tags",
                "通知标签",
                required=False,
                note="apprise 标签, 多个用逗号分隔; 默认为部门代码",
                max_len=200,
            ),
            Column("active", "是否在用", ColType.BOOL, False, "是/否, 默认是"),
        ),
        ("code",),
        yearly=False,
    ),
    Sheet(
        "sections",
        "业务科室",
        "部门的业务科室 (business sections)",
        (
            DEPT,
            _code("code", "科室代码", "部门内唯一, e.g. S1"),
            Column("name", "科室名称", max_len=100),
        ),
        ("department", "code"),
        yearly=False,
    ),
    Sheet(
        "towns",
        "乡镇街道",
        "乡镇街道 (towns and sub-districts) that rate county departments",
        (_code("code", "乡镇代码", "唯一代码"), Column("name", "乡镇名称", max_len=100)),
        ("code",),
        yearly=False,
    ),
    Sheet(
        "commissioners",
        "评估专员",
        "评估专员 / 检查人员 (the inspector pool of the double-random draw)",
        (
            _code("code", "专员代码", "唯一代码"),
            Column("name", "姓名", max_len=50),
            _code("team", "所属小组代码", "评估小组代码", required=False),
            _code("former_department", "原工作部门代码", "回避: 不抽查其原部门", required=False),
        ),
        ("code",),
        yearly=False,
    ),
    Sheet(
        "indicators",
        "履职台账",
        "主责主业履职成效核查台账: 每个业务科室 13 项可衡量的重点工作任务",
        (
            _code("code", "指标代码", "年度内唯一, e.g. D01-S1-01", max_len=64),
            DEPT,
            _code("section", "科室代码", "该部门的科室代码"),
            Column("name", "重点工作任务", max_len=300),
            Column("kind", "指标类型", ColType.ENUM, True, "定性 或 定量", IndicatorKind),
            Column("unit", "计量单位", required=False, max_len=32),
            Column(
                "direction",
                "方向",
                ColType.ENUM,
                False,
                "越高越好 或 越低越好, 默认越高越好",
                Direction,
            ),
            Column("target", "目标值", ColType.FLOAT, False, "定量指标的目标值, 可空"),
            Column("weight", "权重", ColType.FLOAT, False, "默认 1", min=0, max=100),
            Column("source_document", "依据文件", required=False, note="三定规定、权责清单等"),
            Column(
                "cumulative",
                "累计指标",
                ColType.BOOL,
                False,
                "是/否: 数值随全年累加的定量指标(件数、金额等)为是; 空则按计量单位判断"
                " (% ‰ 分 天 等比率、水平类单位为否, 其余为是; 政策 [scoring.quantitative] rate_units)",
            ),
            Column(
                "same_period_value",
                "同期值",
                ColType.FLOAT,
                False,
                "上年同期(年中)数值, 年中评估与之比较; 可空",
            ),
            Column(
                "mid_year_target",
                "年中目标",
                ColType.FLOAT,
                False,
                "年中评估的目标值; 可空(累计指标年中不与全年目标比较)",
            ),
        ),
        ("code",),
    ),
    Sheet(
        "indicator_history",
        "往年数据",
        "定量指标的往年数值 (prior-year values for 纵向比对)",
        (
            _code("indicator", "指标代码", "履职台账中的指标代码", max_len=64),
            Column("year", "年份", ColType.INT, min=2000, max=2100),
            Column("value", "数值", ColType.FLOAT),
        ),
        ("indicator", "year"),
    ),
    Sheet(
        "staffing_checks",
        "机构编制执行",
        "机构编制执行情况五项检查 (the five staffing-execution checks)",
        (
            PHASE,
            DEPT,
            Column("check", "检查项", ColType.ENUM, True, "五项检查之一", StaffingCheckKind),
            Column("problems", "问题数", ColType.INT, False, "默认 0", min=0, max=1000),
            Column(
                "problem_type", "问题类型", ColType.ENUM, False, "如 科室职责交叉", StaffingProblem
            ),
            Column("note", "说明", required=False, max_len=500),
        ),
        ("phase", "department", "check"),
        phase_scoped=True,
    ),
    Sheet(
        "central_tasks",
        "中心工作",
        "中心工作 (central tasks) assessed as a chain",
        (
            _code("code", "任务代码", "年度内唯一"),
            Column("name", "任务名称", max_len=200),
            Column("target", "目标", required=False),
        ),
        ("code",),
    ),
    Sheet(
        "central_task_links",
        "中心工作分工",
        "牵头部门与配合单位 (the links of each chain)",
        (
            _code("task", "任务代码", "中心工作的任务代码"),
            DEPT,
            Column("role", "角色", ColType.ENUM, True, "牵头部门 或 配合单位", LinkRole),
            Column("duty", "承担职责", required=False),
        ),
        ("task", "department"),
    ),
    Sheet(
        "central_task_results",
        "中心工作完成情况",
        "各环节完成程度 (how far each link delivered, 0–100 %)",
        (
            PHASE,
            _code("task", "任务代码", "中心工作的任务代码"),
            DEPT,
            Column("delivered_pct", "完成程度", ColType.FLOAT, True, "0–100", min=0, max=100),
            Column("shortfall", "短板说明", required=False),
        ),
        ("phase", "task", "department"),
        phase_scoped=True,
    ),
    Sheet(
        "submissions",
        "报送情况",
        "部门对每项指标的报送 (a department's result per indicator and phase)",
        (
            PHASE,
            _code("indicator", "指标代码", "履职台账中的指标代码", max_len=64),
            Column("value", "数值", ColType.FLOAT, False, "定量指标必填"),
            Column("level", "定性等次", ColType.ENUM, False, "定性指标必填", QualitativeLevel),
            Column("method", "核查方式", ColType.ENUM, False, "默认 材料报送", Method),
            Column("evidence", "佐证材料", required=False, max_len=500),
            Column("submitted_on", "报送日期", ColType.DATE),
        ),
        ("phase", "indicator"),
        phase_scoped=True,
    ),
    Sheet(
        "town_ratings",
        "镇街评价",
        "镇街道评县直 (towns rate county departments, 1–5)",
        (
            PHASE,
            _code("town", "乡镇代码", "乡镇街道代码"),
            DEPT,
            _rating("overall", "全面履职"),
            _rating("efficiency", "运行效率"),
            _rating("policy_effect", "政策有效性"),
            _rating("guidance", "业务指导"),
            _rating("unblocking", "解决基层堵点"),
            Column("rated_on", "评价日期", ColType.DATE),
        ),
        ("phase", "town", "department"),
        phase_scoped=True,
    ),
    Sheet(
        "peer_ratings",
        "部门互评",
        "县直部门互评 (anonymous): the rater is used once to check and is never stored",
        (
            PHASE,
            _code("rater", "评价部门代码", "只用于防重复, 不入库"),
            _code("ratee", "被评价部门代码", "不能评价本部门"),
            _rating("style", "工作作风"),
            _rating("efficiency", "工作效率"),
            _rating("quality", "工作质量"),
            _rating("cooperation", "协作配合"),
            _rating("one_go", "部门间一次办好"),
            Column("rated_on", "评价日期", ColType.DATE),
        ),
        ("phase", "rater", "ratee"),
        phase_scoped=True,
    ),
    Sheet(
        "public_ratings",
        "群众评价",
        "人民群众评满意 (public survey responses)",
        (
            PHASE,
            _code("response_key", "问卷编号", "问卷系统的唯一编号", max_len=64),
            DEPT,
            Column(
                "level", "评价等次", ColType.ENUM, True, "满意 / 基本满意 / 不满意", PublicLevel
            ),
            Column("rated_on", "评价日期", ColType.DATE),
        ),
        ("phase", "response_key"),
        phase_scoped=True,
    ),
    Sheet(
        "hotline_cases",
        "12345热线",
        "12345政务热线受理件 (hotline cases)",
        (
            _code("case_no", "工单编号", "年度内唯一", max_len=64),
            DEPT,
            Column("received_on", "受理日期", ColType.DATE),
            Column("due_on", "办理时限", ColType.DATE),
            Column("closed_on", "办结日期", ColType.DATE, False, "未办结则空"),
            Column(
                "satisfaction",
                "满意度",
                ColType.ENUM,
                False,
                "满意 / 基本满意 / 不满意",
                PublicLevel,
            ),
        ),
        ("case_no",),
    ),
)

SHEETS_BY_KEY = {s.key: s for s in SHEETS}
SHEET_NAMES = {**{s.key: s for s in SHEETS}, **{s.zh: s for s in SHEETS}}
