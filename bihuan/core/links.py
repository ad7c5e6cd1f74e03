"""The portal's addresses that messages link to: one place for the paths the web routes serve.

A reminder, a digest, an office's notice or a problem list carries a link to the page where the
department answers, built from the installation's public address (BIHUAN_BASE_URL). Without one
there is no link at all: a made-up host in a WeCom message would send people nowhere.
"""

from __future__ import annotations

from urllib.parse import quote

ITEMS = "/items"
ITEM = "/items/{item_id}"
PROBLEM_LISTS = "/problem-lists"
PROBLEM_LIST = "/problem-lists/{year}/{phase}/{code}"


def item_path(item_id: int) -> str:
    return ITEM.format(item_id=int(item_id))


def problem_list_path(year: int, phase: str, code: str) -> str:
    return PROBLEM_LIST.format(
        year=int(year), phase=quote(str(phase), safe=""), code=quote(code, safe="")
    )


def absolute(base_url: str, path: str) -> str:
    """`path` on the installation's address, or "" when none is configured."""
    base = base_url.strip().rstrip("/")
    return f"{base}{path}" if base else ""


def item_link(base_url: str, item_id: int) -> str:
    return absolute(base_url, item_path(item_id))


def problem_list_link(base_url: str, year: int, phase: str, code: str) -> str:
    return absolute(base_url, problem_list_path(year, phase, code))


__all__ = [
    "ITEM",
    "ITEMS",
    "PROBLEM_LIST",
    "PROBLEM_LISTS",
    "absolute",
    "item_link",
    "item_path",
    "problem_list_link",
    "problem_list_path",
]
