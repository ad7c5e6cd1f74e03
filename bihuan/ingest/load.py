"""Importing a workbook: validate everything, then write all of it in one transaction, or nothing.

Rows are upserted in bulk on their natural keys, so importing the same file again changes
nothing (and writes no audit rows), and a corrected file updates in place with one audit row per
changed record saying what changed. Peer ratings (部门互评) are stored anonymously: see
models/survey.py; the rater's code is used to compute a one-way ballot token and then dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from bihuan.db import AuditEntry, audit, audit_many, session_scope, upsert
from bihuan.errors import UserError
from bihuan.ingest.issues import ImportIssue, ReadError, Severity
from bihuan.ingest.readers import MAX_ROWS, Caps, RawWorkbook, read_path
from bihuan.ingest.validate import Known, Validated, ValidSheet, validate
from models import (
    AssessmentTeam,
    BusinessSection,
    CentralTask,
    CentralTaskLink,
    CentralTaskResult,
    Commissioner,
    Cycle,
    Department,
    HotlineCase,
    Indicator,
    IndicatorHistory,
    Jurisdiction,
    PeerBallot,
    PeerRating,
    Phase,
    PublicRating,
    StaffingCheck,
    Submission,
    Town,
    TownRating,
    utc_now,
)
from models.enums import Direction, Method, PhaseKind

Progress = Callable[[str, int, int], None]  # (what, rows done, rows in total)
PEER_SCORES = ("style", "efficiency", "quality", "cooperation", "one_go")


@dataclass
class ImportReport:
    source: str
    jurisdiction: str
    year: int | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # sheet key -> counts
    warnings: list[ImportIssue] = field(default_factory=list)
    errors: list[ImportIssue] = field(default_factory=list)
    audited: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(c["inserted"] + c["updated"] for c in self.counts.values())


class ImportFailed(UserError):
    """Validation found errors; nothing was written. `report.errors` lists all of them."""

    def __init__(self, report: ImportReport):
        self.report = report
        # a summary line stands for many cells: count the cells, say how many lines show them
        n = sum(i.count for i in report.errors)
        lines = len(report.errors)
        shown = f" (listed in {lines} line{'s' if lines != 1 else ''})" if lines != n else ""
        super().__init__(
            f"{n:,} error{'s' if n != 1 else ''}{shown} in {report.source}; nothing was imported. "
            "Correct what is listed and import again."
        )


SCHEMA_MISSING = (
    "the database has no bihuan schema: run `bihuan db upgrade` first, or pass --upgrade"
)


class DatabaseNotReady(UserError):
    """The database has no bihuan schema, or an older one; nothing was read or written."""


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def ensure_schema(url: str, *, upgrade: bool = False) -> None:
    """Stop before reading a workbook when the database is not ready; with `upgrade`, migrate.

    SQLite creates a missing file (and get_engine its folder) on the first connection, so a
    mistyped --db must be caught before anything connects, or it leaves an empty file behind.
    """
    from alembic.util.exc import CommandError

    from bihuan import migrate

    file = _sqlite_file(url)
    try:
        if file is not None and (not file.exists() or file.stat().st_size == 0):
            if not upgrade:
                raise DatabaseNotReady(f"{SCHEMA_MISSING} (no database at {file})")
            migrate.upgrade(url)
            return
        have, want = migrate.current(url), migrate.head()
        if have == want:
            return
        if upgrade:
            migrate.upgrade(url)
            return
    except CommandError as exc:  # e.g. a database migrated by a newer bihuan
        raise DatabaseNotReady(f"cannot bring the database's schema up to date: {exc}") from None
    if have is None:
        raise DatabaseNotReady(SCHEMA_MISSING)
    raise DatabaseNotReady(
        f"the database is at schema revision {have}, this bihuan needs {want}: run "
        "`bihuan db upgrade` first, or pass --upgrade"
    )


def peer_token(secret: str, phase_id: int, rater: str, ratee: str) -> str:
    """The one-way ballot token; without the secret it cannot be matched to a rater."""
    message = f"{phase_id}:{rater}:{ratee}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class _Ids:
    """Natural key -> database id, refreshed after each sheet so later sheets can refer to it."""

    jurisdiction: int | None = None
    cycle: int | None = None
    phases: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    towns: dict[str, int] = field(default_factory=dict)
    sections: dict[tuple[str, str], int] = field(default_factory=dict)
    indicators: dict[str, int] = field(default_factory=dict)
    indicator_kinds: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    links: dict[tuple[str, str], int] = field(default_factory=dict)

    def refresh(self, session: Session) -> None:
        j, c = self.jurisdiction, self.cycle
        if j is None:
            return
        self.departments = _pairs(
            session,
            select(_c(Department).code, _c(Department).id).where(
                _c(Department).jurisdiction_id == j
            ),
        )
        self.teams = _pairs(
            session,
            select(_c(AssessmentTeam).code, _c(AssessmentTeam).id).where(
                _c(AssessmentTeam).jurisdiction_id == j
            ),
        )
        self.towns = _pairs(
            session, select(_c(Town).code, _c(Town).id).where(_c(Town).jurisdiction_id == j)
        )
        self.sections = {
            (d, s): i
            for d, s, i in session.execute(
                select(_c(Department).code, _c(BusinessSection).code, _c(BusinessSection).id)
                .join(Department, _c(Department).id == _c(BusinessSection).department_id)
                .where(_c(Department).jurisdiction_id == j)
            )
        }
        if c is None:
            return
        self.phases = {
            PhaseKind(k).value: i
            for k, i in session.execute(
                select(_c(Phase).kind, _c(Phase).id).where(_c(Phase).cycle_id == c)
            )
        }
        rows = session.execute(
            select(_c(Indicator).code, _c(Indicator).id, _c(Indicator).kind).where(
                _c(Indicator).cycle_id == c
            )
        ).all()
        self.indicators = {code: i for code, i, _ in rows}
        self.indicator_kinds = {code: str(kind) for code, _, kind in rows}
        self.tasks = _pairs(
            session,
            select(_c(CentralTask).code, _c(CentralTask).id).where(_c(CentralTask).cycle_id == c),
        )
        self.links = {
            (t, d): i
            for t, d, i in session.execute(
                select(_c(CentralTask).code, _c(Department).code, _c(CentralTaskLink).id)
                .join(CentralTask, _c(CentralTask).id == _c(CentralTaskLink).task_id)
                .join(Department, _c(Department).id == _c(CentralTaskLink).department_id)
                .where(_c(CentralTask).cycle_id == c)
            )
        }

    def known(self) -> Known:
        return Known(
            departments=set(self.departments),
            teams=set(self.teams),
            towns=set(self.towns),
            sections=set(self.sections),
            indicators=dict(self.indicator_kinds),
            central_tasks=set(self.tasks),
            links=set(self.links),
        )


def _c(model: type[SQLModel]) -> Any:
    """The table's columns, for Core statements (typed loosely: SQLModel fields confuse mypy)."""
    return model.__table__.c  # type: ignore[attr-defined]


