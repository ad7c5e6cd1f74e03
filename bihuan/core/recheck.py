"""Next-year re-check (次年复查): decide what becomes of each of last year's rectification items.

Like a vulnerability tracker re-importing a scan, last year's items are compared with this
year's indicator results. The decision table (first matching row wins):

| last year's status            | this year                               | outcome            |
| ----------------------------- | --------------------------------------- | ------------------ |
| cannot_solve                  | agreed alternative still valid          | stays_cannot_solve |
| cannot_solve                  | agreed alternative lapsed               | carried            |
| verified_closed               | its indicator fails again               | recurring          |
| verified_closed               | indicator passes, has none, or no data  | stays_closed       |
| anything else (not verified)  | —                                       | carried            |

"Anything else" includes reported_fixed: an item the office never verified was not fixed, even
if this year's indicator happens to pass; it is carried so the office can verify and close it
in the new year. Carried and recurring items become key content (重点内容) of this year's
assessment, linked to last year's finding through `lineage`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from bihuan.core.breakdown import Breakdown
from bihuan.vocab import PhaseKind, RecheckOutcome, RectificationStatus

Outcome = Literal["stays_closed", "carried", "recurring", "stays_cannot_solve"]

OUTCOME_LABELS: dict[str, str] = {m.value: m.label for m in RecheckOutcome}

# How a status reads in a re-check reason: "reported fixed" and "cannot-solve requested" are
# stressed as not decided by the office, which is why the item is carried.
_STATUS_LABELS: dict[str, str] = {
    **{m.value: m.label for m in RectificationStatus},
    RectificationStatus.REPORTED_FIXED.value: "已报整改完成但未验收",
    RectificationStatus.CANNOT_SOLVE_REQUESTED.value: "申请无法解决但未审核",
}

FINDING_KEY_MAX = 120  # models.loop.Finding.key length


@dataclass(frozen=True)
class PriorItem:
    """One of last year's rectification items.

    `finding_key` is the natural key of its finding; `indicator_code` the ledger indicator it
    is about (None for staffing, satisfaction and other findings); `alternative_valid` whether
    the agreed alternative of a cannot_solve item still holds this year.
    """

    item_id: int
    year: int
    finding_key: str
    department_code: str
    status: str
    title: str = ""
    indicator_code: str | None = None
    alternative_valid: bool = True


@dataclass(frozen=True)
class RecheckDecision:
    """What happens to one prior item; `new_finding_key` is set when it is carried."""

    item_id: int
    department_code: str
    outcome: Outcome
    reason: str
    lineage: str = ""
    new_finding_key: str | None = None

    @property
    def carried(self) -> bool:
        return self.outcome in ("carried", "recurring")


def _phase_label(finding_key: str) -> str:
    """年中 / 年底 from a finding key (`<phase>:…`, or `carried:<year>:<phase>:…`), else ""."""
    parts = finding_key.split(":")
    phase = parts[2] if parts[0] == "carried" and len(parts) > 2 else parts[0]
    return PhaseKind(phase).label if phase in {p.value for p in PhaseKind} else ""


def carried_key(year: int, finding_key: str) -> str:
    """The new year's finding key of a carried item: stable, and within the column's length."""
    key = f"carried:{year}:{finding_key}"
    if len(key) <= FINDING_KEY_MAX:
        return key
    digest = hashlib.sha256(finding_key.encode()).hexdigest()[:16]
    return f"{key[: FINDING_KEY_MAX - 17]}~{digest}"


def decide(item: PriorItem, results: Mapping[str, bool]) -> RecheckDecision:
    """Apply the decision table to one item; `results` maps indicator code → passed this year."""
    status_label = _STATUS_LABELS.get(item.status, item.status)

    def carry(outcome: Outcome, reason: str, lineage: str) -> RecheckDecision:
        # Chinese only: the lineage goes into the department's documents, so the phase is
        # named by its label, never by the finding key (mid-year:indicator:…)
        return RecheckDecision(
            item.item_id,
            item.department_code,
            outcome,
            reason,
            lineage=lineage.replace("年问题", f"年{_phase_label(item.finding_key)}问题", 1),
            new_finding_key=carried_key(item.year, item.finding_key),
        )

    def keep(outcome: Outcome, reason: str) -> RecheckDecision:
        return RecheckDecision(item.item_id, item.department_code, outcome, reason)

    if item.status == "cannot_solve":
        if item.alternative_valid:
            return keep("stays_cannot_solve", "已作政策解释，约定的替代措施仍然有效，不再重新打开")
        return carry(
            "carried",
            f"{item.year}年约定的替代措施已失效，问题重新纳入本年度整改",
            f"{item.year}年问题延续",
        )
    if item.status == "verified_closed":
        passed = results.get(item.indicator_code) if item.indicator_code else None
        if passed is False:
            return carry(
                "recurring",
                f"{item.year}年已验收销号，但本年度指标“{item.indicator_code}”再次未达标",
                f"{item.year}年问题复发",
            )
        if passed is True:
            return keep("stays_closed", f"本年度指标“{item.indicator_code}”已达标，维持销号")
        if item.indicator_code:
            return keep(
                "stays_closed",
                f"本年度无指标“{item.indicator_code}”的结果，按{item.year}年验收结论维持销号",
            )
        return keep("stays_closed", f"{item.year}年已验收销号，无对应履职指标，维持销号")
    return carry(
        "carried",
        f"{item.year}年问题未整改到位（状态：{status_label}），作为本年度重点内容继续整改",
        f"{item.year}年问题延续",
    )


def indicator_results(
    assessed: Iterable[tuple[str, Breakdown]], fail_below: float
) -> dict[str, bool]:
    """Indicator code → passed this year, from (phase kind, breakdown) of the year's stored
    scores: the latest assessed phase decides (year-end over mid-year); an indicator passes
    when it was submitted and scored at least `fail_below` (config [findings])."""
    rank = {PhaseKind.MID_YEAR.value: 0, PhaseKind.YEAR_END.value: 1}
    latest: dict[str, tuple[int, bool]] = {}
    for kind, breakdown in assessed:
        order = rank.get(kind, 0)
        for line in breakdown.indicators:
            seen = latest.get(line.code)
            if seen is None or order >= seen[0]:
                latest[line.code] = (order, not line.failed(fail_below))
    return {code: passed for code, (_order, passed) in latest.items()}


def recheck(items: Iterable[PriorItem], results: Mapping[str, bool]) -> list[RecheckDecision]:
    """Decide every prior item, in item-id order (deterministic for storage and reports)."""
    return [decide(i, results) for i in sorted(items, key=lambda i: i.item_id)]
