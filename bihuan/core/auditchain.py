"""The audit log's hash chain: each row's hash covers its content and the previous row's hash.

Pure: `row_hash` is what an append stores; `verify` walks a chain's rows in `seq` order and
reports the first row that was edited (its content no longer gives its hash), removed (a gap
in `seq`), inserted or re-linked (its `prev_hash` is not the previous row's hash), and a tail
removed after the last row (the chain's recorded head or a checkpoint is past it or differs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_time(at: datetime) -> str:
    """The timestamp as hashed: UTC, microseconds (what both databases keep)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    return json.dumps(
        details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )


@dataclass(frozen=True)
class ChainRow:
    """One audit row as the chain sees it (every column the hash covers, plus its id)."""

    id: int
    chain_id: int
    seq: int
    at: datetime
    jurisdiction_id: int | None
    user_id: int | None
    actor: str
    action: str
    entity: str
    entity_key: str
    details: Mapping[str, Any]
    prev_hash: str
    row_hash: str


def row_hash(
    *,
    chain_id: int,
    seq: int,
    at: datetime,
    jurisdiction_id: int | None,
    user_id: int | None,
    actor: str,
    action: str,
    entity: str,
    entity_key: str,
    details: Mapping[str, Any] | None,
    prev_hash: str,
) -> str:
    content = "\x1f".join(
        [
            "bihuan-audit-v1",
            str(chain_id),
            str(seq),
            canonical_time(at),
            "" if jurisdiction_id is None else str(jurisdiction_id),
            "" if user_id is None else str(user_id),
            actor,
            action,
            entity,
            entity_key,
            canonical_details(details),
            prev_hash,
        ]
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def hash_of(row: ChainRow) -> str:
    return row_hash(
        chain_id=row.chain_id,
        seq=row.seq,
        at=row.at,
        jurisdiction_id=row.jurisdiction_id,
        user_id=row.user_id,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        entity_key=row.entity_key,
        details=row.details,
        prev_hash=row.prev_hash,
    )


@dataclass(frozen=True)
class Problem:
    chain_id: int
    seq: int
    row_id: int | None
    kind: str  # altered | relinked | missing | truncated | head
    message: str


@dataclass
class ChainReport:
    chain_id: int
    rows: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(
    chain_id: int,
    rows: Iterable[ChainRow],
    *,
    head: tuple[int, str] | None = None,
    checkpoints: Iterable[tuple[int, str]] = (),
    first_only: bool = True,
) -> ChainReport:
    """Check one chain's rows (in seq order) against their hashes, their links, the recorded
    head and the checkpoints. With `first_only`, stop at the first broken row."""
    report = ChainReport(chain_id)
    expected_prev, expected_seq = GENESIS, 1
    seen: dict[int, str] = {}
    for row in rows:
        report.rows += 1
        for kind, message in _row_problems(row, expected_seq, expected_prev):
            report.problems.append(Problem(chain_id, row.seq, row.id, kind, message))
            if first_only:
                return report
        seen[row.seq] = row.row_hash
        expected_prev, expected_seq = row.row_hash, row.seq + 1
        report.last_seq, report.last_hash = row.seq, row.row_hash
    for seq, hashed in sorted(checkpoints):
        message = ""
        if seq > report.last_seq:
            message = (
                f"checkpoint at seq {seq} is past the last row ({report.last_seq}): rows were "
                "removed from the end of the log"
            )
        elif seen.get(seq) != hashed:
            message = f"checkpoint at seq {seq} does not match the row"
        if message:
            report.problems.append(Problem(chain_id, seq, None, "truncated", message))
            if first_only:
                return report
    if head is not None and (head[0], head[1]) != (report.last_seq, report.last_hash):
        report.problems.append(
            Problem(
                chain_id,
                head[0],
                None,
                "head",
                f"the chain's recorded head is seq {head[0]}, but the log ends at seq "
                f"{report.last_seq}: rows were removed from the end, or the head was edited",
            )
        )
    return report


def _row_problems(row: ChainRow, expected_seq: int, expected_prev: str) -> list[tuple[str, str]]:
    found = []
    if row.seq != expected_seq:
        what = (
            f"rows {expected_seq}–{row.seq - 1} before it are missing"
            if row.seq > expected_seq
            else f"seq {row.seq} appears again or out of order"
        )
        found.append(("missing", f"audit row id {row.id} (seq {row.seq}): {what}"))
    if row.prev_hash != expected_prev:
        found.append(
            (
                "relinked",
                f"audit row id {row.id} (seq {row.seq}) does not follow the previous row: "
                "a row was inserted, removed or re-linked before it",
            )
        )
    if hash_of(row) != row.row_hash:
        found.append(
            (
                "altered",
                f"audit row id {row.id} (seq {row.seq}, {row.action} {row.entity} "
                f"{row.entity_key}) was altered: its content no longer gives its hash",
            )
        )
    return found
