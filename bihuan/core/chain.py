"""Chain assessment (链条式评估) of central tasks: score the chain, attribute its shortfall to links.

A central task (中心工作) is carried by a lead department (牵头部门) and its cooperating units
(配合单位). Each link reports how far it delivered its duty (delivered_pct, 0–100 %).

Rules (configured in ``[scoring.chain]`` of config/policy.toml, ``ChainRule``):

- chain score = weighted mean of the links' delivered %, the lead counting ``lead_weight`` times
  (2 by default: the lead answers for the whole task, so it weighs double);
  链条得分 = 各环节完成率的加权平均,牵头部门按 lead_weight 倍(默认 2 倍)计权。
- a link with no recorded result counts as 0 % delivered and is flagged missing;
  未报送完成情况的环节按 0% 计,并标记为未报送。
- the chain has a shortfall when its score is below 100; the shortfall is attributed to exactly
  the links whose delivered % is below ``attribution_below`` (80 by default). If every link is at
  or above that line, the shortfall is recorded but attributed to no link;
  链条得分低于 100 即为有短板;短板归责到完成率低于 attribution_below(默认 80%)的环节,
  各环节均不低于该线时,不归责到具体环节。
- a link's own score is its delivered % (clamped to 0–100); every link's result carries the
  whole chain so that a department sees where it stands among its partners.

Inputs are easy to build from rows: ``CentralTaskInput(code, name, links=(ChainLinkInput(
department=dept.code, role=link.role, delivered_pct=result.delivered_pct or None,
shortfall=result.shortfall, duty=link.duty), ...))``; ``role`` is "lead" or "cooperating"
(the values of ``models.enums.LinkRole``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bihuan.core.breakdown import link_attribution
from bihuan.policy import ChainRule
from bihuan.vocab import LinkRole

LEAD = LinkRole.LEAD.value
COOPERATING = LinkRole.COOPERATING.value
ROLE_LABELS = {m.value: m.label for m in LinkRole}


@dataclass(frozen=True)
class ChainLinkInput:
    """One department's link in a central task; delivered_pct None means no result recorded."""

    department: str
    role: str
    delivered_pct: float | None
    shortfall: str = ""
    duty: str = ""


@dataclass(frozen=True)
class CentralTaskInput:
    code: str
    name: str
    links: Sequence[ChainLinkInput]


@dataclass(frozen=True)
class LinkView:
    """A link as every partner sees it in the whole-chain view."""

    department: str
    role: str
    delivered_pct: float
    missing: bool
    responsible: bool
    shortfall: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "role": self.role,
            "delivered_pct": self.delivered_pct,
            "missing": self.missing,
            "responsible": self.responsible,
            "shortfall": self.shortfall,
        }


@dataclass(frozen=True)
class ChainResult:
    """The chain of one central task: its score, whether it fell short, and who is responsible."""

    task_code: str
    task_name: str
    score: float | None
    has_shortfall: bool
    responsible: tuple[str, ...]
    links: tuple[LinkView, ...]
    threshold: float
    lead_weight: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_code": self.task_code,
            "task_name": self.task_name,
            "score": self.score,
            "has_shortfall": self.has_shortfall,
            "responsible": list(self.responsible),
            "threshold": self.threshold,
            "lead_weight": self.lead_weight,
            "links": [link.as_dict() for link in self.links],
        }


@dataclass(frozen=True)
class LinkResult:
    """One department's result on one chain: its own score and attribution, plus the whole chain."""

    department: str
    role: str
    score: float
    missing: bool
    responsible: bool
    chain: ChainResult = field(repr=False)

    @property
    def attribution(self) -> str:
        """A Chinese sentence on this link's share of the chain's shortfall (rendered when read:
        bihuan.core.breakdown.link_attribution)."""
        own = next((v for v in self.chain.links if v.department == self.department), None)
        return link_attribution(
            role=self.role,
            missing=self.missing,
            delivered_pct=self.score,
            responsible=self.responsible,
            shortfall=own.shortfall if own else "",
            chain_score=self.chain.score,
            attribution_below=self.chain.threshold,
            responsible_departments=self.chain.responsible,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_code": self.chain.task_code,
            "task_name": self.chain.task_name,
            "department": self.department,
            "role": self.role,
            "score": self.score,
            "missing": self.missing,
            "responsible": self.responsible,
            "chain_score": self.chain.score,
            "chain": [link.as_dict() for link in self.chain.links],
        }


def _clamp(value: float) -> float:
    return min(100.0, max(0.0, value))


def assess_chain(task: CentralTaskInput, rule: ChainRule) -> tuple[ChainResult, list[LinkResult]]:
    """Score one central task's chain and return it with one result per link (in input order)."""
    seen: set[str] = set()
    for link in task.links:
        if link.role not in ROLE_LABELS:
            raise ValueError(f"central task {task.code}: unknown link role {link.role!r}")
        if link.department in seen:
            raise ValueError(f"central task {task.code}: department {link.department} twice")
        seen.add(link.department)

    threshold = rule.attribution_below
    views: list[LinkView] = []
    for link in task.links:
        missing = link.delivered_pct is None
        pct = 0.0 if link.delivered_pct is None else _clamp(float(link.delivered_pct))
        views.append(
            LinkView(
                department=link.department,
                role=link.role,
                delivered_pct=pct,
                missing=missing,
                responsible=pct < threshold,
                shortfall=link.shortfall,
            )
        )

    weights = [rule.lead_weight if v.role == LEAD else 1.0 for v in views]
    score = (
        sum(w * v.delivered_pct for w, v in zip(weights, views, strict=True)) / sum(weights)
        if views
        else None
    )
    has_shortfall = score is not None and score < 100.0
    chain = ChainResult(
        task_code=task.code,
        task_name=task.name,
        score=score,
        has_shortfall=has_shortfall,
        responsible=tuple(v.department for v in views if v.responsible),
        links=tuple(views),
        threshold=threshold,
        lead_weight=rule.lead_weight,
    )
    results = [
        LinkResult(
            department=v.department,
            role=v.role,
            score=v.delivered_pct,
            missing=v.missing,
            responsible=v.responsible,
            chain=chain,
        )
        for v in views
    ]
    return chain, results


def assess_chains(
    tasks: Iterable[CentralTaskInput], rule: ChainRule
) -> tuple[list[ChainResult], dict[str, list[LinkResult]]]:
    """Assess every chain; return the chains and each department's link results (by code)."""
    chains: list[ChainResult] = []
    by_department: dict[str, list[LinkResult]] = {}
    for task in tasks:
        chain, links = assess_chain(task, rule)
        chains.append(chain)
        for link in links:
            by_department.setdefault(link.department, []).append(link)
    return chains, by_department