def _pairs(session: Session, stmt: Any) -> dict[Any, int]:
    return {k: i for k, i in session.execute(stmt)}


@dataclass(frozen=True)
class _Target:
    """How one sheet lands in one table."""

    model: type[SQLModel]
    keys: tuple[str, ...]  # database columns of the natural key
    columns: dict[str, str]  # sheet column -> database column, for the non-key values
    scope: Callable[[_Ids], Any]  # WHERE clause selecting this jurisdiction's (year's) rows
    build: Callable[[dict[str, Any], _Ids], dict[str, Any]]  # record -> full database row
    touch: str | None = None  # a timestamp column set when the row changes


def _v(values: dict[str, Any], key: str, default: Any = "") -> Any:
    value = values.get(key)
    return default if value is None else value


def _phase_ids(ids: _Ids) -> list[int]:
    return list(ids.phases.values())


TARGETS: dict[str, _Target] = {
    "teams": _Target(
        AssessmentTeam,
        ("jurisdiction_id", "code"),
        {"name": "name", "category": "category"},
        lambda ids: _c(AssessmentTeam).jurisdiction_id == ids.jurisdiction,
        lambda v, ids: {
            "jurisdiction_id": ids.jurisdiction,
            "code": v["code"],
            "name": v["name"],
            "category": v["category"],
        },
    ),
    "departments": _Target(
        Department,
        ("jurisdiction_id", "code"),
        {
            "name": "name",
            "category": "category",
            "team": "team_id",
            "head_name": "head_name",
            "contact_name": "contact_name",
            "contact_phone": "contact_phone",
            "contact_email": "contact_email",
            "notify_tags": "notify_tags",
            "active": "active",
        },
        lambda ids: _c(Department).jurisdiction_id == ids.jurisdiction,
        lambda v, ids: {
            "jurisdiction_id": ids.jurisdiction,
            "code": v["code"],
            "name": v["name"],
            "category": v["category"],
            "team_id": ids.teams.get(v["team"]) if v.get("team") else None,
            "head_name": _v(v, "head_name"),
            "contact_name": _v(v, "contact_name"),
            "contact_phone": _v(v, "contact_phone"),
            "contact_email": _v(v, "contact_email"),
            # apprise routes by tag; the code is a tag every department has
            "notify_tags": _v(v, "notify_tags", v["code"].lower()),
            "active": _v(v, "active", True),
            "updated_at": utc_now(),
        },
        touch="updated_at",
    ),
    "sections": _Target(
        BusinessSection,
        ("department_id", "code"),
        {"name": "name"},
        lambda ids: _c(BusinessSection).department_id.in_(list(ids.departments.values())),
        lambda v, ids: {
            "department_id": ids.departments[v["department"]],
            "code": v["code"],
            "name": v["name"],
            "active": True,
        },
    ),
    "towns": _Target(
        Town,
        ("jurisdiction_id", "code"),
        {"name": "name"},
        lambda ids: _c(Town).jurisdiction_id == ids.jurisdiction,
        lambda v, ids: {"jurisdiction_id": ids.jurisdiction, "code": v["code"], "name": v["name"]},
    ),
    "commissioners": _Target(
        Commissioner,
        ("jurisdiction_id", "code"),
        {"name": "name", "team": "team_id", "former_department": "former_department_id"},
        lambda ids: _c(Commissioner).jurisdiction_id == ids.jurisdiction,
        lambda v, ids: {
            "jurisdiction_id": ids.jurisdiction,
            "code": v["code"],
            "name": v["name"],
            "team_id": ids.teams.get(v["team"]) if v.get("team") else None,
            "former_department_id": ids.departments.get(v["former_department"])
            if v.get("former_department")
            else None,
            "active": True,
        },
    ),
    "indicators": _Target(
        Indicator,
        ("cycle_id", "code"),
        {
            "department": "department_id",
            "section": "section_id",
            "name": "name",
            "kind": "kind",
            "unit": "unit",
            "direction": "direction",
            "target": "target",
            "weight": "weight",
            "source_document": "source_document",
            "cumulative": "cumulative",
            "same_period_value": "same_period_value",
            "mid_year_target": "mid_year_target",
        },
        lambda ids: _c(Indicator).cycle_id == ids.cycle,
        lambda v, ids: {
            "cycle_id": ids.cycle,
            "code": v["code"],
            "department_id": ids.departments[v["department"]],
            "section_id": ids.sections[(v["department"], v["section"])],
            "name": v["name"],
            "kind": v["kind"],
            "unit": _v(v, "unit"),
            "direction": _v(v, "direction", Direction.HIGHER_BETTER),
            "target": v.get("target"),
            "weight": _v(v, "weight", 1.0),
            "source_document": _v(v, "source_document"),
            "cumulative": v.get("cumulative"),
            "same_period_value": v.get("same_period_value"),
            "mid_year_target": v.get("mid_year_target"),
        },
    ),
    "indicator_history": _Target(
        IndicatorHistory,
        ("indicator_id", "year"),
        {"value": "value"},
        lambda ids: _c(IndicatorHistory).indicator_id.in_(list(ids.indicators.values())),
        lambda v, ids: {
            "indicator_id": ids.indicators[v["indicator"]],
            "year": v["year"],
            "value": v["value"],
            "source": "import",
        },
    ),
    "staffing_checks": _Target(
        StaffingCheck,
        ("phase_id", "department_id", "kind"),
        {"problems": "problems", "problem_type": "problem_type", "note": "note"},
        lambda ids: _c(StaffingCheck).phase_id.in_(_phase_ids(ids)),
        lambda v, ids: {
            "phase_id": ids.phases[v["phase"]],
            "department_id": ids.departments[v["department"]],
            "kind": v["check"],
            "problems": _v(v, "problems", 0),
            "problem_type": v.get("problem_type"),
            "note": _v(v, "note"),
        },
    ),
    "central_tasks": _Target(
        CentralTask,
        ("cycle_id", "code"),
        {"name": "name", "target": "target"},
        lambda ids: _c(CentralTask).cycle_id == ids.cycle,
        lambda v, ids: {
            "cycle_id": ids.cycle,
            "code": v["code"],
            "name": v["name"],
            "target": _v(v, "target"),
        },
    ),
    "central_task_links": _Target(
        CentralTaskLink,
        ("task_id", "department_id"),
        {"role": "role", "duty": "duty"},
        lambda ids: _c(CentralTaskLink).task_id.in_(list(ids.tasks.values())),
        lambda v, ids: {
            "task_id": ids.tasks[v["task"]],
            "department_id": ids.departments[v["department"]],
            "role": v["role"],
            "duty": _v(v, "duty"),
        },
    ),
    "central_task_results": _Target(
        CentralTaskResult,
        ("phase_id", "link_id"),
        {"delivered_pct": "delivered_pct", "shortfall": "shortfall"},
        lambda ids: _c(CentralTaskResult).phase_id.in_(_phase_ids(ids)),
        lambda v, ids: {
            "phase_id": ids.phases[v["phase"]],
            "link_id": ids.links[(v["task"], v["department"])],
            "delivered_pct": v["delivered_pct"],
            "shortfall": _v(v, "shortfall"),
        },
    ),
    "submissions": _Target(
        Submission,
        ("phase_id", "indicator_id"),
        {
            "value": "value",
            "level": "level",
            "method": "method",
            "evidence": "evidence",
            "submitted_on": "submitted_on",
        },
        lambda ids: _c(Submission).phase_id.in_(_phase_ids(ids)),
        lambda v, ids: {
            "phase_id": ids.phases[v["phase"]],
            "indicator_id": ids.indicators[v["indicator"]],
            "value": v.get("value"),
            "level": v.get("level"),
            "method": _v(v, "method", Method.MATERIAL),
            "evidence": _v(v, "evidence"),
            "submitted_on": v["submitted_on"],
            "updated_at": utc_now(),
        },
        touch="updated_at",
    ),
    "town_ratings": _Target(
        TownRating,
        ("phase_id", "town_id", "department_id"),
        {
            k: k
            for k in (
                "overall",
                "efficiency",
                "policy_effect",
                "guidance",
                "unblocking",
                "rated_on",
            )
        },
        lambda ids: _c(TownRating).phase_id.in_(_phase_ids(ids)),
        lambda v, ids: {
            "phase_id": ids.phases[v["phase"]],
            "town_id": ids.towns[v["town"]],
            "department_id": ids.departments[v["department"]],
            **{
                k: v[k]
                for k in (
                    "overall",
                    "efficiency",
                    "policy_effect",
                    "guidance",
                    "unblocking",
                    "rated_on",
                )
            },
        },
    ),
    "public_ratings": _Target(
        PublicRating,
        ("phase_id", "response_key"),
        {"department": "department_id", "level": "level", "rated_on": "rated_on"},
        lambda ids: _c(PublicRating).phase_id.in_(_phase_ids(ids)),
        lambda v, ids: {
            "phase_id": ids.phases[v["phase"]],
            "response_key": v["response_key"],
            "department_id": ids.departments[v["department"]],
            "level": v["level"],
            "rated_on": v["rated_on"],
        },
    ),
    "hotline_cases": _Target(
        HotlineCase,
        ("cycle_id", "case_no"),
        {
            "department": "department_id",
            "received_on": "received_on",
            "due_on": "due_on",
            "closed_on": "closed_on",
            "satisfaction": "satisfaction",
        },
        lambda ids: _c(HotlineCase).cycle_id == ids.cycle,
        lambda v, ids: {
            "cycle_id": ids.cycle,
            "case_no": v["case_no"],
            "department_id": ids.departments[v["department"]],
            "received_on": v["received_on"],
            "due_on": v["due_on"],
            "closed_on": v.get("closed_on"),
            "satisfaction": v.get("satisfaction"),
            "sampled_on": None,
            "check_note": "",
        },
    ),
}


