"""The office's problem-list approval in the portal: the drafts previewed as each department
will receive them, approved per department or for all, with drops and deadlines; a paused
issue-problem-lists run resumed instead of bypassed (a stand-in server here; the real one in
tests/server/test_portal_approval.py); hostile text inert; the API's approval."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from bihuan.core.workdays import WorkCalendar
from bihuan.db import get_engine
from bihuan.policy import load_policy
from bihuan.vocab import PhaseKind
from bihuan.web.app import create_app
from bihuan.web.deps import business_day
from bihuan.web.security import DOCUMENT_CSP
from tests.conftest import REPO
from tests.users import app_for
from tests.web.conftest import YEAR, Browser, Portal, make_token

HOSTILE = "<script>alert(1)</script>{{7*7}}"
PHASE = f"year={YEAR}&phase=mid-year"


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


MID_YEAR_MESSAGES = "SELECT count(*) FROM notification WHERE idempotency_key LIKE :lists"
LISTS = "problem-list:%:mid-year:%"  # the keys of the mid-year problem lists' messages
MID_YEAR_ITEMS = (
    "SELECT count(*) FROM rectificationitem ri JOIN finding f ON f.id = ri.finding_id"
    " WHERE f.phase_kind = 'mid-year'"
)


def statuses(url: str) -> dict[str, str]:
    return dict(
        rows(
            url,
            # the mid-year lists (the year-end ones are issued already: tests/web/items.py)
            "SELECT d.code, p.status FROM problemlist p JOIN department d ON d.id = p.department_id"
            " WHERE p.phase_kind = 'mid-year'",
        )
    )


def audit(url: str, action: str) -> list[tuple[str, dict[str, Any]]]:
    # of the mid-year phase (the year-end lists were issued when the county was built)
    found = rows(
        url,
        "SELECT actor, details FROM auditlog WHERE action = :a AND entity_key != :ye ORDER BY id",
        a=action,
        ye=f"{YEAR}/year-end",
    )
    return [(a, json.loads(d) if isinstance(d, str) else d) for a, d in found]


def approve_form(**fields: str) -> dict[str, str]:
    return {"year": str(YEAR), "phase": "mid-year", **fields}


class FakeRuns:
    """A Prefect server with one paused issue-problem-lists run, as the portal sees it."""

    def __init__(self, run_id: str | None) -> None:
        self.run_id = run_id
        self.resumed: list[tuple[str, dict[str, Any]]] = []

    def waiting(self, jurisdiction: str, year: int, phase: PhaseKind) -> str | None:
        return self.run_id

    def resume(self, flow_run_id: str, run_input: dict[str, Any]) -> None:
        self.resumed.append((flow_run_id, run_input))


def test_the_office_sees_the_phases_and_each_list_as_it_will_be_sent(portal: Portal) -> None:
    b = portal.signed_in("office")
    phases = b.get("/office/problem-lists")
    assert phases.status_code == 200
    assert f"/office/problem-lists?year={YEAR}&amp;phase=mid-year" in phases.text
    overview = b.get(f"/office/problem-lists?{PHASE}")
    assert overview.status_code == 200
    assert "D01 县发展和改革局" in overview.text and "D02 县财政局" in overview.text
    assert "D03" not in overview.text  # no findings, no draft
    one = b.get(f"/office/problem-lists/D01?{PHASE}")
    assert one.status_code == 200
    assert "重点项目投资额" in one.text and 'name="drop-' in one.text
    assert "部门将收到的消息" in one.text and "县发展和改革局：" in one.text
    doc = b.get(f"/office/problem-lists/D01/document?{PHASE}")
    assert doc.headers["content-security-policy"] == DOCUMENT_CSP
    assert doc.text.startswith("<!DOCTYPE html>") and "履职评估问题清单" in doc.text
    assert b.get(f"/office/problem-lists/D03?{PHASE}").status_code == 404
    assert b.get(f"/office/problem-lists/D99?{PHASE}").status_code == 404


def test_approving_one_department_then_the_rest_with_the_signed_in_approver(
    portal_both: Portal,
) -> None:
    portal = portal_both
    b = portal.signed_in("office")
    shown = b.get(f"/office/problem-lists/D01?{PHASE}").text
    r = b.post("/office/problem-lists/approve", approve_form(department="D01", scope="selected"))
    assert r.status_code == 303, r.text
    page = b.get(r.headers["location"])
    assert "已审核下发 1 个部门的问题清单（D01）" in page.text
    assert statuses(portal.url) == {"D01": "sent", "D02": "draft"}
    [(actor, details)] = audit(portal.url, "problem_lists_approved")
    assert actor == "office" and (details["departments"], details["all"]) == (["D01"], False)
    # the message sent is the one previewed
    [(body,)] = rows(
        portal.url,
        "SELECT body FROM notification WHERE recipient_tag = 'd01' AND idempotency_key LIKE :lists",
        lists=LISTS,
    )
    assert body.split("\n")[0] in shown and "重点项目投资额" in body
    # the rest, all at once
    r = b.post("/office/problem-lists/approve", approve_form(scope="all"))
    assert r.status_code == 303
    assert statuses(portal.url) == {"D01": "sent", "D02": "sent"}
    assert [d["all"] for _, d in audit(portal.url, "problem_lists_approved")] == [False, True]
    assert "没有待审核的问题清单" in b.get(r.headers["location"]).text


def _finding(url: str, code: str) -> int:
    return int(
        rows(
            url,
            "SELECT f.id FROM finding f JOIN department d ON d.id = f.department_id "
            "WHERE d.code = :c ORDER BY f.id",
            c=code,
        )[0][0]
    )


def test_a_deadline_on_a_saturday_is_refused_with_the_next_working_day(portal: Portal) -> None:
    calendar = WorkCalendar.from_policy(load_policy(REPO / "config").calendar)
    today = business_day(portal.clock())
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    while calendar.is_workday(saturday):  # a Saturday worked in exchange (调休): the next one
        saturday += timedelta(days=7)
    fid = _finding(portal.url, "D01")
    b = portal.signed_in("office")
    before = statuses(portal.url)
    r = b.post(
        "/office/problem-lists/approve",
        approve_form(
            department="D01", back="D01", scope="selected", **{f"deadline-{fid}": str(saturday)}
        ),
    )
    assert r.status_code == 400
    # in Chinese on the coordinator's page (the command line says it in English)
    assert "本次审核未执行" in r.text and "不是工作日" in r.text
    assert f"下一个工作日是 {calendar.next_workday(saturday)}" in r.text
    assert "is not a working day" not in r.text
    assert f'value="{saturday}"' in r.text, "what was entered is shown again"
    assert statuses(portal.url) == before
    # a drop without a reason long enough, and no department chosen, are refused too
    assert (
        b.post("/office/problem-lists/approve", approve_form(scope="selected")).status_code == 400
    )
    r = b.post(
        "/office/problem-lists/approve",
        approve_form(department="D01", scope="selected", **{f"drop-{fid}": "x"}),
    )
    assert r.status_code == 400 and statuses(portal.url) == before


def test_a_drop_and_a_working_day_deadline_from_the_department_page(portal: Portal) -> None:
    fid = _finding(portal.url, "D01")
    other = rows(
        portal.url,
        "SELECT f.id FROM finding f JOIN department d ON d.id = f.department_id "
        "WHERE d.code = 'D01' ORDER BY f.id",
    )[1][0]
    calendar = WorkCalendar.from_policy(load_policy(REPO / "config").calendar)
    later = calendar.add_workdays(business_day(portal.clock()), 40)
    b = portal.signed_in("office")
    r = b.post(
        "/office/problem-lists/approve",
        approve_form(
            department="D01",
            back="D01",
            scope="selected",
            **{f"drop-{fid}": "指标口径调整，不计入", f"deadline-{other}": str(later)},
        ),
    )
    assert r.status_code == 303, r.text
    assert rows(portal.url, "SELECT status, dropped_reason FROM finding WHERE id = :i", i=fid) == [
        ("dropped", "指标口径调整，不计入")
    ]
    [(deadline,)] = rows(
        portal.url, "SELECT deadline FROM rectificationitem WHERE finding_id = :i", i=other
    )
    assert str(deadline) == str(later)
    assert [a for a, _ in audit(portal.url, "finding_dropped")] == ["office"]
    assert [a for a, _ in audit(portal.url, "deadline_changed")] == ["office"]


def _portal_with_runs(portal: Portal, runs: FakeRuns) -> Browser:
    app = create_app(app_for(portal.url), clock=portal.clock, approval_runs=runs)
    b = Browser(TestClient(app))
    assert b.sign_in("office").status_code == 303
    return b


def test_with_a_paused_run_the_portal_resumes_it_with_the_signed_in_approver(
    portal: Portal,
) -> None:
    runs = FakeRuns("0b6a1c1e-run")
    b = _portal_with_runs(portal, runs)
    before = statuses(portal.url)
    r = b.post("/office/problem-lists/approve", approve_form(department="D02", scope="selected"))
    assert r.status_code == 303
    page = b.get(r.headers["location"]).text
    assert "已将审核决定交给等待审核的流程运行 0b6a1c1e-run" in page
    [(run_id, given)] = runs.resumed
    assert run_id == "0b6a1c1e-run"
    assert (given["approver"], given["departments"], given["approve"]) == ("office", ["D02"], True)
    assert given["approved_on"] == str(business_day(portal.clock()))
    assert statuses(portal.url) == before, "the run applies it, not the portal"
    assert rows(portal.url, MID_YEAR_MESSAGES, lists=LISTS)[0][0] == 0
    [(actor, details)] = audit(portal.url, "problem_lists_approval_resumed")
    assert actor == "office" and details["flow_run_id"] == "0b6a1c1e-run"
    # the API's approval does the same
    token = make_token(portal.url, "office", portal.clock())
    api = b.client.post(
        "/api/v1/problem-lists/approve",
        json={"year": YEAR, "phase": "mid-year"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 200, api.text
    assert api.json() == {
        "resumed": True,
        "flow_run_id": "0b6a1c1e-run",
        "approver": "office",
        "result": None,
    }


def test_the_api_applies_a_decision_when_no_run_waits(portal_both: Portal) -> None:
    portal = portal_both
    token = make_token(portal.url, "office", portal.clock())
    b = portal.browser()

    def post(body: dict[str, Any], who: str = token) -> Any:
        return b.client.post(
            "/api/v1/problem-lists/approve", json=body, headers={"Authorization": f"Bearer {who}"}
        )

    bad = post({"year": YEAR, "phase": "mid-year", "departments": ["D03"]})
    assert bad.status_code == 400 and "D03 has no draft" in bad.json()["detail"]
    ok = post({"year": YEAR, "phase": "mid-year", "departments": ["D02"]})
    assert ok.status_code == 200, ok.text
    result = ok.json()["result"]
    assert (result["approved_by"], result["departments"], result["approved_lists"]) == (
        "office",
        ["D02"],
        1,
    )
    assert statuses(portal.url) == {"D01": "draft", "D02": "sent"}
    lead = make_token(portal.url, "leader", portal.clock())
    assert post({"year": YEAR, "phase": "mid-year"}, lead).status_code == 403
    assert statuses(portal.url) == {"D01": "draft", "D02": "sent"}


@pytest.mark.parametrize("role", ["leader", "auditor", "admin", "section", "department"])
def test_only_the_office_may_approve_and_a_refusal_changes_nothing(
    portal: Portal, role: str
) -> None:
    from tests.web.conftest import ROLES

    b = portal.signed_in(ROLES[role])
    findings = rows(portal.url, "SELECT id, status FROM finding ORDER BY id")
    r = b.post("/office/problem-lists/approve", approve_form(scope="all"))
    assert r.status_code == 403
    assert b.get(f"/office/problem-lists?{PHASE}").status_code == 403
    assert rows(portal.url, "SELECT id, status FROM finding ORDER BY id") == findings
    assert statuses(portal.url) == {"D01": "draft", "D02": "draft"}
    assert rows(portal.url, MID_YEAR_ITEMS)[0][0] == 0


def test_a_hostile_finding_title_renders_inert(portal: Portal) -> None:
    fid = _finding(portal.url, "D01")
    with get_engine(portal.url).begin() as conn:
        conn.execute(text("UPDATE finding SET title = :t WHERE id = :i"), {"t": HOSTILE, "i": fid})
    b = portal.signed_in("office")
    for url in (
        f"/office/problem-lists?{PHASE}",
        f"/office/problem-lists/D01?{PHASE}",
        f"/office/problem-lists/D01/document?{PHASE}",
    ):
        page = b.get(url)
        assert page.status_code == 200, url
        assert "<script>alert(1)" not in page.text, url
        assert "/D01" not in url or "{{7*7}}" in page.text, "shown as text, not evaluated"
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;{{7*7}}"
        in b.get(f"/office/problem-lists/D01?{PHASE}").text
    )
    # the failed approval page (an error shown beside the form) escapes it too
    r = b.post(
        "/office/problem-lists/approve",
        approve_form(department="D01", back="D01", scope="selected", **{f"drop-{fid}": "x"}),
    )
    assert r.status_code == 400 and "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text
