"""The rectification shell (整改台账): one response or decision on an item per transaction.

`act` loads an item (scoped to the jurisdiction through its department), runs the pure state
machine (bihuan.core.rectification.apply), and stores the result with an optimistic lock:
``UPDATE ... SET version = version + 1 WHERE id = :id AND version = :seen``. When no row matches,
someone else changed the item since it was read (or since the user looked at it, when the CLI or
a workbook passes the version it showed), and the caller gets a ConflictError instead of a lost
update. In the same transaction: the history event (seq = max + 1), an audit row (who, when,
why, from → to, evidence files with their sha256) and, where the department should hear of the
decision, a short Chinese notice in the outbox.

One move is the shell's own: ``progress`` (进展) records a department's progress note on an item
that is already in progress. The core's table has no such action because the status does not
change; the note still counts as a response (it sets last_response_on, which stops escalation).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from bihuan.core.rectification import (
    Action,
    Event,
    ItemState,
    Level,
    Role,
    Status,
    Transition,
    TransitionError,
    allowed_actions,
    apply,
)
from bihuan.core.workdays import WorkCalendar
from bihuan.db import audit, get_jurisdiction, session_scope, table
from bihuan.errors import ConflictError, UserError
from bihuan.ingest.readers import MAX_FILE_BYTES
from models import (
    Cycle,
    Department,
    Finding,
    RectificationEvent,
    RectificationItem,
    utc_now,
)
from notifications.outbox import enqueue
from notifications.tags import contact_tags

PROGRESS = "progress"
PROGRESS_LABEL = "报告整改进展"
# A department's "here is where we are": start on an open or reopened item, else a progress note.
RESPOND = "respond"

# Decisions of the office that the department must hear of (its own responses it knows about).
NOTIFY = frozenset(
    {
        Action.VERIFY_ACCEPT,
        Action.VERIFY_REJECT,
        Action.APPROVE_CANNOT_SOLVE,
        Action.DENY_CANNOT_SOLVE,
        Action.EXTEND,
    }
)
NOTICE_KIND = "rectification_notice"
EVIDENCE_HASH_PREFIX = 12
_TEXT_MAX = 1000  # RectificationEvent.reason and the item's explanation/alternative columns


@dataclass(frozen=True)
class EvidenceFile:
    """An evidence file (佐证材料) as stored: original name, path under var/, content hash."""

    name: str
    path: str  # relative to settings.var_dir, e.g. evidence/7/3fa2c1d09b8e-验收报告.pdf
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Outcome:
    """What one `act` did: the new item state, its history seq, evidence stored, notices queued."""

    item: ItemState
    seq: int
    action: str
    from_status: Status
    evidence: tuple[EvidenceFile, ...] = ()
    notices: int = 0


@dataclass(frozen=True)
class LoadedItem:
    state: ItemState
    jurisdiction_id: int
    department_id: int
    department_code: str
    department_name: str
    notify_tags: str
    title: str


@dataclass
class PreparedMove:
    """A transition computed but not yet stored (the pure part of `act`)."""

    loaded: LoadedItem
    action: str
    transition: Transition
    files: list[tuple[Path, EvidenceFile]] = field(default_factory=list)


# ------------------------------------------------------------------ loading


def jurisdiction_id(session: Session, code: str) -> int:
    jur = get_jurisdiction(session, code)
    if jur is None or jur.id is None:
        raise UserError(f"no jurisdiction {code!r} in the database; load one with `bihuan import`")
    return jur.id


def load_item(session: Session, jur_id: int, item_id: int) -> LoadedItem:
    ri, d, f = table(RectificationItem), table(Department), table(Finding)
    row = session.execute(
        select(ri, d.c.code, d.c.name, d.c.notify_tags, f.c.title)
        .join(d, d.c.id == ri.c.department_id)
        .join(f, f.c.id == ri.c.finding_id)
        .where(ri.c.id == item_id, d.c.jurisdiction_id == jur_id)
    ).first()
    if row is None:
        raise UserError(
            f"no rectification item {item_id} in this jurisdiction; "
            "see `bihuan rectifications` for the item numbers (事项编号)"
        )
    m = row._mapping
    state = ItemState(
        id=m["id"],
        status=Status(m["status"]),
        issued_on=m["issued_on"],
        deadline=m["deadline"],
        last_response_on=m["last_response_on"],
        escalation_level=Level(m["escalation_level"]) if m["escalation_level"] else None,
        extensions=m["extensions"],
        explanation=m["explanation"] or "",
        alternative=m["alternative"] or "",
        closed_on=m["closed_on"],
        version=m["version"],
    )
    return LoadedItem(
        state, jur_id, m["department_id"], m["code"], m["name"], m["notify_tags"] or "", m["title"]
    )


def _conflict(item_id: int, seen: int, now: int) -> ConflictError:
    return ConflictError(
        f"item {item_id} was changed by someone else (version {seen}, now {now}); "
        f"reload it (`bihuan rectify show {item_id}`) and try again"
    )


# ------------------------------------------------------------------ evidence


def _safe_name(name: str) -> str:
    # Keep Chinese names readable; drop what a file system or a shell would choke on.
    cleaned = re.sub(r'[\x00-\x1f/\\:*?"<>|]+', "_", name).strip(" .")
    return cleaned[:120] or "evidence"


def hash_evidence(item_id: int, paths: Sequence[Path | str]) -> list[tuple[Path, EvidenceFile]]:
    """Check and hash evidence files; nothing is copied yet (that happens once the move is valid)."""
    out: list[tuple[Path, EvidenceFile]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise UserError(f"--evidence {raw}: no such file; give the path of an existing file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UserError(
                f"--evidence {raw}: {size / 1e6:.1f} MB is above the limit of "
                f"{MAX_FILE_BYTES / 1e6:.0f} MB; send a smaller file or a reference to it"
            )
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        sha = digest.hexdigest()
        name = _safe_name(path.name)
        rel = f"evidence/{item_id}/{sha[:EVIDENCE_HASH_PREFIX]}-{name}"
        out.append((path, EvidenceFile(path.name, rel, sha, size)))
    return out


def _copy_evidence(var_dir: Path, files: Sequence[tuple[Path, EvidenceFile]]) -> None:
    # Content-addressed names: copying the same file twice is harmless, and a copy left behind
    # by a transaction that then rolled back is an unreferenced file, never a wrong one.
    for src, ev in files:
        target = var_dir / ev.path
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(src, tmp)
        tmp.replace(target)


# ------------------------------------------------------------------ the move


def _progress(
    item: ItemState, *, actor: str, role: Role, as_of: date, reason: str, evidence: Sequence[str]
) -> Transition:
    """The shell's progress note: no status change, but a response that stops escalation."""
    if item.status is not Status.IN_PROGRESS:
        allowed = ", ".join(allowed_actions(item.status)) or "none (the item is closed)"
        raise TransitionError(
            f"item {item.id}: cannot record progress ({PROGRESS_LABEL}) on an item that is "
            f"'{item.status.value}' ({item.status.label}); allowed: {allowed}"
        )
    if not actor.strip():
        raise TransitionError(f"item {item.id}: say who acts (actor is empty)")
    if as_of < item.issued_on:
        raise TransitionError(
            f"item {item.id}: {as_of} is before the item was issued on {item.issued_on}"
        )
    if not reason.strip():
        raise TransitionError(f"item {item.id}: a progress report needs the progress text")
    new = replace(item, last_response_on=as_of, version=item.version + 1)
    # Event.action is typed as the core's Action; the shell keeps its own name beside it.
    event = Event(
        item_id=item.id,
        action=Action.START,
        from_status=item.status,
        to_status=item.status,
        actor=actor.strip(),
        role=role,
        on_date=as_of,
        reason=reason.strip(),
        evidence=tuple(e for e in evidence if e.strip()),
    )
    return Transition(new, event)