def import_path(
    url: str,
    path: str | Path,
    *,
    year: int | None,
    jurisdiction: str,
    actor: str,
    jurisdiction_name: str | None = None,
    progress: Progress | None = None,
    max_rows: int = MAX_ROWS,
    caps: Caps | None = None,
    policy: Any = None,
    peer_secret: str | None = None,
    upgrade: bool = False,
    user_id: int | None = None,
) -> ImportReport:
    """Validate the whole workbook; if it is clean, write all of it in one transaction.

    Raises ImportFailed (with every error in `report.errors`) and writes nothing otherwise;
    DatabaseNotReady, before the workbook is read, when the database has no current schema
    (`upgrade=True` migrates it first instead).
    """
    started = time.perf_counter()
    path = Path(path)
    report = ImportReport(str(path), jurisdiction, year)
    caps = caps or Caps(max_rows=max_rows)
    ensure_schema(url, upgrade=upgrade)
    try:
        raw = read_path(path, caps)
    except ReadError as exc:
        report.errors.append(exc.issue)
        raise ImportFailed(report) from None

    if policy is None or peer_secret is None:
        from bihuan.app import app_context

        ctx = app_context(url, jurisdiction)
        policy = policy or ctx.policy
        peer_secret = peer_secret or ctx.settings.peer_token_secret.get_secret_value()

    with session_scope(url) as session:
        ids = _Ids()
        jur = session.execute(
            select(Jurisdiction).where(_c(Jurisdiction).code == jurisdiction)
        ).scalar_one_or_none()
        if jur is not None:
            ids.jurisdiction = jur.id
            if year is not None:
                ids.cycle = session.execute(
                    select(_c(Cycle).id).where(
                        _c(Cycle).jurisdiction_id == jur.id, _c(Cycle).year == year
                    )
                ).scalar_one_or_none()
            ids.refresh(session)

        checked = validate(raw, _known_for_validation(session, ids, raw), year=year)
        _refuse_development_secret(checked, peer_secret)
        peer_plan = _plan_peer_ballots(session, checked, ids, peer_secret)
        report.warnings = checked.warnings
        report.errors = checked.errors
        if report.errors:
            raise ImportFailed(report)

        total = sum(len(s.records) for s in checked.sheets.values())
        if total == 0:
            # Headers only (a blank template): nothing to write, so not even the county or the
            # cycle is created; that happens with the first real rows.
            report.warnings.append(
                ImportIssue(
                    path.name,
                    "",
                    None,
                    "",
                    "the recognised sheets hold no data rows; nothing was written",
                    Severity.WARNING,
                )
            )
            report.seconds = time.perf_counter() - started
            return report
        changes: list[tuple[str, str, dict[str, Any]]] = []
        created = _ensure_scope(
            session, ids, jurisdiction, jurisdiction_name, year, policy, actor, user_id
        )
        done = 0
        for key, sheet in checked.sheets.items():
            if key == "peer_ratings":
                report.counts[key] = _write_peer_ratings(
                    session, sheet, ids, peer_secret, peer_plan
                )
            else:
                report.counts[key] = _sync(session, key, sheet, ids, changes)
            done += len(sheet.records)
            if progress is not None:
                progress(sheet.sheet.zh, done, total)
            ids.refresh(session)

        if changes or created or report.changed:
            # every changed record gets its own row (in bulk), however many there are
            audit_many(
                session,
                [
                    AuditEntry(
                        actor,
                        "import.update",
                        entity,
                        entity_key[:200],
                        ids.jurisdiction,
                        details,
                        user_id,
                    )
                    for entity, entity_key, details in changes
                ],
            )
            report.audited = len(changes)
            audit(
                session,
                actor=actor,
                user_id=user_id,
                action="import",
                entity="workbook",
                entity_key=path.name[:200],
                jurisdiction_id=ids.jurisdiction,
                details={
                    "year": year,
                    "created": created,
                    # peer ratings are left out: how many one file held can point at its rater
                    "counts": {
                        k: v
                        for k, v in report.counts.items()
                        if (v["inserted"] or v["updated"]) and k != "peer_ratings"
                    },
                    "updates_audited": report.audited,
                    "warnings": len(report.warnings),
                },
            )
    report.seconds = time.perf_counter() - started
    return report


