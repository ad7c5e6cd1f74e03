"""Double-random on-site draw (双随机): random departments, then random inspectors without conflicts.

Rule (configured in ``[draw]`` of config/policy.toml, ``DrawPolicy``):

1. The candidates are the departments given, sorted by code, so that the same seed draws the
   same departments whatever order the database returned them in.
2. ``ceil(share × candidates)`` departments are drawn, at least ``min_departments`` and at most
   all of them. 按比例(向上取整)随机抽取部门,不少于 min_departments 个。
3. For each drawn department, ``per_department`` inspectors (评估专员) are drawn from those without
   a conflict of interest: never the inspector's own former department
   (``exclude_former_department``), never a department contracted by the inspector's own team
   (``exclude_contracting_team``, 包干联系). Among eligible inspectors the ones with fewer
   assignments so far are preferred, ties broken at random, so the load stays even.
   回避本人原工作部门和本组包干联系的部门;优先抽取已分配任务较少的专员。
4. Everything random comes from ``random.Random(seed)``: the same seed and the same pool give the
   same draw. Too few eligible inspectors for a drawn department raise ``DrawError`` naming it.

Inputs are easy to build from rows: ``DrawDepartment(code=dept.code, team=team.code or None)``,
``Inspector(code=c.code, team=team.code or None, former_department=former.code or None)``
(active inspectors only). ``DrawResult.candidates_json()`` / ``exclusions_json()`` fill
OnsiteDraw.candidates / .exclusions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bihuan.errors import UserError
from bihuan.policy import DrawPolicy
from bihuan.vocab import DrawExclusion

FORMER_DEPARTMENT = DrawExclusion.FORMER_DEPARTMENT.value
CONTRACTING_TEAM = DrawExclusion.CONTRACTING_TEAM.value
REASON_LABELS = {m.value: m.label for m in DrawExclusion}


class DrawError(UserError):
    """The draw cannot be made as configured (e.g. too few eligible inspectors)."""


@dataclass(frozen=True)
class DrawDepartment:
    code: str
    team: str | None = None


@dataclass(frozen=True)
class Inspector:
    code: str
    team: str | None = None
    former_department: str | None = None


@dataclass(frozen=True)
class DrawResult:
    """The draw: its seed and parameters, the candidates, who was drawn, and why some were not."""

    seed: int
    share: float
    per_department: int
    candidates: tuple[str, ...]
    departments: tuple[str, ...]
    assignments: dict[str, tuple[str, ...]]
    exclusions: dict[str, dict[str, str]]

    def load(self) -> dict[str, int]:
        """Number of departments each inspector was drawn to."""
        counts: dict[str, int] = {}
        for codes in self.assignments.values():
            for code in codes:
                counts[code] = counts.get(code, 0) + 1
        return counts

    def candidates_json(self) -> list[str]:
        return list(self.candidates)

    def exclusions_json(self) -> dict[str, Any]:
        """Exclusions applied per drawn department: {dept: {inspector: reason}}, plus parameters."""
        return {
            "per_department": self.per_department,
            "departments": {d: dict(sorted(x.items())) for d, x in self.exclusions.items()},
        }


def _conflict(
    inspector: Inspector,
    department: DrawDepartment,
    exclude_former_department: bool,
    exclude_contracting_team: bool,
) -> str | None:
    if exclude_former_department and inspector.former_department == department.code:
        return FORMER_DEPARTMENT
    if (
        exclude_contracting_team
        and inspector.team is not None
        and inspector.team == department.team
    ):
        return CONTRACTING_TEAM
    return None


def department_count(candidates: int, share: float, min_departments: int) -> int:
    """How many departments a draw takes: ceil(share × n), at least min_departments, at most n."""
    # Rounded first so that 0.3 × 10 = 3.0000000000000004 does not become 4.
    wanted = math.ceil(round(share * candidates, 9))
    return min(candidates, max(wanted, min_departments))


def draw(
    departments: Sequence[DrawDepartment],
    inspectors: Sequence[Inspector],
    share: float,
    per_department: int,
    seed: int,
    exclude_former_department: bool = True,
    exclude_contracting_team: bool = True,
    min_departments: int = 1,
) -> DrawResult:
    """Draw departments, then inspectors for each; reproducible from `seed`."""
    if not 0 <= share <= 1:
        raise ValueError(f"share must be within 0–1, got {share!r}")
    if per_department < 1:
        raise ValueError(f"per_department must be >= 1, got {per_department!r}")
    by_code = {d.code: d for d in departments}
    if len(by_code) != len(departments):
        raise ValueError("department codes must be unique")
    pool = sorted(inspectors, key=lambda i: i.code)
    if len({i.code for i in pool}) != len(pool):
        raise ValueError("inspector codes must be unique")

    rng = random.Random(seed)
    candidates = tuple(sorted(by_code))
    count = department_count(len(candidates), share, min_departments)
    drawn = sorted(rng.sample(candidates, count))

    eligible: dict[str, list[Inspector]] = {}
    exclusions: dict[str, dict[str, str]] = {}
    for code in drawn:
        exclusions[code] = {}
        eligible[code] = []
        for inspector in pool:
            reason = _conflict(
                inspector, by_code[code], exclude_former_department, exclude_contracting_team
            )
            if reason is None:
                eligible[code].append(inspector)
            else:
                exclusions[code][inspector.code] = reason

    short = [c for c in drawn if len(eligible[c]) < per_department]
    if short:
        detail = "; ".join(
            f"{c}: {len(eligible[c])} eligible of {len(pool)} (excluded: "
            + (", ".join(f"{i} {r}" for i, r in exclusions[c].items()) or "none")
            + ")"
            for c in short
        )
        raise DrawError(
            f"On-site draw (双随机): not enough inspectors without a conflict of interest for "
            f"department(s) "
            f"{', '.join(short)}: need {per_department} each. {detail}. Add inspectors to the "
            f"pool, lower [draw] inspectors_per_department, or relax the exclusions in "
            f"config/policy.toml."
        )

    # The most constrained departments choose first, so that balancing has room to work.
    order = sorted(drawn, key=lambda c: (len(eligible[c]), c))
    load = {i.code: 0 for i in pool}
    assignments: dict[str, tuple[str, ...]] = {}
    for code in order:
        ranked = sorted(eligible[code], key=lambda i: (load[i.code], rng.random()))
        chosen = tuple(sorted(i.code for i in ranked[:per_department]))
        for inspector_code in chosen:
            load[inspector_code] += 1
        assignments[code] = chosen

    return DrawResult(
        seed=seed,
        share=share,
        per_department=per_department,
        candidates=candidates,
        departments=tuple(drawn),
        assignments={c: assignments[c] for c in drawn},
        exclusions=exclusions,
    )


def draw_with_policy(
    departments: Sequence[DrawDepartment],
    inspectors: Sequence[Inspector],
    seed: int,
    policy: DrawPolicy,
) -> DrawResult:
    """`draw` with the parameters of ``[draw]`` in config/policy.toml."""
    return draw(
        departments,
        inspectors,
        share=policy.share,
        per_department=policy.inspectors_per_department,
        seed=seed,
        exclude_former_department=policy.exclude_former_department,
        exclude_contracting_team=policy.exclude_contracting_team,
        min_departments=policy.min_departments,
    )
