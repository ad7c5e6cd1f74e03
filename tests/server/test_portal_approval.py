"""The portal's approval on a real Prefect server: the mid-year run pauses for approval, an
office user approves in the portal, the portal resumes that run (it does not apply the
decision itself) and the run finishes with the portal user as the approver."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bihuan.vocab import PhaseKind, UserRole
from bihuan.web.app import create_app
from flows.problems import PrefectApprovalRuns
from tests.server.conftest import prefect_api, wait_until
from tests.server.test_serve import (  # noqa: F401 (module fixtures: a server of this module's own)
    _run_deployment,
    app_db,
    prefect_server,
    rows,
    served,
)
from tests.users import app_for
from tests.web.conftest import Browser, add_user

pytestmark = pytest.mark.server

RUN = "issue-problem-lists-juxian-2022-mid-year"


def test_approving_in_the_portal_resumes_the_paused_run_with_the_signed_in_user(
    prefect_server: tuple[str, Any],  # noqa: F811
    served: dict[str, str],  # noqa: F811
    app_db: str,  # noqa: F811
) -> None:
    api, home = prefect_server
    add_user(app_db, "liuke", UserRole.OFFICE, name="编办刘科长")  # signs in with a password
    parent_id = _run_deployment(
        served,
        "mid-year-assessment/mid-year-assessment",
        {
            "year": 2022,
            "as_of": "2022-07-04",
            "seed": 7,
            "jurisdiction": "juxian",
            "run_as": "wangzr",
        },
    )
    runs = PrefectApprovalRuns(api)
    with prefect_api(api) as client:

        def paused() -> Any:
            parent = client.read_flow_run(parent_id)
            assert parent.state and not parent.state.is_final(), parent.state
            return runs.waiting("juxian", 2022, PhaseKind.MID_YEAR)

        run_id = wait_until(paused, timeout=150, what="a paused issue-problem-lists run")
        assert client.read_flow_run(run_id).name == RUN
        assert rows(app_db, "SELECT count(*) FROM rectificationitem")[0][0] == 0

        portal = Browser(TestClient(create_app(app_for(app_db), approval_runs=runs)))
        assert portal.sign_in("liuke").status_code == 303
        page = portal.get("/office/problem-lists?year=2022&phase=mid-year")
        assert page.status_code == 200 and "A01" in page.text
        [(drop_id,)] = rows(app_db, "SELECT id FROM finding WHERE key = 'mid-year:submission'")
        r = portal.post(
            "/office/problem-lists/approve",
            {
                "year": "2022",
                "phase": "mid-year",
                "scope": "all",
                f"drop-{drop_id}": "材料已于评估窗口后补交",
            },
        )
        assert r.status_code == 303, r.text
        done = portal.get(r.headers["location"]).text
        assert f"已将审核决定交给等待审核的流程运行 {run_id}" in done
        # the portal applied nothing itself: the run does, once it sees the input
        [(forwarded,)] = rows(
            app_db, "SELECT actor FROM auditlog WHERE action = 'problem_lists_approval_resumed'"
        )
        assert forwarded == "liuke"

        def finished() -> Any:
            state = client.read_flow_run(parent_id).state
            return state if state and state.is_final() else None

        state = wait_until(finished, timeout=120, what="the mid-year run to finish")
        child = client.read_flow_run(run_id)
    assert state.is_completed(), f"{state}\n{(home / 'serve.log').read_text()[-4000:]}"
    assert child.state is not None and child.state.is_completed()
    audit = rows(app_db, "SELECT actor, action, entity_key, details FROM auditlog ORDER BY id")
    approved = [a for a in audit if a.action == "problem_lists_approved"]
    assert [(a.actor, a.entity_key) for a in approved] == [("liuke", "2022/mid-year")]
    details = approved[0].details
    details = json.loads(details) if isinstance(details, str) else details
    assert details["all"] is True and details["dropped"] == 1
    assert [a.actor for a in audit if a.action == "finding_dropped"] == ["liuke"]
    assert rows(app_db, "SELECT count(*) FROM rectificationitem")[0][0] == 3
    assert {s for (s,) in rows(app_db, "SELECT DISTINCT status FROM problemlist")} <= {
        "sent",
        "approved",
    }
    # nothing waits any more: a later approval in the portal would be applied there
    assert runs.waiting("juxian", 2022, PhaseKind.MID_YEAR) is None