def _known_for_validation(session: Session, ids: _Ids, raw: RawWorkbook) -> Known:
    """What the database holds, for references and look-alike codes. Commissioners and case
    numbers are not needed while writing, so they are read here once, and only when the
    workbook defines some."""
    known = ids.known()
    if ids.jurisdiction is not None and "commissioners" in raw.sheets:
        known.commissioners = set(
            session.execute(
                select(_c(Commissioner).code).where(
                    _c(Commissioner).jurisdiction_id == ids.jurisdiction
                )
            ).scalars()
        )
    if ids.cycle is not None and "hotline_cases" in raw.sheets:
        known.hotline_cases = set(
            session.execute(
                select(_c(HotlineCase).case_no).where(_c(HotlineCase).cycle_id == ids.cycle)
            ).scalars()
        )
    return known


def _ensure_scope(
    session: Session,
    ids: _Ids,
    code: str,
    name: str | None,
    year: int | None,
    policy: Any,
    actor: str,
    user_id: int | None = None,
) -> list[str]:
    """Create the jurisdiction, the cycle and its two phases if missing; say what was created."""
    created: list[str] = []
    if ids.jurisdiction is None:
        jur = Jurisdiction(code=code, name=name or code)
        session.add(jur)
        session.flush()
        ids.jurisdiction = jur.id
        created.append(f"jurisdiction {code}")
    elif name:
        current = session.get(Jurisdiction, ids.jurisdiction)
        if current is not None and current.name != name:
            audit(
                session,
                actor=actor,
                user_id=user_id,
                action="import.update",
                entity="jurisdiction",
                entity_key=code,
                jurisdiction_id=current.id,
                details={"changes": {"name": [current.name, name]}},
            )
            current.name = name
            session.flush()
    if year is None:
        return created
    assert ids.jurisdiction is not None
    if ids.cycle is None:
        cycle = Cycle(jurisdiction_id=ids.jurisdiction, year=year)
        session.add(cycle)
        session.flush()
        ids.cycle = cycle.id
        created.append(f"cycle {year}")
    windows = {
        PhaseKind.MID_YEAR: policy.phases.mid_year,
        PhaseKind.YEAR_END: policy.phases.year_end,
    }
    existing = set(
        session.execute(select(_c(Phase).kind).where(_c(Phase).cycle_id == ids.cycle)).scalars()
    )
    for kind, window in windows.items():
        if kind.value in {str(k) for k in existing}:
            continue
        assert ids.cycle is not None
        session.add(
            Phase(
                cycle_id=ids.cycle,
                kind=kind,
                window_start=window.opens.on(year),
                window_end=window.closes.on(year),
            )
        )
        created.append(f"phase {year} {kind.value}")
    session.flush()
    ids.refresh(session)
    return created