def prepare(
    loaded: LoadedItem,
    action: Action | str,
    *,
    actor: str,
    role: Role,
    as_of: date,
    expected_version: int | None = None,
    reason: str = "",
    evidence_files: Sequence[tuple[Path, EvidenceFile]] = (),
    evidence_refs: Sequence[str] = (),
    explanation: str = "",
    alternative: str = "",
    extend_by: int | None = None,
    cal: WorkCalendar | None = None,
) -> PreparedMove:
    """The pure part of a move: the version check and the state machine, nothing written."""
    state = loaded.state
    if expected_version is not None and expected_version != state.version:
        raise _conflict(state.id, expected_version, state.version)
    evidence = [ev.path for _, ev in evidence_files] + [r.strip() for r in evidence_refs]
    if action == RESPOND:
        action = PROGRESS if state.status is Status.IN_PROGRESS else Action.START
    if action == PROGRESS:
        transition = _progress(
            state, actor=actor, role=role, as_of=as_of, reason=reason, evidence=evidence
        )
        name = PROGRESS
    else:
        act_ = Action(action)
        transition = apply(
            state,
            act_,
            actor=actor,
            role=role,
            as_of=as_of,
            reason=reason,
            evidence=evidence,
            explanation=explanation,
            alternative=alternative,
            extend_by=extend_by,
            cal=cal,
        )
        name = act_.value
        if len(transition.item.explanation) > _TEXT_MAX or len(transition.item.alternative) > (
            _TEXT_MAX
        ):
            raise UserError(
                f"item {state.id}: the policy explanation and the alternative measure are "
                f"limited to {_TEXT_MAX} characters each; shorten them"
            )
    return PreparedMove(loaded, name, transition, list(evidence_files))


