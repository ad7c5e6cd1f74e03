"""Timers for the benchmarks: time spent inside our own functions, and resident memory.

How the share of Prefect's own machinery is measured: while a stage runs under Prefect, our
functions are wrapped with a timer (every task's ``fn`` and every ``session_scope`` block the flow
bodies open, plus the pure helpers the flow bodies call). The timer records the wall-clock
interval of each outermost call, per thread; intervals from concurrent task threads are merged,
so "our time" is the union of those intervals. Prefect's share is the rest of the stage's wall
time: creating flow and task runs, state transitions, parameter validation, result handling,
artifacts, logging to the API, and the small glue in flow bodies that is not wrapped.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class OwnTime:
    """Intervals spent inside wrapped functions (outermost calls only, per thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.intervals: list[tuple[float, float]] = []

    def reset(self) -> None:
        with self._lock:
            self.intervals = []

    @contextmanager
    def measure(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                end = time.perf_counter()
                with self._lock:
                    self.intervals.append((start, end))

    def seconds(self) -> float:
        """Length of the union of the recorded intervals."""
        with self._lock:
            spans = sorted(self.intervals)
        total, cur_start, cur_end = 0.0, None, None
        for s, e in spans:
            if cur_end is None or s > cur_end:
                if cur_end is not None and cur_start is not None:
                    total += cur_end - cur_start
                cur_start, cur_end = s, e
            else:
                cur_end = max(cur_end, e)
        if cur_end is not None and cur_start is not None:
            total += cur_end - cur_start
        return total

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if self in getattr(fn, "__bench_timers__", ()):
            return fn

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.measure():
                return fn(*args, **kwargs)

        timed.__bench_timers__ = (*getattr(fn, "__bench_timers__", ()), self)  # type: ignore[attr-defined]
        return timed

    def wrap_context(self, factory: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a context-manager factory (session_scope) so the whole `with` block is timed."""
        if self in getattr(factory, "__bench_timers__", ()):
            return factory

        @contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with self.measure(), factory(*args, **kwargs) as value:
                yield value

        timed.__bench_timers__ = (self,)  # type: ignore[attr-defined]
        return timed


def instrument(own: OwnTime, *, exclude: OwnTime | None = None) -> Callable[[], None]:
    """Wrap our task functions and flow-body helpers; returns a function that undoes it.

    `exclude` times the year-end report separately (ours, but no part of the baseline's work)."""
    import flows.assess
    import flows.collect
    import flows.dispatch
    import flows.problems
    import flows.recheck
    import flows.results
    import flows.track

    undo: list[Callable[[], None]] = []

    def patch(obj: Any, name: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]):
        original = getattr(obj, name)
        setattr(obj, name, wrapper(original))
        undo.append(lambda: setattr(obj, name, original))

    tasks = [
        flows.collect.collect_task,
        flows.assess.draw_task,
        flows.assess.plan_task,
        flows.assess.score_batch,
        flows.assess.finish_task,
        flows.problems.raise_findings_task,
        flows.problems.approve_task,
        flows.track.plan_and_record,
        flows.dispatch.send_due,
        flows.results.store_results_task,
        flows.results.write_report_task,
        flows.recheck.recheck_task,
    ]
    if exclude is not None:
        patch(flows.results.write_report_task, "fn", exclude.wrap)
    for t in tasks:
        patch(t, "fn", own.wrap)
    for module in (flows.assess, flows.problems, flows.collect, flows.track, flows.dispatch):
        if hasattr(module, "session_scope"):  # the flows moved onto the services have none
            patch(module, "session_scope", own.wrap_context)
    for module, names in (
        (flows.assess, ("_markdown",)),
        (flows.assess.assessment, ("summarise",)),
    ):
        for name in names:
            if hasattr(module, name):
                patch(module, name, own.wrap)

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore


def rss_mb() -> float:
    """Current resident set size of this process, in MB (Linux /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (getrusage), in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """Samples VmRSS every `interval` seconds in a thread, to give each stage its own peak."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self.peak = rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss_mb())