def _display(sheet: ValidSheet, values: dict[str, Any]) -> str:
    return "/".join(str(values[k]) for k in sheet.sheet.natural_key)


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, float) or isinstance(new, float):
        return old is not None and new is not None and float(old) == float(new)
    if old is None or new is None:
        return old is new
    return str(old) == str(new) if isinstance(old, str) or isinstance(new, str) else old == new


def _sync(
    session: Session,
    key: str,
    sheet: ValidSheet,
    ids: _Ids,
    changes: list[tuple[str, str, dict[str, Any]]],
) -> dict[str, int]:
    """Upsert one sheet; count inserted / updated / unchanged; note what changed for the audit."""
    target = TARGETS[key]
    table: Any = target.model.__table__  # type: ignore[attr-defined]
    # Only the columns present in the file are compared and updated: a column left out of a
    # corrected file keeps what the database holds (new rows take the defaults).
    update_cols = [db for col, db in target.columns.items() if col in sheet.present]
    cols = [table.c[k] for k in target.keys] + [table.c[c] for c in update_cols]
    existing: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    nk = len(target.keys)
    for found in session.execute(select(*cols).where(target.scope(ids))):
        existing[tuple(found[:nk])] = tuple(found[nk:])
    names = _reverse_names(ids)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    for record in sheet.records:
        row = target.build(record.values, ids)
        k = tuple(row[c] for c in target.keys)
        old = existing.get(k)
        if old is None:
            inserts.append(row)
            existing[k] = tuple(row[c] for c in update_cols)
            continue
        diff = {
            col: [names.get(col, {}).get(o, o), names.get(col, {}).get(row[col], row[col])]
            for col, o in zip(update_cols, old, strict=True)
            if not _same(o, row[col])
        }
        if diff:
            updates.append(row)
            changes.append((key, _display(sheet, record.values), {"changes": diff}))
        else:
            unchanged += 1
    update_set = update_cols + ([target.touch] if target.touch else [])
    upsert(session, target.model, inserts, target.keys)
    if updates:
        upsert(session, target.model, updates, target.keys, update=update_set)
    return {"inserted": len(inserts), "updated": len(updates), "unchanged": unchanged}


