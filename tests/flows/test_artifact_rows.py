"""Table artifacts stay under Prefect's event size limit: the giant benchmark's 10,000-row score
table and board were refused by the server ("Refusing to publish event", issue 13.3)."""

from __future__ import annotations

import json

from flows.common import ARTIFACT_ROWS, artifact_rows


def test_a_county_keeps_every_row_and_a_giant_table_is_cut_with_a_note() -> None:
    county = [{"rank": i} for i in range(120)]
    assert artifact_rows(county) == (county, "")
    giant = [
        {"rank": i, "name": f"部门{i:05d}", "total": 81.5, "pad": "x" * 200} for i in range(10_000)
    ]
    rows, note = artifact_rows(giant)
    assert rows == giant[:ARTIFACT_ROWS]
    assert f"共 {len(giant)} 行" in note and f"first {ARTIFACT_ROWS} of 10000" in note
    assert len(json.dumps(rows).encode()) < 1_500_000  # PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES
