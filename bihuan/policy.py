"""Policy as validated data: the pydantic models behind config/policy.toml.

Scoring rules and weights, board sizes, comprehensive-assessment points, the reminder ladder,
working-day calendar overrides and schedules are the office's decisions, not code. A bad value
stops the program at start with the file, the key and the reason (exit code 2).
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from datetime import date, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

POLICY_FILE = "policy.toml"

Score = Annotated[float, Field(ge=0, le=100)]
Share = Annotated[float, Field(ge=0, le=1)]
PositiveDays = Annotated[int, Field(ge=1, le=366)]


class PolicyError(Exception):
    """A policy file that cannot be used; str() names the file, the key and the reason."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]):
        self.path = path
        self.problems = problems
        lines = [f"{path}: {key}: {reason}" for key, reason in problems]
        super().__init__("\n".join(lines))


class PolicyGap(ValueError):
    """The policy lacks what a given year or jurisdiction needs (checked when it is used, not at
    load): `key` names the config key, `reason` what is missing and what to add."""

    def __init__(self, key: str, reason: str):
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonthDay(_Strict):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    def on(self, year: int) -> date:
        return date(year, self.month, self.day)


def _parse_month_day(value: object) -> object:
    if isinstance(value, str):
        try:
            month, day = (int(part) for part in value.split("-"))
        except ValueError as exc:
            raise ValueError(f"expected MM-DD such as 06-01, got {value!r}") from exc
        date(2024, month, day)  # leap year: 02-29 is a valid month-day
        return {"month": month, "day": day}
    return value


class PhaseWindow(_Strict):
    """The one-month concentrated assessment window (集中监管评估) of a phase."""

    opens: MonthDay
    closes: MonthDay

    _md = field_validator("opens", "closes", mode="before")(_parse_month_day)

    @model_validator(mode="after")
    def _ordered(self) -> PhaseWindow:
        if (self.closes.month, self.closes.day) < (self.opens.month, self.opens.day):
            raise ValueError("closes must not be before opens")
        return self


class Phases(_Strict):
    mid_year: PhaseWindow = Field(alias="mid-year")
    year_end: PhaseWindow = Field(alias="year-end")

    def window(self, kind: str) -> PhaseWindow:
        """The window of a phase by its PhaseKind value ("mid-year" / "year-end")."""
        return self.mid_year if kind == "mid-year" else self.year_end

    def assessed_year(self, kind: str, day: date) -> int:
        """The year whose `kind` window a run on `day` assesses: the latest one opened by then
        (a year-end run on 1 January assesses the year just ended)."""
        opens = self.window(kind).opens
        return day.year if (day.month, day.day) >= (opens.month, opens.day) else day.year - 1


class DrawPolicy(_Strict):
    """Double-random on-site draw (双随机): random departments, random inspectors."""

    share: Share = 0.2
    min_departments: int = Field(default=1, ge=0)
    inspectors_per_department: int = Field(default=2, ge=1, le=10)
    exclude_former_department: bool = True
    exclude_contracting_team: bool = True


class Weights(_Strict):
    """Component weights of a department's total score; they must sum to 1."""

    ledger: Share
    staffing: Share
    central_tasks: Share
    satisfaction: Share

    @model_validator(mode="after")
    def _sum_to_one(self) -> Weights:
        total = self.ledger + self.staffing + self.central_tasks + self.satisfaction
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"weights must sum to 1.0, got {total:g}")
        return self


class QualitativeScores(_Strict):
    not_formulated: Score = 0
    formulated: Score = 60
    implemented: Score = 100

    @model_validator(mode="after")
    def _monotonic(self) -> QualitativeScores:
        if not self.not_formulated <= self.formulated <= self.implemented:
            raise ValueError("need not_formulated <= formulated <= implemented")
        return self


class QuantitativeRule(_Strict):
    """Comparison with prior years (纵向比对) and with a target where one is set."""

    at_par: Score = 80
    points_per_percent: float = Field(default=2.0, gt=0, le=100)
    no_baseline: Score = 80
    target_share: Share = 0.5
    # Units of a level or a rate (比率、水平类), not of an amount that adds up over the year: a
    # quantitative indicator in one of them is not cumulative unless its 累计指标 column says so;
    # any other unit (件, 万元, 人次 …) is cumulative unless the column says 否.
    rate_units: tuple[str, ...] = (
        "%",
        "％",
        "‰",
        "分",
        "天",
        "日",
        "个工作日",
        "工作日",
        "名",
        "倍",
    )

    @field_validator("at_par")
    @classmethod
    def _room(cls, value: float) -> float:
        if value >= 100:
            raise ValueError("at_par must leave room for improvement (below 100)")
        return value


class StaffingRule(_Strict):
    """Staffing execution (机构编制执行): each of the five checks starts at 100."""

    pass_score: Score = 100
    deduction_per_problem: Score = 25


class SatisfactionRule(_Strict):
    town: Share = 0.4
    peer: Share = 0.3
    public: Share = 0.3
    satisfied: Score = 100
    basically_satisfied: Score = 70
    unsatisfied: Score = 0
    min_raters: int = Field(default=5, ge=1)
    hotline_sample_share: Share = 0.1
    # share of the public part (群众评价) taken by the 12345 hotline on-time rate; 0 = not scored
    hotline_in_public: Share = 0.0

    @model_validator(mode="after")
    def _parts(self) -> SatisfactionRule:
        total = self.town + self.peer + self.public
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"town + peer + public must sum to 1.0, got {total:g}")
        if not self.unsatisfied <= self.basically_satisfied <= self.satisfied:
            raise ValueError("need unsatisfied <= basically_satisfied <= satisfied")
        return self


class ChainRule(_Strict):
    """Chain assessment (链条式评估) of central tasks: lead weighting and attribution line."""

    lead_weight: float = Field(default=2.0, ge=1, le=10)
    attribution_below: Score = 80


class Scoring(_Strict):
    weights: Weights
    qualitative: QualitativeScores = QualitativeScores()
    quantitative: QuantitativeRule = QuantitativeRule()
    staffing: StaffingRule = StaffingRule()
    satisfaction: SatisfactionRule = SatisfactionRule()
    chain: ChainRule = ChainRule()
    rating_scale_max: float = Field(default=5, gt=1)
    year_end_weight: Share = 0.6
    # points taken off the ledger component per item carried from last year (次年复查延续事项)
    carried_penalty: float = Field(default=2.0, ge=0, le=100)


_SHARE = re.compile(r"^\s*(?:(top|bottom)\s+)?(\d+(?:\.\d+)?)\s*%\s*$", re.IGNORECASE)


def share_places(percent: float, departments: int) -> int:
    """Places a share of the departments gives: rounded half up, at least one when the share
    is above 0 (15 % of 6 departments is 0.9: one place)."""
    exact = Decimal(str(percent)) * departments / 100
    places = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return max(places, 1) if percent > 0 and departments > 0 else places


