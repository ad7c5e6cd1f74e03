"""The audit hash chain: an edited, removed, inserted or truncated row is found and named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bihuan.core.auditchain import GENESIS, ChainRow, row_hash, verify_chain

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def chain(n: int, chain_id: int = 7) -> list[ChainRow]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        base = ChainRow(
            id=100 + i,
            chain_id=chain_id,
            seq=i,
            at=T0 + timedelta(seconds=i),
            jurisdiction_id=chain_id,
            user_id=3,
            actor="wangzr",
            action="rectify_verify_accept",
            entity="rectification_item",
            entity_key=str(i),
            details={"reason": f"验收 {i}", "n": i * 1.5},
            prev_hash=prev,
            row_hash="",
        )
        hashed = row_hash(**{k: v for k, v in vars(base).items() if k not in ("id", "row_hash")})
        rows.append(replace(base, row_hash=hashed))
        prev = hashed
    return rows


def test_an_intact_chain_verifies_with_its_head_and_checkpoints() -> None:
    rows = chain(5)
    report = verify_chain(7, rows, head=(5, rows[-1].row_hash), checkpoints=[(3, rows[2].row_hash)])
    assert report.ok and report.rows == 5 and report.last_seq == 5


def test_an_edited_row_is_named() -> None:
    rows = chain(5)
    rows[2] = replace(rows[2], details={"reason": "改过了", "n": 4.5})
    report = verify_chain(7, rows)
    assert [(p.kind, p.seq, p.row_id) for p in report.problems] == [("altered", 3, 103)]
    assert "audit row id 103 (seq 3" in report.problems[0].message


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link() -> None:
    rows = chain(5)
    forged = replace(rows[2], actor="someone")
    forged = replace(
        forged,
        row_hash=row_hash(**{k: v for k, v in vars(forged).items() if k not in ("id", "row_hash")}),
    )
    rows[2] = forged
    report = verify_chain(7, rows)
    assert [(p.kind, p.seq) for p in report.problems] == [("relinked", 4)]


def test_a_removed_row_shows_as_a_gap() -> None:
    rows = chain(5)
    del rows[1]
    kinds = [p.kind for p in verify_chain(7, rows, first_only=False).problems]
    assert kinds[0] == "missing" and "relinked" in kinds


def test_a_truncated_tail_shows_against_the_head_and_the_checkpoints() -> None:
    rows = chain(6)
    head = (6, rows[-1].row_hash)
    report = verify_chain(7, rows[:4], head=head)
    assert [p.kind for p in report.problems] == ["head"]
    report = verify_chain(
        7, rows[:4], head=(4, rows[3].row_hash), checkpoints=[(5, rows[4].row_hash)]
    )
    assert [p.kind for p in report.problems] == ["truncated"]


@given(st.integers(min_value=1, max_value=12), st.data())
def test_any_single_edit_is_detected(n: int, data: st.DataObject) -> None:
    rows = chain(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    field = data.draw(
        st.sampled_from(["actor", "action", "entity_key", "user_id", "at", "details"])
    )
    value = {
        "actor": "x",
        "action": "y",
        "entity_key": "z",
        "user_id": 99,
        "at": T0 - timedelta(days=1),
        "details": {"forged": True},
    }[field]
    rows[i] = replace(rows[i], **{field: value})
    assert not verify_chain(7, rows).ok
