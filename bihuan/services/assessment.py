"""Assessment use cases (集中评估): collection, the double-random draw, chain assessment, scoring
by batches of departments, and the scores with their explanation.

The assess flow runs them as: `make_or_load_draw`, `plan_assessment` (the chains for the summary,
and the batches), then per batch `score_batch` (a read transaction: the batch's inputs in one
query per table, its departments' chains, the pure core) and `store_scores` (a short write transaction), then `finish_assessment`.
A batch carries department ids only, never the phase's data: it loads its own inputs and chains.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from bihuan.clock import utc_now
from bihuan.core.access import Actor, Permission, Target, listing, visible_department
from bihuan.core.breakdown import Breakdown, encode, explain, with_prose
from bihuan.core.breakdown import digest as breakdown_digest
from bihuan.core.chain import ChainResult, assess_chains
from bihuan.core.draw import DrawDepartment, DrawResult, draw_with_policy
from bihuan.core.scoring import DepartmentScore, score_department
from bihuan.errors import UserError
from bihuan.policy import Policy
from bihuan.repositories.assessment import ScoreView
from bihuan.repositories.ledger import Scope
from bihuan.services.authz import require
from bihuan.services.ledger import phase_scope, require_scope
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import Category, LinkRole, PhaseKind, SubmissionStatus
from models import Jurisdiction

# Most departments per scoring task; a phase's departments are split evenly into as few batches as
# that allows (a city's 620: two of 310). A task costs some 25 ms of its own and Prefect's, and
# tasks side by side only contend for the GIL: at a city, batches of 50 took 1.2 s of our time
# a phase, of 310 0.75 s, of 620 0.6 s (issue 13.4). A batch of 400 holds some 20 MB.
BATCH = 400


# ------------------------------------------------------------------ results


class CollectionResult(BaseModel):
    """Indicator collection (指标采集) of a phase, as of a day."""

    jurisdiction: str
    year: int
    phase: PhaseKind
    phase_label: str
    as_of: date
    window_start: date
    window_end: date
    departments: int = 0
    submitted: int = 0
    requested: int = 0
    missing: list[str] = []
    history_pulled: int = 0
    closed: bool = False


class DrawOutcome(BaseModel):
    """The phase's double-random draw (双随机): departments drawn and their inspectors."""

    year: int
    phase: PhaseKind
    seed: int
    share: float
    per_department: int
    candidates: list[str]
    departments: list[str]
    assignments: dict[str, list[str]]
    drawn_by: str
    new: bool  # False: the stored draw (re-runs never redraw)


class ChainLinkRow(BaseModel):
    department: str
    role: LinkRole
    role_label: str
    delivered_pct: float
    missing: bool
    responsible: bool
    shortfall: str


class ChainRow(BaseModel):
    """A central task assessed as a chain (链条式评估)."""

    task_code: str
    task_name: str
    score: float | None
    has_shortfall: bool
    responsible: list[str]
    threshold: float
    lead_weight: float
    links: list[ChainLinkRow]


class ScoreRow(BaseModel):
    """A department's score in a phase (得分), by component."""

    rank: int | None = None  # in the whole phase; None in a listing restricted to one department
    code: str
    name: str
    category: Category
    category_label: str
    total: float
    ledger: float | None
    staffing: float | None
    central_tasks: float | None
    satisfaction: float | None
    onsite: bool


class BatchScores(BaseModel):
    """What storing a batch's scores did: its rows and how many changed."""

    rows: list[ScoreRow]
    changed: int


class AssessmentResult(BaseModel):
    jurisdiction: str
    year: int
    phase: PhaseKind
    phase_label: str
    as_of: date
    departments: int
    changed: int
    onsite: list[str]
    draw_seed: int
    scores: list[ScoreRow]  # best first, ranked
    chains: list[ChainRow]


class CycleResult(BaseModel):
    """A phase run by the annual-cycle flow: collection, then assessment."""

    collection: CollectionResult
    assessment: AssessmentResult


class ScoreExplanation(BaseModel):
    """Why a department got its score (the "why 71.4" text, built on demand)."""

    score: ScoreRow
    text: str
    breakdown: Breakdown


# ------------------------------------------------------------------ helpers


