"""The rectification loop in the portal: uploads (caps, disguised types, nothing stored when
refused), evidence only for who may see the item and only as attachments, inert user text,
concurrent edits, the extension request, the queues, the issued lists and the API.

The items and their states are tests/web/items.py's; the access table (test_access.py) walks
every route for every role. Tests that upload use a portal whose var/ is the test's own.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bihuan.cli import _register_commands, app
from bihuan.services import identity, rectification
from bihuan.services.uow import UnitOfWork
from tests.conftest import REPO
from tests.optional import require_cjk_font, require_poppler
from tests.users import app_for
from tests.web.conftest import Browser, Clock, Portal, field, make_token
from tests.web.items import D02, D02_ITEM, EVIDENCE_D01, GUESSED_SHA, ITEM, SHA_D01, SHA_D02, YEAR

HOSTILE = "<script>alert(1)</script>{{7*7}}"
PDF = b"%PDF-1.4\n% evidence uploaded in a test\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200

_register_commands()
runner = CliRunner()


@pytest.fixture
def own_var(county: str, clock: Clock, tmp_path: Path) -> Portal:
    """The portal over the county with var/ (evidence, staging) in the test's folder."""
    return Portal(county, clock, home=tmp_path / "home", config_dir=REPO / "config")


def history(url: str, item_id: int, login: str = "office") -> rectification.ItemHistory:
    with UnitOfWork(app_for(url), readonly=True) as uow:
        return rectification.item_history(uow, identity.actor_for(uow, login), "juxian", item_id)


def version_on_page(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found, "no version field on the page"
    return found.group(1)


def upload(
    b: Browser, item_id: int, files: list[tuple[str, bytes]], note: str = "已完成整改"
) -> Any:
    page = b.get(f"/items/{item_id}")
    assert page.status_code == 200
    return b.client.post(
        f"/items/{item_id}/report-fixed",
        data={
            "csrf_token": field(page.text, "csrf_token"),
            "version": version_on_page(page.text),
            "note": note,
        },
        files=[("files", (name, body, "application/octet-stream")) for name, body in files],
        follow_redirects=False,
    )


def stored(portal: Portal, item_id: int) -> list[Path]:
    root = portal.app.state.ctx.settings.var_dir
    return sorted((root / "evidence" / str(item_id)).glob("*")) + sorted(
        (root / "tmp").rglob("*.*")
    )


# ------------------------------------------------------------------ uploads


def test_evidence_is_uploaded_checked_stored_with_its_hash_and_downloaded_as_attachment(
    own_var: Portal,
) -> None:
    item = ITEM["upload"]
    b = own_var.signed_in("D01lx")
    r = upload(b, item, [("验收报告.pdf", PDF), ("现场照片.png", PNG)])
    assert r.status_code == 303 and r.headers["location"] == f"/items/{item}?done=report_fixed"
    after = history(own_var.url, item)
    assert after.item.status.value == "reported_fixed"
    files = after.history[-1].evidence_files
    assert [(f.name, f.sha256) for f in files] == [
        ("验收报告.pdf", hashlib.sha256(PDF).hexdigest()),
        ("现场照片.png", hashlib.sha256(PNG).hexdigest()),
    ]
    var = own_var.app.state.ctx.settings.var_dir
    for f in files:
        path = var / f.path
        assert path.parent == var / "evidence" / str(item)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
    assert not list((var / "tmp").rglob("*.*")), "the staging copies are gone"
    page = b.get(f"/items/{item}?done=report_fixed")
    assert "已报告整改完成，等待验收。" in page.text and "验收报告.pdf" in page.text
    r = b.get(f"/items/{item}/evidence/{files[0].sha256}")
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-disposition"] == (
        "attachment; filename*=utf-8''%E9%AA%8C%E6%94%B6%E6%8A%A5%E5%91%8A.pdf"  # 验收报告.pdf
    )
    assert r.headers["x-content-type-options"] == "nosniff"
    assert b.get(f"/items/{item}/evidence/{files[1].sha256}").headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("settings", "files", "says"),
    [
        ({"upload_max_mb": 1}, [("大文件.pdf", PDF + b"0" * (1024 * 1024))], "超过单个文件 1 MB"),
        (
            {"upload_max_files": 2},
            [("1.pdf", PDF), ("2.pdf", PDF + b"2"), ("3.pdf", PDF + b"3")],
            "最多上传 2 个",
        ),
        ({}, [("整改报告.pdf", HTML)], "不是允许的佐证材料类型"),  # an HTML page named .pdf
        ({}, [("现场照片.png", EXE)], "不是允许的佐证材料类型"),  # an .exe named .png
        ({}, [("验收报告.pdf", PDF), ("图.svg", b"<svg onload='alert(1)'/>")], "不是允许"),
        ({}, [("验收报告.png", PDF)], "扩展名不符"),
    ],
)
def test_a_refused_upload_stores_nothing(
    county: str,
    clock: Clock,
    tmp_path: Path,
    settings: dict[str, int],
    files: list[tuple[str, bytes]],
    says: str,
) -> None:
    portal = Portal(county, clock, home=tmp_path / "home", config_dir=REPO / "config", **settings)
    item = ITEM["upload"]
    before = history(county, item)
    b = portal.signed_in("D01lx")
    r = upload(b, item, files, note="想要蒙混过关")
    assert r.status_code == 400, r.text
    assert says in r.text
    assert "想要蒙混过关" in r.text, "the user's text is kept in the form"
    assert history(county, item) == before, "no event, no change"
    assert stored(portal, item) == [], "no file under var/evidence or var/tmp"