def _event_reason(p: PreparedMove) -> str:
    ev, item = p.transition.event, p.transition.item
    text = ev.reason
    if p.action == Action.REQUEST_CANNOT_SOLVE.value:
        parts = [ev.reason, f"政策解释: {item.explanation}", f"替代措施: {item.alternative}"]
        text = "; ".join(x for x in parts if x)
    elif p.action == Action.EXTEND.value:
        text = f"{ev.reason} (整改期限 {ev.details['old_deadline']} → {ev.details['new_deadline']})"
    return text[:_TEXT_MAX]


def store(
    session: Session,
    p: PreparedMove,
    *,
    var_dir: Path,
    source: dict[str, Any] | None = None,
) -> Outcome:
    """Write a prepared move: guarded UPDATE, history event, audit row, notices; copy evidence."""
    loaded, new, ev = p.loaded, p.transition.item, p.transition.event
    seen = loaded.state.version
    ri = table(RectificationItem)
    result = session.execute(
        update(ri)
        .where(ri.c.id == new.id, ri.c.version == seen)
        .values(
            status=new.status.value,
            deadline=new.deadline,
            last_response_on=new.last_response_on,
            escalation_level=new.escalation_level.value if new.escalation_level else None,
            extensions=new.extensions,
            explanation=new.explanation,
            alternative=new.alternative,
            closed_on=new.closed_on,
            version=ri.c.version + 1,
            updated_at=utc_now(),
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        now = session.execute(select(ri.c.version).where(ri.c.id == new.id)).scalar_one()
        raise _conflict(new.id, seen, now)
    _copy_evidence(var_dir, p.files)
    re_ = table(RectificationEvent)
    seq = (
        session.execute(
            select(func.coalesce(func.max(re_.c.seq), 0)).where(re_.c.item_id == new.id)
        ).scalar_one()
        + 1
    )
    session.execute(
        re_.insert().values(
            item_id=new.id,
            seq=seq,
            from_status=ev.from_status.value,
            to_status=ev.to_status.value,
            actor=ev.actor,
            on_date=ev.on_date,
            reason=_event_reason(p),
            evidence=list(ev.evidence),
            at=utc_now(),
        )
    )
    files = [
        {"name": e.name, "path": e.path, "sha256": e.sha256, "bytes": e.bytes} for _, e in p.files
    ]
    refs = [e for e in ev.evidence if e not in {f["path"] for f in files}]
    audit(
        session,
        actor=ev.actor,
        action=f"rectify_{p.action}",
        entity="rectification_item",
        entity_key=str(new.id),
        jurisdiction_id=loaded.jurisdiction_id,
        details={
            "seq": seq,
            "on_date": ev.on_date,
            "role": ev.role.value,
            "from": ev.from_status.value,
            "to": ev.to_status.value,
            "reason": ev.reason,
            "version": new.version,
            "department": loaded.department_code,
            **({"evidence_files": files} if files else {}),
            **({"evidence_refs": refs} if refs else {}),
            **(
                {"explanation": new.explanation, "alternative": new.alternative}
                if p.action == Action.REQUEST_CANNOT_SOLVE.value
                else {}
            ),
            **ev.details,
            **({"source": source} if source else {}),
        },
    )
    notices = 0
    if p.action in NOTIFY:
        subject, body = notice_text(
            Action(p.action),
            department=loaded.department_name,
            item_id=new.id,
            title=loaded.title,
            note=ev.reason,
            deadline=new.deadline,
            actor=ev.actor,
            on_date=ev.on_date,
        )
        for tag in contact_tags(loaded.department_code, loaded.notify_tags):
            notices += enqueue(
                session,
                jurisdiction_id=loaded.jurisdiction_id,
                key=f"item:{new.id}:event:{seq}:{tag}",
                department_id=loaded.department_id,
                recipient_tag=tag,
                kind=NOTICE_KIND,
                subject=subject,
                body=body,
                business_date=ev.on_date,
            )
    return Outcome(new, seq, p.action, ev.from_status, tuple(e for _, e in p.files), notices)


def act_in(
    session: Session,
    *,
    jurisdiction_id: int,
    item_id: int,
    action: Action | str,
    actor: str,
    role: Role,
    as_of: date,
    expected_version: int | None = None,
    reason: str = "",
    evidence: Sequence[Path | str] = (),
    evidence_refs: Sequence[str] = (),
    explanation: str = "",
    alternative: str = "",
    extend_by: int | None = None,
    cal: WorkCalendar | None = None,
    var_dir: Path,
    source: dict[str, Any] | None = None,
) -> Outcome:
    """`act` inside the caller's transaction (the Excel import applies many rows in one)."""
    loaded = load_item(session, jurisdiction_id, item_id)
    prepared = prepare(
        loaded,
        action,
        actor=actor,
        role=role,
        as_of=as_of,
        expected_version=expected_version,
        reason=reason,
        evidence_files=hash_evidence(item_id, evidence),
        evidence_refs=evidence_refs,
        explanation=explanation,
        alternative=alternative,
        extend_by=extend_by,
        cal=cal,
    )
    return store(session, prepared, var_dir=var_dir, source=source)


def act(
    url: str,
    *,
    jurisdiction: str,
    item_id: int,
    action: Action | str,
    actor: str,
    role: Role,
    as_of: date,
    expected_version: int | None = None,
    reason: str = "",
    evidence: Sequence[Path | str] = (),
    evidence_refs: Sequence[str] = (),
    explanation: str = "",
    alternative: str = "",
    extend_by: int | None = None,
    cal: WorkCalendar | None = None,
    var_dir: Path | None = None,
) -> ItemState:
    """Apply one action to one item in one transaction; raise TransitionError / ConflictError.

    ``expected_version`` is the version the user saw (CLI --version, the exported workbook); the
    update is guarded by it, or by the version just read. ``evidence`` are files, copied into
    var/evidence/<item>/; ``evidence_refs`` are document references kept as text. ``cal`` and
    ``var_dir`` default to the installation's policy calendar and settings.var_dir.
    """
    return act_outcome(
        url,
        jurisdiction=jurisdiction,
        item_id=item_id,
        action=action,
        actor=actor,
        role=role,
        as_of=as_of,
        expected_version=expected_version,
        reason=reason,
        evidence=evidence,
        evidence_refs=evidence_refs,
        explanation=explanation,
        alternative=alternative,
        extend_by=extend_by,
        cal=cal,
        var_dir=var_dir,
    ).item


def act_outcome(
    url: str,
    *,
    jurisdiction: str,
    item_id: int,
    action: Action | str,
    actor: str,
    role: Role,
    as_of: date,
    expected_version: int | None = None,
    reason: str = "",
    evidence: Sequence[Path | str] = (),
    evidence_refs: Sequence[str] = (),
    explanation: str = "",
    alternative: str = "",
    extend_by: int | None = None,
    cal: WorkCalendar | None = None,
    var_dir: Path | None = None,
) -> Outcome:
    """Like `act`, returning the whole Outcome (seq, evidence stored, notices queued)."""
    if action == Action.EXTEND and cal is None:
        cal = default_calendar()
    if var_dir is None:
        from bihuan.settings import get_settings

        var_dir = get_settings().var_dir
    with session_scope(url) as session:
        return act_in(
            session,
            jurisdiction_id=jurisdiction_id(session, jurisdiction),
            item_id=item_id,
            action=action,
            actor=actor,
            role=role,
            as_of=as_of,
            expected_version=expected_version,
            reason=reason,
            evidence=evidence,
            evidence_refs=evidence_refs,
            explanation=explanation,
            alternative=alternative,
            extend_by=extend_by,
            cal=cal,
            var_dir=var_dir,
        )


def default_calendar() -> WorkCalendar:
    from bihuan.app import app_context

    return WorkCalendar.from_policy(app_context().policy.calendar)


# ------------------------------------------------------------------ notices (pure)


def notice_text(
    action: Action,
    *,
    department: str,
    item_id: int,
    title: str,
    note: str,
    deadline: date,
    actor: str,
    on_date: date,
) -> tuple[str, str]:
    """Subject and plain-text body of the notice a department gets about an office decision."""
    head = {
        Action.VERIFY_ACCEPT: ("整改验收通过", "经验收, 该问题整改到位, 予以销号。"),
        Action.VERIFY_REJECT: (
            "整改验收未通过",
            f"经验收, 该问题整改尚未到位, 请继续整改, 整改期限 {deadline.isoformat()}。",
        ),
        Action.APPROVE_CANNOT_SOLVE: (
            "同意按无法解决处理",
            "经审核, 同意该问题按无法解决处理, 请落实已报送的替代措施。",
        ),
        Action.DENY_CANNOT_SOLVE: (
            "不同意无法解决申请",
            f"经审核, 不同意该问题按无法解决处理, 请继续整改, 整改期限 {deadline.isoformat()}。",
        ),
        Action.EXTEND: (
            "整改期限已延长",
            f"经批准, 该问题整改期限延长至 {deadline.isoformat()}。",
        ),
    }[action]
    subject = f"【{head[0]}】{department} 整改事项 {item_id}"
    lines = [
        f"{department}:",
        "",
        f"整改事项 {item_id}: {title}",
        head[1],
    ]
    if note:
        lines.append(f"意见: {note}")
    lines += ["", f"经办: {actor}    日期: {on_date.isoformat()}", "县委编办"]
    return subject, "\n".join(lines)


# ------------------------------------------------------------------ listings


def list_items(
    url: str,
    *,
    jurisdiction: str,
    year: int | None = None,
    department: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """The ledger (整改台账) as rows for `bihuan rectifications`, ordered by department and id."""
    ri, d, f, c = table(RectificationItem), table(Department), table(Finding), table(Cycle)
    if status is not None:
        try:
            status = Status(status).value
        except ValueError:
            raise UserError(
                f"--status {status!r} is not a status; use one of "
                + ", ".join(s.value for s in Status)
            ) from None
    with session_scope(url) as session:
        jur_id = jurisdiction_id(session, jurisdiction)
        stmt = (
            select(
                ri.c.id,
                d.c.code.label("department"),
                d.c.name.label("department_name"),
                c.c.year,
                f.c.phase_kind.label("phase"),
                f.c.title,
                f.c.category,
                f.c.severity,
                ri.c.status,
                ri.c.issued_on,
                ri.c.deadline,
                ri.c.escalation_level,
                ri.c.supervising_section,
                ri.c.extensions,
                ri.c.last_response_on,
                ri.c.closed_on,
                ri.c.version,
            )
            .join(d, d.c.id == ri.c.department_id)
            .join(f, f.c.id == ri.c.finding_id)
            .join(c, c.c.id == f.c.cycle_id)
            .where(d.c.jurisdiction_id == jur_id)
            .order_by(d.c.code, ri.c.id)
        )
        if year is not None:
            stmt = stmt.where(c.c.year == year)
        if department:
            stmt = stmt.where(d.c.code == department)
        if status:
            stmt = stmt.where(ri.c.status == status)
        rows = [dict(r._mapping) for r in session.execute(stmt)]
    for r in rows:
        r["status_label"] = Status(r["status"]).label
    return rows


def item_history(url: str, *, jurisdiction: str, item_id: int) -> dict[str, Any]:
    """One item with its full history (events joined with the audit rows that explain them)."""
    from models import AuditLog

    with session_scope(url) as session:
        jur_id = jurisdiction_id(session, jurisdiction)
        loaded = load_item(session, jur_id, item_id)
        ri = table(RectificationItem)
        item = dict(session.execute(select(ri).where(ri.c.id == item_id)).one()._mapping)
        re_ = table(RectificationEvent)
        events = [
            dict(r._mapping)
            for r in session.execute(
                select(re_).where(re_.c.item_id == item_id).order_by(re_.c.seq)
            )
        ]
        al = table(AuditLog)
        audits = {
            (a.details or {}).get("seq"): a
            for a in session.execute(
                select(al.c.action, al.c.details).where(
                    al.c.entity == "rectification_item", al.c.entity_key == str(item_id)
                )
            )
        }
    item.update(
        department=loaded.department_code,
        department_name=loaded.department_name,
        title=loaded.title,
        status_label=Status(item["status"]).label,
    )
    history = []
    for e in events:
        a = audits.get(e["seq"])
        action = a.action.removeprefix("rectify_") if a is not None else "issued"
        history.append(
            {
                "seq": e["seq"],
                "on_date": e["on_date"],
                "at": e["at"],
                "action": action,
                "action_label": _action_label(action),
                "from": e["from_status"],
                "to": e["to_status"],
                "actor": e["actor"],
                "role": (a.details or {}).get("role", "coordinator") if a is not None else "",
                "reason": e["reason"],
                "evidence": e["evidence"],
                "evidence_files": (a.details or {}).get("evidence_files", []) if a else [],
            }
        )
    return {
        "item": item,
        "allowed": [x.value for x in allowed_actions(Status(item["status"]))],
        "history": history,
    }


def _action_label(action: str) -> str:
    if action == PROGRESS:
        return PROGRESS_LABEL
    if action == "issued":
        return "问题清单下发"
    try:
        return Action(action).label
    except ValueError:
        return action