class Board(_Strict):
    """Red / yellow / green board (红黄绿榜): each size is a count (`green = 10`) or a share of
    the departments ranked together (`green = "top 15%"`, `red = "bottom 15%"`)."""

    green: int | str = 10
    red: int | str = 10
    scope: Literal["all", "category"] = "all"

    @field_validator("green", "red", mode="before")
    @classmethod
    def _size(cls, value: object, info: ValidationInfo) -> object:
        end = "top" if info.field_name == "green" else "bottom"
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f'give a count (10) or a share ("{end} 15%"), got {value!r}')
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"a count must be greater than or equal to 0, got {value}")
            return value
        match = _SHARE.match(value)
        if match is None:
            raise ValueError(f'give a count (10) or a share ("{end} 15%"), got {value!r}')
        if match.group(1) and match.group(1).lower() != end:
            raise ValueError(f'{info.field_name} places are the {end} of the board: "{end} …%"')
        if not 0 <= float(match.group(2)) <= 100:
            raise ValueError(f"a share must be between 0 % and 100 %, got {value!r}")
        return f"{end} {match.group(2)}%"

    @model_validator(mode="after")
    def _shares_leave_yellow(self) -> Board:
        g, r = self.share("green"), self.share("red")
        if g is not None and r is not None and g + r >= 100:
            raise ValueError(
                f"green ({self.green}) and red ({self.red}) together cover every department; "
                "leave room for yellow (e.g. top 15% and bottom 15%)"
            )
        return self

    def share(self, which: Literal["green", "red"]) -> float | None:
        """The share in percent, or None when the size is a count."""
        value = getattr(self, which)
        return None if isinstance(value, int) else float(value.split()[1].rstrip("%"))

    def count(self, which: Literal["green", "red"], departments: int) -> int:
        value = getattr(self, which)
        if isinstance(value, int):
            return value
        share = self.share(which)
        assert share is not None
        return share_places(share, departments)

    def label(self, which: Literal["green", "red"]) -> str:
        """The size as the report says it: 10名, or 15%."""
        value = getattr(self, which)
        return f"{value}名" if isinstance(value, int) else value.split()[1]

    def places(self, departments: int, scope: str = "all") -> tuple[int, int]:
        """(green, red) places among `departments` ranked together. A board whose green and
        red places would overlap or leave no department yellow is a PolicyGap: the sizes do
        not fit this jurisdiction (10 + 10 places for a county of 6)."""
        green, red = self.count("green", departments), self.count("red", departments)
        if departments and green + red >= departments:
            where = "all departments" if scope == "all" else f"the {scope} departments"
            what = "overlap" if green + red > departments else "leave no department yellow"
            raise PolicyGap(
                "board.green + board.red",
                f"{green} green and {red} red places for {departments} departments ({where}) "
                f"would {what}; set [board] green and red smaller for this jurisdiction, or as "
                'shares (green = "top 15%", red = "bottom 15%")',
            )
        return green, red


class Points(_Strict):
    economic: float = Field(ge=0, le=100)
    non_economic: float = Field(ge=0, le=100)


class SupervisingSection(_Strict):
    """A section of the office that supervises rectification (督促科室), and its apprise tag."""

    name: str = Field(min_length=1, max_length=100)
    tag: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")


def _default_sections() -> dict[str, SupervisingSection]:
    ops = SupervisingSection(name="机关职能运行监管办公室", tag="section-ops")
    check = SupervisingSection(name="监督检查科(实名制管理科)", tag="section-inspection")
    return {
        "indicator": ops,
        "missing_submission": ops,
        "central_task": ops,
        "satisfaction": ops,
        "hotline": ops,
        "carried_over": ops,
        "staffing": check,
    }


class FindingRules(_Strict):
    """When an assessment result becomes a finding (问题), and who supervises its rectification."""

    indicator_fail_below: Score = 60
    satisfaction_low_below: Score = 70
    hotline_late_share_above: Share = 0.1
    hotline_min_cases: int = Field(default=5, ge=1)
    high_severity_below: Score = 30
    sections: dict[str, SupervisingSection] = Field(default_factory=_default_sections)

    @field_validator("sections")
    @classmethod
    def _every_category(cls, value: dict[str, SupervisingSection]) -> dict[str, SupervisingSection]:
        known = set(_default_sections())
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown finding categories {sorted(unknown)}; use {sorted(known)}")
        return {**_default_sections(), **value}


class Deadlines(_Strict):
    high: PositiveDays = 10
    medium: PositiveDays = 20
    low: PositiveDays = 30