def test_a_body_larger_than_every_allowed_file_is_refused_before_it_is_read(
    county: str, clock: Clock, tmp_path: Path
) -> None:
    portal = Portal(
        county, clock, home=tmp_path / "home", config_dir=REPO / "config",
        upload_max_mb=1, upload_max_files=1,
    )  # fmt: skip
    b = portal.signed_in("D01lx")
    item = ITEM["upload"]
    before = history(county, item)
    r = upload(b, item, [("大文件.pdf", PDF + b"0" * (3 * 1024 * 1024))])
    assert r.status_code == 413 and "每次最多 1 个文件" in r.text
    assert history(county, item) == before and stored(portal, item) == []


# ------------------------------------------------------------------ evidence: who may see it


def test_evidence_of_another_departments_item_is_not_there_for_a_department_user(
    portal: Portal,
) -> None:
    d01 = portal.signed_in("D01lx")
    office = portal.signed_in("office")
    mine = d01.get(f"/items/{ITEM['verify']}/evidence/{SHA_D01}")
    assert mine.status_code == 200 and mine.content == EVIDENCE_D01
    theirs = f"/items/{D02_ITEM['evidence']}/evidence/{SHA_D02}"
    assert office.get(theirs).status_code == 200
    answers = {
        d01.get(url).text
        for url in (
            theirs,  # by the other item's id
            f"/items/{ITEM['verify']}/evidence/{SHA_D02}",  # its file through my item
            f"/items/{ITEM['verify']}/evidence/{GUESSED_SHA}",  # a guessed file id
            "/items/99999/evidence/" + SHA_D01,
        )
    }
    assert len(answers) == 1 and "未找到" in answers.pop()
    assert d01.get(theirs).status_code == 404
    # the section sees only what it supervises: D01's staffing item is not its own
    section = portal.signed_in("section")
    assert section.get(f"/items/{ITEM['staffing']}").status_code == 404
    assert section.get(f"/items/{ITEM['verify']}").status_code == 200
    listed = section.get("/items").text
    assert "实名制管理信息更新不及时" not in listed and "固定资产投资入库率偏低" in listed


def test_every_move_on_another_departments_item_is_404_and_changes_nothing(
    portal: Portal,
) -> None:
    b = portal.signed_in("D01lx")
    forms = {
        "progress": {"note": "x"},
        "report-fixed": {"note": "x", "references": "文号"},
        "request-extension": {"days": "5", "reason": "x"},
        "cannot-solve": {"explanation": "x", "alternative": "y"},
    }
    before = history(portal.url, D02)
    bodies = set()
    for move, form in forms.items():
        for item in (D02, 99999):
            r = b.post(f"/items/{item}/{move}", {"version": "1", **form})
            assert r.status_code == 404, (move, item, r.status_code)
            bodies.add(r.text)
    assert len(bodies) == 1
    assert history(portal.url, D02) == before


# ------------------------------------------------------------------ text, conflicts