def _reverse_names(ids: _Ids) -> dict[str, dict[Any, str]]:
    """Id -> code for foreign-key columns, so audit rows say D01 rather than 17."""
    departments = {i: c for c, i in ids.departments.items()}
    return {
        "team_id": {i: c for c, i in ids.teams.items()},
        "department_id": departments,
        "former_department_id": departments,
        "section_id": {i: f"{d}/{s}" for (d, s), i in ids.sections.items()},
    }


def _refuse_development_secret(checked: Validated, secret: str) -> None:
    from bihuan.settings import DEV_PEER_SECRET

    sheet = checked.sheets.get("peer_ratings")
    if secret == DEV_PEER_SECRET and sheet is not None and sheet.records:
        checked.issues.append(
            ImportIssue(
                sheet.file,
                sheet.title,
                None,
                "",
                "BIHUAN_PEER_TOKEN_SECRET is still the development default, so peer ratings "
                "(部门互评) could be traced back to their raters; set a secret of your own "
                "(`bihuan init` writes one) and import again",
            )
        )


@dataclass
class _PeerPlan:
    """Per row of 部门互评: whether its ballot is new (write) or already cast (skip)."""

    already_cast: set[int] = field(default_factory=set)  # row numbers


def _plan_peer_ballots(session: Session, checked: Validated, ids: _Ids, secret: str) -> _PeerPlan:
    """Find ratings already cast; a different rating for a cast ballot is an error.

    The old rating cannot be found from the ballot (by design), so a repeated ballot counts as
    "the same rating" only if an identical anonymous rating (ratee, scores, day) is stored.
    """
    plan = _PeerPlan()
    sheet = checked.sheets.get("peer_ratings")
    if sheet is None or not sheet.records or not ids.phases:
        return plan
    phase_ids = list(ids.phases.values())
    tokens = set(
        session.execute(
            select(_c(PeerBallot).token).where(_c(PeerBallot).phase_id.in_(phase_ids))
        ).scalars()
    )
    if not tokens:
        return plan
    stored: set[tuple[Any, ...]] = set(
        session.execute(
            select(
                _c(PeerRating).phase_id,
                _c(PeerRating).ratee_department_id,
                *[getattr(_c(PeerRating), s) for s in PEER_SCORES],
                _c(PeerRating).rated_on,
            ).where(_c(PeerRating).phase_id.in_(phase_ids))
        ).all()
    )
    for record in sheet.records:
        v = record.values
        phase_id = ids.phases.get(v["phase"])
        if phase_id is None:
            continue
        if peer_token(secret, phase_id, v["rater"], v["ratee"]) not in tokens:
            continue
        signature = (
            phase_id,
            ids.departments.get(v["ratee"]),
            *[float(v[s]) for s in PEER_SCORES],
            v["rated_on"],
        )
        if signature in stored:
            plan.already_cast.add(record.row)
        else:
            checked.issues.append(
                ImportIssue(
                    sheet.file,
                    sheet.title,
                    record.row,
                    "",
                    f"department {v['rater']} already rated {v['ratee']} in this phase; "
                    "peer ratings cannot be changed once cast (互评一经提交不可修改)",
                )
            )
    return plan