class Reminders(_Strict):
    """Reminder ladder, in Chinese working days."""

    pre_due: list[PositiveDays] = [5, 2, 1]
    due_day: bool = True
    overdue_every: list[PositiveDays] = [1, 2, 4, 8]
    escalate_after: list[int] = [0, 3, 6, 10]
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_backoff_minutes: list[PositiveDays] = [1, 5, 30, 120]
    # The dispatcher (docs/notifications.md): every send's timeouts, the lease of a claimed
    # message, consecutive connection failures that close a channel for the rest of a run, and
    # how long the outcome of a send is retried against a busy database.
    connect_timeout_seconds: float = Field(default=5, gt=0, le=120)
    read_timeout_seconds: float = Field(default=10, gt=0, le=300)
    lease_minutes: int = Field(default=15, ge=2, le=24 * 60)
    breaker_failures: int = Field(default=3, ge=1, le=100)
    record_patience_seconds: float = Field(default=300, ge=0, le=3600)

    @field_validator("pre_due")
    @classmethod
    def _desc(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("pre_due offsets must be distinct")
        return sorted(value, reverse=True)

    @field_validator("escalate_after")
    @classmethod
    def _ladder(cls, value: list[int]) -> list[int]:
        if len(value) != 4:
            raise ValueError(
                "escalate_after needs four steps: contact, head, supervising section, leadership"
            )
        if value != sorted(value) or value[0] < 0:
            raise ValueError("escalate_after must be non-negative and rising")
        return value


class CalendarYear(_Strict):
    holidays: list[date] = []
    workdays: list[date] = []


class Calendar(_Strict):
    """The working-day calendar: whole years the chinese_calendar package does not cover (from
    the State Council's notice), single-day overrides, and what to do about a year with neither
    (see docs/calendar.md)."""

    extra_holidays: list[date] = []
    extra_workdays: list[date] = []
    years: dict[int, CalendarYear] = {}
    # A year with neither package data nor [calendar.years.YYYY] is counted as weekends plus the
    # statutory holidays (暂定) instead of stopping every run that reaches it.
    provisional: bool = True
    # `bihuan calendar check` warns when official coverage ends within this many days: the
    # notice usually comes out in November, and reminders look weeks ahead.
    warn_days_before_end: int = Field(default=60, ge=0, le=3660)


class Schedules(_Strict):
    timezone: str = "Asia/Shanghai"
    # The assessment runs: left out, each is derived from its phase window, `after_close_days`
    # after the window closes at `assessment_time`, so missing submissions are known (a run on
    # the closing day would see every late department's indicators as merely not yet in).
    # Given, a cron must name one day after the close (checked against [phases]).
    mid_year: str | None = None
    year_end: str | None = None
    after_close_days: int = Field(default=1, ge=1, le=60)
    assessment_time: str = "09:00"
    track: str = "0 9 * * *"
    recheck: str = "0 9 10 1 *"

    @field_validator("mid_year", "year_end", "track", "recheck")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"expected a five-field cron expression, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("assessment_time")
    @classmethod
    def _time(cls, value: str) -> str:
        try:
            hour, minute = (int(part) for part in value.split(":"))
            time(hour, minute)
        except ValueError:
            raise ValueError(f"expected HH:MM such as 09:00, got {value!r}") from None
        return value

    def run_day(self, window: PhaseWindow) -> MonthDay:
        """The month-day `after_close_days` after the window closes (in a common year, so that
        the schedule exists every year)."""
        closes = date(
            2001,
            window.closes.month,
            min(window.closes.day, 28 if window.closes.month == 2 else 31),
        )
        day = closes + timedelta(days=self.after_close_days)
        return MonthDay(month=day.month, day=day.day)

    def assessment_cron(self, kind: str, phases: Phases) -> str:
        """The cron of a phase's assessment run: configured, or derived from its window."""
        given = self.mid_year if kind == "mid-year" else self.year_end
        if given is not None:
            return given
        day = self.run_day(phases.window(kind))
        hour, minute = (int(part) for part in self.assessment_time.split(":"))
        return f"{minute} {hour} {day.day} {day.month} *"


def _cron_day(cron: str) -> MonthDay | None:
    """The one month-day a cron names (minute hour day month *), or None for any other."""
    _, _, day, month, weekday = cron.split()
    if not (day.isdigit() and month.isdigit()) or weekday != "*":
        return None
    try:
        return MonthDay(month=int(month), day=int(day))
    except ValidationError:
        return None


def check_assessment_schedule(schedules: Schedules, phases: Phases) -> list[str]:
    """Why a configured assessment cron does not fall after its window closes (none: [])."""
    problems = []
    for kind, key in (("mid-year", "mid_year"), ("year-end", "year_end")):
        cron = getattr(schedules, key)
        if cron is None:
            continue
        window = phases.window(kind)
        day = _cron_day(cron)
        closes, opens = window.closes, window.opens
        md = None if day is None else (day.month, day.day)
        after = md is not None and (
            md > (closes.month, closes.day) or md < (opens.month, opens.day)
        )
        if not after:
            problems.append(
                f"schedules.{key} = {cron!r} must run on one day after the {kind} window closes "
                f"([phases.{kind}] closes = {closes.month:02d}-{closes.day:02d}), so that missing "
                f"submissions are known; leave it out to run {schedules.after_close_days} day(s) "
                "after the close"
            )
    return problems


class Office(_Strict):
    """Who the documents come from (落款): the office's name, per jurisdiction if they differ."""

    name: str = Field(default="县委编办", min_length=1, max_length=50)
    jurisdictions: dict[str, str] = {}  # jurisdiction code -> its office's name
    # the apprise tag that reaches the office itself: a failed scheduled run is reported there
    alert_tag: str = Field(default="office", min_length=1, max_length=100)


class ResultsPolicy(_Strict):
    """Using the results (结果运用)."""

    # the talk with the head (约谈) of a department red two years running is scheduled this many
    # working days after the results
    head_talk_workdays: PositiveDays = 10


class RecommendationRules(_Strict):
    """When the year-end report's rule-based recommendations (意见建议) speak up; the sentences
    themselves are in notifications/templates/report_recommendation.txt."""

    # how many departments with the most overdue items the overdue recommendation names
    overdue_departments_named: int = Field(default=3, ge=1, le=20)
    # the mean scores of the two categories differ by at least this many points
    category_gap_points: Score = 3
    # the on-time rectification rates of the two categories differ by at least this share
    on_time_rate_gap: Share = 0.1
    # a department whose score fell by at least this many points since last year is named
    score_drop_points: Score = 5
    # at most this many of those departments by name
    score_drop_departments_named: int = Field(default=5, ge=1, le=50)


class ReportPolicy(_Strict):
    """The year-end comprehensive report (综合评估情况报告)."""

    # notable findings listed under 存在的问题和薄弱环节 (carried ones first, then by severity)
    top_findings: int = Field(default=10, ge=0, le=100)
    recommendations: RecommendationRules = RecommendationRules()


class Policy(_Strict):
    office: Office = Office()
    results: ResultsPolicy = ResultsPolicy()
    report: ReportPolicy = ReportPolicy()
    phases: Phases
    draw: DrawPolicy = DrawPolicy()
    scoring: Scoring
    board: Board = Board()
    points: dict[int, Points]
    findings: FindingRules = FindingRules()
    deadlines: Deadlines = Deadlines()
    reminders: Reminders = Reminders()
    calendar: Calendar = Calendar()
    schedules: Schedules = Schedules()

    @model_validator(mode="after")
    def _runs_after_the_windows(self) -> Policy:
        problems = check_assessment_schedule(self.schedules, self.phases)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("points")
    @classmethod
    def _some_points(cls, value: dict[int, Points]) -> dict[int, Points]:
        if not value:
            raise ValueError("give the points of at least one year, e.g. [points.2022]")
        return value

    def office_name(self, jurisdiction: str) -> str:
        """The office that signs a jurisdiction's documents (e.g. 莒县县委编办)."""
        return self.office.jurisdictions.get(jurisdiction, self.office.name)

    def points_for(self, year: int) -> Points:
        """The year's comprehensive-assessment points; a year not configured is a PolicyGap
        (the points change with each year's assessment plan: another year's are no answer)."""
        if year not in self.points:
            known = ", ".join(f"[points.{y}]" for y in sorted(self.points))
            raise PolicyGap(
                f"points.{year}",
                f"no comprehensive-assessment points (综合绩效考核计分) for {year}; add a "
                f"[points.{year}] table with economic = … and non_economic = … from the "
                f"county's {year} assessment plan (configured: {known})",
            )
        return self.points[year]


def _key(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_policy(config_dir: Path) -> Policy:
    """Read and validate config/policy.toml; raise PolicyError naming file, key and reason.

    The file is read every time; the same text is parsed and validated once per process (every
    flow task opens its own context: a city's assessment loaded it some thirty times). A Policy
    is frozen, so the one instance is shared."""
    path = config_dir / POLICY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            path, [("(file)", "not found; copy config/policy.toml from the repository")]
        ) from None
    return _parse_policy(path, text)


@functools.lru_cache(maxsize=8)
def _parse_policy(path: Path, text: str) -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(path, [("(syntax)", str(exc))]) from None
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = [(_key(err["loc"]), err["msg"]) for err in exc.errors()]
        raise PolicyError(path, problems) from None
