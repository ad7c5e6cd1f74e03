"""Chain assessment (链条式评估): lead weighting and attribution of a shortfall to its links."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bihuan.core.chain import CentralTaskInput, ChainLinkInput, assess_chain, assess_chains
from bihuan.policy import ChainRule

RULE = ChainRule(lead_weight=2, attribution_below=80)


def test_lead_counts_double() -> None:
    task = CentralTaskInput(
        "T1",
        "乡村振兴",
        [
            ChainLinkInput("D01", "lead", 100),
            ChainLinkInput("D02", "cooperating", 70),
            ChainLinkInput("D03", "cooperating", 85),
        ],
    )
    chain, links = assess_chain(task, RULE)
    # (2*100 + 70 + 85) / 4 = 88.75
    assert chain.score == pytest.approx(88.75)
    assert chain.has_shortfall
    assert chain.responsible == ("D02",)
    assert [link.responsible for link in links] == [False, True, False]
    # each link's own score is its own delivered %
    assert [link.score for link in links] == [100, 70, 85]
    # every link sees the whole chain
    for link in links:
        assert [v.department for v in link.chain.links] == ["D01", "D02", "D03"]
    assert "低于归责线80%" in links[1].attribution
    assert "短板归责于:D02" in links[0].attribution

    # with equal weights the same chain scores (100 + 70 + 85) / 3 = 85
    flat, _ = assess_chain(task, ChainRule(lead_weight=1, attribution_below=80))
    assert flat.score == pytest.approx(85)


def test_shortfall_without_a_responsible_link() -> None:
    task = CentralTaskInput(
        "T2",
        "招商引资",
        [ChainLinkInput("D01", "lead", 90), ChainLinkInput("D02", "cooperating", 95)],
    )
    chain, links = assess_chain(task, RULE)
    # (2*90 + 95) / 3 = 91.67: short of 100 but nobody below 80
    assert chain.score == pytest.approx(275 / 3)
    assert chain.has_shortfall and chain.responsible == ()
    assert "不归责到具体环节" in links[0].attribution


def test_full_delivery_and_missing_link() -> None:
    done, links = assess_chain(
        CentralTaskInput("T3", "x", [ChainLinkInput("D01", "lead", 100)]), RULE
    )
    assert (done.score, done.has_shortfall, done.responsible) == (100, False, ())
    assert "链条全面完成" in links[0].attribution

    chain, links = assess_chain(
        CentralTaskInput(
            "T4",
            "y",
            [ChainLinkInput("D01", "lead", 100), ChainLinkInput("D02", "cooperating", None)],
        ),
        RULE,
    )
    assert links[1].missing and links[1].score == 0 and chain.responsible == ("D02",)
    assert chain.score == pytest.approx(200 / 3)


def test_bad_links_are_rejected() -> None:
    with pytest.raises(ValueError, match="role"):
        assess_chain(CentralTaskInput("T", "t", [ChainLinkInput("D01", "boss", 1)]), RULE)
    with pytest.raises(ValueError, match="twice"):
        assess_chain(
            CentralTaskInput(
                "T",
                "t",
                [ChainLinkInput("D01", "lead", 1), ChainLinkInput("D01", "cooperating", 2)],
            ),
            RULE,
        )


def test_results_grouped_by_department() -> None:
    tasks = [
        CentralTaskInput(
            "T1", "a", [ChainLinkInput("D01", "lead", 50), ChainLinkInput("D02", "cooperating", 90)]
        ),
        CentralTaskInput("T2", "b", [ChainLinkInput("D02", "lead", 70)]),
    ]
    chains, by_department = assess_chains(tasks, RULE)
    assert [c.task_code for c in chains] == ["T1", "T2"]
    assert [link.chain.task_code for link in by_department["D02"]] == ["T1", "T2"]
    assert [link.role for link in by_department["D02"]] == ["cooperating", "lead"]


links_strategy = st.lists(
    st.tuples(
        st.sampled_from(["lead", "cooperating"]),
        st.one_of(st.none(), st.floats(-10, 120, allow_nan=False)),
    ),
    min_size=1,
    max_size=8,
)


@given(links=links_strategy, threshold=st.floats(0, 100), lead_weight=st.floats(1, 10))
def test_attribution_picks_exactly_the_links_below_threshold(
    links: list[tuple[str, float | None]], threshold: float, lead_weight: float
) -> None:
    task = CentralTaskInput(
        "T", "t", [ChainLinkInput(f"D{i:02}", role, pct) for i, (role, pct) in enumerate(links)]
    )
    chain, results = assess_chain(
        task, ChainRule(lead_weight=lead_weight, attribution_below=threshold)
    )
    clamped = [0.0 if pct is None else min(100.0, max(0.0, pct)) for _, pct in links]
    expected = tuple(f"D{i:02}" for i, pct in enumerate(clamped) if pct < threshold)
    assert chain.responsible == expected
    assert tuple(r.department for r in results if r.responsible) == expected
    assert chain.score is not None and 0 <= chain.score <= 100 + 1e-9
    # a shortfall exists whenever someone is responsible
    assert not expected or chain.has_shortfall
    weights = [lead_weight if role == "lead" else 1 for role, _ in links]
    assert chain.score == pytest.approx(
        sum(w * p for w, p in zip(weights, clamped, strict=True)) / sum(weights)
    )