def test_hostile_text_renders_inert_on_the_item_page_and_the_timeline(portal: Portal) -> None:
    item = ITEM["progress"]
    b = portal.signed_in("D01lx")
    page = b.get(f"/items/{item}")
    r = b.post(f"/items/{item}/progress", {"version": version_on_page(page.text), "note": HOSTILE})
    assert r.status_code == 303
    office = portal.signed_in("office")
    for html in (
        b.get(f"/items/{item}").text,
        b.get(f"/items/{item}/timeline").text,
        office.get("/departments/D01/rectifications").text,
    ):
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;{{7*7}}" in html
        assert ">49<" not in html


@pytest.mark.reliability
def test_two_people_submit_the_same_item_the_second_is_told_and_loses_nothing(
    portal: Portal,
) -> None:
    item = ITEM["conflict"]
    first, second = portal.signed_in("D01lx"), portal.signed_in("office")
    page1, page2 = first.get(f"/items/{item}"), second.get(f"/items/{item}")
    seen = version_on_page(page1.text)
    assert seen == version_on_page(page2.text) == "1"
    r1 = first.post(f"/items/{item}/progress", {"version": seen, "note": "联络人：已召开专题会"})
    assert r1.status_code == 303
    r2 = second.post(f"/items/{item}/progress", {"version": seen, "note": "编办：电话督促"})
    assert r2.status_code == 409
    assert "该事项已被他人修改，您的操作未保存" in r2.text
    assert "编办：电话督促</textarea>" in r2.text, "the second user's text is still in the form"
    assert "联络人：已召开专题会" in r2.text, "the page shows what the first one did"
    newer = version_on_page(r2.text)
    assert newer == "2"
    notes = [h.reason for h in history(portal.url, item).history]
    assert notes[-1] == "联络人：已召开专题会" and "编办：电话督促" not in notes
    # submitted again on what they now see, nothing is lost
    r3 = second.post(f"/items/{item}/progress", {"version": newer, "note": "编办：电话督促"})
    assert r3.status_code == 303
    notes = [h.reason for h in history(portal.url, item).history]
    assert notes[-2:] == ["联络人：已召开专题会", "编办：电话督促"]


def test_a_mistake_in_a_form_is_shown_beside_it_with_the_text_kept(portal: Portal) -> None:
    item = ITEM["decide"]  # cannot be solved asked for: the office must say why it denies
    b = portal.signed_in("office")
    page = b.get(f"/items/{item}")
    r = b.post(
        f"/items/{item}/decide-cannot-solve",
        {"version": version_on_page(page.text), "decision": "deny", "note": ""},
    )
    assert r.status_code == 400 and "需要说明理由" in r.text
    assert history(portal.url, item).item.status.value == "cannot_solve_requested"
    r = b.post(f"/items/{item}/decide-cannot-solve", {"decision": "deny", "note": "x"})
    assert r.status_code == 422, "the version is required"


# ------------------------------------------------------------------ the extension request


