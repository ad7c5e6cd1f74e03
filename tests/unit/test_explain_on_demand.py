"""The explanation is rendered on demand from the stored (compact) breakdown, and reads exactly
as the text scoring produced when it still wrote the prose into every breakdown.

tests/unit/data/explanations_before.json was written by the scoring code of commit 3f7430a
(prose built at scoring time, stored in the breakdown) for the departments below: the text of
`explain()` and the breakdown as users saw it (`scores --department --json`, the portal, the API).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from bihuan.core.breakdown import Breakdown, encode, explain, with_prose
from bihuan.core.chain import CentralTaskInput, ChainLinkInput
from bihuan.core.scoring import (
    DepartmentInput,
    IndicatorInput,
    SatisfactionInput,
    StaffingCheckInput,
    score_departments,
)
from bihuan.policy import Scoring, load_policy

REPO = Path(__file__).resolve().parents[2]
BEFORE = Path(__file__).parent / "data" / "explanations_before.json"
YEAR = 2025


def scoring() -> Scoring:
    return load_policy(REPO / "config").scoring


def _indicator(rng: random.Random, code: str, section: str) -> IndicatorInput:
    if rng.random() < 0.4:
        return IndicatorInput(
            code,
            "qualitative",
            name=f"定性{code}",
            section=section,
            weight=rng.choice([1.0, 1.0, 2.0, 0.5]),
            level=rng.choice([None, "not_formulated", "formulated", "implemented"]),
        )
    baseline = rng.choice([None, 0.0, 100.0, 50.0, -80.0, 12.345, 1e-9, 71.45])
    history = {} if baseline is None else {YEAR - 1: baseline}
    value = rng.choice([None, 0.0, 95.0, 100.0, 110.0, 60.0, 12.3456, 71.45, 3.005])
    return IndicatorInput(
        code,
        "quantitative",
        name=f"定量{code}",
        section=section,
        weight=rng.choice([1.0, 1.5, 3.0]),
        direction=rng.choice(["higher", "lower"]),
        target=rng.choice([None, None, 120.0, 45.0, 0.0, 99.995]),
        value=value,
        history=history,
    )


def departments() -> tuple[list[DepartmentInput], list[CentralTaskInput]]:
    """Twelve seeded departments covering the rules' branches, and three chains."""
    rng = random.Random(13)
    out = []
    for n in range(12):
        code = f"D{n:02d}"
        indicators = [
            _indicator(rng, f"{code}-{s}{k}", f"S{s}") for s in range(3) for k in range(4)
        ]
        staffing = [
            StaffingCheckInput(kind, rng.randint(0, 5))
            for kind in ("party_management", "approved_matters", "setup_compliance", "real_name")
            if rng.random() < 0.7
        ]

        def ratings(count: int) -> list[tuple[float, ...]]:
            return [tuple(rng.choice([1, 2, 3, 4, 5]) for _ in range(5)) for _ in range(count)]

        out.append(
            DepartmentInput(
                code=code,
                name=f"县第{n}局",
                category=rng.choice(["economic", "non_economic"]),
                indicators=indicators if n != 11 else [],
                staffing=staffing if n != 11 else [],
                satisfaction=SatisfactionInput(
                    town=ratings(rng.choice([0, 3, 8])),
                    peer=ratings(rng.choice([0, 4, 6])),
                    public=[
                        rng.choice(["satisfied", "basically_satisfied", "unsatisfied"])
                        for _ in range(rng.choice([0, 2, 9]))
                    ],
                    hotline_on_time=[rng.random() < 0.7 for _ in range(rng.choice([0, 3, 7]))],
                )
                if n != 11
                else SatisfactionInput(),
                carried_items=rng.choice([0, 0, 1, 3]),
            )
        )
    tasks = [
        CentralTaskInput(
            "T1",
            "优化营商环境",
            [
                ChainLinkInput("D00", "lead", 90),
                ChainLinkInput("D01", "cooperating", 60, shortfall="并联审批超时"),
                ChainLinkInput("D02", "cooperating", None),
            ],
        ),
        CentralTaskInput(
            "T2",
            "招商引资",
            [ChainLinkInput("D03", "lead", 90), ChainLinkInput("D00", "cooperating", 95.55)],
        ),
        CentralTaskInput(
            "T3",
            "乡村振兴",
            [ChainLinkInput("D04", "lead", 100), ChainLinkInput("D05", "cooperating", 100)],
        ),
    ]
    return out, tasks


def _subset(before: Any, now: Any, where: str = "") -> list[str]:
    """Where `now` differs from `before` on the keys `before` has (new keys may be added)."""
    if isinstance(before, dict):
        if not isinstance(now, dict):
            return [where]
        return [d for k, v in before.items() for d in _subset(v, now.get(k), f"{where}.{k}")]
    if isinstance(before, list):
        if not isinstance(now, list) or len(now) != len(before):
            return [where]
        return [
            d
            for i, (b, n) in enumerate(zip(before, now, strict=True))
            for d in _subset(b, n, f"{where}[{i}]")
        ]
    return [] if before == now else [f"{where}: {before!r} != {now!r}"]


def _before() -> dict[str, Any]:
    return dict(json.loads(BEFORE.read_text(encoding="utf-8")))


def _scored() -> dict[str, Any]:
    deps, tasks = departments()
    scores, _ = score_departments(deps, tasks, year=YEAR, scoring=scoring())
    return scores


def _stored(score: Any) -> Breakdown:
    """What a reader gets back: the breakdown as stored (JSON text), read through the model."""
    return Breakdown.from_json(json.loads(json.dumps(score.breakdown().to_json())))


def test_explanation_on_demand_reads_as_scoring_wrote_it() -> None:
    before = _before()
    scores = _scored()
    assert set(scores) == set(before)
    for code, score in scores.items():
        stored = _stored(score)
        assert explain(stored) == before[code]["text"], code
        shown = with_prose(stored).model_dump(mode="json")
        assert _subset(before[code]["breakdown"], shown) == [], code


def test_the_stored_breakdown_carries_no_prose() -> None:
    for score in _scored().values():
        text = json.dumps(score.breakdown().to_json(), ensure_ascii=False)
        for prose in ("得分", "归责", "上年", "未报送", "主责主业", "三评"):
            assert prose not in text


def test_a_breakdown_stored_with_its_prose_still_explains_the_same() -> None:
    """Rows written before migration 0012 carry their prose: it is kept, not re-rendered."""
    for code, old in _before().items():
        stored = Breakdown.from_json(old["breakdown"])
        assert explain(stored) == old["text"], code


def test_the_stored_breakdown_is_compact_and_reads_back_whole() -> None:
    before = _before()
    for code, score in _scored().items():
        stored = score.compact()
        assert Breakdown.from_json(stored).to_json() == stored, code  # chains, parts included
        assert Breakdown.from_json(stored) == score.breakdown(), code
        # about half of what was stored with the prose and every default
        assert len(encode(stored)) < 0.6 * len(
            json.dumps(before[code]["breakdown"], ensure_ascii=False)
        ), code