def _run_cycle(uow: UnitOfWork, actor: Actor, jurisdiction: str, what: str) -> Jurisdiction:
    jur = uow.jurisdictions.require(jurisdiction)
    require(uow, actor, Permission.RUN_CYCLE, Target(jurisdiction_id=jur.id), action=what)
    return jur


def policy_hash(policy: Policy) -> str:
    """Which scoring policy produced a score (stored beside it)."""
    text = json.dumps(policy.scoring.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ collection (指标采集)


def open_and_collect(
    uow: UnitOfWork, jurisdiction: str, year: int, phase: PhaseKind, actor: Actor, as_of: date
) -> CollectionResult:
    """Open the phase's window, request one submission per active department, pull last
    year's values, and settle the requests: submitted by the window's end, or (once the
    window is over) missing. Idempotent: a re-run on the same day changes nothing."""
    jur = _run_cycle(uow, actor, jurisdiction, f"collect the {year} {phase.value} indicators")
    scope = require_scope(uow, jur, year, phase)
    _open_window(uow, scope, actor, as_of)
    uow.assessment.request_submissions(
        scope.phase, [d.id for d in uow.assessment.departments(scope.jurisdiction_id)]
    )
    pulled = _pull_prior_year_values(uow, scope)
    return _settle_requests(uow, scope, actor, as_of).model_copy(update={"history_pulled": pulled})


def _open_window(uow: UnitOfWork, scope: Scope, actor: Actor, as_of: date) -> None:
    phase = scope.phase
    if as_of < phase.window_start:
        raise UserError(
            f"the {scope.year} {phase.kind} window opens on {phase.window_start}; "
            f"as_of {as_of} is before it (config/policy.toml [phases])"
        )
    if phase.opened_on is None:
        phase.opened_on = as_of
        uow.ledger.save_phase(phase)
        uow.audit.record(
            actor,
            action="phase_opened",
            entity="phase",
            key=scope.key,
            jurisdiction_id=scope.jurisdiction_id,
            details={"window_start": phase.window_start, "window_end": phase.window_end},
        )


def _pull_prior_year_values(uow: UnitOfWork, scope: Scope) -> int:
    """Last year's year-end results of quantitative indicators become this year's baselines
    (纵向比对), matched by indicator code; values already imported are kept."""
    previous = uow.assessment.previous_year_end(scope.jurisdiction_id, scope.year)
    if previous is None:
        return 0
    return uow.assessment.pull_prior_year_values(scope, previous)


def _settle_requests(uow: UnitOfWork, scope: Scope, actor: Actor, as_of: date) -> CollectionResult:
    """Mark requests submitted (by the window's end) and, once the window is over, missing;
    decided here, written in one bulk UPDATE per outcome."""
    phase = scope.phase
    first = uow.assessment.first_submissions(scope.phase_id, phase.window_end)
    codes = uow.assessment.department_codes(scope.jurisdiction_id)
    closed = as_of > phase.window_end
    result = CollectionResult(
        jurisdiction=scope.jurisdiction.code,
        year=scope.year,
        phase=PhaseKind(phase.kind),
        phase_label=PhaseKind(phase.kind).label,
        as_of=as_of,
        window_start=phase.window_start,
        window_end=phase.window_end,
    )
    submitted: list[tuple[int, date]] = []
    missing: list[int] = []
    for req in uow.assessment.requests(scope.phase_id):
        status = SubmissionStatus(req.status)
        on = first.get(req.department_id)
        if on is not None and status != SubmissionStatus.SUBMITTED:
            submitted.append((req.id, on))
            status = SubmissionStatus.SUBMITTED
        elif on is None and closed and status == SubmissionStatus.REQUESTED:
            missing.append(req.id)
            status = SubmissionStatus.MISSING
            uow.audit.record(
                actor,
                action="submission_missing",
                entity="submissionrequest",
                key=f"{scope.key}/{codes[req.department_id]}",
                jurisdiction_id=scope.jurisdiction_id,
                details={"window_end": phase.window_end},
            )
        result.departments += 1
        if status == SubmissionStatus.SUBMITTED:
            result.submitted += 1
        elif status == SubmissionStatus.MISSING:
            result.missing.append(codes[req.department_id])
        else:
            result.requested += 1
    uow.assessment.mark_submitted(submitted)
    uow.assessment.mark_missing(missing)
    result.missing.sort()
    if closed and phase.closed_on is None:
        phase.closed_on = phase.window_end
        uow.ledger.save_phase(phase)
    result.closed = phase.closed_on is not None
    return result


# ------------------------------------------------------------------ the draw (双随机)


def make_or_load_draw(
    uow: UnitOfWork,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    actor: Actor,
    *,
    seed: int | None = None,
) -> DrawOutcome:
    """The phase's draw: the stored one if it exists (re-runs never redraw, whatever `seed`),
    else a new one from `seed` (default random), stored with the user who made it."""
    jur = _run_cycle(uow, actor, jurisdiction, f"draw the {year} {phase.value} on-site assessment")
    scope = require_scope(uow, jur, year, phase)
    stored = uow.assessment.stored_draw(scope.phase_id)
    if stored is not None:
        result, drawn_by = stored
        return _draw_outcome(scope, result, drawn_by, new=False)
    departments = uow.assessment.departments(scope.jurisdiction_id)
    pool = uow.assessment.draw_pool(scope.jurisdiction_id)
    result = draw_with_policy(
        [DrawDepartment(code=d.code, team=pool.teams.get(d.team_id or 0)) for d in departments],
        pool.inspectors,
        seed if seed is not None else secrets.randbits(31),
        uow.policy.draw,
    )
    uow.assessment.store_draw(
        scope.phase_id,
        result,
        triggered_by=actor.login,
        department_ids={d.code: d.id for d in departments},
        inspector_ids=pool.inspector_ids,
        drawn_at=utc_now(),
    )
    uow.audit.record(
        actor,
        action="onsite_draw",
        entity="onsitedraw",
        key=scope.key,
        jurisdiction_id=scope.jurisdiction_id,
        details={"seed": result.seed, "departments": list(result.departments)},
    )
    return _draw_outcome(scope, result, actor.login, new=True)


def _draw_outcome(scope: Scope, result: DrawResult, drawn_by: str, *, new: bool) -> DrawOutcome:
    return DrawOutcome(
        year=scope.year,
        phase=PhaseKind(scope.phase.kind),
        seed=result.seed,
        share=result.share,
        per_department=result.per_department,
        candidates=list(result.candidates),
        departments=list(result.departments),
        assignments={k: list(v) for k, v in sorted(result.assignments.items())},
        drawn_by=drawn_by,
        new=new,
    )


# ------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class Batch:
    """One scoring task's work: department ids (the task loads everything else itself)."""

    department_ids: list[int]


@dataclass(frozen=True)
class AssessmentPlan:
    chains: list[ChainRow]
    batches: list[Batch]


def plan_assessment(
    uow: UnitOfWork,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    actor: Actor,
    *,
    batch_size: int = BATCH,
) -> AssessmentPlan:
    """Assess the phase's central tasks as chains (for the run's summary) and cut the active
    departments into batches of ids: as few as `batch_size` allows, of even sizes."""
    jur = _run_cycle(uow, actor, jurisdiction, f"assess {year} {phase.value}")
    scope = _existing_scope(uow, jur, year, phase)
    chains, _links = assess_chains(uow.assessment.chain_tasks(scope), uow.policy.scoring.chain)
    ids = [d.id for d in uow.assessment.departments(scope.jurisdiction_id)]
    count = -(-len(ids) // batch_size)  # as few batches as batch_size allows, of even sizes
    size = -(-len(ids) // count) if count else batch_size
    batches = [Batch(department_ids=ids[i : i + size]) for i in range(0, len(ids), size)]
    return AssessmentPlan(chains=[_chain_row(c) for c in chains], batches=batches)


def _existing_scope(uow: UnitOfWork, jur: Jurisdiction, year: int, phase: PhaseKind) -> Scope:
    scope = phase_scope(uow, jur, year, phase, create=False)
    if scope is None:
        raise UserError(
            f"the {year} {phase.value} phase is not open yet; run `bihuan collect --year {year} "
            f"--phase {phase.value}` (or `bihuan assess`) first"
        )
    return scope


def _chain_row(chain: ChainResult) -> ChainRow:
    return ChainRow(
        task_code=chain.task_code,
        task_name=chain.task_name,
        score=chain.score,
        has_shortfall=chain.has_shortfall,
        responsible=list(chain.responsible),
        threshold=chain.threshold,
        lead_weight=chain.lead_weight,
        links=[
            ChainLinkRow(
                department=v.department,
                role=LinkRole(v.role),
                role_label=LinkRole(v.role).label,
                delivered_pct=v.delivered_pct,
                missing=v.missing,
                responsible=v.responsible,
                shortfall=v.shortfall,
            )
            for v in chain.links
        ],
    )


def score_batch(
    uow: UnitOfWork,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    department_ids: Sequence[int],
    actor: Actor,
) -> list[DepartmentScore]:
    """Score a batch of departments with the pure core: their inputs are loaded here, one
    query per table for the batch (a read transaction: batches score side by side), and the
    chains they are links of assessed here too (a chain is assessed from its own links only,
    so each batch gets the same results as the plan's whole-phase assessment)."""
    jur = _run_cycle(uow, actor, jurisdiction, f"assess {year} {phase.value}")
    scope = _existing_scope(uow, jur, year, phase)
    departments = uow.assessment.departments(scope.jurisdiction_id, ids=department_ids)
    scoring = uow.policy.scoring
    _chains, links = assess_chains(
        uow.assessment.chain_tasks(scope, department_ids=[d.id for d in departments]),
        scoring.chain,
    )
    return [
        score_department(d, year=year, scoring=scoring, links=links.get(d.code, ()))
        for d in uow.assessment.phase_inputs(scope, departments)
    ]


def store_scores(
    uow: UnitOfWork,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    scores: Sequence[DepartmentScore],
    actor: Actor,
    as_of: date,
) -> BatchScores:
    """Upsert the batch's assessments, with their on-site flag from the stored draw; rows whose
    result did not change (same total, breakdown hash, on-site flag and policy) are left
    untouched, so a re-run writes nothing; the changed ones go in one bulk upsert."""
    jur = _run_cycle(uow, actor, jurisdiction, f"store the {year} {phase.value} scores")
    scope = _existing_scope(uow, jur, year, phase)
    # everything by the batch's own departments: a batch never reads the whole phase
    ids = uow.assessment.department_ids(scope.jurisdiction_id, [s.code for s in scores])
    existing = uow.assessment.stored_scores(scope.phase_id, list(ids.values()))
    onsite = uow.assessment.onsite_codes(scope.phase_id, list(ids.values()))
    phash = policy_hash(uow.policy)
    now = utc_now()
    rows, out = [], []
    for s in scores:
        # numbers and codes only: the explanation is rendered when someone asks for it
        # (score_explanation); a re-run compares the breakdown's hash, never its JSON
        encoded = encode(s.compact())
        digest = breakdown_digest(encoded)
        total = s.total if s.total is not None else 0.0
        is_onsite = s.code in onsite
        old = existing.get(ids[s.code])
        if not (
            old is not None
            and old.total == total
            and old.breakdown_hash == digest
            and old.onsite == is_onsite
            and old.policy_hash == phash
        ):
            rows.append(
                {
                    "phase_id": scope.phase_id,
                    "department_id": ids[s.code],
                    "total": total,
                    "ledger": s.component("ledger"),
                    "staffing": s.component("staffing"),
                    "central_tasks": s.component("central_tasks"),
                    "satisfaction": s.component("satisfaction"),
                    "breakdown": encoded,
                    "breakdown_hash": digest,
                    "onsite": is_onsite,
                    "as_of": as_of,
                    "policy_hash": phash,
                    "computed_at": now,
                }
            )
        out.append(
            ScoreRow(
                code=s.code,
                name=s.name,
                category=Category(s.category),
                category_label=Category(s.category).label,
                total=total,
                ledger=s.component("ledger"),
                staffing=s.component("staffing"),
                central_tasks=s.component("central_tasks"),
                satisfaction=s.component("satisfaction"),
                onsite=is_onsite,
            )
        )
    uow.assessment.save_scores(rows)  # only the changed rows, in one bulk statement
    return BatchScores(rows=out, changed=len(rows))


def finish_assessment(
    uow: UnitOfWork,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    actor: Actor,
    as_of: date,
    *,
    changed: int,
) -> None:
    """Mark the phase assessed and, when any score changed, record who assessed it."""
    jur = _run_cycle(uow, actor, jurisdiction, f"assess {year} {phase.value}")
    scope = _existing_scope(uow, jur, year, phase)
    if scope.phase.assessed_on is None or changed:
        scope.phase.assessed_on = as_of
        uow.ledger.save_phase(scope.phase)
    if changed:
        uow.audit.record(
            actor,
            action="assess",
            entity="phase",
            key=scope.key,
            jurisdiction_id=scope.jurisdiction_id,
            details={"changed": changed, "as_of": as_of},
        )


def summarise(
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    as_of: date,
    *,
    draw: DrawOutcome,
    chains: list[ChainRow],
    batches: Sequence[BatchScores],
) -> AssessmentResult:
    """The run's result: every department ranked best first, the draw and the chains."""
    rows = [row for b in batches for row in b.rows]
    ranked = sorted(rows, key=lambda r: (-r.total, r.code))
    return AssessmentResult(
        jurisdiction=jurisdiction,
        year=year,
        phase=phase,
        phase_label=phase.label,
        as_of=as_of,
        departments=len(rows),
        changed=sum(b.changed for b in batches),
        onsite=sorted(draw.departments),
        draw_seed=draw.seed,
        scores=[r.model_copy(update={"rank": i}) for i, r in enumerate(ranked, 1)],
        chains=chains,
    )


# ------------------------------------------------------------------ reading scores


def _readable_department(
    uow: UnitOfWork, actor: Actor, jur: Jurisdiction, department: str | None, what: str
) -> int | None:
    """Check that `actor` may read the scores (of `department`); the department id the
    listing is restricted to (a department user: always its own)."""
    assert jur.id is not None
    dept_id = uow.departments.require_code(jur.id, department).id if department else None
    require(
        uow,
        actor,
        Permission.READ_CYCLE,
        Target(jurisdiction_id=jur.id, department_id=dept_id, what=f"the scores of {department}")
        if dept_id
        else listing(jur.id),
        action=what,
    )
    return visible_department(actor) or dept_id


def list_scores(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    department: str | None = None,
) -> list[ScoreRow]:
    """The phase's scores, best first; a department user sees only its own."""
    jur = uow.jurisdictions.require(jurisdiction)
    dept_id = _readable_department(
        uow, actor, jur, department, f"read the {year} {phase.value} scores"
    )
    scope = phase_scope(uow, jur, year, phase, create=False)
    if scope is None:
        return []
    return [
        _score_row(v, rank=None if dept_id else i)
        for i, v in enumerate(uow.assessment.scores(scope.phase_id, department_id=dept_id), 1)
    ]


def score_explanation(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    year: int,
    phase: PhaseKind,
    department: str,
) -> ScoreExplanation:
    """Why `department` got its score: the breakdown and its Chinese explanation."""
    jur = uow.jurisdictions.require(jurisdiction)
    dept_id = _readable_department(
        uow, actor, jur, department, f"read the {year} {phase.value} score of {department}"
    )
    scope = phase_scope(uow, jur, year, phase, create=False)
    views = (
        uow.assessment.scores(scope.phase_id, department_id=dept_id, breakdown=True)
        if scope
        else []
    )
    if not views:
        raise UserError(
            f"no {year} {phase.value} score for {department}; run `bihuan assess --year {year} "
            f"--phase {phase.value}` first"
        )
    view = views[0]
    # the prose (rules, attributions, the text) is rendered here, from the stored numbers
    breakdown = with_prose(Breakdown.from_json(view.breakdown))
    return ScoreExplanation(
        score=_score_row(view), text=explain(breakdown, view.name), breakdown=breakdown
    )


def _score_row(view: ScoreView, rank: int | None = None) -> ScoreRow:
    return ScoreRow(
        rank=rank,
        code=view.code,
        name=view.name,
        category=Category(view.category),
        category_label=Category(view.category).label,
        total=view.total,
        ledger=view.ledger,
        staffing=view.staffing,
        central_tasks=view.central_tasks,
        satisfaction=view.satisfaction,
        onsite=view.onsite,
    )
