"""One Prefect test harness for the whole session: flows run against a temporary server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    from bihuan.runtime import no_flow_heartbeat

    # in-process runs, as from the CLI: no heartbeat thread to join at the end of every run
    with prefect_test_harness(server_startup_timeout=120), no_flow_heartbeat():
        yield


@pytest.fixture
def use_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point flows (which read settings, not parameters) at a test database."""
    from bihuan.settings import reset_settings

    def _use(url: str) -> str:
        monkeypatch.setenv("BIHUAN_DATABASE_URL", url)
        reset_settings()
        return url

    yield _use
    reset_settings()