def _write_peer_ratings(
    session: Session, sheet: ValidSheet, ids: _Ids, secret: str, plan: _PeerPlan
) -> dict[str, int]:
    ballots: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    for record in sheet.records:
        if record.row in plan.already_cast:
            continue
        v = record.values
        phase_id = ids.phases[v["phase"]]
        ballots.append(
            {
                "id": uuid.uuid4().hex,
                "phase_id": phase_id,
                "token": peer_token(secret, phase_id, v["rater"], v["ratee"]),
            }
        )
        ratings.append(
            {
                "id": uuid.uuid4().hex,
                "phase_id": phase_id,
                "ratee_department_id": ids.departments[v["ratee"]],
                **{s: v[s] for s in PEER_SCORES},
                "rated_on": v["rated_on"],
            }
        )
    # Independent shuffles: the n-th ballot written is not the n-th rating written.
    rng = random.SystemRandom()
    rng.shuffle(ballots)
    upsert(session, PeerBallot, ballots, ("phase_id", "token"))
    if ratings:
        _rewrite_shuffled(session, ratings, rng)
    return {"inserted": len(ratings), "updated": 0, "unchanged": len(plan.already_cast)}


def _rewrite_shuffled(session: Session, new: list[dict[str, Any]], rng: random.Random) -> None:
    """Store the new ratings together with the phases' earlier ones, all rewritten in one random
    order: when each department sends its own file, the order rows were written in (rowid,
    physical order) would otherwise group the ratings by file, that is, by rater."""
    t = PeerRating.__table__  # type: ignore[attr-defined]
    phases = sorted({r["phase_id"] for r in new})
    old = [dict(r._mapping) for r in session.execute(select(t).where(t.c.phase_id.in_(phases)))]
    rows = old + new
    for row in rows:
        row["id"] = uuid.uuid4().hex  # new ids too: an id seen earlier says nothing now
    rng.shuffle(rows)
    session.execute(delete(t).where(t.c.phase_id.in_(phases)))
    session.execute(insert(t), rows)


__all__ = [
    "DatabaseNotReady",
    "ImportFailed",
    "ImportIssue",
    "ImportReport",
    "ensure_schema",
    "import_path",
]
