"""Rectification use cases (整改台账): one move on one item, the ledger, an item's history.

`act` is one move in one transaction: it loads the item, checks that the acting user may make
this move on it (permission by action, scope by the item's department and supervising section),
runs the pure state machine (bihuan.core.rectification.apply, whose capacity checks stay), and
stores the result with an optimistic lock: when the row's version is no longer the one read (or
the one the user saw, when a command or a workbook passes it), the caller gets a ConflictError
instead of a lost update. In the same transaction: the history event (seq = last + 1) naming the
user, an audit row (the user's id, from → to, why, evidence files with their sha256) and, where
the department should hear of an office decision, a notice in the outbox.

Who may make which move (bihuan.core.access):

- respond, record progress, report fixed, ask for "cannot be solved": Permission.RESPOND — a
  department user on its own department's items (capacity department), the office on any item
  (capacity coordinator, answering on a department's behalf, or department when it records the
  department's own answer, e.g. a paper reply or a returned workbook);
- verify accept / reject: Permission.VERIFY — the office, or the section that supervises the item;
- extend, approve / deny "cannot be solved", reopen: Permission.DECIDE — the office only.

One move is the application's own: ``progress`` (进展) records a progress note on an item that is
already in progress. The core's table has no such action because the status does not change; the
note still counts as a response (it sets last_response_on, which stops escalation). ``respond``
is "here is where we are": start on an open or reopened item, else a progress note.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict

from bihuan.core.access import (
    Actor,
    Permission,
    Target,
    check,
    listing,
    visible_department,
    visible_section,
)
from bihuan.core.evidence import (
    MB,
    EvidenceRefused,
    UploadLimits,
    check_count,
    check_upload,
    identify,
    media_type,
)
from bihuan.core.links import item_link
from bihuan.core.outbox import NewMessage
from bihuan.core.rectification import (
    Action,
    Event,
    ItemState,
    Role,
    Status,
    Transition,
    TransitionError,
    allowed_actions,
    allowed_moves,
    apply,
)
from bihuan.core.workdays import WorkCalendar
from bihuan.errors import ConflictError, NotFound, UserError
from bihuan.repositories.rectification import ITEM_ENTITY, MOVE_ENTITY, ItemView, LoadedItem
from bihuan.services.authz import require
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import (
    Capacity,
    EscalationLevel,
    FindingCategory,
    NotificationKind,
    PhaseKind,
    Severity,
    UserRole,
)
from notifications.render import render
from notifications.tags import contact_tags

PROGRESS = "progress"
PROGRESS_LABEL = "报告整改进展"
RESPOND = "respond"
ISSUED, ISSUED_LABEL = "issued", "问题清单下发"
RECORDED, RECORDED_LABEL = "recorded", "系统记录"  # an event no move wrote (e.g. the re-check)
LAPSED = "alternative_lapsed"

# Decisions of the office that the department must hear of (its own responses it knows about).
NOTIFY = frozenset(
    {
        Action.VERIFY_ACCEPT,
        Action.VERIFY_REJECT,
        Action.APPROVE_CANNOT_SOLVE,
        Action.DENY_CANNOT_SOLVE,
        Action.EXTEND,
        Action.DECLINE_EXTENSION,
    }
)
NOTICE_KIND = NotificationKind.RECTIFICATION_NOTICE.value
EVIDENCE_HASH_PREFIX = 12
TEXT_MAX = 1000  # RectificationEvent.reason and the item's explanation/alternative columns

ActionName = Action | Literal["respond", "progress"]


def permission_for(action: ActionName | str) -> Permission:
    """The permission a move needs (the scope comes from the item: see access.check)."""
    if action in (RESPOND, PROGRESS, Action.START, Action.REPORT_FIXED):
        return Permission.RESPOND
    if action in (Action.REQUEST_CANNOT_SOLVE, Action.REQUEST_EXTENSION):
        return Permission.RESPOND
    if action in (Action.VERIFY_ACCEPT, Action.VERIFY_REJECT):
        return Permission.VERIFY
    return Permission.DECIDE


def action_label(action: str) -> str:
    if action == PROGRESS:
        return PROGRESS_LABEL
    if action == RESPOND:
        return "答复整改"
    if action == ISSUED:
        return ISSUED_LABEL
    if action == RECORDED:
        return RECORDED_LABEL
    try:
        return Action(action).label
    except ValueError:
        return action


class ItemNotFound(NotFound):
    """No such item, or one the user may not see: the same answer, so a guessed id tells
    nothing (the portal answers 404)."""

    def __init__(self, item_id: int) -> None:
        super().__init__(
            f"no rectification item {item_id} in this jurisdiction; "
            "see `bihuan rectifications` for the item numbers (事项编号)"
        )
        self.item_id = item_id


class ItemElsewhere(UserError):
    """The item is not of the department the caller named (Act.department: a workbook is one
    department's). Raised only after the permission check, so only to a user who may see it."""

    def __init__(self, item_id: int, department: str, department_name: str, expected: str):
        super().__init__(
            f"item {item_id} is of {department} ({department_name}), not of {expected}; "
            f"answer it in {department}'s own ledger"
        )
        self.item_id = item_id
        self.department = department
        self.department_name = department_name
        self.expected = expected


class StaleItem(ConflictError):
    """The item changed since the user saw it (its version is no longer `seen`)."""

    def __init__(self, item_id: int, seen: int, now: int) -> None:
        super().__init__(
            f"item {item_id} was changed by someone else (version {seen}, now {now}); "
            f"reload it (`bihuan rectify show {item_id}`) and try again"
        )
        self.item_id = item_id
        self.seen = seen
        self.now = now


# ------------------------------------------------------------------ typed input and output


class Act(BaseModel):
    """One move on one item, as `bihuan rectify ...`, a workbook row or a portal form gives it.

    `expected_version` is the version the user saw (refused with a StaleItem conflict if the
    item changed since); `department`, when given, is the department the caller expects the
    item to be of (a workbook row; ItemElsewhere otherwise); `evidence` are files, stored under
    var/evidence/<item>/ by content hash; `evidence_refs` are document references kept as
    text. `capacity` only matters for the office, which answers for a department
    (coordinator, the default) or records the department's own answer (department: a paper
    reply, a returned workbook); a department user always acts as its department and the
    office's sections as coordinators.
    """

    model_config = ConfigDict(frozen=True)

    jurisdiction: str
    item_id: int
    action: ActionName
    expected_version: int | None = None
    department: str | None = None
    reason: str = ""
    evidence: tuple[Path, ...] = ()
    evidence_refs: tuple[str, ...] = ()
    explanation: str = ""
    alternative: str = ""
    extend_by: int | None = None
    capacity: Capacity | None = None


class EvidenceFile(BaseModel):
    """An evidence file (佐证材料) as stored: original name, path under var/, content hash."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str  # relative to settings.var_dir, e.g. evidence/7/3fa2c1d09b8e-验收报告.pdf
    sha256: str
    bytes: int


class Outcome(BaseModel):
    """What one move did: the item's new state, its history seq, evidence stored, notices queued."""

    item_id: int
    department: str
    action: str
    action_label: str
    capacity: Capacity
    from_status: Status
    from_status_label: str
    status: Status
    status_label: str
    deadline: date
    extensions: int
    version: int
    seq: int
    evidence: list[EvidenceFile] = []
    evidence_refs: list[str] = []
    notices: int = 0


class ItemRow(BaseModel):
    """One item of the ledger, as `bihuan rectifications --json` and the portal list it."""

    id: int
    department: str
    department_name: str
    year: int
    phase: PhaseKind
    phase_label: str
    title: str
    category: FindingCategory
    category_label: str
    severity: Severity
    severity_label: str
    status: Status
    status_label: str
    issued_on: date
    deadline: date
    escalation_level: EscalationLevel | None
    escalation_level_label: str
    supervising_section: str
    extensions: int
    last_response_on: date | None
    closed_on: date | None
    version: int
    # a pending extension request (申请延期) the office has still to grant or decline
    extension_request_days: int | None = None
    extension_requested_on: date | None = None
    extension_request_reason: str = ""
    # the deadline was counted on a provisional year (暂定): it is re-counted, and the department
    # told, once the State Council's notice for that year is imported
    deadline_provisional: bool = False


class ItemDetail(ItemRow):
    measures: str
    explanation: str  # 政策解释 of a cannot-solve request
    alternative: str  # 替代措施


class HistoryEntry(BaseModel):
    """One event of an item's history, with the audit row's facts (capacity, evidence files)."""

    seq: int
    on_date: date
    at: datetime
    action: str
    action_label: str
    from_status: Status | None
    from_status_label: str
    to_status: Status
    to_status_label: str
    actor: str
    role: str  # the capacity of the move (department / coordinator); "" for issued/recorded
    role_label: str
    login: str = ""  # the acting user's login, from the move's audit row
    reason: str
    evidence: list[str]
    evidence_files: list[EvidenceFile] = []


class ItemHistory(BaseModel):
    """`bihuan rectify show ITEM --json`: the item, the moves the user may make next, history."""

    item: ItemDetail
    allowed: list[Action]
    allowed_labels: list[str]
    history: list[HistoryEntry]


@dataclass
class PreparedMove:
    """A transition computed but not yet stored (the pure part of a move)."""

    loaded: LoadedItem
    action: str
    transition: Transition
    files: list[tuple[Path, EvidenceFile]] = field(default_factory=list)


# ------------------------------------------------------------------ acting on an item


def act(uow: UnitOfWork, cmd: Act, actor: Actor, as_of: date) -> Outcome:
    """Make one move on one item in the unit of work's transaction; raise PermissionDenied,
    ItemNotFound, ItemElsewhere, TransitionError or StaleItem, having changed nothing."""
    return store_move(uow, prepare_act(uow, cmd, actor, as_of), actor)


def prepare_act(uow: UnitOfWork, cmd: Act, actor: Actor, as_of: date) -> PreparedMove:
    """Load the item, check the user's permission on it, and compute the move (nothing is
    written: a caller applying many moves at once checks them all before storing any)."""
    jur = uow.jurisdictions.require(cmd.jurisdiction)
    assert jur.id is not None
    permission = permission_for(cmd.action)
    what = f"{cmd.action} item {cmd.item_id}"
    loaded = uow.rectification.load(jur.id, cmd.item_id)
    if loaded is None:
        # the role may not do this at all (a leader): refused; else there is no such item
        require(uow, actor, permission, listing(jur.id), action=what)
        raise ItemNotFound(cmd.item_id)
    require(uow, actor, permission, _target(loaded), action=what)
    if cmd.department is not None and loaded.department_code != cmd.department:
        raise ItemElsewhere(
            cmd.item_id, loaded.department_code, loaded.department_name, cmd.department
        )
    cal = WorkCalendar.from_policy(uow.policy.calendar) if cmd.action == Action.EXTEND else None
    return prepare(
        loaded,
        cmd.action,
        actor=actor.display_name or actor.login,
        role=_capacity(actor, cmd.capacity),
        as_of=as_of,
        expected_version=cmd.expected_version,
        reason=cmd.reason,
        evidence_files=hash_evidence(cmd.item_id, cmd.evidence),
        evidence_refs=cmd.evidence_refs,
        explanation=cmd.explanation,
        alternative=cmd.alternative,
        extend_by=cmd.extend_by,
        cal=cal,
    )


def _target(loaded: LoadedItem) -> Target:
    return Target(
        jurisdiction_id=loaded.jurisdiction_id,
        department_id=loaded.department_id,
        section=loaded.supervising_section,
        what=f"item {loaded.state.id} of {loaded.department_code}",
    )


def _capacity(actor: Actor, asked: Capacity | None) -> Capacity:
    if actor.role is UserRole.DEPARTMENT:
        return Capacity.DEPARTMENT
    if actor.role is UserRole.OFFICE and asked is not None:
        return asked
    return Capacity.COORDINATOR


def _progress(
    item: ItemState, *, actor: str, role: Role, as_of: date, reason: str, evidence: Sequence[str]
) -> Transition:
    """The progress note: no status change, but a response that stops escalation."""
    if item.status is not Status.IN_PROGRESS:
        allowed = ", ".join(allowed_actions(item.status)) or "none (the item is closed)"
        raise TransitionError(
            f"item {item.id}: cannot record progress ({PROGRESS_LABEL}) on an item that is "
            f"'{item.status.value}' ({item.status.label}); allowed: {allowed}",
            zh=f"整改事项{item.id}当前为“{item.status.label}”, 不能{PROGRESS_LABEL}; "
            "只有“整改中”的事项可以报告整改进展",
        )
    if not actor.strip():
        raise TransitionError(f"item {item.id}: say who acts (actor is empty)", zh="请注明经办人")
    if as_of < item.issued_on:
        raise TransitionError(
            f"item {item.id}: {as_of} is before the item was issued on {item.issued_on}",
            zh=f"日期{as_of}早于整改事项{item.id}的下发日期{item.issued_on}",
        )
    if not reason.strip():
        raise TransitionError(
            f"item {item.id}: a progress report needs the progress text", zh="请填写整改进展"
        )
    new = replace(item, last_response_on=as_of, version=item.version + 1)
    # Event.action is typed as the core's Action; the move's own name travels beside it.
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
    action: ActionName | str,
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
    """The pure part of a move: the version check and the state machine, nothing written.
    `actor` is the name the history shows, `role` the capacity of the move."""
    state = loaded.state
    if expected_version is not None and expected_version != state.version:
        raise StaleItem(state.id, expected_version, state.version)
    evidence = [ev.path for _, ev in evidence_files] + [r.strip() for r in evidence_refs]
    if action == RESPOND:
        action = PROGRESS if state.status is Status.IN_PROGRESS else Action.START
    if action == PROGRESS:
        transition = _progress(
            state, actor=actor, role=role, as_of=as_of, reason=reason, evidence=evidence
        )
        name = PROGRESS
    else:
        move = Action(action)
        transition = apply(
            state,
            move,
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
        name = move.value
        new = transition.item
        if len(new.explanation) > TEXT_MAX or len(new.alternative) > TEXT_MAX:
            raise UserError(
                f"item {state.id}: the policy explanation and the alternative measure are "
                f"limited to {TEXT_MAX} characters each; shorten them"
            )
        if len(new.extension_request_reason) > TEXT_MAX:
            raise UserError(
                f"item {state.id}: the reason for an extension is limited to {TEXT_MAX} "
                "characters; shorten it"
            )
    return PreparedMove(loaded, name, transition, list(evidence_files))


def store_move(
    uow: UnitOfWork,
    p: PreparedMove,
    actor: Actor,
    *,
    source: dict[str, Any] | None = None,
) -> Outcome:
    """Write a prepared move: guarded UPDATE, history event, audit row (under the user's id),
    notices; copy evidence. `source` says where the move came from (a workbook's file, sheet
    and row), kept in the audit row. A StaleItem when the row changed since it was loaded."""
    loaded, new, ev = p.loaded, p.transition.item, p.transition.event
    repo = uow.rectification
    seen = loaded.state.version
    if not repo.save(new, seen_version=seen):
        raise StaleItem(new.id, seen, repo.current_version(new.id))
    _copy_evidence(uow.settings.var_dir, p.files)
    seq = repo.add_event(
        item_id=new.id,
        from_status=ev.from_status,
        to_status=ev.to_status,
        actor=ev.actor,
        on_date=ev.on_date,
        reason=_event_reason(p),
        evidence=list(ev.evidence),
    )
    files = [e for _, e in p.files]
    refs = [e for e in ev.evidence if e not in {f.path for f in files}]
    uow.audit.record(
        actor,
        action=f"rectify_{p.action}",
        entity=MOVE_ENTITY,
        key=str(new.id),
        jurisdiction_id=loaded.jurisdiction_id,
        details=_audit_details(p, seq, files, refs, source),
    )
    notices = _notify(uow, p, seq) if p.action in NOTIFY else 0
    return Outcome(
        item_id=new.id,
        department=loaded.department_code,
        action=p.action,
        action_label=action_label(p.action),
        capacity=ev.role,
        from_status=ev.from_status,
        from_status_label=ev.from_status.label,
        status=new.status,
        status_label=new.status.label,
        deadline=new.deadline,
        extensions=new.extensions,
        version=new.version,
        seq=seq,
        evidence=files,
        evidence_refs=refs,
        notices=notices,
    )


def _event_reason(p: PreparedMove) -> str:
    ev, item = p.transition.event, p.transition.item
    text = ev.reason
    if p.action == Action.REQUEST_CANNOT_SOLVE.value:
        parts = [ev.reason, f"政策解释: {item.explanation}", f"替代措施: {item.alternative}"]
        text = "; ".join(x for x in parts if x)
    elif p.action == Action.EXTEND.value:
        text = f"{ev.reason} (整改期限 {ev.details['old_deadline']} → {ev.details['new_deadline']})"
    elif p.action == Action.REQUEST_EXTENSION.value:
        text = f"{ev.reason} (申请延期 {ev.details['extend_by']} 个工作日)"
    return text[:TEXT_MAX]


def _audit_details(
    p: PreparedMove,
    seq: int,
    files: list[EvidenceFile],
    refs: list[str],
    source: dict[str, Any] | None,
) -> dict[str, Any]:
    ev, new = p.transition.event, p.transition.item
    return {
        "seq": seq,
        "on_date": ev.on_date,
        "by": ev.actor,
        "role": ev.role.value,
        "from": ev.from_status.value,
        "to": ev.to_status.value,
        "reason": ev.reason,
        "version": new.version,
        "department": p.loaded.department_code,
        **({"evidence_files": [f.model_dump() for f in files]} if files else {}),
        **({"evidence_refs": refs} if refs else {}),
        **(
            {"explanation": new.explanation, "alternative": new.alternative}
            if p.action == Action.REQUEST_CANNOT_SOLVE.value
            else {}
        ),
        **ev.details,
        **({"source": source} if source else {}),
    }


def _notify(uow: UnitOfWork, p: PreparedMove, seq: int) -> int:
    loaded, new, ev = p.loaded, p.transition.item, p.transition.event
    subject, body = notice_text(
        Action(p.action),
        department=loaded.department_name,
        item_id=new.id,
        title=loaded.title,
        note=ev.reason,
        deadline=new.deadline,
        actor=ev.actor,
        on_date=ev.on_date,
        office=uow.policy.office_name(loaded.jurisdiction_code),
        link=item_link(uow.settings.base_url, new.id),
    )
    queued = 0
    for tag in contact_tags(loaded.department_code, loaded.notify_tags):
        queued += uow.notifications.enqueue(
            NewMessage(
                jurisdiction_id=loaded.jurisdiction_id,
                key=f"item:{new.id}:event:{seq}:{tag}",
                department_id=loaded.department_id,
                recipient_tag=tag,
                kind=NOTICE_KIND,
                subject=subject,
                body=body,
                business_date=ev.on_date,
            )
        )
    return queued


# ------------------------------------------------------------------ evidence files


def _safe_name(name: str) -> str:
    # Keep Chinese names readable; drop what a file system or a shell would choke on.
    cleaned = re.sub(r'[\x00-\x1f/\\:*?"<>|]+', "_", name).strip(" .")
    return cleaned[:120] or "evidence"


def hash_evidence(item_id: int, paths: Sequence[Path | str]) -> list[tuple[Path, EvidenceFile]]:
    """Check and hash evidence files; nothing is copied yet (that happens once the move is
    stored)."""
    from bihuan.ingest.readers import MAX_FILE_BYTES

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
        rel = f"evidence/{item_id}/{sha[:EVIDENCE_HASH_PREFIX]}-{_safe_name(path.name)}"
        out.append((path, EvidenceFile(name=path.name, path=rel, sha256=sha, bytes=size)))
    return out


@dataclass(frozen=True)
class Upload:
    """A file as the portal (or another adapter) received it: the name the sender gave, its
    size in bytes and a seekable binary stream of its content."""

    name: str
    size: int
    file: BinaryIO


class EvidenceDownload(BaseModel):
    """An evidence file the user may download: where it is and how to serve it."""

    item_id: int
    name: str
    sha256: str
    bytes: int
    path: Path  # absolute, under var/evidence/<item>/
    media_type: str


def upload_limits(uow: UnitOfWork) -> UploadLimits:
    """The installation's caps on uploads (BIHUAN_UPLOAD_MAX_MB, BIHUAN_UPLOAD_MAX_FILES)."""
    return UploadLimits.from_settings(uow.settings.upload_max_mb, uow.settings.upload_max_files)


def act_with_uploads(
    uow: UnitOfWork, cmd: Act, uploads: Sequence[Upload], actor: Actor, as_of: date
) -> Outcome:
    """`act` with evidence files uploaded through the portal.

    Every file is checked first, and the submission refused as a whole (EvidenceRefused,
    nothing stored) when there are too many, one is too big, or one is not an accepted type by
    its content (bihuan.core.evidence). The files are then staged under var/tmp/uploads/ (never
    a served folder) and the move made exactly as `act` makes it: the evidence is copied into
    var/evidence/<item>/ with its SHA-256 only once the move is stored. The staging copy is
    removed whatever happens."""
    limits = upload_limits(uow)
    # a file input left empty still sends a part, without a name or content
    chosen = [u for u in uploads if u.name or u.size]
    check_count(len(chosen), limits)
    for u in chosen:
        check_upload(_base_name(u.name), u.size, u.file, limits)
    staging = uow.settings.var_dir / "tmp" / "uploads" / secrets.token_hex(8)
    try:
        paths = [_stage(u, staging / str(i), limits.max_bytes) for i, u in enumerate(chosen)]
        cmd = cmd.model_copy(update={"evidence": (*cmd.evidence, *paths)})
        return act(uow, cmd, actor, as_of)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _base_name(name: str) -> str:
    # some browsers sent C:\fakepath\名字.pdf; only the last part is the file's name
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip()


def _stage(upload: Upload, folder: Path, max_bytes: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / _safe_name(_base_name(upload.name))
    upload.file.seek(0)
    written = 0
    with target.open("wb") as out:
        for chunk in iter(lambda: upload.file.read(1 << 20), b""):
            written += len(chunk)
            if written > max_bytes:  # the declared size was not the real one
                raise EvidenceRefused(
                    f"文件“{upload.name}”超过单个文件 {max_bytes // MB} MB 的上限。"
                )
            out.write(chunk)
    return target


def evidence_file(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, item_id: int, file_id: str
) -> EvidenceDownload:
    """One evidence file of an item, by its SHA-256 (the file id in the portal's links), for a
    user who may see the item. Another department's item, a file of another item and a guessed
    id are all ItemNotFound / NotFound: the same answer."""
    visible_item(uow, actor, jurisdiction, item_id, f"download evidence of item {item_id}")
    wanted = file_id.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", wanted):
        raise NotFound(f"no evidence file {file_id!r} on item {item_id}")
    for audit_row in uow.rectification.move_audits(item_id):
        for raw in (audit_row.details or {}).get("evidence_files", []):
            ev = EvidenceFile(**raw)
            if ev.sha256 != wanted:
                continue
            root = (uow.settings.var_dir / "evidence" / str(item_id)).resolve()
            path = (uow.settings.var_dir / ev.path).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise NotFound(
                    f"evidence file {ev.name} of item {item_id} is recorded but not under "
                    f"var/{ev.path}; restore var/evidence/ from the backup"
                )
            with path.open("rb") as fh:
                kind = identify(fh)  # type: ignore[arg-type]
            return EvidenceDownload(
                item_id=item_id,
                name=ev.name,
                sha256=ev.sha256,
                bytes=ev.bytes,
                path=path,
                media_type=media_type(kind, ev.name),
            )
    raise NotFound(f"no evidence file {file_id!r} on item {item_id}")


def visible_item(
    uow: UnitOfWork, actor: Actor, jurisdiction: str, item_id: int, what: str
) -> tuple[ItemView, Target]:
    """The item (and its access target) if the user may see it; ItemNotFound when it does not
    exist or is not theirs (one answer). A role that may not read the cycle is refused."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(uow, actor, Permission.READ_CYCLE, listing(jur.id), action=what)
    found = uow.rectification.views(jur.id, item_id=item_id)
    if not found:
        raise ItemNotFound(item_id)
    v = found[0]
    target = Target(
        jurisdiction_id=jur.id,
        department_id=v.department_id,
        section=v.supervising_section,
        what=f"item {item_id} of {v.department}",
    )
    if check(actor, Permission.READ_CYCLE, target) is not None:
        raise ItemNotFound(item_id)
    return v, target


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
    office: str,
    link: str = "",
) -> tuple[str, str]:
    """Subject and plain-text body of the notice a department gets about an office decision
    (notifications/templates/rectification_notice*.txt), signed by `office`, with a link to
    the item's page when the installation has an address."""
    if action not in NOTIFY:
        raise ValueError(f"no notice for {action.value}")
    ctx = {
        "action": action.value,
        "department": department,
        "item_id": item_id,
        "title": title,
        "note": note,
        "deadline": deadline,
        "actor": actor,
        "on_date": on_date,
        "office": office,
        "link": link,
    }
    subject = " ".join(render("rectification_notice.subject.txt", ctx).split())
    return subject, render("rectification_notice.txt", ctx)


# ------------------------------------------------------------------ the ledger and an item


def list_items(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    year: int | None = None,
    department: str | None = None,
    status: Status | str | None = None,
) -> list[ItemRow]:
    """The ledger (整改台账) ordered by department and id: a department user sees its own
    department's items, a section user the items it supervises, the other roles all."""
    wanted = _status(status)
    _jur, views = scoped_views(
        uow,
        actor,
        jurisdiction,
        "list rectification items",
        year=year,
        department=department,
        statuses=[wanted.value] if wanted else None,
    )
    return [_row(v) for v in views]


# Statuses in which the department owes an answer; items awaiting the office are not exported.
OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.REOPENED)


def export_rows(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    department: str | None = None,
    year: int | None = None,
) -> list[ItemRow]:
    """The items a department still owes an answer on (OPEN_STATUSES), for the workbooks it
    fills in, ordered by department, deadline and id. Scoped like `list_items`: a department
    user gets its own department's items, a section user the items it supervises, the office
    (and the read-only roles) any department's or all."""
    _jur, views = scoped_views(
        uow,
        actor,
        jurisdiction,
        "export rectification workbooks",
        year=year,
        department=department,
        statuses=[s.value for s in OPEN_STATUSES],
    )
    return sorted((_row(v) for v in views), key=lambda r: (r.department, r.deadline, r.id))


def scoped_views(
    uow: UnitOfWork,
    actor: Actor,
    jurisdiction: str,
    what: str,
    *,
    department: str | None = None,
    **filters: Any,
) -> tuple[int, list[ItemView]]:
    """(jurisdiction id, the items this user may see) narrowed by `department` (its code) and
    the repository's filters. A department user asking for another department is refused as
    out of scope (the portal's 404); a section user sees the items its section supervises."""
    jur = uow.jurisdictions.require(jurisdiction)
    assert jur.id is not None
    require(uow, actor, Permission.READ_CYCLE, listing(jur.id), action=what)
    dept_id = None
    if department:
        dept_id = uow.departments.require_code(jur.id, department).id
        if visible_department(actor) is not None:  # a department asking for another one
            require(
                uow,
                actor,
                Permission.READ_CYCLE,
                Target(jurisdiction_id=jur.id, department_id=dept_id, what=f"{department}"),
                action=f"{what} of {department}",
            )
    only = visible_department(actor)
    views = uow.rectification.views(
        jur.id,
        department_id=only if only is not None else dept_id,
        section=visible_section(actor),
        **filters,
    )
    return jur.id, views


def _status(value: Status | str | None) -> Status | None:
    if value is None or value == "":
        return None
    try:
        return Status(value)
    except ValueError:
        raise UserError(
            f"status {value!r} is not a status; use one of " + ", ".join(s.value for s in Status)
        ) from None


def _row_fields(v: ItemView) -> dict[str, Any]:
    phase, category, severity = (
        PhaseKind(v.phase),
        FindingCategory(v.category),
        Severity(v.severity),
    )
    status = Status(v.status)
    level = EscalationLevel(v.escalation_level) if v.escalation_level else None
    return {
        "id": v.id,
        "department": v.department,
        "department_name": v.department_name,
        "year": v.year,
        "phase": phase,
        "phase_label": phase.label,
        "title": v.title,
        "category": category,
        "category_label": category.label,
        "severity": severity,
        "severity_label": severity.label,
        "status": status,
        "status_label": status.label,
        "issued_on": v.issued_on,
        "deadline": v.deadline,
        "escalation_level": level,
        "escalation_level_label": level.label if level else "",
        "supervising_section": v.supervising_section,
        "extensions": v.extensions,
        "last_response_on": v.last_response_on,
        "closed_on": v.closed_on,
        "version": v.version,
        "extension_request_days": v.extension_request_days,
        "extension_requested_on": v.extension_requested_on,
        "extension_request_reason": v.extension_request_reason,
        "deadline_provisional": v.deadline_provisional_from is not None,
    }


def _row(v: ItemView) -> ItemRow:
    return ItemRow(**_row_fields(v))


def row_fields(v: ItemView) -> dict[str, Any]:
    """An item's listing fields (ItemRow's), for the read models built on it."""
    return _row_fields(v)


def item_history(uow: UnitOfWork, actor: Actor, jurisdiction: str, item_id: int) -> ItemHistory:
    """One item with its full history (events joined with the audit rows that explain them)
    and the moves this user may make next. An item the user may not see is answered like
    one that does not exist (ItemNotFound)."""
    v, target = visible_item(uow, actor, jurisdiction, item_id, f"show item {item_id}")
    item = ItemDetail(
        **_row_fields(v), measures=v.measures, explanation=v.explanation, alternative=v.alternative
    )
    state = ItemState(
        id=v.id,
        status=item.status,
        issued_on=v.issued_on,
        deadline=v.deadline,
        extension_request_days=v.extension_request_days,
    )
    allowed = [a for a in allowed_moves(state) if check(actor, permission_for(a), target) is None]
    return ItemHistory(
        item=item,
        allowed=allowed,
        allowed_labels=[a.label for a in allowed],
        history=_history(uow, item_id),
    )


def _history(uow: UnitOfWork, item_id: int) -> list[HistoryEntry]:
    audits = {(a.details or {}).get("seq"): a for a in uow.rectification.move_audits(item_id)}
    out = []
    for e in uow.rectification.events(item_id):
        a = audits.get(e.seq)
        details: dict[str, Any] = (a.details or {}) if a is not None else {}
        if a is not None:
            action = a.action.removeprefix("rectify_")
        else:
            action = ISSUED if e.seq == 1 else RECORDED
        role = str(details.get("role", "coordinator")) if a is not None else ""
        from_status = Status(e.from_status) if e.from_status else None
        to_status = Status(e.to_status)
        out.append(
            HistoryEntry(
                seq=e.seq,
                on_date=e.on_date,
                at=e.at,
                action=action,
                action_label=action_label(action),
                from_status=from_status,
                from_status_label=from_status.label if from_status else "",
                to_status=to_status,
                to_status_label=to_status.label,
                actor=e.actor,
                role=role,
                role_label=Capacity(role).label if role in set(Capacity) else role,
                login=a.actor if a is not None else "",
                reason=e.reason,
                evidence=[str(x) for x in e.evidence],
                evidence_files=[EvidenceFile(**f) for f in details.get("evidence_files", [])],
            )
        )
    return out


# ------------------------------------------------------------------ the re-check's input


def mark_alternative_lapsed(
    uow: UnitOfWork,
    item_id: int,
    reason: str,
    actor: Actor,
    as_of: date,
    *,
    jurisdiction: str | None = None,
) -> bool:
    """Record that a cannot-be-solved item's agreed alternative (替代措施) lapsed, so the next
    re-check carries the item into the new year; False if it was already recorded. The office
    only (Permission.DECIDE). The item row is untouched: the record is an audit row
    (action alternative_lapsed), which the re-check reads."""
    jur = uow.jurisdictions.require(jurisdiction or uow.app.jurisdiction)
    assert jur.id is not None
    what = f"record the alternative of item {item_id} as lapsed"
    loaded = uow.rectification.load(jur.id, item_id)
    if loaded is None:
        require(uow, actor, Permission.DECIDE, listing(jur.id), action=what)
        raise ItemNotFound(item_id)
    require(uow, actor, Permission.DECIDE, _target(loaded), action=what)
    status = loaded.state.status
    if status is not Status.CANNOT_SOLVE:
        raise UserError(
            f"item {item_id} is {status.value} ({status.label}), not cannot_solve: only an "
            "agreed alternative of a cannot-be-solved item can lapse"
        )
    if len(reason.strip()) < 2:
        raise UserError("--reason: say why the agreed alternative no longer holds")
    if uow.rectification.alternative_lapsed(jur.id, item_id):
        return False
    uow.audit.record(
        actor,
        action=LAPSED,
        entity=ITEM_ENTITY,
        key=str(item_id),
        jurisdiction_id=jur.id,
        details={"reason": reason.strip(), "as_of": as_of, "department": loaded.department_code},
    )
    return True


# ------------------------------------------------------------------ the workbooks


def check_workbook_import(uow: UnitOfWork, actor: Actor, jurisdiction: str) -> None:
    """Refuse unless this user may import a filled-in workbook: a department user (its own
    department's items; every row is checked again by `prepare_act`) or the office, which
    records a department's answers on its behalf (capacity department)."""
    jur = uow.jurisdictions.require(jurisdiction)
    require(
        uow, actor, Permission.RESPOND, listing(jur.id), action="import a rectification workbook"
    )