def test_a_department_asks_for_more_time_and_the_office_decides_from_its_queue(
    portal: Portal,
) -> None:
    item = ITEM["askext"]
    d01 = portal.signed_in("D01lx")
    page = d01.get(f"/items/{item}")
    assert "申请延期" in page.text
    r = d01.post(
        f"/items/{item}/request-extension",
        {"version": version_on_page(page.text), "days": "15", "reason": "需等待省级批复"},
    )
    assert r.status_code == 303
    page = d01.get(f"/items/{item}")
    assert "申请延期 15 个工作日，等待编办审核" in page.text
    assert f'action="/items/{item}/request-extension"' not in page.text, "one at a time"
    office = portal.signed_in("office")
    queue = office.get("/requests").text
    assert f'id="ext-{item}"' in queue and "需等待省级批复" in queue
    assert f'id="cs-{ITEM["decide"]}"' in queue  # the cannot-solve request waits there too
    old = history(portal.url, item).item.deadline
    r = office.post(
        f"/items/{item}/extend",
        {
            "version": version_on_page(page.text),
            "days": "15",
            "reason": "同意",
            "next": "/requests",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/requests?done=extend"
    assert f'id="ext-{item}"' not in office.get("/requests").text
    after = history(portal.url, item).item
    assert after.deadline > old and after.extensions == 1 and after.extension_request_days is None
    assert [h.action for h in history(portal.url, item).history][-2:] == [
        "request_extension",
        "extend",
    ]


# ------------------------------------------------------------------ the office's pages


def test_the_verification_queue_has_the_evidence_one_click_away(portal: Portal) -> None:
    item = ITEM["verify"]
    for login in ("office", "section"):
        queue = portal.signed_in(login).get("/verification").text
        assert f'id="item-{item}"' in queue
        assert f'href="/items/{item}/evidence/{SHA_D01}" download>整改报告.pdf</a>' in queue
    section_queue = portal.signed_in("section").get("/verification").text
    assert f'id="item-{D02_ITEM["evidence"]}"' in section_queue  # also an indicator item
    office = portal.signed_in("office")
    r = office.post(
        f"/items/{item}/verify",
        {"version": "2", "decision": "reject", "note": "", "next": "/verification"},
    )
    assert r.status_code == 400 and "需要说明理由" in r.text
    r = office.post(
        f"/items/{item}/verify",
        {"version": "2", "decision": "accept", "note": "整改到位", "next": "/verification"},
    )
    assert r.headers["location"] == "/verification?done=verify_accept"
    after = office.get("/verification?done=verify_accept").text
    assert "已验收销号。" in after and f'id="item-{item}"' not in after
    assert history(portal.url, item).item.status.value == "verified_closed"


def test_overdue_items_by_level_and_working_days_left(portal: Portal) -> None:
    office = portal.signed_in("office")
    html = office.get("/overdue").text
    assert "逾期事项（" in html and "尚未升级" in html  # the tracker has not run yet
    assert html.count('<span class="bad">10</span>') >= 5  # medium: 20 of 30 days ago
    mine = portal.signed_in("D01lx").get("/items").text
    assert "逾期10<" in mine and "财政资金直达使用率偏低" not in mine  # D02's is not mine
    assert "本部门整改事项" in mine


def test_a_departments_ledger_and_history(portal: Portal) -> None:
    html = portal.signed_in("office").get("/departments/D01/rectifications").text
    assert "县发展和改革局 整改台账" in html
    assert "申请无法解决" in html and "申请延期" in html and "问题清单下发" in html
    assert portal.signed_in("D01lx").get("/departments/D02/rectifications").status_code == 404


# ------------------------------------------------------------------ the issued lists


def test_issued_lists_are_listed_and_downloaded_as_attachments(portal: Portal) -> None:
    d01 = portal.signed_in("D01lx")
    index = d01.get("/problem-lists").text
    assert "本部门问题清单（2022年度）" in index
    assert f"/problem-lists/{YEAR}/year-end/D01" in index and "/D02" not in index
    page = d01.get(f"/problem-lists/{YEAR}/year-end/D01").text
    assert f'href="/items/{ITEM["verify"]}"' in page and "固定资产投资入库率偏低" in page
    r = d01.get(f"/problem-lists/{YEAR}/year-end/D01/html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "2022年度年底履职评估问题清单" in r.text and "问题编号" in r.text
    office = portal.signed_in("office").get("/problem-lists").text
    assert "/D01" in office and "/D02" in office


def test_the_pdf_of_a_list_has_its_chinese_font_embedded(portal: Portal, tmp_path: Path) -> None:
    require_cjk_font()
    r = portal.signed_in("D01lx").get(f"/problem-lists/{YEAR}/year-end/D01/pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    require_poppler()
    pdf = tmp_path / "list.pdf"
    pdf.write_bytes(r.content)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"(?i)wenquanyi|wqy|noto.*cjk|droid.*fallback", fonts.stdout), fonts.stdout


# ------------------------------------------------------------------ the API


def _cli_json(args: list[str], url: str, login: str) -> Any:
    result = runner.invoke(app, [*args, "--json", "--db", url, "--as", login])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("login", ["office", "D01lx", "section"])
def test_the_api_returns_what_the_cli_prints(portal: Portal, login: str) -> None:
    token = make_token(portal.url, login, portal.clock())
    b = portal.browser()
    body = b.api("/api/v1/rectifications?per_page=500", token).json()
    assert body["items"] == _cli_json(["rectifications"], portal.url, login)
    assert body["total"] == len(body["items"]) > 0
    item = ITEM["verify"]
    detail = b.api(f"/api/v1/rectifications/{item}", token).json()
    assert detail == _cli_json(["rectify", "show", str(item)], portal.url, login)
    if login == "D01lx":
        assert {r["department"] for r in body["items"]} == {"D01"}
    if login == "section":
        assert ITEM["staffing"] not in {r["id"] for r in body["items"]}


def test_a_move_through_the_api_needs_the_version_and_answers_409_on_a_conflict(
    portal: Portal,
) -> None:
    token = make_token(portal.url, "D01lx", portal.clock())
    b = portal.browser()
    url = f"/api/v1/rectifications/{ITEM['api']}/actions"
    auth = {"Authorization": f"Bearer {token}"}
    r = b.client.post(url, json={"action": "respond", "reason": "x"}, headers=auth)
    assert r.status_code == 422, "expected_version is required"
    r = b.client.post(
        url, json={"action": "respond", "expected_version": 1, "reason": "接口报送"}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_progress" and r.json()["version"] == 2
    r = b.client.post(
        url, json={"action": "respond", "expected_version": 1, "reason": "又一次"}, headers=auth
    )
    assert r.status_code == 409 and "changed by someone else" in r.json()["detail"]
    r = b.client.post(
        url,
        json={"action": "verify_accept", "expected_version": 2},
        headers=auth,
    )
    assert r.status_code == 403  # a department does not verify
    r = b.client.post(
        f"/api/v1/rectifications/{D02}/actions",
        json={"action": "respond", "expected_version": 1, "reason": "x"},
        headers=auth,
    )
    assert r.status_code == 404 and r.json() == {"detail": "not found"}


def test_notifications_through_the_api_are_scoped_and_paged(portal: Portal) -> None:
    b = portal.browser()
    office = b.api(
        "/api/v1/notifications?per_page=2", make_token(portal.url, "office", portal.clock())
    )
    body = office.json()
    assert office.status_code == 200 and len(body["items"]) == 2 and body["total"] >= 2
    d01 = b.api(
        "/api/v1/notifications?per_page=500", make_token(portal.url, "D01lx", portal.clock())
    )
    assert {r["department"] for r in d01.json()["items"]} == {"D01"}
    section = b.api("/api/v1/notifications", make_token(portal.url, "section", portal.clock()))
    assert section.status_code == 403


def test_the_documentation_lists_the_loops_endpoints(portal: Portal) -> None:
    paths = set(portal.browser().get("/api/openapi.json").json()["paths"])
    assert {
        "/api/v1/rectifications",
        "/api/v1/rectifications/{item_id}",
        "/api/v1/rectifications/{item_id}/actions",
        "/api/v1/notifications",
    } <= paths


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/word/document.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        zf.writestr("word/document.xml", "<w/>")
    return buf.getvalue()


def test_an_office_document_is_accepted_and_served_with_its_type(own_var: Portal) -> None:
    item = ITEM["upload"]
    b = own_var.signed_in("D01lx")
    assert upload(b, item, [("整改方案.docx", _docx())]).status_code == 303
    (f,) = history(own_var.url, item).history[-1].evidence_files
    r = b.get(f"/items/{item}/evidence/{f.sha256}")
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )


def test_the_loops_pages_have_no_inline_script_or_style(portal: Portal) -> None:
    for login, urls in (
        ("D01lx", ["/items", f"/items/{ITEM['askext']}", f"/items/{ITEM['verify']}/timeline",
                   "/problem-lists", f"/problem-lists/{YEAR}/year-end/D01"]),
        ("office", ["/verification", "/overdue", "/requests", "/departments/D01/rectifications",
                    f"/items/{ITEM['decide']}", f"/items/{ITEM['extend']}"]),
    ):  # fmt: skip
        b = portal.signed_in(login)
        for url in urls:
            html = b.get(url).text
            assert "<style" not in html and " style=" not in html, url
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
            assert "http" not in re.sub(r'content="[^"]*"', "", html), url  # nothing external


def test_an_empty_file_input_with_a_document_reference_reports_it_fixed(own_var: Portal) -> None:
    """What a browser sends when no file is chosen: a part without a name or content."""
    item = ITEM["upload"]
    b = own_var.signed_in("D01lx")
    page = b.get(f"/items/{item}")
    r = b.client.post(
        f"/items/{item}/report-fixed",
        data={
            "csrf_token": field(page.text, "csrf_token"),
            "version": version_on_page(page.text),
            "note": "已完成整改",
            "references": "发改〔2026〕12号\n\n会议纪要第3期",
        },
        files=[("files", ("", b"", "application/octet-stream"))],
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    last = history(own_var.url, item).history[-1]
    assert last.evidence == ["发改〔2026〕12号", "会议纪要第3期"] and last.evidence_files == []
    assert stored(own_var, item) == []
